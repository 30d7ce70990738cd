//! Output: tables on a terminal, JSON with `--json`.

use std::io::Write;

use serde::Serialize;

use crate::failure::Failure;

/// A table: a header and rows of text, printed with aligned columns.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&'static str]) -> Self {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Prints the table on standard output; an empty table prints `(none)`.
    pub(crate) fn print(&self) -> Result<(), Failure> {
        let mut out = std::io::stdout().lock();
        if self.rows.is_empty() {
            writeln!(out, "(none)")?;
            return Ok(());
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let w = cell.chars().count();
                match widths.get_mut(i) {
                    Some(old) => *old = (*old).max(w),
                    None => widths.push(w),
                }
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
            let mut text = String::new();
            for (i, cell) in cells.enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                let pad = widths.get(i).copied().unwrap_or(0);
                for _ in cell.chars().count()..pad {
                    text.push(' ');
                }
            }
            text.trim_end().to_owned()
        };
        writeln!(out, "{}", line(&mut self.header.iter().copied()))?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(out, "{}", line(&mut rule.iter().map(String::as_str)))?;
        for row in &self.rows {
            writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
        }
        Ok(())
    }
}

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Io(e.to_string()))?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Prints a line on standard output.
pub(crate) fn line(text: &str) -> Result<(), Failure> {
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Prints a line on standard error (notes beside the output).
pub(crate) fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Access as text, each id by `name`: `all`, `none`, `North, South`.
pub(crate) fn access<T: Ord + Copy>(
    a: &shopguard::Access<T>,
    name: impl Fn(T) -> String,
) -> String {
    match a {
        shopguard::Access::All => "all".to_owned(),
        shopguard::Access::None => "none".to_owned(),
        shopguard::Access::Specific(set) if set.is_empty() => "none".to_owned(),
        shopguard::Access::Specific(set) => {
            let names: Vec<String> = set.iter().map(name).collect();
            names.join(", ")
        }
    }
}
