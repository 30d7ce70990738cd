//! Errors found while validating a state, collected rather than returned at the first.

use super::{Error, Problem};
use crate::model::mutation::Key;

/// How many problems an error lists at most; the rest are counted
/// ([`Error::problems_omitted`]), so a hostile batch's report stays small.
pub(crate) const MAX_PROBLEMS: usize = 100;

/// Errors found while validating a state, in the order found, each with the object whose
/// rule it breaks: the first [`MAX_PROBLEMS`] kept, the rest counted.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    errors: Vec<(Option<Key>, Error)>,
    omitted: usize,
}

impl Findings {
    /// Keeps `err`, about `object` (or counts it, past the limit).
    pub(crate) fn push_for(&mut self, object: impl Into<Key>, err: Error) {
        self.keep(Some(object.into()), err);
    }

    /// Keeps `err`, about the object it names itself ([`Error::key`]).
    pub(crate) fn push(&mut self, err: Error) {
        self.keep(err.key(), err);
    }

    fn keep(&mut self, object: Option<Key>, err: Error) {
        if self.errors.len() < MAX_PROBLEMS {
            self.errors.push((object, err));
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    /// Keeps the error of `result`, if it is one, about `object`.
    pub(crate) fn check_for(&mut self, object: impl Into<Key>, result: Result<(), Error>) {
        if let Err(err) = result {
            self.push_for(object, err);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors kept, each with its object, and how many more there were.
    pub(crate) fn into_parts(self) -> (Vec<(Option<Key>, Error)>, usize) {
        (self.errors, self.omitted)
    }

    /// `Ok` if nothing was found; else the first error, listing every one as a problem.
    pub(crate) fn into_result(self) -> Result<(), Error> {
        let (errors, omitted) = self.into_parts();
        let problems: Vec<Problem> = errors.iter().map(|(_, e)| Problem::of(None, e)).collect();
        match errors.into_iter().next() {
            None => Ok(()),
            Some((_, first)) => Err(first.with_problems(problems, omitted)),
        }
    }
}
