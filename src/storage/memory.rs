//! The in-memory storage implementations.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::storage::{Batch, Commit, Key, Loaded, Mutation, ObjectKind, Storage};

/// The default: nothing is kept outside the engine's own memory, and nothing survives the
/// process. For services that rebuild their policy from their own database on start.
///
/// Audit records still reach the engine's [`AuditSink`](crate::audit::AuditSink). Engines on a
/// `Volatile` share nothing, so it never reports a conflict.
#[derive(Clone, Copy, Debug, Default)]
pub struct Volatile;

impl<P> Storage<P> for Volatile {
    fn load(&self) -> Result<Loaded<P>, Error> {
        Ok(Loaded {
            revision: 0,
            records: Vec::new(),
        })
    }

    fn commit(&self, _commit: &Commit<'_, P>) -> Result<(), Error> {
        Ok(())
    }

    fn changes_since(&self, _revision: u64) -> Result<Vec<Batch<P>>, Error> {
        Ok(Vec::new())
    }

    fn record_refused(&self, _records: &[AuditRecord<P>]) -> Result<(), Error> {
        Ok(())
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error> {
        Ok(Vec::new())
    }
}

/// A store that keeps its own copy of every record, every batch and every audit record in
/// memory, and keeps the whole [`Storage`] contract.
///
/// Share one (in an `Arc`) between engines to model a restart, or several replicas in one
/// process: an engine opened on it later loads everything the others wrote, and a follower
/// ([`Engine::follow`](crate::Engine::follow)) is woken by every commit.
///
/// `Debug` prints the revision and how many objects and batches it holds, not the objects.
pub struct MemoryStorage<P> {
    state: Mutex<Records<P>>,
    changed: Condvar,
}

impl<P> std::fmt::Debug for MemoryStorage<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("MemoryStorage");
        if let Ok(r) = self.state.lock() {
            d.field("revision", &r.revision)
                .field("objects", &r.objects.len())
                .field("batches", &r.log.len());
        }
        d.finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Records<P> {
    revision: u64,
    /// The latest put of every object, in first-insertion order.
    objects: IndexMap<Key, Mutation<P>>,
    log: Vec<Batch<P>>,
    audit: Vec<AuditRecord<P>>,
    /// Fault injection: the next commit fails after this many mutations.
    fail_after: Option<usize>,
    /// Per object kind, the next id to allocate: above every id stored and every id handed
    /// out ([`Storage::allocate_ids`]).
    next_ids: [u64; 6],
}

impl<P> MemoryStorage<P> {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStorage {
            state: Mutex::new(Records {
                revision: 0,
                objects: IndexMap::new(),
                log: Vec::new(),
                audit: Vec::new(),
                fail_after: None,
                next_ids: [1; 6],
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Records<P>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(feature = "testing")]
    #[doc(hidden)]
    /// Fault injection, for tests: the next commit fails after storing `mutations` of its
    /// mutations, as a disk that fails mid-write would. The commit must then leave nothing.
    pub fn fail_next_commit_after(&self, mutations: usize) {
        self.lock().fail_after = Some(mutations);
    }
}

impl<P> Default for MemoryStorage<P> {
    fn default() -> Self {
        Self::new()
    }
}

/// Applies `batch` to `objects`; stops with an error after `fail_after` mutations.
fn write<P: Copy>(
    objects: &mut IndexMap<Key, Mutation<P>>,
    batch: &[Mutation<P>],
    fail_after: Option<usize>,
) -> Result<(), Error> {
    for (n, m) in batch.iter().enumerate() {
        if fail_after == Some(n) {
            return Err(Error::storage("injected fault: write failed mid-batch"));
        }
        if m.is_remove() {
            objects.shift_remove(&m.key());
        } else {
            objects.insert(m.key(), m.clone());
        }
    }
    Ok(())
}

impl<P: Copy + Send + core::fmt::Debug> Storage<P> for MemoryStorage<P> {
    fn load(&self) -> Result<Loaded<P>, Error> {
        let s = self.lock();
        let mut records: Vec<(Key, Mutation<P>)> =
            s.objects.iter().map(|(k, m)| (*k, m.clone())).collect();
        // Parents first; within a kind, first-insertion order (the sort is stable).
        records.sort_by_key(|(k, _)| k.kind);
        Ok(Loaded {
            revision: s.revision,
            records: records.into_iter().map(|(_, m)| m).collect(),
        })
    }

    fn commit(&self, commit: &Commit<'_, P>) -> Result<(), Error> {
        let mut s = self.lock();
        if commit.base != s.revision || commit.revision <= s.revision {
            return Err(Error::revision_moved(commit.base, s.revision));
        }
        match s.fail_after.take() {
            None => {
                // Every step is infallible without an injected fault: the batch lands whole.
                write(&mut s.objects, commit.mutations, None)?;
            }
            Some(n) => {
                // Write into a copy, as a transaction would, and keep it only if all of it
                // landed.
                let mut objects = s.objects.clone();
                write(&mut objects, commit.mutations, Some(n))?;
                s.objects = objects;
            }
        }
        for m in commit.mutations.iter().filter(|m| !m.is_remove()) {
            let key = m.key();
            if let Some(next) = s.next_ids.get_mut(usize::from(key.kind.code())) {
                *next = (*next).max(key.id.saturating_add(1));
            }
        }
        s.log.push(Batch {
            revision: commit.revision,
            mutations: commit.mutations.to_vec(),
        });
        s.audit.extend_from_slice(commit.audit);
        s.revision = commit.revision;
        drop(s);
        self.changed.notify_all();
        Ok(())
    }

    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<P>>, Error> {
        let s = self.lock();
        let first = s.log.partition_point(|b| b.revision <= revision);
        Ok(s.log.get(first..).unwrap_or_default().to_vec())
    }

    fn record_refused(&self, records: &[AuditRecord<P>]) -> Result<(), Error> {
        self.lock().audit.extend_from_slice(records);
        Ok(())
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error> {
        Ok(self.lock().audit.clone())
    }

    /// Under the store's lock: engines sharing it in one process never get the same id.
    fn allocate_ids(&self, kind: ObjectKind, count: u64, at_least: u64) -> Result<u64, Error> {
        let mut s = self.lock();
        let next = s
            .next_ids
            .get_mut(usize::from(kind.code()))
            .ok_or_else(|| Error::storage(format!("no sequence for {kind} ids")))?;
        let first = (*next).max(at_least);
        *next = first
            .checked_add(count)
            .ok_or_else(|| Error::storage(format!("the {kind} ids are used up")))?;
        Ok(first)
    }

    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout.min(crate::storage::LONGEST_WAIT);
        let mut s = self.lock();
        while s.revision <= after {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(s.revision > after)
    }
}
