//! Upload files shared by `benches/upload.rs` and `examples/upload_memory.rs`.

use shopguard::import::HEADER;

/// The template's header line, from the library's own column list.
pub(crate) fn header() -> String {
    let mut line = HEADER.join(",");
    line.push('\n');
    line
}

/// The header, then `x` cells, `cells_per_line` to a line, up to `max` bytes exactly: a last
/// line may be cut short, ending in a comma.
pub(crate) fn hostile(cells_per_line: usize, max: usize) -> String {
    let mut csv = String::with_capacity(max);
    csv.push_str(&header());
    let mut in_line = 0usize;
    while csv.len() + 2 <= max {
        in_line += 1;
        if in_line == cells_per_line {
            csv.push_str("x\n");
            in_line = 0;
        } else {
            csv.push_str("x,");
        }
    }
    csv
}
