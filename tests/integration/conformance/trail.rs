//! The audit trail and retention, on every backend: audit queries paged while others write,
//! each filter against a plain reference filter over the whole trail, cursors, and pruning
//! (the export, a failed export, followers behind the pruned batches).
//!
//! The reference (`about`, `Want::keeps`) is written from the documentation of
//! `AuditQuery` and `AuditRecord::targets`, with plain sets, sharing no code with the library.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use shopguard::audit::{AuditActor, AuditQuery, AuditRecord, Object, Outcome, OutcomeKind};
use shopguard::storage::{Archived, Batch, Key, ObjectKind, Retention};

use super::*;

/// The account of the bulk load: 70 stores in one unchecked batch, more objects than the SQL
/// backends index per record.
const BULK: AccountId = AccountId::new(3);
const BULK_STORES: u64 = 70;

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A small deterministic generator: the same history on every backend.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One random administrative step on `e`: applied or refused, in either account, by users,
/// systems and an unknown actor.
fn step(e: &Engine<Pos>, rng: &mut Rng, n: u64) {
    let s = e.snapshot();
    let enabled = |u: UserId| s.user(u).is_some_and(|u| u.is_enabled());
    match rng.below(10) {
        0 => {
            let change = if enabled(ADMIN_3) {
                Change::DisableUser(ADMIN_3)
            } else {
                Change::EnableUser(ADMIN_3)
            };
            let _ = e.apply(OWNER, change);
        }
        // Refused: a cashier may not manage users.
        1 => {
            let _ = e.apply(ANA, Change::DisableUser(OWNER));
        }
        2 => {
            let _ = e.apply(
                ADMIN_2,
                Change::RenameRole {
                    role: MANAGER,
                    name: format!("Lead {n}"),
                },
            );
        }
        // Created until the seat limit refuses, deleted again.
        3 => {
            let slot = UserId::new(200 + rng.below(6));
            let change = if s.user(slot).is_some() {
                Change::DeleteUser(slot)
            } else {
                Change::CreateUser(cashier(slot, &format!("slot{}", slot.get()), SOUTH))
            };
            let _ = e.apply(OWNER, change);
        }
        // An actor no one knows: a record of no account.
        4 => {
            let _ = e.apply(UserId::new(999), Change::DisableUser(ANA));
        }
        5 => {
            let _ = e.unchecked_apply_as(
                "migration",
                [Mutation::PutStore(Store::new(
                    SOUTH,
                    SHOP,
                    format!("South {n}"),
                ))],
            );
        }
        6 => {
            let change = if enabled(OTHER_BEA) {
                Change::DisableUser(OTHER_BEA)
            } else {
                Change::EnableUser(OTHER_BEA)
            };
            let _ = e.apply(OTHER_OWNER, change);
        }
        7 => {
            let _ = e.apply(
                OWNER,
                Change::UpdateStore(Store::new(NORTH, SHOP, format!("North {n}"))),
            );
        }
        8 => {
            let _ = e.apply(
                OWNER,
                Change::SetSeatLimit {
                    limit: Some(SEATS),
                    disable_excess: false,
                },
            );
        }
        // Refused: a manager-level admin may not transfer ownership.
        _ => {
            let _ = e.apply(ADMIN_2, Change::TransferOwnership { to: ADMIN_3 });
        }
    }
}

/// The engine of [`bootstrapped`], with a second account and the bulk load, and `steps`
/// random steps.
fn history<B: Backend>(name: &str, steps: u64) -> (B, Engine<Pos>, Rng) {
    let (b, e) = bootstrapped::<B>(name);
    e.unchecked_apply(other_world()).unwrap();
    let mut bulk = vec![Mutation::PutAccount(Account::new(BULK, "Bulk"))];
    bulk.extend(
        (0..BULK_STORES)
            .map(|i| Mutation::PutStore(Store::new(StoreId::new(3000 + i), BULK, format!("B{i}")))),
    );
    e.unchecked_apply_as("bulk load", bulk).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for n in 0..steps {
        step(&e, &mut rng, n);
    }
    (b, e, rng)
}

fn key(kind: ObjectKind, id: u64) -> Key {
    Key { kind, id }
}

/// The objects a record is about, and their kinds with the change's own: the reference for
/// the target and kind filters, from the documentation of `AuditRecord::targets` and
/// `AuditRecord::concerns`.
fn about(r: &AuditRecord<Pos>) -> (BTreeSet<Key>, BTreeSet<ObjectKind>) {
    use ObjectKind as K;
    let mut keys = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut named = |kind: K, id: u64| {
        keys.insert(key(kind, id));
    };
    let own = match &r.change {
        Change::CreateRole(x) | Change::UpdateRole(x) => {
            named(K::Role, x.id().get());
            Some(K::Role)
        }
        Change::RenameRole { role, .. } => {
            named(K::Role, role.get());
            Some(K::Role)
        }
        Change::DeleteRole { role, reassign_to } => {
            named(K::Role, role.get());
            if let Some(to) = reassign_to {
                named(K::Role, to.get());
            }
            Some(K::Role)
        }
        Change::CreateUser(u) | Change::UpdateUser(u) => {
            named(K::User, u.id().get());
            Some(K::User)
        }
        Change::CopyUser { from, id, .. } => {
            named(K::User, from.get());
            named(K::User, id.get());
            Some(K::User)
        }
        Change::EnableUser(id) | Change::DisableUser(id) | Change::DeleteUser(id) => {
            named(K::User, id.get());
            Some(K::User)
        }
        Change::TransferOwnership { to } => {
            named(K::User, to.get());
            Some(K::User)
        }
        Change::UploadUsers { .. } => Some(K::User),
        Change::SetEntityLevelBilling(_) | Change::SetSeatLimit { .. } => {
            if let Some(a) = r.account {
                named(K::Account, a.get());
            }
            Some(K::Account)
        }
        Change::CreateStore(x) | Change::UpdateStore(x) => {
            named(K::Store, x.id().get());
            Some(K::Store)
        }
        Change::DeleteStore(id) => {
            named(K::Store, id.get());
            Some(K::Store)
        }
        Change::CreateSource(x) | Change::UpdateSource(x) => {
            named(K::Source, x.id().get());
            Some(K::Source)
        }
        Change::DeleteSource(id) => {
            named(K::Source, id.get());
            Some(K::Source)
        }
        Change::CreateChannel(x) | Change::UpdateChannel(x) => {
            named(K::Channel, x.id().get());
            Some(K::Channel)
        }
        Change::DeleteChannel(id) => {
            named(K::Channel, id.get());
            Some(K::Channel)
        }
        Change::Unchecked { mutations } => {
            for m in mutations {
                let (kind, id) = match m {
                    Mutation::PutAccount(x) => (K::Account, x.id().get()),
                    Mutation::RemoveAccount(id) => (K::Account, id.get()),
                    Mutation::PutStore(x) => (K::Store, x.id().get()),
                    Mutation::RemoveStore(id) => (K::Store, id.get()),
                    Mutation::PutSource(x) => (K::Source, x.id().get()),
                    Mutation::RemoveSource(id) => (K::Source, id.get()),
                    Mutation::PutChannel(x) => (K::Channel, x.id().get()),
                    Mutation::RemoveChannel(id) => (K::Channel, id.get()),
                    Mutation::PutRole(x) => (K::Role, x.id().get()),
                    Mutation::RemoveRole(id) => (K::Role, id.get()),
                    Mutation::PutUser(x) => (K::User, x.id().get()),
                    Mutation::RemoveUser(id) => (K::User, id.get()),
                    other => panic!("a mutation the reference does not know: {other:?}"),
                };
                named(kind, id);
            }
            None
        }
        other => panic!("a change the reference does not know: {}", other.name()),
    };
    for object in r.before.iter().chain(&r.after) {
        let (kind, id) = match object {
            Object::Account(x) => (K::Account, x.id().get()),
            Object::Role(x) => (K::Role, x.id().get()),
            Object::User(x) => (K::User, x.id().get()),
            Object::Store(x) => (K::Store, x.id().get()),
            Object::Source(x) => (K::Source, x.id().get()),
            Object::Channel(x) => (K::Channel, x.id().get()),
            other => panic!("an object the reference does not know: {other:?}"),
        };
        keys.insert(key(kind, id));
    }
    kinds.extend(own);
    kinds.extend(keys.iter().map(|k| k.kind));
    (keys, kinds)
}

/// A query as the reference sees it.
#[derive(Clone, Debug)]
struct Want {
    account: AccountId,
    actor: Option<AuditActor>,
    target: Option<Key>,
    kind: Option<ObjectKind>,
    applied: Option<bool>,
    since: Option<u64>,
    before: Option<u64>,
}

impl Want {
    fn new(account: AccountId) -> Self {
        Want {
            account,
            actor: None,
            target: None,
            kind: None,
            applied: None,
            since: None,
            before: None,
        }
    }

    /// The plain filter, from the documentation of each `AuditQuery` method.
    fn keeps(&self, r: &AuditRecord<Pos>) -> bool {
        let (keys, kinds) = about(r);
        let applied = matches!(r.outcome, Outcome::Applied { .. });
        r.account == Some(self.account)
            && self.actor.as_ref().is_none_or(|a| *a == r.actor)
            && self.target.is_none_or(|t| keys.contains(&t))
            && self.kind.is_none_or(|k| kinds.contains(&k))
            && self.applied.is_none_or(|a| a == applied)
            && self.since.is_none_or(|s| r.at_unix_ms >= s)
            && self.before.is_none_or(|b| r.at_unix_ms < b)
    }

    fn query(&self) -> AuditQuery {
        let mut q = AuditQuery::new(self.account);
        if let Some(a) = &self.actor {
            q = q.actor(a.clone());
        }
        if let Some(t) = self.target {
            q = q.target(t);
        }
        if let Some(k) = self.kind {
            q = q.kind(k);
        }
        if let Some(a) = self.applied {
            q = q.outcome(if a {
                OutcomeKind::Applied
            } else {
                OutcomeKind::Refused
            });
        }
        if let Some(s) = self.since {
            q = q.since_unix_ms(s);
        }
        if let Some(b) = self.before {
            q = q.before_unix_ms(b);
        }
        q
    }
}

/// Every page of `want`'s query, `limit` a page, through `handle`, running `between` after
/// each page; the records in order, with their sequence numbers.
fn pages<S: Storage<Pos>>(
    handle: &S,
    want: &Want,
    limit: usize,
    mut between: impl FnMut(),
) -> Vec<(u64, AuditRecord<Pos>)> {
    let mut out = Vec::new();
    let mut query = want.query().limit(limit);
    loop {
        let page = handle.audit_query(&query).unwrap();
        assert!(page.entries.len() <= limit, "{want:?}");
        out.extend(page.entries.into_iter().map(|e| (e.seq, e.record)));
        between();
        match page.next {
            // The cursor travels as text, as it would through a command line.
            Some(next) => query = query.after(next.to_string().parse().unwrap()),
            None => return out,
        }
    }
}

fn records(entries: &[(u64, AuditRecord<Pos>)]) -> Vec<AuditRecord<Pos>> {
    entries.iter().map(|(_, r)| r.clone()).collect()
}

/// Every filter, alone and combined, paged while another engine writes between the pages:
/// the pages concatenate to exactly the reference's filter over the whole trail read before
/// the first page, newest first, with no record twice or missing.
pub(crate) fn audit_pages_match_the_reference_while_writing<B: Backend>(name: &str) {
    let (b, e, mut rng) = history::<B>(name, 60);
    let reader = b.open();
    let trail = reader.audit_records().unwrap();
    let applied = trail.iter().filter(|r| r.outcome.is_applied()).count();
    assert!(
        applied > 10 && trail.len() - applied > 10,
        "a varied history"
    );
    let t = |i: usize| trail[i * trail.len() / 4].at_unix_ms;
    let migration = AuditActor::System("migration".to_owned());
    let mut wants = vec![
        Want::new(SHOP),
        Want::new(OTHER),
        Want::new(BULK),
        Want::new(AccountId::new(77)),
    ];
    let with = |f: &dyn Fn(&mut Want)| {
        let mut w = Want::new(SHOP);
        f(&mut w);
        w
    };
    wants.extend([
        with(&|w| w.actor = Some(AuditActor::User(OWNER))),
        with(&|w| w.actor = Some(AuditActor::User(ANA))),
        with(&|w| w.actor = Some(migration.clone())),
        with(&|w| w.target = Some(key(ObjectKind::User, ANA.get()))),
        with(&|w| w.target = Some(key(ObjectKind::User, OWNER.get()))),
        with(&|w| w.target = Some(key(ObjectKind::Role, MANAGER.get()))),
        with(&|w| w.target = Some(key(ObjectKind::Store, SOUTH.get()))),
        with(&|w| w.target = Some(key(ObjectKind::Account, SHOP.get()))),
        with(&|w| w.kind = Some(ObjectKind::Role)),
        with(&|w| w.kind = Some(ObjectKind::Store)),
        with(&|w| w.kind = Some(ObjectKind::Account)),
        with(&|w| w.kind = Some(ObjectKind::User)),
        with(&|w| w.applied = Some(true)),
        with(&|w| w.applied = Some(false)),
        with(&|w| w.since = Some(t(2))),
        with(&|w| w.before = Some(t(2))),
        with(&|w| {
            w.since = Some(t(1));
            w.before = Some(t(3));
        }),
        with(&|w| {
            w.actor = Some(AuditActor::User(OWNER));
            w.target = Some(key(ObjectKind::User, ADMIN_3.get()));
            w.applied = Some(true);
        }),
        with(&|w| {
            w.kind = Some(ObjectKind::User);
            w.applied = Some(false);
            w.since = Some(t(1));
        }),
    ]);
    // The bulk load's record names more objects than a SQL backend indexes.
    let mut bulk = Want::new(BULK);
    bulk.target = Some(key(ObjectKind::Store, 3000 + BULK_STORES - 1));
    wants.push(bulk.clone());
    bulk.target = Some(key(ObjectKind::Store, 3000 + BULK_STORES));
    wants.push(bulk);
    let mut other = Want::new(OTHER);
    other.target = Some(key(ObjectKind::User, OTHER_BEA.get()));
    wants.push(other);

    let mut n = 1000;
    let mut nonempty = 0;
    for (i, want) in wants.iter().enumerate() {
        let whole = reader.audit_records().unwrap();
        let mut expected: Vec<AuditRecord<Pos>> =
            whole.iter().filter(|r| want.keeps(r)).cloned().collect();
        expected.reverse();
        if !expected.is_empty() && expected.len() < whole.len() {
            nonempty += 1;
        }
        let limit = [1, 2, 3, 7, 1000][i % 5];
        let got = pages(&reader, want, limit, || {
            n += 1;
            step(&e, &mut rng, n);
        });
        assert_eq!(records(&got), expected, "{want:?}, {limit} a page");
        // Newest first: sequence numbers strictly decreasing, so none twice.
        assert!(got.windows(2).all(|w| w[0].0 > w[1].0), "{want:?}");
    }
    assert!(nonempty >= wants.len() - 3, "the filters select something");
}

/// A cursor continues only its own query; a zero limit is refused and a huge one cut.
pub(crate) fn audit_cursors_are_bound_to_their_query<B: Backend>(name: &str) {
    let (b, _e, _rng) = history::<B>(name, 30);
    let reader = b.open();
    let q = AuditQuery::new(SHOP).limit(2);
    let next = reader.audit_query(&q).unwrap().next.unwrap();
    let refused = |query: AuditQuery| {
        let err = reader.audit_query(&query).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.field(), Some("cursor"), "{err}");
    };
    refused(AuditQuery::new(OTHER).after(next));
    refused(AuditQuery::new(SHOP).kind(ObjectKind::User).after(next));
    refused(AuditQuery::new(SHOP).actor(OWNER).after(next));
    // Each outcome filter is a query of its own (found by mutation testing: every outcome
    // could weigh alike in the cursor's binding).
    let applied = AuditQuery::new(SHOP).outcome(OutcomeKind::Applied).limit(2);
    let next_applied = reader.audit_query(&applied).unwrap().next.unwrap();
    for other in [OutcomeKind::Refused, OutcomeKind::Unknown] {
        refused(AuditQuery::new(SHOP).outcome(other).after(next_applied));
    }
    assert!(
        reader
            .audit_query(&applied.clone().after(next_applied))
            .is_ok()
    );
    // The limit is not part of the query a cursor continues.
    assert!(reader.audit_query(&q.clone().limit(5).after(next)).is_ok());
    // A token edited by hand, or none at all.
    let mut token = next.to_string().into_bytes();
    let last = token.len() - 1;
    token[last] = if token[last] == b'0' { b'1' } else { b'0' };
    refused(AuditQuery::new(SHOP).after(String::from_utf8(token).unwrap().parse().unwrap()));
    for garbage in ["", "zz", &"0".repeat(50), &"ab".repeat(10_000)] {
        let err = garbage
            .parse::<shopguard::audit::AuditCursor>()
            .unwrap_err();
        assert_eq!(err.field(), Some("cursor"));
    }
    let err = reader
        .audit_query(&AuditQuery::new(SHOP).limit(0))
        .unwrap_err();
    assert_eq!(err.field(), Some("limit"));
    let page = reader
        .audit_query(&AuditQuery::new(SHOP).limit(usize::MAX))
        .unwrap();
    let all = reader.audit_records().unwrap();
    let shop = all.iter().filter(|r| r.account == Some(SHOP)).count();
    assert_eq!(page.entries.len(), shop.min(AuditQuery::MAX_LIMIT));
    // The query and the page travel as JSON.
    let json = serde_json::to_string(&q.clone().after(next)).unwrap();
    let back: AuditQuery = serde_json::from_str(&json).unwrap();
    assert_eq!(back, q.clone().after(next));
    let page = reader.audit_query(&back).unwrap();
    let json = serde_json::to_string(&page).unwrap();
    let back: shopguard::audit::AuditPage<Pos> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, page);
}

/// A backend whose changes are never reported while `stalled`: its follower sits behind.
#[derive(Debug)]
struct Stalled<S> {
    inner: S,
    stalled: AtomicBool,
}

impl<S: Storage<Pos>> Storage<Pos> for Stalled<S> {
    fn load(&self) -> Result<shopguard::storage::Loaded<Pos>, shopguard::Error> {
        self.inner.load()
    }
    fn commit(&self, commit: &shopguard::storage::Commit<'_, Pos>) -> Result<(), shopguard::Error> {
        self.inner.commit(commit)
    }
    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<Pos>>, shopguard::Error> {
        self.inner.changes_since(revision)
    }
    fn record_refused(&self, records: &[AuditRecord<Pos>]) -> Result<(), shopguard::Error> {
        self.inner.record_refused(records)
    }
    fn audit_records(&self) -> Result<Vec<AuditRecord<Pos>>, shopguard::Error> {
        self.inner.audit_records()
    }
    fn register_follower(&self, name: &str, revision: u64) -> Result<(), shopguard::Error> {
        self.inner.register_follower(name, revision)
    }
    fn unregister_follower(&self, name: &str) -> Result<(), shopguard::Error> {
        self.inner.unregister_follower(name)
    }
    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, shopguard::Error> {
        if self.stalled.load(Ordering::Acquire) {
            thread::sleep(timeout);
            Ok(false)
        } else {
            self.inner.wait_for_change(after, timeout)
        }
    }
}

/// An export that fails after `left` bytes, or at the flush.
struct Failing {
    left: usize,
    fail_flush: bool,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.left {
            return Err(io::Error::other("disk full"));
        }
        self.left -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.fail_flush {
            return Err(io::Error::other("disk full"));
        }
        Ok(())
    }
}

/// An exported batch: revision, time, mutations.
type Exported = (u64, u64, Vec<Mutation<Pos>>);

fn export_lines(export: &[u8]) -> (Vec<Exported>, Vec<(u64, AuditRecord<Pos>)>) {
    let mut batches = Vec::new();
    let mut audit = Vec::new();
    for line in std::str::from_utf8(export).unwrap().lines() {
        match serde_json::from_str::<Archived<Pos>>(line).unwrap() {
            Archived::Batch {
                revision,
                at_unix_ms,
                mutations,
            } => {
                assert!(audit.is_empty(), "batches come first");
                batches.push((revision, at_unix_ms, mutations));
            }
            Archived::Audit { seq, record } => audit.push((seq, *record)),
            other => panic!("an export line the test does not know: {other:?}"),
        }
    }
    (batches, audit)
}

/// Everything a prune may touch, as the store answers it.
fn stored<S: Storage<Pos>>(s: &S, from: u64) -> (Vec<Batch<Pos>>, Vec<AuditRecord<Pos>>) {
    (s.changes_since(from).unwrap(), s.audit_records().unwrap())
}

/// Pruning: a failed export removes nothing; the export holds exactly what was removed; a
/// registered follower keeps the batches it needs; replicas behind what was pruned (one that
/// never follows, one whose registration went stale) reload and answer as the writer does.
pub(crate) fn pruning_keeps_followers_right<B: Backend>(name: &str) {
    let (b, a, mut rng) = history::<B>(name, 0);
    let store = b.open();
    // A replica that never follows, with a form opened at the start.
    let lagging = open_engine(&b);
    let form = lagging.snapshot();
    let mut n = 0;
    let mut steps = |e: &Engine<Pos>, rng: &mut Rng, count: u64| {
        for _ in 0..count {
            n += 1;
            step(e, rng, n);
        }
    };
    steps(&a, &mut rng, 30);
    // A follower registered behind the head, as one still reading would be.
    let slow = a.revision() - 8;
    store.register_follower("slow", slow).unwrap();
    steps(&a, &mut rng, 15);
    thread::sleep(Duration::from_millis(5));
    let horizon = now_ms();
    thread::sleep(Duration::from_millis(5));
    steps(&a, &mut rng, 5);

    // A failed export, while writing a line or at the flush, removes nothing.
    let before = stored(&store, 0);
    for failing in [
        Failing {
            left: 700,
            fail_flush: false,
        },
        Failing {
            left: usize::MAX,
            fail_flush: true,
        },
    ] {
        let mut failing = failing;
        let err = store
            .prune(&Retention::before_unix_ms(horizon), &mut failing)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        assert_eq!(stored(&store, 0), before);
    }

    // The slow follower holds the batches after its revision; the audit goes by time alone.
    let mut export = Vec::new();
    let pruned = store
        .prune(&Retention::before_unix_ms(horizon), &mut export)
        .unwrap();
    assert_eq!(pruned.through_revision, slow);
    let (batches, audit) = export_lines(&export);
    let (kept_batches, kept_audit) = stored(&store, slow);
    let (gone, kept): (Vec<_>, Vec<_>) = before.0.iter().cloned().partition(|b| b.revision <= slow);
    assert!(!gone.is_empty() && !kept.is_empty());
    assert_eq!(
        kept_batches, kept,
        "the slow follower still reads every batch it needs"
    );
    let exported: Vec<Batch<Pos>> = batches
        .iter()
        .map(|(revision, _, mutations)| Batch {
            revision: *revision,
            mutations: mutations.clone(),
        })
        .collect();
    assert_eq!(
        exported, gone,
        "the export holds exactly the batches removed"
    );
    assert!(batches.iter().all(|(_, at, _)| *at < horizon));
    let (old, young): (Vec<_>, Vec<_>) = before
        .1
        .iter()
        .cloned()
        .partition(|r| r.at_unix_ms < horizon);
    assert!(!old.is_empty() && !young.is_empty());
    assert_eq!(
        records(&audit),
        old,
        "the export holds exactly the records removed"
    );
    assert_eq!(kept_audit, young);
    assert!(audit.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(
        (pruned.batches, pruned.audit_records),
        (gone.len() as u64, old.len() as u64)
    );
    let err = store.changes_since(slow - 1).unwrap_err();
    assert_eq!(err.pruned_through(), Some(slow));

    // The replica that never followed is behind the pruned batches: it reloads.
    assert_eq!(lagging.sync().unwrap(), a.revision());
    assert_eq!(state(&lagging.snapshot()), state(&a.snapshot()));
    // A form from before the reload cannot be checked for conflicts any more: refused.
    let ana = form
        .user(ANA)
        .unwrap()
        .clone()
        .with_email("ana@new.example");
    let err = lagging
        .apply_based_on(OWNER, form.revision(), vec![Change::UpdateUser(ana)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    // And it writes again.
    lagging
        .apply(OWNER, Change::DisableUser(ADMIN_3))
        .or_else(|_| lagging.apply(OWNER, Change::EnableUser(ADMIN_3)))
        .unwrap();
    steps(&a, &mut rng, 3);

    // A follower registered by `follow`, then stalled: it holds the batches after its revision.
    store.unregister_follower("slow").unwrap();
    let stalled = Arc::new(Stalled {
        inner: b.open(),
        stalled: AtomicBool::new(true),
    });
    let behind = Arc::new(Engine::open(Arc::clone(&stalled)).unwrap());
    let follower = behind.follow(Duration::from_secs(600));
    let registered = behind.revision();
    steps(&a, &mut rng, 10);
    thread::sleep(Duration::from_millis(5));
    let horizon = now_ms();
    let pruned = store
        .prune(&Retention::before_unix_ms(horizon), &mut io::sink())
        .unwrap();
    assert_eq!(pruned.through_revision, registered);
    assert_eq!(behind.revision(), registered, "the follower is stalled");
    assert!(store.changes_since(registered).is_ok());

    // Its registration gone stale, nothing holds the batches: all of them go.
    let pruned = store
        .prune(
            &Retention::before_unix_ms(horizon).follower_timeout(Duration::ZERO),
            &mut io::sink(),
        )
        .unwrap();
    let head = store.load().unwrap().revision;
    assert_eq!(pruned.through_revision, head);
    assert!(store.changes_since(head).unwrap().is_empty());
    assert!(store.changes_since(registered).is_err());
    // Unstalled, the follower catches up by reloading, and answers as the writer does.
    stalled.stalled.store(false, Ordering::Release);
    let seen = behind
        .at_least(a.revision(), Duration::from_secs(20))
        .unwrap();
    assert_eq!(state(&seen), state(&a.snapshot()));
    assert!(follower.take_error().is_none());
    // Later batches reach it as batches again.
    steps(&a, &mut rng, 5);
    let seen = behind
        .at_least(a.revision(), Duration::from_secs(20))
        .unwrap();
    assert_eq!(state(&seen), state(&a.snapshot()));
    drop(follower);
    // A fresh engine on the pruned store loads the same state.
    assert_eq!(state(&open_engine(&b).snapshot()), state(&a.snapshot()));
}

/// The queries the SQL tests below compare: one per column a filter reads.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn column_queries() -> Vec<(AuditQuery, &'static str)> {
    vec![
        (AuditQuery::new(SHOP), "account = 999"),
        (AuditQuery::new(SHOP).actor(OWNER), "actor = 12345"),
        (
            AuditQuery::new(SHOP).actor(AuditActor::System("migration".to_owned())),
            "system = 'someone else'",
        ),
        (
            AuditQuery::new(SHOP).outcome(OutcomeKind::Refused),
            "outcome = 2",
        ),
        (AuditQuery::new(SHOP).kind(ObjectKind::Store), "kinds = 0"),
        (AuditQuery::new(SHOP).since_unix_ms(1), "at_unix_ms = 0"),
        // The year 2096.
        (
            AuditQuery::new(SHOP).before_unix_ms(4_000_000_000_000),
            "at_unix_ms = 5000000000000",
        ),
    ]
}

/// Every filter is a condition of the SQL query, not only a check in memory: with one row's
/// column changed by hand so that the database no longer selects it, the query leaves out a
/// record that (still stored unchanged) passes the filter. `exec` runs SQL on the store.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn filters_run_in_the_database<S: Storage<Pos>>(handle: &S, exec: &dyn Fn(&str)) {
    let listed = |q: &AuditQuery| -> Vec<u64> {
        let page = handle.audit_query(&q.clone().limit(1000)).unwrap();
        assert!(page.next.is_none());
        page.entries.iter().map(|e| e.seq).collect()
    };
    let mut queries = column_queries();
    queries.push((
        AuditQuery::new(SHOP).target(ANA),
        "seq = seq", // the target rows are removed below instead
    ));
    for (query, change) in queries {
        let before = listed(&query);
        let seq = *before
            .first()
            .unwrap_or_else(|| panic!("{query:?} lists nothing"));
        if query == AuditQuery::new(SHOP).target(ANA) {
            exec(&format!(
                "DELETE FROM shopguard_audit_target WHERE seq = {seq}"
            ));
        } else {
            exec(&format!(
                "UPDATE shopguard_audit SET {change} WHERE seq = {seq}"
            ));
        }
        let after = listed(&query);
        assert_eq!(after, before[1..], "{query:?} after `{change}`");
    }
    // The record itself is unchanged: the whole trail still holds every one of them.
    assert!(handle.audit_records().unwrap().len() > 20);
}

/// The queries the migration tests compare before and after.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn migration_queries() -> Vec<AuditQuery> {
    let mut q: Vec<AuditQuery> = column_queries().into_iter().map(|(q, _)| q).collect();
    q.extend([
        AuditQuery::new(SHOP).target(ANA),
        AuditQuery::new(SHOP)
            .target(MANAGER)
            .outcome(OutcomeKind::Applied),
        AuditQuery::new(OTHER).target(OTHER_BEA),
        AuditQuery::new(BULK).target(StoreId::new(3005)),
        AuditQuery::new(BULK).kind(ObjectKind::Store),
    ]);
    q
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn answers<S: Storage<Pos>>(handle: &S) -> Vec<Vec<(u64, AuditRecord<Pos>)>> {
    migration_queries()
        .iter()
        .map(|q| {
            let page = handle.audit_query(&q.clone().limit(1000)).unwrap();
            page.entries
                .into_iter()
                .map(|e| (e.seq, e.record))
                .collect()
        })
        .collect()
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    fn exec(b: &SqliteBackend) -> impl Fn(&str) + '_ {
        move |sql: &str| {
            rusqlite::Connection::open(&b.0)
                .unwrap()
                .execute_batch(sql)
                .unwrap();
        }
    }

    #[test]
    fn audit_filters_run_in_the_database() {
        let (b, _e, _rng) = history::<SqliteBackend>("sql_filters", 60);
        filters_run_in_the_database(&b.open(), &exec(&b));
    }

    #[test]
    fn a_version_1_file_gets_the_query_columns_of_its_records() {
        let (b, e, _rng) = history::<SqliteBackend>("migrate_v1", 60);
        drop(e);
        let before = answers(&b.open());
        assert!(before.iter().all(|a| !a.is_empty()));
        // Back to the schema of version 1, with the same rows.
        exec(&b)(
            "DROP INDEX shopguard_audit_account; DROP INDEX shopguard_audit_actor;
             DROP INDEX shopguard_audit_time; DROP INDEX shopguard_batch_time;
             DROP INDEX shopguard_audit_incomplete; DROP INDEX shopguard_audit_account_time;
             DROP TABLE shopguard_audit_target; DROP TABLE shopguard_follower;
             DROP TABLE shopguard_sequence;
             ALTER TABLE shopguard_audit DROP COLUMN account;
             ALTER TABLE shopguard_audit DROP COLUMN system;
             ALTER TABLE shopguard_audit DROP COLUMN outcome;
             ALTER TABLE shopguard_audit DROP COLUMN kinds;
             ALTER TABLE shopguard_audit DROP COLUMN targets_complete;
             DELETE FROM shopguard_meta WHERE name = 'pruned_through';
             UPDATE shopguard_meta SET value = 1 WHERE name = 'schema_version';",
        );
        let reopened = b.open();
        assert_eq!(reopened.schema_version().unwrap(), 3);
        assert_eq!(answers(&reopened), before);
        // And it prunes.
        let retention = Retention::before_unix_ms(now_ms() + 1);
        let pruned = Storage::<Pos>::prune(&reopened, &retention, &mut io::sink()).unwrap();
        assert!(pruned.batches > 0 && pruned.audit_records > 0);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    fn exec(b: &PgBackend) -> impl Fn(&str) + '_ {
        move |sql: &str| {
            let mut client = ::postgres::Client::connect(&b.url, ::postgres::NoTls).unwrap();
            client
                .batch_execute(&format!("SET search_path TO {}; {sql}", b.schema))
                .unwrap();
        }
    }

    #[test]
    fn audit_filters_run_in_the_database() {
        let (b, _e, _rng) = history::<PgBackend>("sql_filters", 60);
        filters_run_in_the_database(&b.open(), &exec(&b));
    }

    #[test]
    fn a_version_1_schema_gets_the_query_columns_of_its_records() {
        let (b, e, _rng) = history::<PgBackend>("migrate_v1", 60);
        drop(e);
        let before = answers(&b.open());
        assert!(before.iter().all(|a| !a.is_empty()));
        exec(&b)(
            "DROP TABLE shopguard_audit_target; DROP TABLE shopguard_follower;
             DROP TABLE shopguard_sequence;
             DROP INDEX shopguard_batch_time; DROP INDEX shopguard_audit_time;
             ALTER TABLE shopguard_audit DROP COLUMN account, DROP COLUMN system,
                 DROP COLUMN outcome, DROP COLUMN kinds, DROP COLUMN targets_complete;
             DELETE FROM shopguard_meta WHERE name = 'pruned_through';
             UPDATE shopguard_meta SET value = 1 WHERE name = 'schema_version';",
        );
        let reopened = b.open();
        assert_eq!(reopened.schema_version().unwrap(), 3);
        assert_eq!(answers(&reopened), before);
        let retention = Retention::before_unix_ms(now_ms() + 1);
        let pruned = Storage::<Pos>::prune(&reopened, &retention, &mut io::sink()).unwrap();
        assert!(pruned.batches > 0 && pruned.audit_records > 0);
    }
}

mod random_filters {
    use proptest::prelude::*;

    use super::*;

    fn pick<T: Clone>(choices: &[T], n: usize) -> T {
        choices[n % choices.len()].clone()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Random combinations of every filter, on random histories in memory: the pages
        /// concatenate to the reference's plain filter over the whole trail.
        #[test]
        fn random_audit_queries_match_the_reference(
            seed in 1u64..u64::MAX,
            steps in 20u64..80,
            picks in prop::collection::vec(any::<usize>(), 9),
        ) {
            let b = MemoryBackend::fresh("random_filters");
            let e = open_engine(&b);
            e.unchecked_apply(world()).unwrap();
            e.unchecked_apply(other_world()).unwrap();
            let mut rng = Rng(seed);
            for n in 0..steps {
                step(&e, &mut rng, n);
            }
            let store = b.open();
            let trail = store.audit_records().unwrap();
            let times: Vec<Option<u64>> = std::iter::once(None)
                .chain(trail.iter().map(|r| Some(r.at_unix_ms)))
                .collect();
            let actors = [
                None,
                Some(AuditActor::User(OWNER)),
                Some(AuditActor::User(ANA)),
                Some(AuditActor::User(ADMIN_2)),
                Some(AuditActor::User(OTHER_OWNER)),
                Some(AuditActor::System("migration".to_owned())),
                Some(AuditActor::System("unchecked_apply".to_owned())),
            ];
            let targets = [
                None,
                Some(key(ObjectKind::User, ANA.get())),
                Some(key(ObjectKind::User, ADMIN_3.get())),
                Some(key(ObjectKind::User, OWNER.get())),
                Some(key(ObjectKind::User, OTHER_BEA.get())),
                Some(key(ObjectKind::Role, MANAGER.get())),
                Some(key(ObjectKind::Store, SOUTH.get())),
                Some(key(ObjectKind::Store, NORTH.get())),
                Some(key(ObjectKind::Account, SHOP.get())),
            ];
            let kinds = [
                None,
                Some(ObjectKind::Account),
                Some(ObjectKind::Store),
                Some(ObjectKind::Role),
                Some(ObjectKind::User),
            ];
            let mut want = Want::new(pick(&[SHOP, SHOP, OTHER], picks[0]));
            want.actor = pick(&actors, picks[1]);
            want.target = pick(&targets, picks[2]);
            want.kind = pick(&kinds, picks[3]);
            want.applied = pick(&[None, Some(true), Some(false)], picks[4]);
            want.since = pick(&times, picks[5]);
            want.before = pick(&times, picks[6]);
            let limit = 1 + picks[7] % 6;
            let mut expected: Vec<AuditRecord<Pos>> =
                trail.iter().filter(|r| want.keeps(r)).cloned().collect();
            expected.reverse();
            let got = pages(&store, &want, limit, || {});
            prop_assert_eq!(records(&got), expected, "{:?}", want);
        }
    }
}
