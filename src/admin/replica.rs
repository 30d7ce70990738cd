//! Replicas: reading what other engines sharing the storage wrote ([`Engine::sync`]), waiting
//! for a revision ([`Engine::at_least`]), and following the storage in the background
//! ([`Engine::follow`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Error;
use crate::admin::writer::Writer;
use crate::engine::index::{Index, Pending};
use crate::engine::{Core, Engine, Snapshot, loaded_index};
use crate::model::permission::Catalog;
use crate::storage::LONGEST_WAIT;
use crate::storage::{Batch, Mutation};
use crate::trace::Traced;

/// The follower waits for changes in slices this long, looking at its stop flag in between.
const FOLLOW_SLICE: Duration = Duration::from_millis(100);

/// How often a follower refreshes its registration in the store
/// ([`Storage::register_follower`](crate::storage::Storage::register_follower)).
const REGISTER_EVERY: Duration = Duration::from_secs(5);

/// Numbers the followers of this process, for their registration names.
static FOLLOWERS: AtomicU64 = AtomicU64::new(0);

/// How often a follower reads the store whatever the store reports: the bound on how far
/// behind a missed notification leaves an engine that follows by itself ([`Engine::open`]).
pub(crate) const FOLLOW_POLL: Duration = Duration::from_secs(1);

impl<P: Catalog> Engine<P> {
    /// Reads every batch other engines stored since this one's revision and publishes them.
    /// Returns the revision now shown. A follower ([`follow`](Self::follow), or the one an
    /// engine on a shared store runs by itself) calls this whenever the storage reports a
    /// change; call it directly to catch up at once.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be read; any
    /// other kind if a stored batch breaks a rule here (engines sharing a store must use the
    /// same catalog). The engine is then unchanged.
    pub fn sync(&self) -> Result<u64, Error> {
        self.core.sync()
    }

    /// A snapshot at revision `revision` or later: read your own writes across replicas, as
    /// with a Zanzibar zookie. Waits up to `timeout` for a follower (or [`sync`](Self::sync))
    /// to bring the revision in; never touches storage itself.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Behind`](crate::ErrorKind::Behind) if the revision has not arrived in time.
    pub fn at_least(&self, revision: u64, timeout: Duration) -> Result<Snapshot<P>, Error> {
        let deadline = Instant::now() + timeout.min(LONGEST_WAIT);
        let (lock, cv) = &self.core.published;
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let snapshot = self.snapshot();
            if snapshot.revision() >= revision {
                return Ok(snapshot);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::behind(snapshot.revision(), revision));
            }
            guard = cv
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Starts a background thread that keeps this engine up to date with what other engines
    /// sharing its storage write: it waits for the storage to report a change
    /// ([`Storage::wait_for_change`](crate::storage::Storage::wait_for_change): PostgreSQL's LISTEN/NOTIFY, a memory store's condition
    /// variable) and then [`sync`](Self::sync)s; it also syncs every `poll` whatever the
    /// storage reports, so a missed notification (a dropped connection, say) is made up by the
    /// same catch-up read. Dropping the [`Follower`] stops it: within a tenth of a second while
    /// it waits; a read already under way (a sync waiting for the writer lock or the database)
    /// is finished first. Poll [`Follower::take_error`] to learn of failing reads.
    ///
    /// The follower registers in the store under [`Follower::name`], with the revision it has,
    /// before this returns and again every five seconds, so that
    /// [`Storage::prune`](crate::storage::Storage::prune) keeps the batches it has yet to read;
    /// dropping it removes the registration. A follower that fell behind what was pruned
    /// anyway (stopped for longer than the retention's follower timeout) reloads the whole
    /// state from the store on its next read.
    ///
    /// An engine opened with [`open`](Self::open) on a store other engines may write already
    /// follows it, every second at least, and registers the same way
    /// ([`is_following`](Self::is_following)): call this
    /// for engines sharing a [`MemoryStorage`](crate::storage::MemoryStorage) in one process,
    /// for one opened with [`open_unfollowed`](Self::open_unfollowed), or for another poll
    /// interval.
    pub fn follow(self: &Arc<Self>, poll: Duration) -> Follower {
        Follower::start(&self.core, poll, true)
    }
}

impl<P: Catalog> Core<P> {
    /// See [`Engine::sync`].
    pub(crate) fn sync(&self) -> Result<u64, Error> {
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.catch_up(&mut w)?;
        Ok(self.revision())
    }

    /// The revision of the published state.
    pub(crate) fn revision(&self) -> u64 {
        self.current.load().revision()
    }

    /// Publishes `next` to readers and wakes [`at_least`](Self::at_least) waiters.
    pub(crate) fn publish(&self, next: Index<P>) {
        self.current.store(Arc::new(next));
        let (lock, cv) = &self.published;
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        cv.notify_all();
    }

    /// Applies every batch stored after the current revision; if some of them were pruned,
    /// reloads the whole state instead. Called with the writer lock.
    pub(crate) fn catch_up(&self, w: &mut Writer) -> Result<CaughtUp<P>, Error> {
        let current = self.current.load_full();
        let missed = match self.storage.changes_since(current.revision()) {
            Ok(missed) => missed,
            Err(err) if err.pruned_through().is_some() => {
                // INVARIANT: a replica behind the pruned batches never applies the later ones
                // alone: it rebuilds from the stored state.
                let loaded = self.storage.load()?;
                let revision = loaded.revision;
                if revision < current.revision() {
                    return Err(Error::storage(format!(
                        "the store is at revision {revision}, behind this engine's {}",
                        current.revision()
                    )));
                }
                let next = loaded_index(loaded, self.partition.as_ref())?;
                w.reloaded(revision);
                self.publish(next);
                return Ok(CaughtUp::Reloaded);
            }
            Err(err) => return Err(err),
        };
        let Some(end) = missed.last().map(|b| b.revision) else {
            return Ok(CaughtUp::Batches(missed));
        };
        let mut next = Index::clone(&current);
        let mut pending = Pending::default();
        match &self.partition {
            None => {
                for batch in &missed {
                    next.mutate(&batch.mutations, &mut pending)?;
                }
            }
            Some(part) => {
                // Only the served accounts' mutations; the revision advances all the same.
                let kept =
                    part.keep_batches(&current, missed.iter().map(|b| b.mutations.as_slice()));
                // Batches of other accounts only leave the index as it is (but the revision).
                for mutations in kept.iter().filter(|m| !m.is_empty()) {
                    next.mutate(mutations, &mut pending)?;
                }
            }
        }
        next.settle(&pending)?;
        next.set_revision(end);
        match &self.partition {
            None => {
                for batch in &missed {
                    w.remember(batch.revision, &batch.mutations);
                }
            }
            // It never writes, so it keeps no batches to check a write against.
            Some(_) => w.last = w.last.max(end),
        }
        self.publish(next);
        Ok(CaughtUp::Batches(missed))
    }

    /// After storage could not say whether it stored the batch of `revision`
    /// ([`ErrorKind::OutcomeUnknown`]): whether it was stored all the same. If so, the
    /// catch-up read has published it. A batch with the same revision and the same mutations
    /// is this one, or one with exactly its effect.
    pub(crate) fn stored_anyway(
        &self,
        w: &mut Writer,
        revision: u64,
        mutations: &[Mutation<P>],
    ) -> bool {
        // After a reload the batch cannot be told apart from the state: not known, so not.
        self.catch_up(w).is_ok_and(|caught| match caught {
            CaughtUp::Batches(missed) => missed
                .iter()
                .any(|b| b.revision == revision && b.mutations == mutations),
            CaughtUp::Reloaded => false,
        })
    }
}

/// What a catch-up read brought in.
pub(crate) enum CaughtUp<P> {
    /// These batches, applied in order.
    Batches(Vec<Batch<P>>),
    /// The whole state, reloaded: some batches after the engine's revision were pruned.
    Reloaded,
}

/// The background thread of [`Engine::follow`]. Dropping it stops the thread.
#[derive(Debug)]
#[must_use = "dropping the Follower stops it at once"]
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    error: Arc<Mutex<Option<Error>>>,
    /// Whether dropping it waits for the thread to end. An engine's own follower does not: the
    /// thread holds the engine's state only weakly, and ends at its next look at the flag.
    join: bool,
    name: String,
}

impl Follower {
    /// Starts a follower of `core`. With `keep`, the thread keeps `core` alive and dropping
    /// the `Follower` waits for it; without, it ends once `core` is dropped, and dropping the
    /// `Follower` only tells it to stop (an engine's own follower: dropping an engine never
    /// waits for its thread).
    pub(crate) fn start<P: Catalog>(core: &Arc<Core<P>>, poll: Duration, keep: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let name = format!(
            "follower-{}-{}-{}",
            std::process::id(),
            FOLLOWERS.fetch_add(1, Ordering::Relaxed),
            crate::admin::audit::now_unix_ms()
        );
        register(core, &name, &error);
        let weak = Arc::downgrade(core);
        // The thread reports to the tracing subscriber of whoever started it.
        let inherited = crate::trace::inherit();
        let strong = keep.then(|| Arc::clone(core));
        let thread = {
            let (stop, error, name) = (Arc::clone(&stop), Arc::clone(&error), name.clone());
            std::thread::Builder::new()
                .name("shopguard-follower".to_owned())
                .spawn(move || {
                    let _keep = strong;
                    inherited(&mut || follow_loop(&weak, &name, poll, &stop, &error));
                })
        };
        Follower {
            stop,
            thread: thread.ok(),
            error,
            join: keep,
            name,
        }
    }

    /// The name the follower is registered under in the store
    /// ([`Storage::register_follower`](crate::storage::Storage::register_follower)): unique to
    /// this process and start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last error the follower met (storage unreachable, …), taken out; it keeps trying.
    pub fn take_error(&self) -> Option<Error> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Whether the thread is running (it could not be started if the system refused a thread).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take()
            && self.join
        {
            let _ignored = thread.join();
        }
    }
}

/// Registers the follower `name` in the store with the revision `core` shows; a failure is
/// the follower's error to report.
fn register<P: Catalog>(core: &Core<P>, name: &str, error: &Mutex<Option<Error>>) {
    if let Err(err) = core.storage.register_follower(name, core.revision()) {
        *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
    }
}

/// A follower's work until `stop` is set or the engine's state is dropped: wait for the
/// storage to report a change, in slices, and read it; read every `poll` in any case; refresh
/// its registration every [`REGISTER_EVERY`], and remove it at the end.
fn follow_loop<P: Catalog>(
    core: &Weak<Core<P>>,
    name: &str,
    poll: Duration,
    stop: &AtomicBool,
    error: &Mutex<Option<Error>>,
) {
    let poll = poll.max(Duration::from_millis(1));
    let slice = poll.min(FOLLOW_SLICE);
    let mut synced = Instant::now();
    let mut backoff = slice;
    // The store is held for the waits; the engine's state only for a read, so that a dropped
    // engine's memory goes at once, its store's connections at the end of the wait.
    let Some(storage) = core.upgrade().map(|c| Arc::clone(&c.storage)) else {
        return;
    };
    let mut registered = Instant::now();
    while !stop.load(Ordering::Acquire) {
        let Some(seen) = core.upgrade().map(|c| {
            if registered.elapsed() >= REGISTER_EVERY {
                registered = Instant::now();
                register(&c, name, error);
            }
            c.revision()
        }) else {
            break;
        };
        let outcome = storage.wait_for_change(seen, slice).and_then(|woke| {
            // A reported change, or the poll interval is up: read.
            if woke || synced.elapsed() >= poll {
                synced = Instant::now();
                let Some(core) = core.upgrade() else {
                    return Ok(());
                };
                let traced = Traced::follow(seen, woke);
                let read = traced.in_scope(|| core.sync());
                traced.finish(&read, |r| *r);
                read.map(|_| ())
            } else {
                Ok(())
            }
        });
        match outcome {
            Ok(()) => backoff = slice,
            Err(err) => {
                *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
                // Failing again and again: wait longer each time, up to `poll`, in slices, so
                // that a drop still stops the thread promptly.
                let until = Instant::now() + backoff;
                while Instant::now() < until && !stop.load(Ordering::Acquire) {
                    std::thread::sleep(slice);
                }
                backoff = (backoff * 2).min(poll);
            }
        }
    }
    // Best effort: a registration left behind goes stale and is dropped.
    let _ignored = storage.unregister_follower(name);
}
