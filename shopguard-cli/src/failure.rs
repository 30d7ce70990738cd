//! Exit codes, and how a failed command reports itself.

use std::io::Write;

use shopguard::{Error, ErrorKind};

/// How a command ended, as its exit code (documented in `shopguard --help`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Code {
    /// Success; allowed; nothing to change; every expectation met.
    Ok = 0,
    /// Denied; changes pending; a mismatch.
    No = 1,
    /// Bad arguments.
    Usage = 2,
    /// A file with problems, or a name that names nothing.
    Input = 3,
    /// The engine refused: nothing was applied.
    Refused = 4,
    /// The database failed.
    Storage = 5,
}

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad arguments, found after parsing.
    Usage(String),
    /// A file or a name the command was given is wrong.
    Input(Error),
    /// The engine refused a change or an upload.
    Refused(Error),
    /// The database could not be opened, read or written.
    Storage(Error),
    /// Standard output or a file could not be written.
    Io(String),
    /// A failure already reported in the command's own words: only its exit code is left.
    Quiet(Box<Failure>),
}

impl Failure {
    /// An error of the engine or of a write: storage kinds are the database's, the rest a
    /// refusal.
    pub(crate) fn of(err: Error) -> Self {
        match err.kind() {
            ErrorKind::Storage
            | ErrorKind::OutcomeUnknown
            | ErrorKind::Behind
            | ErrorKind::Audit
            | ErrorKind::ReadOnly => Failure::Storage(err),
            _ => Failure::Refused(err),
        }
    }

    fn code(&self) -> Code {
        match self {
            Failure::Usage(_) => Code::Usage,
            Failure::Input(_) => Code::Input,
            Failure::Refused(_) => Code::Refused,
            Failure::Storage(_) | Failure::Io(_) => Code::Storage,
            Failure::Quiet(inner) => inner.code(),
        }
    }

    /// Prints the failure on standard error (as JSON on standard output with `--json`, for
    /// an error of the engine) and returns its exit code.
    pub(crate) fn report(&self, json: bool) -> Code {
        if let Failure::Quiet(inner) = self {
            return inner.code();
        }
        let err = match self {
            Failure::Input(e) | Failure::Refused(e) | Failure::Storage(e) => Some(e),
            Failure::Usage(_) | Failure::Io(_) | Failure::Quiet(_) => None,
        };
        if json
            && let Some(e) = err
            && let Ok(text) = serde_json::to_string_pretty(e)
        {
            let _ = writeln!(std::io::stdout(), "{text}");
        }
        let mut stderr = std::io::stderr().lock();
        let _ = match self {
            Failure::Usage(m) | Failure::Io(m) => writeln!(stderr, "error: {m}"),
            Failure::Quiet(_) => Ok(()),
            Failure::Input(e) | Failure::Refused(e) | Failure::Storage(e) => {
                let _ = writeln!(stderr, "error: {}", headline(e));
                for p in e.problems() {
                    let _ = writeln!(stderr, "  {p}");
                }
                if e.problems_omitted() > 0 {
                    let _ = writeln!(stderr, "  and {} more", e.problems_omitted());
                }
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    let _ = writeln!(stderr, "  caused by: {s}");
                    source = s.source();
                }
                Ok(())
            }
        };
        self.code()
    }
}

/// The line an error is reported under: its message, or for an error listing problems
/// (printed one a line after it), their number and the first one's rule.
pub(crate) fn headline(e: &Error) -> String {
    let n = e.problems().len() + e.problems_omitted();
    match n {
        0 => e.to_string(),
        1 => format!("1 problem ({}):", e.kind().code()),
        n => format!("{n} problems, the first `{}`:", e.kind().code()),
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e.to_string())
    }
}
