//! The writer's state: the last revision it handed out, and what recent batches wrote, for
//! conflict checks between writers (replicas) and against stale edit forms.

use std::collections::{HashSet, VecDeque};

use crate::Error;
use crate::storage::{Batch, Key, Mutation};

/// How many recent batches the engine remembers the objects of, for conflict checks.
pub(crate) const RECENT_BATCHES: usize = 1024;

/// How many objects those batches may name in all (16 bytes each).
const RECENT_KEYS: usize = 16_384;

/// The writer's state, behind the engine's writer lock.
#[derive(Debug)]
pub(crate) struct Writer {
    /// The last revision handed to the audit sink or storage. A batch that storage refused
    /// keeps its number, so no two batches this engine audited as applied share one.
    pub(crate) last: u64,
    /// The objects written by each recent batch (this engine's and those it caught up on),
    /// oldest first.
    recent: VecDeque<(u64, Box<[Key]>)>,
    /// How many keys `recent` holds.
    recent_keys: usize,
    /// `recent` holds every batch after this revision.
    complete_after: u64,
}

impl Writer {
    pub(crate) fn new(revision: u64) -> Self {
        Writer {
            last: revision,
            recent: VecDeque::new(),
            recent_keys: 0,
            complete_after: revision,
        }
    }

    /// After opening at `revision`: remembers the stored batches after `from` up to it (every
    /// one stored), so that forms filled before a restart can still be checked.
    pub(crate) fn reopened<P: Copy>(revision: u64, from: u64, batches: &[Batch<P>]) -> Self {
        let mut w = Writer::new(revision);
        w.complete_after = from;
        for b in batches
            .iter()
            .filter(|b| b.revision > from && b.revision <= revision)
        {
            w.remember(b.revision, &b.mutations);
        }
        w.last = revision;
        w
    }

    /// After reloading the whole state at `revision` (the batches before it were pruned): what
    /// happened before it is unknown, so a change based on an earlier revision is refused as
    /// too old to check.
    pub(crate) fn reloaded(&mut self, revision: u64) {
        self.recent.clear();
        self.recent_keys = 0;
        self.complete_after = revision;
        self.last = self.last.max(revision);
    }

    /// The revision for a batch planned on `current`.
    pub(crate) fn next_revision(&self, current: u64) -> Result<u64, Error> {
        // Stores keep revisions in signed 64-bit integers.
        self.last
            .max(current)
            .checked_add(1)
            .filter(|r| i64::try_from(*r).is_ok())
            .ok_or_else(|| Error::storage("the revision numbers are exhausted"))
    }

    /// Remembers what the batch stored as `revision` wrote. A batch writing more objects than
    /// are remembered in all (a bulk load) is not kept: changes based on a revision before it
    /// are then refused as too old to check, which is the safe side.
    pub(crate) fn remember<P: Copy>(&mut self, revision: u64, mutations: &[Mutation<P>]) {
        self.last = self.last.max(revision);
        if mutations.len() > RECENT_KEYS {
            self.recent.clear();
            self.recent_keys = 0;
            self.complete_after = revision;
            return;
        }
        self.recent_keys += mutations.len();
        self.recent
            .push_back((revision, mutations.iter().map(Mutation::key).collect()));
        while self.recent.len() > RECENT_BATCHES || self.recent_keys > RECENT_KEYS {
            let Some((dropped, keys)) = self.recent.pop_front() else {
                break;
            };
            self.recent_keys -= keys.len();
            self.complete_after = dropped;
        }
    }

    /// What every remembered batch after `based_on` wrote, for a write based on it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Conflict`] if `based_on` is older than what is remembered.
    pub(crate) fn since(&self, based_on: u64) -> Result<Vec<Written>, Error> {
        if based_on < self.complete_after {
            return Err(Error::too_old(based_on, self.complete_after));
        }
        Ok(self
            .recent
            .iter()
            .filter(|(r, _)| *r > based_on)
            .cloned()
            .collect())
    }
}

/// The objects one batch wrote: its revision and their keys.
pub(crate) type Written = (u64, Box<[Key]>);

/// What `batches` wrote.
pub(crate) fn written_by<P: Copy>(batches: &[Batch<P>]) -> Vec<Written> {
    batches
        .iter()
        .map(|b| (b.revision, b.mutations.iter().map(Mutation::key).collect()))
        .collect()
}

/// Refuses with [`ErrorKind::Conflict`] if one of the `prior` batches wrote one of `written`.
pub(crate) fn check_written(prior: &[Written], written: &HashSet<Key>) -> Result<(), Error> {
    for (revision, keys) in prior {
        if let Some(key) = keys.iter().find(|k| written.contains(k)) {
            return Err(Error::conflict(*key, *revision));
        }
    }
    Ok(())
}
