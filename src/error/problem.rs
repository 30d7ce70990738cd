//! One problem of a refused bulk upload: where it is, which rule it breaks, and why.

use core::fmt;

use super::ErrorKind;

/// One problem of a bulk upload: where (line, column), and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Problem {
    line: u64,
    column: Option<&'static str>,
    kind: ErrorKind,
    reason: String,
}

impl Problem {
    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "only the CSV upload reports problems")
    )]
    pub(crate) fn new(
        line: u64,
        column: Option<&'static str>,
        kind: ErrorKind,
        reason: impl Into<String>,
    ) -> Self {
        Problem {
            line,
            column,
            kind,
            reason: reason.into(),
        }
    }

    /// The rule the row breaks: `InvalidInput` for a malformed cell, `NotFound` for a name
    /// that resolves to nothing, `Duplicate`, `SeatLimit`, or the authorization rule that
    /// refused the row's change (`NotPermitted`, `Hierarchy`, `Escalation`, `OutsideScope`,
    /// `Owner`).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The line of the file (1 is the header; 0 means the file as a whole).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The column's header name, if the problem is in one cell.
    pub fn column(&self) -> Option<&'static str> {
        self.column
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "file: {}", self.reason),
            (line, Some(col)) => write!(f, "line {line}, column `{col}`: {}", self.reason),
            (line, None) => write!(f, "line {line}: {}", self.reason),
        }
    }
}
