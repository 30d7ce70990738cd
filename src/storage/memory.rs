//! The in-memory storage implementations.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::Serialize;

use crate::Error;
use crate::admin::audit::{AuditRecord, now_unix_ms};
use crate::admin::audit_query::{AuditPage, AuditQuery};
use crate::storage::retention::{Line, export, finish_export};
use crate::storage::{
    Batch, Commit, Key, Loaded, Mutation, ObjectKind, Pruned, Retention, Storage,
};

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

    fn audit_query(&self, query: &AuditQuery) -> Result<AuditPage<P>, Error>
    where
        P: Copy,
    {
        query.select(core::iter::empty())
    }

    /// Nothing is stored, so nothing is pruned.
    fn prune(&self, _retention: &Retention, _export: &mut dyn Write) -> Result<Pruned, Error> {
        Ok(Pruned::default())
    }
}

/// A store that keeps its own copy of every record, every batch and every audit record in
/// memory, and keeps the whole [`Storage`] contract.
///
/// Share one (in an `Arc`) between engines to model a restart, or several replicas in one
/// process: an engine opened on it later loads everything the others wrote, and a follower
/// ([`Engine::follow`](crate::Engine::follow)) is woken by every commit.
///
/// It prunes ([`Storage::prune`]) as the durable backends do, holding its lock while it writes
/// the export, so other writers wait for the export.
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
    /// Every batch kept, in revision order, with the time it was stored.
    log: Vec<(u64, Batch<P>)>,
    /// Every audit record kept, with its sequence number, in that order.
    audit: Vec<(u64, AuditRecord<P>)>,
    /// The last sequence number handed out.
    seq: u64,
    /// Every batch up to this revision was pruned.
    pruned_through: u64,
    /// Registered followers: the revision each has, and when it said so.
    followers: HashMap<String, (u64, u64)>,
    /// Fault injection: the next commit fails after this many mutations.
    fail_after: Option<usize>,
    /// Per object kind, the next id to allocate: above every id stored and every id handed
    /// out ([`Storage::allocate_ids`]).
    next_ids: [u64; 6],
}

impl<P: Clone> Records<P> {
    fn append_audit(&mut self, records: &[AuditRecord<P>]) {
        for r in records {
            self.seq += 1;
            self.audit.push((self.seq, r.clone()));
        }
    }
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
                seq: 0,
                pruned_through: 0,
                followers: HashMap::new(),
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

impl<P: Copy + Send + core::fmt::Debug + Serialize> Storage<P> for MemoryStorage<P> {
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
        let at = commit
            .audit
            .first()
            .map_or_else(now_unix_ms, |r| r.at_unix_ms);
        s.log.push((
            at,
            Batch {
                revision: commit.revision,
                mutations: commit.mutations.to_vec(),
            },
        ));
        s.append_audit(commit.audit);
        s.revision = commit.revision;
        drop(s);
        self.changed.notify_all();
        Ok(())
    }

    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<P>>, Error> {
        let s = self.lock();
        if revision < s.pruned_through {
            return Err(Error::pruned(revision, s.pruned_through));
        }
        let first = s.log.partition_point(|(_, b)| b.revision <= revision);
        Ok(s.log
            .get(first..)
            .unwrap_or_default()
            .iter()
            .map(|(_, b)| b.clone())
            .collect())
    }

    fn record_refused(&self, records: &[AuditRecord<P>]) -> Result<(), Error> {
        self.lock().append_audit(records);
        Ok(())
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error> {
        Ok(self.lock().audit.iter().map(|(_, r)| r.clone()).collect())
    }

    fn audit_query(&self, query: &AuditQuery) -> Result<AuditPage<P>, Error> {
        let s = self.lock();
        // Newest first, from the cursor's place on: a binary search, not a scan of the rest.
        let below = query.below()?;
        let end = s.audit.partition_point(|(seq, _)| *seq < below);
        let kept = s.audit.get(..end).unwrap_or_default();
        query.select(kept.iter().rev().map(|(seq, r)| (*seq, r)))
    }

    fn prune(&self, retention: &Retention, out: &mut dyn Write) -> Result<Pruned, Error> {
        let mut s = self.lock();
        let now = now_unix_ms();
        let stale = retention.stale_at_or_before(now);
        let cut = match retention.batches_before {
            None => s.pruned_through,
            Some(horizon) => {
                // Up to the first batch made at or after the horizon, and no further than any
                // live follower has read.
                let young = s.log.iter().find(|(at, _)| *at >= horizon);
                let mut cut = young.map_or(s.revision, |(_, b)| b.revision.saturating_sub(1));
                let live = s.followers.values().filter(|(_, seen)| *seen > stale);
                if let Some(least) = live.map(|(revision, _)| *revision).min() {
                    cut = cut.min(least);
                }
                cut.max(s.pruned_through)
            }
        };
        let batches = s.log.partition_point(|(_, b)| b.revision <= cut);
        let old = |r: &AuditRecord<P>| retention.audit_before.is_some_and(|h| r.at_unix_ms < h);
        // INVARIANT: everything removed below is in the export first.
        for (at, b) in s.log.get(..batches).unwrap_or_default() {
            export(
                out,
                &Line::Batch {
                    revision: b.revision,
                    at_unix_ms: *at,
                    mutations: &b.mutations,
                },
            )?;
        }
        for (seq, record) in s.audit.iter().filter(|(_, r)| old(r)) {
            export(out, &Line::Audit { seq: *seq, record })?;
        }
        finish_export(out)?;
        s.log.drain(..batches);
        let before = s.audit.len();
        s.audit.retain(|(_, r)| !old(r));
        s.pruned_through = cut;
        s.followers.retain(|_, (_, seen)| *seen > stale);
        Ok(Pruned {
            batches: batches as u64,
            audit_records: (before - s.audit.len()) as u64,
            through_revision: cut,
        })
    }

    fn register_follower(&self, name: &str, revision: u64) -> Result<(), Error> {
        self.lock()
            .followers
            .insert(name.to_owned(), (revision, now_unix_ms()));
        Ok(())
    }

    fn unregister_follower(&self, name: &str) -> Result<(), Error> {
        self.lock().followers.remove(name);
        Ok(())
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
