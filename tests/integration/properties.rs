//! Model-based property test of the read side (R1–R5, R10, R11, R13).
//!
//! Random accounts (stores, sources, channels, roles with levels, permissions and ceilings,
//! users with grants, enabled flags and source and channel access) and random checks. Every
//! decision of the engine must equal the one a deliberately simple reference model gives. The
//! reference model below is written from the rule text with plain sets and maps and shares no
//! code with the engine.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use shopguard::{
    Access, Account, AccountId, ChannelId, Decision, DenyReason, Dimension, Engine, Grant, Level,
    Mutation, OnAccount, OnChannel, OnRole, OnSource, OnStore, OnUser, PendingSourcing, Place,
    Resource, Role, RoleId, Source, SourceId, Store, StoreId, Subject, User, UserId,
};

use crate::fixture::T;

// Bits of the fixture catalog, by reach.
const ACCOUNT_WIDE: u64 = 1 << 3;
const ENTITY_BILLING: u64 = 1 << 4;
const STORE_BILLING: u64 = 1 << 5;
const OWNER_ONLY: u64 = 1 << 6;
const ALL_BITS: u64 = (1 << 7) - 1;
const MISSING: u64 = 999;

// ---------------------------------------------------------------------------------------------
// The reference model.

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RAccess {
    None,
    All,
    Some(BTreeSet<u64>),
}

impl RAccess {
    fn has(&self, id: u64) -> bool {
        match self {
            RAccess::None => false,
            RAccess::All => true,
            RAccess::Some(s) => s.contains(&id),
        }
    }
    /// Nothing covered at all.
    fn is_nothing(&self) -> bool {
        match self {
            RAccess::None => true,
            RAccess::All => false,
            RAccess::Some(s) => s.is_empty(),
        }
    }
    /// What both cover.
    fn meet(&self, other: &RAccess) -> RAccess {
        match (self, other) {
            (RAccess::None, _) | (_, RAccess::None) => RAccess::None,
            (RAccess::All, x) | (x, RAccess::All) => x.clone(),
            (RAccess::Some(a), RAccess::Some(b)) => {
                RAccess::Some(a.intersection(b).copied().collect())
            }
        }
    }
    /// Every id `self` covers is covered by `other`.
    fn inside(&self, other: &RAccess) -> bool {
        match (self, other) {
            (_, RAccess::All) => true,
            (RAccess::All, _) => false,
            (RAccess::None, _) => true,
            (RAccess::Some(a), RAccess::None) => a.is_empty(),
            (RAccess::Some(a), RAccess::Some(b)) => a.is_subset(b),
        }
    }
    fn to_engine<I: Ord + Copy>(&self, f: impl Fn(u64) -> I) -> Access<I> {
        match self {
            RAccess::None => Access::None,
            RAccess::All => Access::All,
            RAccess::Some(s) => Access::specific(s.iter().map(|&x| f(x))),
        }
    }
}

#[derive(Clone, Debug)]
struct RRole {
    account: u64,
    level: u8,
    perms: u64,
    stores: RAccess,
    sources: RAccess,
    channels: RAccess,
}

#[derive(Clone, Debug)]
pub(crate) struct RUser {
    pub(crate) account: u64,
    enabled: bool,
    owner: bool,
    grants: Vec<(u64, RAccess)>,
    sources: RAccess,
    channels: RAccess,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct RAccount {
    entity_billing: bool,
    /// R5 narrowed by the host: pending sourcing needs all sources only.
    pending_by_sources_only: bool,
    pub(crate) stores: BTreeSet<u64>,
    pub(crate) sources: BTreeSet<u64>,
    pub(crate) channels: BTreeSet<u64>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct World {
    pub(crate) accounts: BTreeMap<u64, RAccount>,
    roles: BTreeMap<u64, RRole>,
    pub(crate) users: BTreeMap<u64, RUser>,
}

#[derive(Clone, Copy, Debug)]
enum RPlace {
    Unscoped,
    At(u64),
    Unplaced,
}

#[derive(Clone, Copy, Debug)]
struct Query {
    user: u64,
    perms: u64,
    account: u64,
    store: RPlace,
    source: RPlace,
    channel: RPlace,
    role: Option<u64>,
    target: Option<u64>,
}

/// The rules, read straight from MODEL.md, in the documented order of reasons.
fn reference(w: &World, q: &Query) -> Result<(usize, u64), DenyReason> {
    // R1: unknown or disabled user, nothing asked; R11: owner-only permissions.
    let Some(u) = w.users.get(&q.user) else {
        return Err(DenyReason::UnknownUser);
    };
    if !u.enabled {
        return Err(DenyReason::UserDisabled);
    }
    if q.perms == 0 {
        return Err(DenyReason::NoPermissionAsked);
    }
    if q.perms & OWNER_ONLY != 0 && !u.owner {
        return Err(DenyReason::OwnerOnly);
    }
    // R1: never another account.
    if q.account != u.account {
        return Err(DenyReason::WrongAccount);
    }
    // R1: everything the resource names exists in the user's account.
    let acct = &w.accounts[&u.account];
    if let RPlace::At(s) = q.store
        && !acct.stores.contains(&s)
    {
        return Err(DenyReason::UnknownStore(StoreId::new(s)));
    }
    if let RPlace::At(s) = q.source
        && !acct.sources.contains(&s)
    {
        return Err(DenyReason::UnknownSource(SourceId::new(s)));
    }
    if let RPlace::At(c) = q.channel
        && !acct.channels.contains(&c)
    {
        return Err(DenyReason::UnknownChannel(ChannelId::new(c)));
    }
    if let Some(r) = q.role
        && w.roles.get(&r).map(|r| r.account) != Some(u.account)
    {
        return Err(DenyReason::UnknownRole(RoleId::new(r)));
    }
    if let Some(t) = q.target
        && w.users.get(&t).map(|t| t.account) != Some(u.account)
    {
        return Err(DenyReason::UnknownTargetUser(UserId::new(t)));
    }
    // R4: source access None, source-scoped resource.
    if !matches!(q.source, RPlace::Unscoped) && u.sources.is_nothing() {
        return Err(DenyReason::NoSources);
    }
    // R5: an order pending sourcing (unplaced on sources) needs access to all sources and all
    // sales channels; a host may narrow it to all sources, its channel checked as usual. A
    // resource unscoped on channels is not about channels either way.
    let channel = match (q.source, q.channel) {
        (RPlace::Unplaced, RPlace::At(_)) if !acct.pending_by_sources_only => RPlace::Unplaced,
        (_, c) => c,
    };
    // R13: which asked permissions skip store access; which are withheld.
    let mut wide = ACCOUNT_WIDE | OWNER_ONLY;
    let mut withheld = 0;
    if acct.entity_billing {
        wide |= ENTITY_BILLING;
        withheld = STORE_BILLING;
    }
    let account_wide = q.perms & !wide == 0;

    // R2: some grant's role holds every asked permission and the resource is in its scope.
    let mut first_miss = None;
    for (i, (role_id, stores)) in u.grants.iter().enumerate() {
        let role = &w.roles[role_id];
        let held = role.perms & !withheld;
        if held & q.perms != q.perms {
            continue;
        }
        let mut miss = None;
        if !account_wide {
            miss = miss.or(dim(q.store, &role.stores, stores, Dimension::Store));
            if let Some(t) = q.target {
                // R10: every store the target's grants reach (after their roles' ceilings) lies
                // inside this grant's scope.
                let target = &w.users[&t];
                let inside = target.grants.iter().all(|(tr, ts)| {
                    let reached = w.roles[tr].stores.meet(ts);
                    reached.inside(&role.stores) && reached.inside(stores)
                });
                if !inside {
                    miss = miss.or(Some(DenyReason::OutsideScope(Dimension::Store)));
                }
                // R6: the target's roles are visible from this grant's level (oneself aside).
                let sees = |level: u8| role.level == 1 || level > role.level;
                if t != q.user && !target.grants.iter().all(|(tr, _)| sees(w.roles[tr].level)) {
                    miss = miss.or(Some(DenyReason::AboveLevel));
                }
            }
            if let Some(r) = q.role {
                // R6: a role is reachable only from a level that sees it.
                let sees = role.level == 1 || w.roles[&r].level > role.level;
                if !sees {
                    miss = miss.or(Some(DenyReason::AboveLevel));
                }
            }
        }
        miss = miss.or(dim(q.source, &role.sources, &u.sources, Dimension::Source));
        miss = miss.or(dim(
            channel,
            &role.channels,
            &u.channels,
            Dimension::Channel,
        ));
        match miss {
            None => return Ok((i, *role_id)),
            Some(r) => {
                first_miss.get_or_insert(r);
            }
        }
    }
    Err(first_miss.unwrap_or(DenyReason::PermissionMissing))
}

/// R2/R3/R5 on one dimension: effective scope = role ceiling ∩ access.
fn dim(place: RPlace, ceiling: &RAccess, access: &RAccess, d: Dimension) -> Option<DenyReason> {
    match place {
        RPlace::Unscoped => None,
        RPlace::At(x) if ceiling.has(x) && access.has(x) => None,
        RPlace::At(_) => Some(DenyReason::OutsideScope(d)),
        RPlace::Unplaced if *ceiling == RAccess::All && *access == RAccess::All => None,
        RPlace::Unplaced => Some(DenyReason::NeedsAll(d)),
    }
}

// ---------------------------------------------------------------------------------------------
// Generation: a tape of random numbers read into a valid world.

struct Tape<'a>(std::slice::Iter<'a, u32>);

impl Tape<'_> {
    fn pick(&mut self, n: u32) -> u32 {
        self.0.next().map_or(0, |x| x % n.max(1))
    }
    fn chance(&mut self, percent: u32) -> bool {
        self.pick(100) < percent
    }
    fn access(&mut self, ids: &BTreeSet<u64>) -> RAccess {
        match self.pick(4) {
            0 => RAccess::None,
            1 => RAccess::All,
            _ => RAccess::Some(ids.iter().copied().filter(|_| self.chance(50)).collect()),
        }
    }
}

pub(crate) fn build(tape: &[u32]) -> World {
    let mut t = Tape(tape.iter());
    let mut w = World::default();
    for a in [1u64, 2] {
        let mut acct = RAccount {
            entity_billing: t.chance(30),
            pending_by_sources_only: t.chance(30),
            ..RAccount::default()
        };
        let n = 1 + u64::from(t.pick(4));
        acct.stores = (0..n).map(|i| a * 1000 + i).collect();
        acct.sources = (0..1 + u64::from(t.pick(3)))
            .map(|i| a * 1000 + 100 + i)
            .collect();
        acct.channels = (0..1 + u64::from(t.pick(3)))
            .map(|i| a * 1000 + 200 + i)
            .collect();
        // Role 0 is the owner's: level 1, everything, no ceiling.
        let role_ids: Vec<u64> = (0..1 + u64::from(t.pick(4)))
            .map(|i| a * 1000 + 300 + i)
            .collect();
        for (k, &r) in role_ids.iter().enumerate() {
            let role = if k == 0 {
                RRole {
                    account: a,
                    level: 1,
                    perms: ALL_BITS,
                    stores: RAccess::All,
                    sources: RAccess::All,
                    channels: RAccess::All,
                }
            } else {
                RRole {
                    account: a,
                    level: 1 + t.pick(3) as u8,
                    perms: u64::from(t.pick(128)),
                    stores: if t.chance(25) {
                        RAccess::All
                    } else {
                        t.access(&acct.stores)
                    },
                    sources: if t.chance(60) {
                        RAccess::All
                    } else {
                        t.access(&acct.sources)
                    },
                    channels: if t.chance(60) {
                        RAccess::All
                    } else {
                        t.access(&acct.channels)
                    },
                }
            };
            w.roles.insert(r, role);
        }
        for k in 0..1 + u64::from(t.pick(6)) {
            let owner = k == 0;
            let mut grants = Vec::new();
            if owner {
                grants.push((role_ids[0], RAccess::All));
            }
            for _ in 0..t.pick(3) {
                let r = role_ids[t.pick(role_ids.len() as u32) as usize];
                grants.push((r, t.access(&acct.stores)));
            }
            w.users.insert(
                a * 1000 + 400 + k,
                RUser {
                    account: a,
                    enabled: owner || t.chance(90),
                    owner,
                    grants,
                    sources: t.access(&acct.sources),
                    channels: t.access(&acct.channels),
                },
            );
        }
        w.accounts.insert(a, acct);
    }
    w
}

pub(crate) fn load(w: &World) -> Engine<T> {
    let mut batch = Vec::new();
    for (&a, acct) in &w.accounts {
        let account = AccountId::new(a);
        batch.push(Mutation::PutAccount(
            Account::new(account, format!("a{a}"))
                .with_entity_level_billing(acct.entity_billing)
                .with_pending_sourcing(if acct.pending_by_sources_only {
                    PendingSourcing::AllSources
                } else {
                    PendingSourcing::AllSourcesAndChannels
                }),
        ));
        for &s in &acct.stores {
            batch.push(Mutation::PutStore(Store::new(
                StoreId::new(s),
                account,
                "s",
            )));
        }
        for &s in &acct.sources {
            batch.push(Mutation::PutSource(Source::new(
                SourceId::new(s),
                account,
                format!("src{s}"),
            )));
        }
        for &c in &acct.channels {
            batch.push(Mutation::PutChannel(shopguard::Channel::new(
                ChannelId::new(c),
                account,
                "c",
            )));
        }
    }
    for (&id, r) in &w.roles {
        batch.push(Mutation::PutRole(
            Role::new(
                RoleId::new(id),
                AccountId::new(r.account),
                format!("role{id}"),
                Level::new(r.level).unwrap(),
                T::from_bits(r.perms).unwrap(),
            )
            .with_store_ceiling(r.stores.to_engine(StoreId::new))
            .with_source_ceiling(r.sources.to_engine(SourceId::new))
            .with_channel_ceiling(r.channels.to_engine(ChannelId::new)),
        ));
    }
    for (&id, u) in &w.users {
        batch.push(Mutation::PutUser(
            User::new(
                UserId::new(id),
                AccountId::new(u.account),
                &format!("u{id}"),
                &format!("u{id}@x.example"),
            )
            .with_enabled(u.enabled)
            .with_owner(u.owner)
            .with_grants(
                u.grants
                    .iter()
                    .map(|(r, s)| Grant::new(RoleId::new(*r), s.to_engine(StoreId::new))),
            )
            .with_sources(u.sources.to_engine(SourceId::new))
            .with_channels(u.channels.to_engine(ChannelId::new)),
        ));
    }
    let e = Engine::new();
    e.unchecked_apply(batch).unwrap();
    e
}

/// An id of a kind: mostly of the home account, sometimes of the other, sometimes of none.
fn any_of(t: &mut Tape<'_>, ids: &BTreeMap<u64, Vec<u64>>, home: u64) -> u64 {
    let roll = t.pick(100);
    let account = if roll < 88 { home } else { 3 - home };
    let pool = ids.get(&account).map(Vec::as_slice).unwrap_or_default();
    let i = t.pick(pool.len() as u32) as usize;
    match pool.get(i) {
        Some(&id) if roll < 96 => id,
        _ => MISSING,
    }
}

fn place(t: &mut Tape<'_>, ids: &BTreeMap<u64, Vec<u64>>, home: u64) -> RPlace {
    match t.pick(5) {
        0 => RPlace::Unscoped,
        1 => RPlace::Unplaced,
        _ => RPlace::At(any_of(t, ids, home)),
    }
}

fn queries(w: &World, tape: &[u32]) -> Vec<Query> {
    let mut t = Tape(tape.iter());
    let by_account = |f: &dyn Fn(&RAccount) -> &BTreeSet<u64>| -> BTreeMap<u64, Vec<u64>> {
        w.accounts
            .iter()
            .map(|(&a, x)| (a, f(x).iter().copied().collect()))
            .collect()
    };
    let stores = by_account(&|a| &a.stores);
    let sources = by_account(&|a| &a.sources);
    let channels = by_account(&|a| &a.channels);
    let mut users: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (&id, u) in &w.users {
        users.entry(u.account).or_default().push(id);
    }
    let mut roles: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (&id, r) in &w.roles {
        roles.entry(r.account).or_default().push(id);
    }
    let mut out = Vec::new();
    while t.0.len() >= 12 {
        let asker_home = 1 + u64::from(t.pick(2));
        let user = any_of(&mut t, &users, asker_home);
        let home = w.users.get(&user).map_or(1, |u| u.account);
        let account = if t.chance(95) { home } else { 3 - home };
        // Mostly one permission, sometimes several, rarely none.
        let perms = match t.pick(25) {
            0 => 0,
            1..=4 => u64::from(t.pick(128)),
            _ => 1 << t.pick(7),
        };
        let mut q = Query {
            user,
            perms,
            account,
            store: RPlace::Unscoped,
            source: RPlace::Unscoped,
            channel: RPlace::Unscoped,
            role: None,
            target: None,
        };
        match t.pick(7) {
            0 => q.store = RPlace::Unplaced, // OnAccount
            1 => q.store = RPlace::At(any_of(&mut t, &stores, home)),
            2 => q.source = RPlace::At(any_of(&mut t, &sources, home)),
            3 => q.channel = RPlace::At(any_of(&mut t, &channels, home)),
            4 => q.role = Some(any_of(&mut t, &roles, home)),
            5 => q.target = Some(any_of(&mut t, &users, home)),
            _ => {
                q.store = place(&mut t, &stores, home);
                q.source = place(&mut t, &sources, home);
                q.channel = place(&mut t, &channels, home);
            }
        }
        out.push(q);
    }
    out
}

/// A host resource built from the query, for the shapes the built-ins do not cover.
struct Any(Query);

impl Resource for Any {
    fn account(&self) -> AccountId {
        AccountId::new(self.0.account)
    }
    fn store(&self) -> Place<StoreId> {
        to_place(self.0.store, StoreId::new)
    }
    fn source(&self) -> Place<SourceId> {
        to_place(self.0.source, SourceId::new)
    }
    fn channel(&self) -> Place<ChannelId> {
        to_place(self.0.channel, ChannelId::new)
    }
    fn subject(&self) -> Subject {
        match (self.0.role, self.0.target) {
            (Some(r), _) => Subject::Role(RoleId::new(r)),
            (_, Some(u)) => Subject::User(UserId::new(u)),
            _ => Subject::None,
        }
    }
}

fn to_place<I>(p: RPlace, f: impl Fn(u64) -> I) -> Place<I> {
    match p {
        RPlace::Unscoped => Place::Unscoped,
        RPlace::At(x) => Place::At(f(x)),
        RPlace::Unplaced => Place::Unplaced,
    }
}

/// Checks through the built-in resource when the query has its shape, else through [`Any`].
fn engine_check(e: &Engine<T>, q: &Query) -> (Decision, bool) {
    let user = UserId::new(q.user);
    let p = T::from_bits_retain(q.perms);
    let a = AccountId::new(q.account);
    // The same check by key must give the same decision (the reference model knows no keys).
    let key = e.user_key(user);
    macro_rules! both {
        ($r:expr) => {{
            let r = $r;
            let decision = e.check(user, p, &r);
            if let Some(k) = key {
                assert_eq!(e.check(k, p, &r), decision, "by key {k:?}");
                assert_eq!(e.can(k, p, &r), decision.is_allowed(), "can by key {k:?}");
            }
            (decision, e.can(user, p, &r))
        }};
    }
    use RPlace::{At, Unplaced, Unscoped};
    match (q.store, q.source, q.channel, q.role, q.target) {
        (Unplaced, Unscoped, Unscoped, None, None) => both!(OnAccount(a)),
        (At(s), Unscoped, Unscoped, None, None) => both!(OnStore(a, StoreId::new(s))),
        (Unscoped, At(s), Unscoped, None, None) => both!(OnSource(a, SourceId::new(s))),
        (Unscoped, Unscoped, At(c), None, None) => both!(OnChannel(a, ChannelId::new(c))),
        (Unscoped, Unscoped, Unscoped, Some(r), None) => both!(OnRole(a, RoleId::new(r))),
        (Unscoped, Unscoped, Unscoped, None, Some(u)) => both!(OnUser(a, UserId::new(u))),
        _ => both!(Any(*q)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_decision_matches_the_reference_model(
        world in prop::collection::vec(any::<u32>(), 200),
        checks in prop::collection::vec(any::<u32>(), 12 * 64),
    ) {
        let w = build(&world);
        let e = load(&w);
        for q in queries(&w, &checks) {
            let want = match reference(&w, &q) {
                Ok((grant, role)) => Decision::Allow(shopguard::Allowed::new(grant, RoleId::new(role))),
                Err(r) => Decision::Deny(r),
            };
            let (got, can) = engine_check(&e, &q);
            prop_assert_eq!(got, want, "query {:?}", q);
            prop_assert_eq!(can, got.is_allowed(), "can disagrees with check on {:?}", q);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// R21: `scope_for` and `who_can` agree with `can` on every (user, permission, id) triple
    /// of the account; `explain` agrees with `check`; the batch forms agree with `can`.
    #[test]
    fn reverse_queries_explain_and_batches_agree_with_can(
        world in prop::collection::vec(any::<u32>(), 200),
        checks in prop::collection::vec(any::<u32>(), 12 * 32),
        perm_sets in prop::collection::vec(0u64..128, 4),
    ) {
        let w = build(&world);
        let e = load(&w);
        // Removing a user moves the last record into its place, and putting it back adds it
        // at the end: the reverse indexes must follow the records. A third of the users who
        // are not owners are removed, and every other one of them is put back.
        let gone: Vec<shopguard::User> = w
            .users
            .keys()
            .filter(|&&id| id % 3 == world[0] as u64 % 3)
            .filter_map(|&id| e.snapshot().user(UserId::new(id)).cloned())
            .filter(|u| !u.is_owner())
            .collect();
        e.unchecked_apply(gone.iter().map(|u| Mutation::RemoveUser(u.id()))).unwrap();
        e.unchecked_apply(gone.iter().step_by(2).cloned().map(Mutation::PutUser)).unwrap();
        // One batch that does both, in pairs: a user still out put back, then one just put back
        // removed, so a removal moves records added earlier in the same batch.
        let back = gone.iter().step_by(2).map(|u| Mutation::RemoveUser(u.id()));
        let out = gone.iter().skip(1).step_by(2).cloned().map(Mutation::PutUser);
        let mixed: Vec<Mutation<T>> = out
            .zip(back)
            .flat_map(|(put, remove)| [put, remove])
            .collect();
        e.unchecked_apply(mixed).unwrap();
        let perms: Vec<u64> = (0..7).map(|b| 1u64 << b).chain(perm_sets).collect();
        for (&a, acct) in &w.accounts {
            let account = AccountId::new(a);
            let users: Vec<u64> = w.users.iter().filter(|(_, u)| u.account == a).map(|(&id, _)| id).collect();
            for &bits in &perms {
                let p = T::from_bits_retain(bits);
                for &s in &acct.stores {
                    let r = OnStore(account, StoreId::new(s));
                    let want: Vec<UserId> = users.iter().map(|&u| UserId::new(u)).filter(|&u| e.can(u, p, &r)).collect();
                    prop_assert_eq!(e.snapshot().who_can(p, &r), want, "who_can at store {}", s);
                    for &u in &users {
                        let scope = e.snapshot().scope_for(UserId::new(u), p);
                        prop_assert_eq!(scope.allows_store(StoreId::new(s)), e.can(UserId::new(u), p, &r), "scope_for({}, {:?}) at store {}: {:?}", u, p, s, scope);
                    }
                }
                for &s in &acct.sources {
                    let r = OnSource(account, SourceId::new(s));
                    let want: Vec<UserId> = users.iter().map(|&u| UserId::new(u)).filter(|&u| e.can(u, p, &r)).collect();
                    prop_assert_eq!(e.snapshot().who_can(p, &r), want);
                    for &u in &users {
                        let scope = e.snapshot().scope_for(UserId::new(u), p);
                        prop_assert_eq!(scope.allows_source(SourceId::new(s)), e.can(UserId::new(u), p, &r));
                        if e.snapshot().user(UserId::new(u)).is_some_and(|x| x.is_enabled()) {
                            prop_assert_eq!(scope.no_sources(), w.users[&u].sources.is_nothing());
                        }
                    }
                }
                for &c in &acct.channels {
                    let r = OnChannel(account, ChannelId::new(c));
                    let want: Vec<UserId> = users.iter().map(|&u| UserId::new(u)).filter(|&u| e.can(u, p, &r)).collect();
                    prop_assert_eq!(e.snapshot().who_can(p, &r), want);
                    for &u in &users {
                        let scope = e.snapshot().scope_for(UserId::new(u), p);
                        prop_assert_eq!(scope.allows_channel(ChannelId::new(c)), e.can(UserId::new(u), p, &r));
                    }
                }
                // The account as a whole, and orders pending sourcing (R5): only `Everything`.
                let r = OnAccount(account);
                for &u in &users {
                    let scope = e.snapshot().scope_for(UserId::new(u), p);
                    let everywhere = scope.clauses().iter().any(|c| c.stores == shopguard::scope::Filter::Everything);
                    prop_assert_eq!(everywhere, e.can(UserId::new(u), p, &r));
                }
                let want: Vec<UserId> = users.iter().map(|&u| UserId::new(u)).filter(|&u| e.can(u, p, &r)).collect();
                prop_assert_eq!(e.snapshot().who_can(p, &r), want);
            }
        }
        // explain and the batch forms, on the random queries of the first property.
        let qs = queries(&w, &checks);
        let mut many = Vec::new();
        for q in &qs {
            let user = UserId::new(q.user);
            let p = T::from_bits_retain(q.perms);
            let r = Any(*q);
            let x = e.snapshot().explain(user, p, &r);
            let d = e.check(user, p, &r);
            prop_assert_eq!(x.decision(), d);
            if let Decision::Allow(a) = d {
                prop_assert_eq!(x.grants()[a.grant()].verdict(), shopguard::explain::Verdict::Allows);
                prop_assert!(x.grants()[..a.grant()].iter().all(|g| g.verdict() != shopguard::explain::Verdict::Allows));
            }
            many.push((user, p, r));
            prop_assert_eq!(e.snapshot().can_each(user, p, &[Any(*q), Any(*q)]), vec![d.is_allowed(); 2]);
        }
        let want: Vec<bool> = qs.iter().map(|q| e.can(UserId::new(q.user), T::from_bits_retain(q.perms), &Any(*q))).collect();
        prop_assert_eq!(e.snapshot().can_many(&many), want);
    }
}
