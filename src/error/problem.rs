//! One problem of a refused batch or bulk upload: where it is, which rule it breaks, and why.

use core::fmt;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{Error, ErrorKind};
use crate::model::ids::UserId;
use crate::model::mutation::Key;

/// One problem of a refused batch of changes or bulk upload: which change (or which line and
/// column of a file), which rule it breaks, the object and field at fault, and why.
///
/// A batch is planned to the end even after a problem, so that one refusal lists every
/// problem ([`Error::problems`]): each change refused by an authorization rule, then each
/// rule the state after the others would break.
///
/// `Debug`, `==` and the serde form leave out what the crate keeps to itself (the other user
/// of a clash): a logged problem never names a user the actor may not see (R20).
///
/// It serializes as `{"kind": "duplicate", "reason": …, "change": null, "line": 3,
/// "column": "E-mail", "field": "E-mail", "key": null}`: the kind by its
/// [code](ErrorKind::code), `line` and `column` `null` for a problem that is not a file's.
#[derive(Clone)]
pub struct Problem {
    change: Option<usize>,
    /// Whether the problem is a file's (a bulk upload's), placed by line and column.
    in_file: bool,
    line: u64,
    column: Option<&'static str>,
    kind: ErrorKind,
    field: Option<&'static str>,
    key: Option<Key>,
    /// For a seat-limit problem: the enabled user the change would be, and the limit.
    seats: Option<(usize, u32)>,
    /// For a duplicate username or e-mail: the other user holding it (crate-private, R20).
    clash: Option<UserId>,
    reason: String,
}

impl Problem {
    /// A problem of the change at `change` in its batch (if it is one change's), from the
    /// error that refused it.
    pub(crate) fn of(change: Option<usize>, err: &Error) -> Self {
        Problem {
            change,
            in_file: false,
            line: 0,
            column: None,
            kind: err.kind(),
            field: err.field(),
            key: err.key(),
            seats: err.enabled_users().zip(err.seat_limit()),
            clash: err.clash(),
            reason: err.to_string(),
        }
    }

    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "only the CSV upload reports problems by line")
    )]
    /// A problem at `line` of a file, in the cell of `column`.
    pub(crate) fn at_line(
        line: u64,
        column: Option<&'static str>,
        kind: ErrorKind,
        reason: impl Into<String>,
    ) -> Self {
        Problem {
            change: None,
            in_file: true,
            line,
            column,
            kind,
            field: column,
            key: None,
            seats: None,
            clash: None,
            reason: reason.into(),
        }
    }

    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "only the CSV upload reports problems by line")
    )]
    /// This problem, placed at `line` and `column` of a file, with `reason` reworded for it.
    pub(crate) fn placed(
        mut self,
        line: u64,
        column: Option<&'static str>,
        reason: impl Into<String>,
    ) -> Self {
        self.in_file = true;
        self.line = line;
        self.column = column;
        // A file's field is its column, as the uploader knows it.
        self.field = column;
        self.reason = reason.into();
        self
    }

    /// A problem at `line` of a policy or policy-test file, about `field` (a TOML key such as
    /// `permissions`).
    #[cfg(feature = "policy")]
    pub(crate) fn in_policy(
        line: u64,
        field: Option<&'static str>,
        kind: ErrorKind,
        reason: impl Into<String>,
    ) -> Self {
        Problem {
            change: None,
            in_file: true,
            line,
            column: None,
            kind,
            field,
            key: None,
            seats: None,
            clash: None,
            reason: reason.into(),
        }
    }

    /// For a seat-limit problem: which enabled user the change would be, and the plan's limit.
    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "only the CSV upload rewords problems")
    )]
    pub(crate) fn seats(&self) -> Option<(usize, u32)> {
        self.seats
    }

    /// For a duplicate username or e-mail: the other user holding it.
    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "only the CSV upload rewords problems")
    )]
    pub(crate) fn clash(&self) -> Option<UserId> {
        self.clash
    }

    /// The rule broken: `InvalidInput` for a malformed value, `NotFound` for a name or id that
    /// resolves to nothing, `Duplicate`, `SeatLimit`, `Owner`, `InUse`, or the authorization
    /// rule that refused the change (`NotPermitted`, `Hierarchy`, `Escalation`,
    /// `OutsideScope`).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The position of the change at fault in the batch (0 for the first), where the problem
    /// is one change's; for a bulk upload, that of the row's change among the rows that made
    /// one. `None` for a problem of the batch as a whole or of a file's cells.
    pub fn change(&self) -> Option<usize> {
        self.change
    }

    /// For a file's problem (a bulk upload, a policy or policy-test file): the line of the
    /// file (1 is the first; for an upload, the header; 0 means the file as a whole, or a
    /// problem that is not a file's).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// For a bulk upload: the column's header name, if the problem is in one cell.
    pub fn column(&self) -> Option<&'static str> {
        self.column
    }

    /// The field at fault, where one is: for a change, as [`Error::field`] names it
    /// (`"username"`, `"e-mail"`, `"stores"`, `"enabled"`, …); for an upload's problem, the
    /// template's column name (`"E-mail"`), as [`column`](Self::column) says; for a policy
    /// file's, the TOML key (`"permissions"`).
    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    /// The object at fault, as [`Error::key`] names it, where one is.
    pub fn key(&self) -> Option<Key> {
        self.key
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl PartialEq for Problem {
    fn eq(&self, other: &Self) -> bool {
        (
            self.change,
            self.in_file,
            self.line,
            self.column,
            self.kind,
            self.field,
            self.key,
            self.seats,
            &self.reason,
        ) == (
            other.change,
            other.in_file,
            other.line,
            other.column,
            other.kind,
            other.field,
            other.key,
            other.seats,
            &other.reason,
        )
    }
}

impl Eq for Problem {}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("change", &self.change)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("kind", &self.kind)
            .field("field", &self.field)
            .field("key", &self.key)
            .field("reason", &self.reason)
            .finish()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.in_file, self.line, self.column, self.change) {
            (false, _, _, Some(change)) => write!(f, "change {change}: {}", self.reason),
            (false, _, _, None) => f.write_str(&self.reason),
            (true, 0, _, _) => write!(f, "file: {}", self.reason),
            (true, line, Some(col), _) => write!(f, "line {line}, column `{col}`: {}", self.reason),
            (true, line, None, _) => write!(f, "line {line}: {}", self.reason),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Problem", 7)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("change", &self.change)?;
        st.serialize_field("line", &self.in_file.then_some(self.line))?;
        st.serialize_field("column", &self.column)?;
        st.serialize_field("field", &self.field)?;
        st.serialize_field("key", &self.key)?;
        st.end()
    }
}
