//! The upload's CSV records, read one field at a time with `csv-core` (RFC 4180: quotes,
//! embedded commas and line breaks). A record keeps at most the templates' ten fields and
//! counts the rest, so a hostile line of ten million commas costs no more memory than a normal
//! one; the file itself is borrowed, never copied.

use csv_core::{ReadFieldResult, Reader};

/// Fields kept per record: the most columns a template has.
const KEEP: usize = super::COLUMNS.len();

/// One record: where it starts, its first [`KEEP`] fields, and how many fields it had.
pub(super) struct Record {
    /// The line the record starts on (1 is the file's first line).
    pub(super) line: u64,
    /// The kept fields' bytes, one after another.
    data: Vec<u8>,
    /// Where each kept field ends in `data`.
    ends: [usize; KEEP],
    /// How many fields are kept (at most [`KEEP`]).
    kept: usize,
    /// How many fields the record had, all of them.
    pub(super) count: usize,
}

impl Record {
    /// The first fields, raw bytes.
    pub(super) fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let ends = self.ends.get(..self.kept).unwrap_or_default();
        ends.iter().scan(0, |start, &end| {
            let field = self.data.get(*start..end).unwrap_or_default();
            *start = end;
            Some(field)
        })
    }
}

/// The records of a file.
pub(super) struct Records<'a> {
    reader: Reader,
    input: &'a [u8],
    /// The line of the next unread byte.
    line: u64,
    done: bool,
    /// Where fields past the kept ones are parsed, and dropped.
    scratch: Vec<u8>,
}

impl<'a> Records<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Records {
            reader: Reader::new(),
            input,
            line: 1,
            done: false,
            scratch: vec![0; 4096],
        }
    }

    /// Moves past `n` bytes of input, counting the lines they end.
    fn consume(&mut self, n: usize) {
        let (read, rest) = self.input.split_at(n.min(self.input.len()));
        self.line += read.iter().filter(|&&b| b == b'\n').count() as u64;
        self.input = rest;
    }
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.done {
            return None;
        }
        // Blank lines are no records (as the `csv` crate reads them); skip them here so that
        // the record's line is the line its first field is on.
        let blank = self
            .input
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        self.consume(blank);
        let line = self.line;
        let mut record = Record {
            line,
            data: Vec::new(),
            ends: [0; KEEP],
            kept: 0,
            count: 0,
        };
        loop {
            // A kept field is written straight into the record, in steps of `STEP` bytes;
            // any other into the scratch buffer.
            const STEP: usize = 64;
            let start = record.data.len();
            let keep = record.count < KEEP;
            let (result, read, written) = if keep {
                record.data.resize(start + STEP, 0);
                let out = record.data.get_mut(start..).unwrap_or_default();
                self.reader.read_field(self.input, out)
            } else {
                self.reader.read_field(self.input, &mut self.scratch)
            };
            if keep {
                record.data.truncate(start + written);
            }
            self.consume(read);
            match result {
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
                ReadFieldResult::Field { record_end } => {
                    if let Some(end) = record.ends.get_mut(record.kept) {
                        *end = record.data.len();
                        record.kept += 1;
                    }
                    record.count += 1;
                    if record_end {
                        return Some(record);
                    }
                }
                ReadFieldResult::End => {
                    self.done = true;
                    return (record.count > 0).then_some(record);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<(u64, Vec<String>, usize)> {
        Records::new(text.as_bytes())
            .map(|r| {
                let fields = r
                    .fields()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                (r.line, fields, r.count)
            })
            .collect()
    }

    #[test]
    fn records_follow_rfc_4180_with_their_lines() {
        let got = read("a,b\n\n\"x, \"\"y\"\"\nz\",2\r\nlast");
        assert_eq!(
            got,
            vec![
                (1, vec!["a".into(), "b".into()], 2),
                (3, vec!["x, \"y\"\nz".into(), "2".into()], 2),
                (5, vec!["last".into()], 1),
            ]
        );
    }

    #[test]
    fn a_record_keeps_ten_fields_and_counts_the_rest() {
        let line = "x,".repeat(100_000) + "x";
        let got = read(&line);
        assert_eq!(got.len(), 1);
        let (line, fields, count) = &got[0];
        assert_eq!((*line, fields.len(), *count), (1, KEEP, 100_001));
    }

    #[test]
    fn an_empty_file_has_no_records() {
        assert!(read("").is_empty());
        assert!(read("\n\r\n").is_empty());
    }
}
