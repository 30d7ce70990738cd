//! The one commit protocol every write goes through — `apply`, `apply_all`, `apply_based_on`,
//! `unchecked_apply` and the CSV upload: stage the batch on the current state, refuse it if a
//! batch stored since its base wrote one of its objects, audit it, hand it to storage, and
//! publish it. If another engine sharing the storage went first, catch up and stage again; if
//! the storage cannot say whether it stored the batch, ask it.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::admin::audit::{AuditRecord, Outcome};
use crate::admin::replica::CaughtUp;
use crate::admin::writer::{Writer, Written, check_written, written_by};
use crate::admin::{Applied, Event};
use crate::engine::Engine;
use crate::engine::index::Index;
use crate::model::permission::Catalog;
use crate::storage::{Commit, Key, Mutation};
use crate::trace::Traced;
use crate::{Error, ErrorKind};

/// How many times a write is planned again after other writers went first.
pub(crate) const MAX_ATTEMPTS: u64 = 16;

/// A batch staged on one state: the index it produces, what storage writes, what the host must
/// act on, and its audit records (none for a bootstrap write).
pub(crate) struct Staged<'a, P: Clone> {
    pub(crate) next: Index<P>,
    /// Borrowed when the write is its mutations already (a bootstrap batch, never copied).
    pub(crate) mutations: Cow<'a, [Mutation<P>]>,
    pub(crate) events: Vec<Event>,
    pub(crate) records: Vec<AuditRecord<P>>,
}

/// What a write does besides committing: how it is staged, and how its refusals are audited.
pub(crate) trait Write<P: Clone> {
    /// Stages the batch on `current` as revision `revision`.
    fn stage(&self, current: &Index<P>, revision: u64) -> Result<Staged<'_, P>, Error>;

    /// The write is refused for good: record it (the sink and storage).
    fn refused(&self, err: &Error);

    /// An attempt the sink recorded as applied was refused by storage and is retried: tell the
    /// sink it was not applied.
    fn retried(&self, err: &Error);

    /// Whether a staged batch that writes nothing is left uncommitted: no new revision, no
    /// audit (an upload whose every row is unchanged). By default it is committed.
    fn skips_empty(&self) -> bool {
        false
    }
}

impl<P: Catalog> Engine<P> {
    /// Commits `write` as the writer holding `w`. `prior` holds what was written after the
    /// write's base; batches other engines store while it waits are added to it.
    pub(crate) fn commit_write(
        &self,
        w: &mut Writer,
        prior: Vec<Written>,
        write: &dyn Write<P>,
    ) -> Result<Applied, Error> {
        let traced = Traced::commit(self.core.current.load().revision());
        let result = traced.in_scope(|| self.commit_attempts(w, prior, write, &traced));
        traced.finish(&result, Applied::revision);
        result
    }

    /// [`commit_write`](Self::commit_write)'s attempts, counted in `traced`.
    fn commit_attempts(
        &self,
        w: &mut Writer,
        mut prior: Vec<Written>,
        write: &dyn Write<P>,
        traced: &Traced,
    ) -> Result<Applied, Error> {
        // INVARIANT: a partitioned replica never writes: its index lacks the other accounts
        // that rules such as unique ids and usernames reach. Not audited: no rule refused it.
        if self.core.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        let refuse = |err: Error| {
            write.refused(&err);
            Err(err)
        };
        let mut attempt: u64 = 0;
        loop {
            attempt += 1;
            traced.record("attempts", attempt);
            let current = self.core.current.load_full();
            let staged = w.next_revision(current.revision()).and_then(|revision| {
                let staged = write.stage(&current, revision)?;
                let written: HashSet<Key> = staged.mutations.iter().map(Mutation::key).collect();
                check_written(&prior, &written)?;
                Ok((revision, staged))
            });
            let (revision, staged) = match staged {
                Ok(staged) => staged,
                Err(err) => return refuse(err),
            };
            if staged.mutations.is_empty() && write.skips_empty() {
                return Ok(Applied {
                    revision: current.revision(),
                    events: staged.events,
                });
            }
            if !staged.records.is_empty() {
                // INVARIANT: the audit holds the batch before storage and readers do.
                if let Err(err) = self.audit.record(&staged.records) {
                    return Err(Error::audit(err));
                }
                // The sink now names this revision: this engine never audits another batch as
                // applied under it, even if storage refuses this one (a refused record follows).
                w.last = revision;
            }
            traced.record(
                "mutations",
                u64::try_from(staged.mutations.len()).unwrap_or(u64::MAX),
            );
            let commit = Commit {
                base: current.revision(),
                revision,
                mutations: &staged.mutations,
                audit: &staged.records,
            };
            // INVARIANT: storage accepts the batch before readers can see it.
            match self.core.storage.commit(&commit) {
                Ok(()) => {
                    w.remember(revision, &staged.mutations);
                    self.core.publish(staged.next);
                    return Ok(Applied {
                        revision,
                        events: staged.events,
                    });
                }
                Err(err) if err.kind() == ErrorKind::Conflict && attempt < MAX_ATTEMPTS => {
                    // Another engine sharing the storage went first: catch up and stage again
                    // on the new state; the check above refuses if it wrote the same objects.
                    if !staged.records.is_empty() {
                        write.retried(&err);
                    }
                    match self.core.catch_up(w) {
                        Ok(CaughtUp::Batches(missed)) => prior.extend(written_by(&missed)),
                        // What the others wrote is unknown: the safe side is to refuse.
                        Ok(CaughtUp::Reloaded) => {
                            return refuse(Error::too_old(
                                current.revision(),
                                self.core.current.load().revision(),
                            ));
                        }
                        Err(err) => return refuse(err),
                    }
                }
                Err(err) if err.kind() == ErrorKind::OutcomeUnknown => {
                    if self.core.stored_anyway(w, revision, &staged.mutations) {
                        return Ok(Applied {
                            revision,
                            events: staged.events,
                        });
                    }
                    // The sink says exactly what is known; if the batch was stored, the
                    // storage's own audit has its records.
                    if !staged.records.is_empty() {
                        let unknown: Vec<AuditRecord<P>> = staged
                            .records
                            .into_iter()
                            .map(|mut r| {
                                r.outcome = Outcome::Unknown { revision };
                                r
                            })
                            .collect();
                        let _ignored = self.audit.record(&unknown);
                    }
                    return Err(err.for_revision(revision));
                }
                Err(err) => return refuse(err),
            }
        }
    }
}
