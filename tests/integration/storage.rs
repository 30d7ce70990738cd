//! The storage contract, on the in-memory backends.

use std::sync::{Arc, Mutex};

use shopguard::audit::AuditRecord;
use shopguard::storage::{Batch, Commit, Loaded, MemoryStorage, Storage};
use shopguard::{Engine, Error, ErrorKind, Mutation, OnStore, UserId};

use crate::fixture::*;

#[test]
fn reopening_on_the_same_storage_rebuilds_the_same_decisions() {
    let store = Arc::new(MemoryStorage::<T>::new());
    let first = Engine::open(store.clone()).unwrap();
    first.unchecked_apply(base()).unwrap();
    first
        .unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    let second = Engine::open(store).unwrap();
    assert_eq!(second.revision(), first.revision());
    for user in [OWNER, MANAGER_NORTH, CASHIER_NORTH, CASHIER_SOUTH, DISABLED] {
        for store in [NORTH, SOUTH] {
            for p in [T::SELL, T::REFUND, T::LIST_STAFF] {
                let r = OnStore(ACME, store);
                assert_eq!(first.check(user, p, &r), second.check(user, p, &r));
            }
        }
    }
    assert!(second.snapshot().user(CASHIER_SOUTH).is_none());
}

#[test]
fn a_refused_batch_reaches_no_storage() {
    let store = Arc::new(MemoryStorage::<T>::new());
    let e = Engine::open(store.clone()).unwrap();
    e.unchecked_apply(base()).unwrap();
    let before = store.load().unwrap();
    assert!(e.unchecked_apply([Mutation::RemoveUser(OWNER)]).is_err());
    let after = store.load().unwrap();
    assert_eq!(before.revision, after.revision);
    assert_eq!(before.records, after.records);
}

/// What the test backends below have in common: a [`MemoryStorage`] with some of its methods
/// changed. Each method of a hook gets the memory store and, unless the hook changes it, passes
/// the call on; [`Hooked`] makes a hook a [`Storage`].
trait Hook<P: Stored>: std::fmt::Debug + Send + Sync {
    fn load(&self, inner: &MemoryStorage<P>) -> Result<Loaded<P>, Error> {
        inner.load()
    }
    fn commit(&self, inner: &MemoryStorage<P>, commit: &Commit<'_, P>) -> Result<(), Error> {
        inner.commit(commit)
    }
    fn changes_since(
        &self,
        inner: &MemoryStorage<P>,
        revision: u64,
    ) -> Result<Vec<Batch<P>>, Error> {
        inner.changes_since(revision)
    }
    fn is_shared(&self) -> bool {
        false
    }
    fn register_follower(
        &self,
        inner: &MemoryStorage<P>,
        name: &str,
        revision: u64,
    ) -> Result<(), Error> {
        inner.register_follower(name, revision)
    }
    fn unregister_follower(&self, inner: &MemoryStorage<P>, name: &str) -> Result<(), Error> {
        inner.unregister_follower(name)
    }
    fn wait_for_change(
        &self,
        inner: &MemoryStorage<P>,
        after: u64,
        timeout: std::time::Duration,
    ) -> Result<bool, Error> {
        inner.wait_for_change(after, timeout)
    }
}

/// What [`MemoryStorage`] stores.
trait Stored: Copy + Send + std::fmt::Debug + serde::Serialize {}

impl<P: Copy + Send + std::fmt::Debug + serde::Serialize> Stored for P {}

/// A [`Hook`] over a memory store. Its fields are the hook's (`Deref`); `inner` is the store.
/// `allocate_ids`, `audit_query` and `prune` are the trait's own, as for a backend that does
/// not write them: they go through the hook's `is_shared` and the store's audit records.
#[derive(Debug)]
struct Hooked<H, P = T> {
    inner: MemoryStorage<P>,
    hook: H,
}

impl<H: Default, P> Default for Hooked<H, P> {
    fn default() -> Self {
        Hooked {
            inner: MemoryStorage::new(),
            hook: H::default(),
        }
    }
}

impl<H, P> std::ops::Deref for Hooked<H, P> {
    type Target = H;
    fn deref(&self) -> &H {
        &self.hook
    }
}

impl<P: Stored, H: Hook<P>> Storage<P> for Hooked<H, P> {
    fn load(&self) -> Result<Loaded<P>, Error> {
        self.hook.load(&self.inner)
    }
    fn commit(&self, commit: &Commit<'_, P>) -> Result<(), Error> {
        self.hook.commit(&self.inner, commit)
    }
    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<P>>, Error> {
        self.hook.changes_since(&self.inner, revision)
    }
    fn record_refused(&self, records: &[AuditRecord<P>]) -> Result<(), Error> {
        self.inner.record_refused(records)
    }
    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error> {
        self.inner.audit_records()
    }
    fn is_shared(&self) -> bool {
        self.hook.is_shared()
    }
    fn register_follower(&self, name: &str, revision: u64) -> Result<(), Error> {
        self.hook.register_follower(&self.inner, name, revision)
    }
    fn unregister_follower(&self, name: &str) -> Result<(), Error> {
        self.hook.unregister_follower(&self.inner, name)
    }
    fn wait_for_change(&self, after: u64, timeout: std::time::Duration) -> Result<bool, Error> {
        self.hook.wait_for_change(&self.inner, after, timeout)
    }
}

/// A backend whose writes fail on demand.
#[derive(Debug, Default)]
struct Flaky {
    fail: Mutex<bool>,
}

impl<P: Stored> Hook<P> for Flaky {
    fn commit(&self, inner: &MemoryStorage<P>, commit: &Commit<'_, P>) -> Result<(), Error> {
        if *self.fail.lock().unwrap() {
            return Err(Error::storage("disk full"));
        }
        inner.commit(commit)
    }
}

#[test]
fn a_failed_storage_write_leaves_memory_as_it_was() {
    let flaky = Arc::new(Hooked::<Flaky>::default());
    let e = Engine::open(Arc::clone(&flaky)).unwrap();
    e.unchecked_apply(base()).unwrap();
    *flaky.fail.lock().unwrap() = true;
    let err = e
        .unchecked_apply([Mutation::RemoveUser(CASHIER_NORTH)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(err.to_string(), "storage failed");
    assert_eq!(
        std::error::Error::source(&err).map(ToString::to_string),
        Some("disk full".to_owned())
    );
    assert_eq!(e.revision(), 1);
    assert!(e.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
    // Once the backend recovers, the write goes through. Its refused attempt was audited as
    // about to be revision 2 (R19), so it gets the revision after that, like any audited batch.
    *flaky.fail.lock().unwrap() = false;
    assert_eq!(
        e.unchecked_apply([Mutation::RemoveUser(CASHIER_NORTH)])
            .unwrap(),
        3
    );
    assert!(!e.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
    assert!(!e.can(UserId::new(12345), T::SELL, &OnStore(ACME, NORTH)));
}

#[test]
fn memory_storage_refuses_a_batch_planned_on_an_old_revision() {
    let store = MemoryStorage::<T>::new();
    let batch = base();
    let commit = |base, revision| Commit {
        base,
        revision,
        mutations: &batch,
        audit: &[],
    };
    store.commit(&commit(0, 1)).unwrap();
    // A second writer that also planned on revision 0.
    let err = store.commit(&commit(0, 2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.revision(), Some(1));
    // A revision that does not move forward.
    assert_eq!(
        store.commit(&commit(1, 1)).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(store.load().unwrap().revision, 1);
    assert_eq!(store.changes_since(0).unwrap().len(), 1);
    assert!(store.changes_since(1).unwrap().is_empty());
}

#[test]
fn r19_a_batch_storage_refused_keeps_its_revision_out_of_later_audit_records() {
    use shopguard::audit::Outcome;
    use shopguard::catalog::pos::{self, Pos};
    use shopguard::{Access, Account, Change, Grant, RoleId, Store, User};

    let audit = Arc::new(shopguard::audit::MemoryAudit::new());
    let flaky = Arc::new(Hooked::<Flaky, Pos>::default());
    let e = Engine::<Pos>::open(Arc::clone(&flaky))
        .unwrap()
        .with_audit(audit.clone());
    let (owner, ana) = (UserId::new(1), UserId::new(2));
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(ACME, "Acme")),
        Mutation::PutStore(Store::new(NORTH, ACME, "North")),
        Mutation::PutRole(pos::admin(RoleId::new(1), ACME)),
        Mutation::PutRole(pos::cashier(RoleId::new(3), ACME)),
        Mutation::PutUser(
            User::new(owner, ACME, "owner", "owner@acme.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
        Mutation::PutUser(
            User::new(ana, ACME, "ana", "ana@acme.example")
                .with_grant(Grant::new(RoleId::new(3), Access::specific([NORTH]))),
        ),
    ])
    .unwrap();
    *flaky.fail.lock().unwrap() = true;
    let err = e.apply(owner, Change::DisableUser(ana)).unwrap_err();
    // A plain failure: nothing stored, so no revision is in doubt.
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(err.revision(), None);
    *flaky.fail.lock().unwrap() = false;
    let applied = e.apply(owner, Change::DisableUser(ana)).unwrap();
    let outcomes: Vec<Outcome> = audit.records().into_iter().map(|r| r.outcome).collect();
    // The bootstrap (R19); then recorded before storage, then contradicted (refused, not
    // unknown); the next batch gets a new number.
    assert_eq!(outcomes[0], Outcome::Applied { revision: 1 });
    assert_eq!(outcomes[1], Outcome::Applied { revision: 2 });
    assert!(
        matches!(&outcomes[2], Outcome::Refused { kind, .. } if kind == ErrorKind::Storage.as_str()),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[3], Outcome::Applied { revision: 3 });
    assert_eq!(applied.revision(), 3);
    assert!(!e.can(ana, Pos::SELL, &OnStore(ACME, NORTH)));
}

/// A backend that stores a batch and then reports an error, as when the connection drops
/// after the server committed but before its answer arrived.
#[derive(Debug, Default)]
struct LostAck {
    lose_next: Mutex<bool>,
    /// Reports an unknown outcome without storing anything.
    unknown_next: Mutex<bool>,
}

impl Hook<T> for LostAck {
    fn commit(&self, inner: &MemoryStorage<T>, commit: &Commit<'_, T>) -> Result<(), Error> {
        if std::mem::take(&mut *self.unknown_next.lock().unwrap()) {
            return Err(Error::outcome_unknown(
                "connection lost before the server got it",
            ));
        }
        inner.commit(commit)?;
        if std::mem::take(&mut *self.lose_next.lock().unwrap()) {
            return Err(Error::outcome_unknown("connection lost while committing"));
        }
        Ok(())
    }
}

#[test]
fn a_batch_stored_although_the_commit_reported_an_error_counts_as_applied() {
    use shopguard::audit::{MemoryAudit, Outcome};
    let store = Arc::new(Hooked::<LostAck>::default());
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::open(Arc::clone(&store))
        .unwrap()
        .with_audit(audit.clone());
    e.unchecked_apply(base()).unwrap();
    *store.lose_next.lock().unwrap() = true;
    // The engine reads back what was stored, finds its own batch, and says so.
    let revision = e
        .unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    assert_eq!(revision, 2);
    assert_eq!(e.revision(), 2);
    assert!(e.snapshot().user(CASHIER_SOUTH).is_none());
    assert!(!*store.lose_next.lock().unwrap());
    // Memory and storage agree.
    let reopened = Engine::open(Arc::clone(&store)).unwrap();
    assert_eq!(reopened.revision(), 2);
    assert!(reopened.snapshot().user(CASHIER_SOUTH).is_none());
    // An unknown outcome when nothing was stored stays an error, of that kind.
    *store.unknown_next.lock().unwrap() = true;
    let err = e
        .unchecked_apply([Mutation::RemoveUser(CASHIER_NORTH)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(err.revision(), Some(3));
    // The sink heard the batch as applied, then as unknown: exactly what is known.
    let outcomes: Vec<Outcome> = audit.records().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes.get(outcomes.len().saturating_sub(2)..),
        Some(
            &[
                Outcome::Applied { revision: 3 },
                Outcome::Unknown { revision: 3 }
            ][..]
        ),
        "{outcomes:?}"
    );
    assert!(e.snapshot().user(CASHIER_NORTH).is_some());
    assert_eq!(store.load().unwrap().revision, 2);
    // A failure that stored nothing is still a failure.
    store.inner.fail_next_commit_after(0);
    let err = e
        .unchecked_apply([Mutation::RemoveUser(CASHIER_NORTH)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(e.snapshot().user(CASHIER_NORTH).is_some());
    assert_eq!(store.load().unwrap().revision, 2);
}

/// A partitioned replica takes no upload and no preview, and leaves no refusal record in the
/// storage it shares with the writer (found in review: a garbage upload by an unknown actor
/// through a replica added an audit record to the shared store).
#[cfg(feature = "csv")]
#[test]
fn a_partitioned_replica_writes_no_refusal_to_shared_storage() {
    use shopguard::import::CsvLimits;
    let store = Arc::new(MemoryStorage::<T>::new());
    let writer = Engine::open(store.clone()).unwrap();
    writer.unchecked_apply(base()).unwrap();
    let before = store.audit_records().unwrap().len();
    let replica = Engine::<T>::open_for(store.clone(), [ACME]).unwrap();
    let mut ids = || UserId::new(9_999);
    for actor in [UserId::new(999), OWNER] {
        let err = replica
            .upload_users_csv(actor, b"garbage", &CsvLimits::default(), &mut ids)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ReadOnly, "{err}");
        let err = replica
            .preview_users_csv(actor, b"garbage", &CsvLimits::default(), &mut ids)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ReadOnly, "{err}");
    }
    assert_eq!(store.audit_records().unwrap().len(), before);
}

/// A POS account on `store`: the owner, and cashiers ana and sam at North.
fn pos_shop(store: &Arc<MemoryStorage<shopguard::catalog::pos::Pos>>) -> [UserId; 3] {
    use shopguard::catalog::pos;
    use shopguard::{Access, Account, Grant, RoleId, Store, User};
    let ids = [UserId::new(1), UserId::new(2), UserId::new(3)];
    let cashier = |id, name: &str| {
        User::new(id, ACME, name, &format!("{name}@acme.example"))
            .with_grant(Grant::new(RoleId::new(3), Access::specific([NORTH])))
    };
    Engine::open(store.clone())
        .unwrap()
        .unchecked_apply([
            Mutation::PutAccount(Account::new(ACME, "Acme")),
            Mutation::PutStore(Store::new(NORTH, ACME, "North")),
            Mutation::PutRole(pos::admin(RoleId::new(1), ACME)),
            Mutation::PutRole(pos::cashier(RoleId::new(3), ACME)),
            Mutation::PutUser(
                User::new(ids[0], ACME, "owner", "owner@acme.example")
                    .with_owner(true)
                    .with_grant(Grant::new(RoleId::new(1), Access::All)),
            ),
            Mutation::PutUser(cashier(ids[1], "ana")),
            Mutation::PutUser(cashier(ids[2], "sam")),
        ])
        .unwrap();
    ids
}

/// Two engines on one store, neither following the other: the second's write finds the
/// revision moved, catches up and is staged again on the new state. Its sink had already been
/// told the first attempt was applied, so it is told that attempt was refused before it hears
/// of the one that was stored (found by mutation testing: the refusal could be dropped and no
/// test noticed).
#[test]
fn r19_a_write_retried_after_another_engine_went_first_is_audited_as_refused_then_applied() {
    use shopguard::Change;
    use shopguard::audit::{MemoryAudit, Outcome};
    use shopguard::catalog::pos::Pos;
    let store = Arc::new(MemoryStorage::<Pos>::new());
    let [owner, ana, sam] = pos_shop(&store);
    let first = Engine::open(store.clone()).unwrap();
    let audit = Arc::new(MemoryAudit::new());
    let second = Engine::open(store.clone())
        .unwrap()
        .with_audit(audit.clone());
    first.apply(owner, Change::DisableUser(sam)).unwrap();
    // `second` still stands at revision 1.
    assert_eq!(second.revision(), 1);
    let applied = second.apply(owner, Change::DisableUser(ana)).unwrap();
    assert_eq!(applied.revision(), 3);
    let outcomes: Vec<Outcome> = audit.records().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(outcomes[0], Outcome::Applied { revision: 2 });
    assert!(
        matches!(&outcomes[1], Outcome::Refused { kind, .. } if kind == ErrorKind::Conflict.as_str()),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2], Outcome::Applied { revision: 3 });
    // Both changes are stored, and the second engine holds both.
    let snapshot = second.snapshot();
    assert!(!snapshot.user(sam).unwrap().is_enabled());
    assert!(!snapshot.user(ana).unwrap().is_enabled());
    assert_eq!(store.load().unwrap().revision, 3);
}

/// The same for a batch applied without authorization: retried on the new state, its first
/// attempt is audited as refused before the stored one is audited as applied (found by
/// mutation testing).
#[test]
fn r19_an_unchecked_batch_retried_after_another_engine_went_first_is_audited_as_refused_then_applied()
 {
    use shopguard::audit::{AuditActor, MemoryAudit, Outcome};
    use shopguard::catalog::pos::Pos;
    let store = Arc::new(MemoryStorage::<Pos>::new());
    let [owner, ana, sam] = pos_shop(&store);
    let first = Engine::open(store.clone()).unwrap();
    let audit = Arc::new(MemoryAudit::new());
    let second = Engine::open(store.clone())
        .unwrap()
        .with_audit(audit.clone());
    let disabled = |e: &Engine<Pos>, user| {
        Mutation::PutUser(e.snapshot().user(user).unwrap().clone().with_enabled(false))
    };
    first
        .apply(owner, shopguard::Change::DisableUser(sam))
        .unwrap();
    assert_eq!(second.revision(), 1);
    let revision = second
        .unchecked_apply_as("migration", [disabled(&second, ana)])
        .unwrap();
    assert_eq!(revision, 3);
    let records = audit.records();
    let outcomes: Vec<&Outcome> = records.iter().map(|r| &r.outcome).collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(*outcomes[0], Outcome::Applied { revision: 2 });
    assert!(
        matches!(outcomes[1], Outcome::Refused { kind, .. } if kind == ErrorKind::Conflict.as_str()),
        "{outcomes:?}"
    );
    assert_eq!(*outcomes[2], Outcome::Applied { revision: 3 });
    for record in &records {
        assert_eq!(record.actor, AuditActor::System("migration".into()));
    }
    let snapshot = second.snapshot();
    assert!(!snapshot.user(sam).unwrap().is_enabled());
    assert!(!snapshot.user(ana).unwrap().is_enabled());
    assert_eq!(store.load().unwrap().revision, 3);
}

/// An audit page prints its number of entries and its cursor; an entry its sequence number,
/// time, actor, change and outcome, not the objects it holds (found by mutation testing).
#[test]
fn r19_audit_pages_and_entries_print_in_short() {
    use shopguard::Change;
    use shopguard::audit::AuditQuery;
    use shopguard::catalog::pos::Pos;
    let store = Arc::new(MemoryStorage::<Pos>::new());
    let [owner, ana, sam] = pos_shop(&store);
    let e = Engine::open(store.clone()).unwrap();
    e.apply(owner, Change::DisableUser(ana)).unwrap();
    e.apply(owner, Change::DisableUser(sam)).unwrap();
    let page = e.query_audit(&AuditQuery::new(ACME).limit(1)).unwrap();
    let [entry] = &page.entries[..] else {
        panic!("{} entries", page.entries.len())
    };
    let next = page.next.expect("a second page");
    // A cursor prints as its text, which reads back as it.
    let text = next.to_string();
    assert_eq!(text.len(), 50);
    assert_eq!(format!("{next:?}"), format!("AuditCursor({text})"));
    assert_eq!(text.parse::<shopguard::audit::AuditCursor>().unwrap(), next);
    assert_eq!(
        format!("{page:?}"),
        format!("AuditPage {{ entries: 1, next: Some({next:?}) }}")
    );
    assert_eq!(
        format!("{entry:?}"),
        format!(
            "AuditEntry {{ seq: {}, at_unix_ms: {}, actor: {:?}, change: \"disable user\", outcome: Applied }}",
            entry.seq, entry.record.at_unix_ms, entry.record.actor
        )
    );
}

/// A change based on a revision no store holds yet is refused as `Behind` and changes nothing,
/// rather than applied as if the form were current (found by mutation testing).
#[test]
fn a_change_based_on_a_revision_ahead_of_the_store_is_refused_as_behind() {
    use shopguard::Change;
    use shopguard::catalog::pos::Pos;
    let store = Arc::new(MemoryStorage::<Pos>::new());
    let [owner, ana, _] = pos_shop(&store);
    let e = Engine::open(store.clone()).unwrap();
    let revision = e.revision();
    let err = e
        .apply_based_on(owner, revision + 5, vec![Change::DisableUser(ana)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Behind, "{err}");
    assert_eq!(e.revision(), revision);
    assert!(e.snapshot().user(ana).unwrap().is_enabled());
    assert_eq!(store.load().unwrap().revision, revision);
    // Based on the current revision, the same change goes through.
    e.apply_based_on(owner, revision, vec![Change::DisableUser(ana)])
        .unwrap();
    assert!(!e.snapshot().user(ana).unwrap().is_enabled());
}

/// A backend that says it pruned the batches asked for, but no further than what was asked.
#[derive(Debug, Default)]
struct PrunedInPlace;

impl Hook<T> for PrunedInPlace {
    fn changes_since(&self, _: &MemoryStorage<T>, revision: u64) -> Result<Vec<Batch<T>>, Error> {
        Err(Error::pruned(revision, revision))
    }
}

/// Opening reads the recent batches back, moving past a prune mark the store reports. A mark
/// that does not move past what was asked is the backend's error, and the open fails with it
/// instead of trying again and going on without the batches (found by mutation testing).
#[test]
fn an_open_on_a_store_whose_prune_mark_does_not_move_fails_with_the_stores_error() {
    let store = Arc::new(Hooked::<PrunedInPlace>::default());
    for (revision, batch) in [(1, base()), (2, vec![Mutation::RemoveUser(CASHIER_SOUTH)])] {
        store
            .commit(&Commit {
                base: revision - 1,
                revision,
                mutations: &batch,
                audit: &[],
            })
            .unwrap();
    }
    let err = Engine::open(store.clone()).unwrap_err();
    assert_eq!(err.pruned_through(), Some(0), "{err}");
}

/// An engine opened on a shared store follows it by itself and says so; when the store
/// cannot be read, the follower's error is handed out, and the engine keeps answering
/// from what it last read (found by mutation testing: with only in-memory backends in a
/// build, no test opened a following engine).
#[test]
fn a_following_engine_reports_its_followers_error() {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    let store = Arc::new(Hooked::<Unsteady>::default());
    let e = Engine::open(store.clone()).unwrap();
    assert!(e.is_following());
    e.unchecked_apply(base()).unwrap();
    assert!(
        Engine::open_unfollowed(store.clone())
            .unwrap()
            .follow_error()
            .is_none()
    );
    store.down.store(true, Ordering::SeqCst);
    let start = Instant::now();
    let err = loop {
        if let Some(err) = e.follow_error() {
            break err;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no follower error"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    store.down.store(false, Ordering::SeqCst);
    assert!(e.is_following());
    assert!(e.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
}

/// A change based on the revision before a batch of exactly 16,384 objects (as many as the
/// engine remembers, `apply_based_on`'s documentation) is still checked against it and goes
/// through if it touches none of them; one object more and the batch is not remembered, so a
/// change based before it is refused as too old to check (found by mutation testing: the
/// boundary could move by one and no test noticed).
#[test]
fn a_batch_of_as_many_objects_as_the_engine_remembers_still_lets_older_forms_be_checked() {
    use shopguard::catalog::pos::Pos;
    use shopguard::{Change, Store, StoreId};
    for (objects, accepted) in [(16_384u64, true), (16_385, false)] {
        let store = Arc::new(MemoryStorage::<Pos>::new());
        let [owner, ana, _] = pos_shop(&store);
        let e = Engine::open(store.clone()).unwrap();
        let form = e.revision();
        e.unchecked_apply((0..objects).map(|i| {
            Mutation::PutStore(Store::new(StoreId::new(1_000 + i), ACME, format!("s{i}")))
        }))
        .unwrap();
        let result = e.apply_based_on(owner, form, vec![Change::DisableUser(ana)]);
        assert_eq!(result.is_ok(), accepted, "{objects} objects: {result:?}");
        if !accepted {
            assert_eq!(result.unwrap_err().kind(), ErrorKind::Conflict);
        }
    }
}

/// The writer remembers the objects of the last 1,024 batches, 16,384 objects in all
/// (`apply_based_on`'s documentation): a change based on a revision it still covers is checked
/// against what was written since and goes through if it touches none of it; one based on a
/// revision it has let go is refused as too old to check (found by mutation testing: the
/// bounds could move by one, and the count of objects remembered be kept wrong, with no test
/// noticing).
#[test]
fn older_forms_are_checked_while_the_writer_remembers_the_batches_since_and_refused_after() {
    use shopguard::catalog::pos::Pos;
    use shopguard::{Change, Store, StoreId};
    let stores = |from: u64, count: u64| {
        (from..from + count)
            .map(|i| Mutation::PutStore(Store::new(StoreId::new(1_000 + i), ACME, format!("s{i}"))))
            .collect::<Vec<_>>()
    };
    // Forms based on each revision, tried on a fresh engine each time.
    let world = |batches: &[(u64, u64)]| {
        let store = Arc::new(MemoryStorage::<Pos>::new());
        let users = pos_shop(&store);
        let e = Engine::open(store).unwrap();
        let mut revisions = vec![e.revision()];
        for &(from, count) in batches {
            revisions.push(e.unchecked_apply(stores(from, count)).unwrap());
        }
        (e, users, revisions)
    };
    let accepted = |e: &Engine<Pos>, [owner, ana, _]: [UserId; 3], form: u64| {
        let result = e.apply_based_on(owner, form, vec![Change::DisableUser(ana)]);
        if let Err(err) = &result {
            assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        }
        result.is_ok()
    };
    // 1,024 batches of one object: the form from before the first is still checked.
    let batches: Vec<(u64, u64)> = (0..1_024).map(|i| (i, 1)).collect();
    let (e, users, revisions) = world(&batches);
    assert!(accepted(&e, users, revisions[0]));
    // 1,025: the first batch is let go.
    let batches: Vec<(u64, u64)> = (0..1_025).map(|i| (i, 1)).collect();
    let (e, users, revisions) = world(&batches);
    assert!(!accepted(&e, users, revisions[0]));
    let (e, users, revisions) = world(&batches);
    assert!(accepted(&e, users, revisions[1]));
    // Batches of 1,000 objects: after 18 of them, the last 16 are remembered (16,000 objects),
    // the first two let go.
    let batches: Vec<(u64, u64)> = (0..18).map(|i| (i * 1_000, 1_000)).collect();
    let (e, users, revisions) = world(&batches);
    assert!(!accepted(&e, users, revisions[1]));
    let (e, users, revisions) = world(&batches);
    assert!(accepted(&e, users, revisions[2]));
}

/// A backend where another writer always went first, with nothing new to read.
#[derive(Debug, Default)]
struct AlwaysMoved {
    commits: std::sync::atomic::AtomicUsize,
    busy: std::sync::atomic::AtomicBool,
}

impl Hook<T> for AlwaysMoved {
    fn commit(&self, inner: &MemoryStorage<T>, commit: &Commit<'_, T>) -> Result<(), Error> {
        if !self.busy.load(std::sync::atomic::Ordering::SeqCst) {
            return inner.commit(commit);
        }
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(Error::revision_moved(commit.base, commit.base))
    }
}

/// A write that storage keeps refusing as moved on, though catching up finds nothing new, is
/// tried a bounded number of times, then refused as `Conflict` and audited as refused; it
/// never loops (found by mutation testing: the count of tries could stay at zero).
#[test]
fn a_write_the_store_keeps_calling_stale_is_refused_after_a_few_tries() {
    use std::sync::atomic::Ordering;
    let store = Arc::new(Hooked::<AlwaysMoved>::default());
    let e = Engine::open(store.clone()).unwrap();
    e.unchecked_apply(base()).unwrap();
    store.busy.store(true, Ordering::SeqCst);
    let err = e
        .unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let tries = store.commits.load(Ordering::SeqCst);
    assert!((2..=64).contains(&tries), "{tries} tries");
    assert_eq!(e.revision(), 1);
    assert!(e.snapshot().user(CASHIER_SOUTH).is_some());
    let refused = store.inner.audit_records().unwrap();
    assert!(
        refused.last().is_some_and(|r| !r.outcome.is_applied()),
        "{refused:?}"
    );
}

/// A store whose batches were pruned and whose state is older than the engine's (restored
/// from a backup): the engine does not go back in time when it catches up, it says so and
/// keeps its state (found by mutation testing).
#[derive(Debug, Default)]
struct Restored {
    backup: MemoryStorage<T>,
    restored: std::sync::atomic::AtomicBool,
}

impl Hook<T> for Restored {
    fn load(&self, current: &MemoryStorage<T>) -> Result<Loaded<T>, Error> {
        if self.restored.load(std::sync::atomic::Ordering::SeqCst) {
            return self.backup.load();
        }
        current.load()
    }
    fn changes_since(
        &self,
        current: &MemoryStorage<T>,
        revision: u64,
    ) -> Result<Vec<Batch<T>>, Error> {
        if self.restored.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::pruned(revision, revision + 1));
        }
        current.changes_since(revision)
    }
}

#[test]
fn a_store_restored_to_an_older_state_is_not_followed_back_in_time() {
    let store = Arc::new(Hooked::<Restored>::default());
    let e = Engine::open(store.clone()).unwrap();
    e.unchecked_apply(base()).unwrap();
    // The backup holds revision 1 only.
    store
        .backup
        .commit(&Commit {
            base: 0,
            revision: 1,
            mutations: &base(),
            audit: &[],
        })
        .unwrap();
    e.unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    assert_eq!(e.revision(), 2);
    store
        .restored
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = e.sync().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert_eq!(e.revision(), 2);
    assert!(e.snapshot().user(CASHIER_SOUTH).is_none());
    // A store at the engine's own revision is reloaded as it is.
    let same = Arc::new(Hooked::<Restored>::default());
    let e = Engine::open(same.clone()).unwrap();
    e.unchecked_apply(base()).unwrap();
    same.backup
        .commit(&Commit {
            base: 0,
            revision: 1,
            mutations: &base(),
            audit: &[],
        })
        .unwrap();
    same.restored
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(e.sync().unwrap(), 1);
}

/// A backend that keeps the names followers register under, and can store another engine's
/// batch in place of the one it is asked to commit, then lose the answer.
#[derive(Debug, Default)]
struct Registry {
    names: Mutex<Vec<String>>,
    /// Store this batch at the revision asked, instead of the one asked, and report the
    /// outcome unknown.
    usurp: Mutex<Option<Vec<Mutation<T>>>>,
    /// Registrations made, renewals included.
    registrations: std::sync::atomic::AtomicUsize,
}

impl Hook<T> for Registry {
    fn commit(&self, inner: &MemoryStorage<T>, commit: &Commit<'_, T>) -> Result<(), Error> {
        if let Some(other) = self.usurp.lock().unwrap().take() {
            inner.commit(&Commit {
                mutations: &other,
                audit: &[],
                ..*commit
            })?;
            return Err(Error::outcome_unknown("connection lost while committing"));
        }
        inner.commit(commit)
    }
    fn register_follower(
        &self,
        _: &MemoryStorage<T>,
        name: &str,
        _revision: u64,
    ) -> Result<(), Error> {
        self.registrations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut names = self.names.lock().unwrap();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        Ok(())
    }
    fn unregister_follower(&self, _: &MemoryStorage<T>, name: &str) -> Result<(), Error> {
        self.names.lock().unwrap().retain(|n| n != name);
        Ok(())
    }
}

/// Each follower says the name it registered under in the store, its own; dropping it stops
/// its thread, which takes the registration back (found by mutation testing).
#[test]
fn a_follower_names_the_registration_it_holds_in_the_store() {
    let store = Arc::new(Hooked::<Registry>::default());
    let e = Arc::new(Engine::open(store.clone()).unwrap());
    let first = e.follow(std::time::Duration::from_millis(50));
    let second = e.follow(std::time::Duration::from_millis(50));
    assert_ne!(first.name(), second.name());
    let names = store.names.lock().unwrap().clone();
    assert!(names.iter().any(|n| n == first.name()), "{names:?}");
    assert!(names.iter().any(|n| n == second.name()), "{names:?}");
    let (gone, kept) = (first.name().to_owned(), second.name().to_owned());
    // Dropping a follower of `follow` waits for its thread to end.
    drop(first);
    assert_eq!(*store.names.lock().unwrap(), [kept]);
    assert!(!store.names.lock().unwrap().contains(&gone));
}

/// When the store cannot say whether a batch was stored, the engine reads back what is there:
/// another engine's batch at the same revision is not this one, and the write stays unknown
/// (found by mutation testing: a batch with the same revision alone could pass for it).
#[test]
fn another_batch_stored_at_the_same_revision_is_not_taken_for_a_lost_answer() {
    let store = Arc::new(Hooked::<Registry>::default());
    let e = Engine::open(store.clone()).unwrap();
    e.unchecked_apply(base()).unwrap();
    *store.usurp.lock().unwrap() = Some(vec![Mutation::RemoveUser(CASHIER_NORTH)]);
    let err = e
        .unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    // What is stored, and now read, is the other batch.
    let snapshot = e.snapshot();
    assert!(snapshot.user(CASHIER_NORTH).is_none());
    assert!(snapshot.user(CASHIER_SOUTH).is_some());
}

/// A follower renews its registration every few seconds, not on every look at the store (found
/// by mutation testing: it could renew on every wake-up, a write to the store each time).
#[test]
fn a_follower_renews_its_registration_seconds_apart_not_at_every_poll() {
    use std::sync::atomic::Ordering;
    let store = Arc::new(Hooked::<Registry>::default());
    let e = Arc::new(Engine::open(store.clone()).unwrap());
    let follower = e.follow(std::time::Duration::from_millis(5));
    std::thread::sleep(std::time::Duration::from_millis(400));
    let made = store.registrations.load(Ordering::SeqCst);
    drop(follower);
    // Once at the start; a renewal is due after seconds, not milliseconds.
    assert!((1..=2).contains(&made), "{made} registrations in 400 ms");
}

/// A shared backend that can go down: while down, waiting for a change and reading fail at
/// once, as with a refused connection.
#[derive(Debug, Default)]
struct Unsteady {
    down: std::sync::atomic::AtomicBool,
    waits_while_down: std::sync::atomic::AtomicUsize,
}

impl Hook<T> for Unsteady {
    fn changes_since(
        &self,
        inner: &MemoryStorage<T>,
        revision: u64,
    ) -> Result<Vec<Batch<T>>, Error> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::storage("connection refused"));
        }
        inner.changes_since(revision)
    }
    fn is_shared(&self) -> bool {
        true
    }
    fn wait_for_change(
        &self,
        _: &MemoryStorage<T>,
        _after: u64,
        timeout: std::time::Duration,
    ) -> Result<bool, Error> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            self.waits_while_down
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err(Error::storage("connection refused"));
        }
        std::thread::sleep(timeout);
        Ok(false)
    }
}

/// While its store fails at once, a following engine backs off instead of spinning, says why,
/// and once the store answers again it catches up by itself (found by mutation testing: the
/// back-off could be skipped, or never end, with no test noticing).
#[test]
fn a_follower_backs_off_from_a_failing_store_and_catches_up_when_it_answers() {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    let store = Arc::new(Hooked::<Unsteady>::default());
    let e = Engine::open(store.clone()).unwrap();
    assert!(e.is_following());
    e.unchecked_apply(base()).unwrap();
    store.down.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(800));
    let waits = store.waits_while_down.load(Ordering::SeqCst);
    // Backing off 0.1, 0.2, 0.4 s: at most 4 tries in 0.8 s. A back-off that does not grow
    // tries every 0.1 s, 8 times (found by mutation testing: the first bound, 20, let a
    // shrinking back-off through), and a spin thousands of times.
    assert!((1..=5).contains(&waits), "{waits} tries in 0.8 s");
    assert_eq!(
        e.follow_error().map(|err| err.kind()),
        Some(ErrorKind::Storage)
    );
    store.down.store(false, Ordering::SeqCst);
    let other = Engine::open_unfollowed(store.clone()).unwrap();
    let written = other
        .unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    let start = Instant::now();
    while e.revision() < written {
        assert!(start.elapsed() < Duration::from_secs(20), "never caught up");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(e.snapshot().user(CASHIER_SOUTH).is_none());
}

/// `Engine::prune` prunes the engine's store and says what went: the batches and audit
/// records before the horizon, exported first (found by mutation testing: only the doc test,
/// which the mutation run does not run, called it).
#[test]
fn r19_an_engine_prunes_its_store_and_says_what_went() {
    use shopguard::storage::Retention;
    let store = Arc::new(MemoryStorage::<T>::new());
    let e = Engine::open(store.clone()).unwrap();
    e.unchecked_apply(base()).unwrap();
    e.unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let horizon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    std::thread::sleep(std::time::Duration::from_millis(5));
    e.unchecked_apply([Mutation::RemoveUser(CASHIER_NORTH)])
        .unwrap();
    let mut export = Vec::new();
    let pruned = e
        .prune(&Retention::before_unix_ms(horizon), &mut export)
        .unwrap();
    assert_eq!(
        (
            pruned.batches,
            pruned.audit_records,
            pruned.through_revision
        ),
        (2, 2, 2)
    );
    assert_eq!(String::from_utf8(export).unwrap().lines().count(), 4);
    assert_eq!(store.changes_since(2).unwrap().len(), 1);
    assert!(store.changes_since(0).is_err());
}

/// `MemoryAudit`'s `Debug` says how many records it holds and nothing of them (they name users'
/// e-mails), so a host that logs its engine logs no one's address (found by mutation testing).
#[test]
fn r19_a_memory_audit_debug_counts_its_records_and_shows_none() {
    use shopguard::audit::MemoryAudit;
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::new().with_audit(audit.clone());
    e.unchecked_apply(base()).unwrap();
    e.unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    let shown = format!("{audit:?}");
    assert_eq!(shown, "MemoryAudit { records: 2 }");
    assert!(!format!("{e:?}").contains("@acme.example"));
}

/// Id allocation reaches the last id a store can keep (`i64::MAX`) and refuses past it; a block
/// of 1,048,576 ids is one call, one more is refused (found by mutation testing: both bounds
/// could move by one with no test noticing).
#[test]
fn id_allocation_hands_out_the_last_id_and_blocks_of_the_documented_size() {
    use shopguard::{Account, AccountId};
    let e = Engine::<T>::new();
    let near = i64::MAX as u64 - 1;
    e.unchecked_apply([Mutation::PutAccount(Account::new(
        AccountId::new(near),
        "Last",
    ))])
    .unwrap();
    let last: AccountId = e.next_id().unwrap();
    assert_eq!(last.get(), i64::MAX as u64);
    let err = e.next_id::<AccountId>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let block: Vec<UserId> = e.next_ids(1_048_576).unwrap();
    assert_eq!(block.len(), 1_048_576);
    assert!(block.windows(2).all(|w| w[0].get() + 1 == w[1].get()));
    let err = e.next_ids::<UserId>(1_048_577).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

/// R3 on the quick path: when the last user of a chunk of 512 goes, the user now last in the
/// chunk keeps only its own stores, not the run the removed user left at the end of the
/// chunk's list. (Written for a mutation survivor in `UserTable::remove_at`, which turned out
/// equivalent: the removal refreshes the removed position's chunk anyway.)
#[test]
fn r3_removing_a_chunks_last_user_leaves_no_store_to_the_user_before_it() {
    use shopguard::catalog::pos::{self, Pos};
    use shopguard::{Access, Account, Grant, RoleId, Store, User};
    let cashier = |id: u64, store| {
        User::new(
            UserId::new(id),
            ACME,
            &format!("u{id}"),
            &format!("u{id}@acme.example"),
        )
        .with_grant(Grant::new(RoleId::new(3), Access::specific([store])))
    };
    let mut world = vec![
        Mutation::PutAccount(Account::new(ACME, "Acme")),
        Mutation::PutStore(Store::new(NORTH, ACME, "North")),
        Mutation::PutStore(Store::new(SOUTH, ACME, "South")),
        Mutation::PutRole(pos::admin(RoleId::new(1), ACME)),
        Mutation::PutRole(pos::cashier(RoleId::new(3), ACME)),
        Mutation::PutUser(
            User::new(UserId::new(1), ACME, "owner", "owner@acme.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
    ];
    // Positions 1..=510 at North; position 511, the chunk's last, at South.
    world.extend((2..=511).map(|id| Mutation::PutUser(cashier(id, NORTH))));
    world.push(Mutation::PutUser(cashier(512, SOUTH)));
    let e = Engine::<Pos>::new();
    e.unchecked_apply(world).unwrap();
    let south = OnStore(ACME, SOUTH);
    assert!(e.can(UserId::new(512), Pos::SELL, &south));
    assert!(!e.can(UserId::new(511), Pos::SELL, &south));
    e.unchecked_apply([Mutation::RemoveUser(UserId::new(512))])
        .unwrap();
    assert!(!e.can(UserId::new(511), Pos::SELL, &south));
    assert!(e.can(UserId::new(511), Pos::SELL, &OnStore(ACME, NORTH)));
    assert_eq!(
        e.check(UserId::new(511), Pos::SELL, &south),
        e.snapshot().check(UserId::new(511), Pos::SELL, &south)
    );
}

/// A backend that hands out ids below the engine's floor.
#[derive(Debug, Default)]
struct Forgetful {
    inner: MemoryStorage<T>,
}

impl Storage<T> for Forgetful {
    fn load(&self) -> Result<Loaded<T>, Error> {
        self.inner.load()
    }
    fn commit(&self, commit: &Commit<'_, T>) -> Result<(), Error> {
        self.inner.commit(commit)
    }
    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<T>>, Error> {
        self.inner.changes_since(revision)
    }
    fn record_refused(&self, records: &[AuditRecord<T>]) -> Result<(), Error> {
        self.inner.record_refused(records)
    }
    fn audit_records(&self) -> Result<Vec<AuditRecord<T>>, Error> {
        self.inner.audit_records()
    }
    fn allocate_ids(
        &self,
        _kind: shopguard::storage::ObjectKind,
        _count: u64,
        _at_least: u64,
    ) -> Result<u64, Error> {
        Ok(1)
    }
}

/// An id a store hands out below the engine's floor (an id it already holds) is refused, not
/// passed on (found by mutation testing: either half of the check on the store's answer could
/// stand for both).
#[test]
fn an_id_the_store_allocates_below_the_engines_floor_is_refused() {
    let e = Engine::open(Forgetful::default()).unwrap();
    e.unchecked_apply(base()).unwrap();
    let err = e.next_id::<UserId>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
}
