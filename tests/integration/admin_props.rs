//! A model-based state machine for the write side (R8, R11, R12, and refused changes).
//!
//! Random sequences of changes by random actors. After every step:
//! - a refused change left the state identical (full snapshot compared) and was audited;
//! - R11: exactly one owner, enabled, holding a level-1 role;
//! - R12: enabled users within the seat limit;
//! - R8: no user can do anything (a permission at a store, source, channel or the whole
//!   account) that neither it nor the acting user could do before the step.
//!
//! The reference for R8 is the engine's own `can` before and after the step, compared as plain
//! sets of (user, permission, place) triples: the property needs no model of the rules, only
//! of what "gaining" means.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use shopguard::audit::MemoryAudit;
use shopguard::{
    Access, Account, AccountId, Catalog, Change, Channel, ChannelId, Engine, Grant, Level,
    Mutation, OnAccount, OnChannel, OnSource, OnStore, Role, RoleId, Source, SourceId, Store,
    StoreId, User, UserId,
};

use crate::shared::{Order, Staff};

const ACCT: AccountId = AccountId::new(1);
const STORES: [u64; 3] = [1, 2, 3];
const SOURCES: [u64; 2] = [10, 11];
const CHANNELS: [u64; 2] = [20, 21];

struct Tape<'a>(std::slice::Iter<'a, u32>);

impl Tape<'_> {
    fn pick(&mut self, n: usize) -> usize {
        self.0.next().map_or(0, |x| *x as usize % n.max(1))
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) < percent
    }
    fn access<T: Ord + Copy>(&mut self, ids: &[u64], f: fn(u64) -> T) -> Access<T> {
        match self.pick(4) {
            0 => Access::None,
            1 => Access::All,
            _ => Access::specific(ids.iter().copied().filter(|_| self.chance(50)).map(f)),
        }
    }
    fn perms(&mut self) -> Staff {
        Staff::from_bits_truncate(self.pick(64) as u64)
    }
    fn level(&mut self) -> Level {
        Level::new(1 + self.pick(3) as u8).unwrap()
    }
}

fn setup(t: &mut Tape<'_>, audit: Arc<MemoryAudit<Staff>>) -> Engine<Staff> {
    let e = Engine::new().with_audit(audit);
    let mut batch = vec![Mutation::PutAccount(
        Account::new(ACCT, "Shop").with_seat_limit(4 + t.pick(4) as u32),
    )];
    for s in STORES {
        batch.push(Mutation::PutStore(Store::new(
            StoreId::new(s),
            ACCT,
            format!("s{s}"),
        )));
    }
    for s in SOURCES {
        batch.push(Mutation::PutSource(Source::new(
            SourceId::new(s),
            ACCT,
            format!("src{s}"),
        )));
    }
    for c in CHANNELS {
        batch.push(Mutation::PutChannel(Channel::new(
            ChannelId::new(c),
            ACCT,
            format!("c{c}"),
        )));
    }
    batch.push(Mutation::PutRole(Role::new(
        RoleId::new(1),
        ACCT,
        "r1",
        Level::TOP,
        Staff::all(),
    )));
    for (id, level) in [(2u64, 2u8), (3, 3)] {
        let perms = t.perms() | Staff::USERS | Staff::ROLES;
        batch.push(Mutation::PutRole(
            Role::new(
                RoleId::new(id),
                ACCT,
                format!("r{id}"),
                Level::new(level).unwrap(),
                perms,
            )
            .with_store_ceiling(if t.chance(50) {
                Access::All
            } else {
                t.access(&STORES, StoreId::new)
            }),
        ));
    }
    batch.push(Mutation::PutUser(
        User::new(UserId::new(100), ACCT, "owner", "owner@x.example")
            .with_owner(true)
            .with_grant(Grant::new(RoleId::new(1), Access::All))
            .with_sources(Access::All)
            .with_channels(Access::All),
    ));
    for id in 101..104u64 {
        let role = RoleId::new(2 + t.pick(2) as u64);
        batch.push(Mutation::PutUser(
            User::new(
                UserId::new(id),
                ACCT,
                &format!("u{id}"),
                &format!("u{id}@x.example"),
            )
            .with_grant(Grant::new(role, t.access(&STORES, StoreId::new)))
            .with_sources(t.access(&SOURCES, SourceId::new))
            .with_channels(t.access(&CHANNELS, ChannelId::new)),
        ));
    }
    e.unchecked_apply(batch).unwrap();
    e
}

fn random_change(t: &mut Tape<'_>, e: &Engine<Staff>, step: u64) -> (UserId, Change<Staff>) {
    let s = e.snapshot();
    let users: Vec<User> = s.users(ACCT).cloned().collect();
    let roles: Vec<RoleId> = s.roles(ACCT).map(|r| r.id()).collect();
    let any_user = |t: &mut Tape<'_>| {
        users
            .get(t.pick(users.len() + 1))
            .map_or(UserId::new(999), |u| u.id())
    };
    let any_role = |t: &mut Tape<'_>| {
        roles
            .get(t.pick(roles.len() + 1))
            .copied()
            .unwrap_or(RoleId::new(999))
    };
    let actor = if t.chance(35) {
        UserId::new(100)
    } else {
        any_user(t)
    };
    let fresh = 1000 + step;
    let grant = |t: &mut Tape<'_>| Grant::new(any_role(t), t.access(&STORES, StoreId::new));
    let change = match t.pick(11) {
        0 => Change::CreateRole(
            Role::new(
                RoleId::new(fresh),
                ACCT,
                format!("r{fresh}"),
                t.level(),
                t.perms(),
            )
            .with_store_ceiling(t.access(&STORES, StoreId::new)),
        ),
        1 => match s.role(any_role(t)) {
            Some(r) => Change::UpdateRole(
                r.clone()
                    .with_permissions(t.perms())
                    .with_store_ceiling(t.access(&STORES, StoreId::new))
                    .with_source_ceiling(t.access(&SOURCES, SourceId::new)),
            ),
            None => Change::DeleteRole {
                role: RoleId::new(999),
                reassign_to: None,
            },
        },
        2 => Change::RenameRole {
            role: any_role(t),
            name: format!("n{fresh}"),
        },
        3 => Change::DeleteRole {
            role: any_role(t),
            reassign_to: if t.chance(50) {
                Some(any_role(t))
            } else {
                None
            },
        },
        4 | 5 => Change::CreateUser(
            User::new(
                UserId::new(fresh),
                ACCT,
                &format!("u{fresh}"),
                &format!("u{fresh}@x.example"),
            )
            .with_grant(grant(t))
            .with_sources(t.access(&SOURCES, SourceId::new))
            .with_channels(t.access(&CHANNELS, ChannelId::new))
            .with_enabled(t.chance(80)),
        ),
        6 => match users.get(t.pick(users.len())) {
            Some(u) => Change::UpdateUser(match t.pick(3) {
                0 => u.clone().with_grants([grant(t)]),
                1 => u.clone().with_sources(t.access(&SOURCES, SourceId::new)),
                _ => u.clone().with_channels(t.access(&CHANNELS, ChannelId::new)),
            }),
            None => Change::DeleteUser(UserId::new(999)),
        },
        7 => {
            if t.chance(50) {
                Change::EnableUser(any_user(t))
            } else {
                Change::DisableUser(any_user(t))
            }
        }
        8 => Change::DeleteUser(any_user(t)),
        9 => Change::TransferOwnership { to: any_user(t) },
        _ => Change::CopyUser {
            from: any_user(t),
            id: UserId::new(fresh),
            username: format!("c{fresh}"),
            email: format!("c{fresh}@x.example"),
        },
    };
    (actor, change)
}

/// Everything observable about the account.
fn state(e: &Engine<Staff>) -> String {
    let s = e.snapshot();
    let mut out = format!("revision {}\n", s.revision());
    for r in s.roles(ACCT) {
        out += &format!("{r:?}\n");
    }
    for u in s.users(ACCT) {
        out += &format!("{u:?}\n");
    }
    out
}

/// Every (user, permission, place) the account's users can do.
fn capabilities(e: &Engine<Staff>) -> BTreeSet<(u64, u64, char, u64)> {
    let mut out = BTreeSet::new();
    let s = e.snapshot();
    for u in s.users(ACCT) {
        for info in Staff::permissions() {
            let p = info.flag();
            let id = u.id();
            let mut add = |kind: char, place: u64, ok: bool| {
                if ok {
                    out.insert((id.get(), p.bits(), kind, place));
                }
            };
            add('a', 0, s.can(id, p, &OnAccount(ACCT)));
            for x in STORES {
                add('s', x, s.can(id, p, &OnStore(ACCT, StoreId::new(x))));
            }
            for x in SOURCES {
                add('o', x, s.can(id, p, &OnSource(ACCT, SourceId::new(x))));
            }
            for x in CHANNELS {
                add('c', x, s.can(id, p, &OnChannel(ACCT, ChannelId::new(x))));
            }
            // Orders: a store, a source and a channel at once, so that combining one grant's
            // stores with another's sources counts as a gain too.
            for st in STORES {
                for so in SOURCES {
                    for ch in CHANNELS {
                        let order = Order::at(
                            ACCT,
                            StoreId::new(st),
                            SourceId::new(so),
                            ChannelId::new(ch),
                        );
                        add('x', st * 10_000 + so * 100 + ch, s.can(id, p, &order));
                    }
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_sequence_of_changes_breaks_the_rules(tape in prop::collection::vec(any::<u32>(), 600)) {
        let mut t = Tape(tape.iter());
        let audit = Arc::new(MemoryAudit::new());
        let e = setup(&mut t, audit.clone());
        let mut applied = 0;
        for step in 0..40 {
            let (actor, change) = random_change(&mut t, &e, step);
            let before = state(&e);
            let caps_before = capabilities(&e);
            let records_before = audit.records().len();
            match e.apply(actor, change.clone()) {
                Err(err) => {
                    prop_assert_eq!(state(&e), before, "refused {:?} changed the state: {}", change, err);
                    let records = audit.records();
                    prop_assert_eq!(records.len(), records_before + 1);
                    prop_assert!(!records[records_before].outcome.is_applied());
                }
                Ok(_) => {
                    applied += 1;
                    let s = e.snapshot();
                    // R11
                    let owners: Vec<&User> = s.users(ACCT).filter(|u| u.is_owner()).collect();
                    prop_assert_eq!(owners.len(), 1);
                    prop_assert!(owners[0].is_enabled());
                    prop_assert!(owners[0].grants().iter().any(|g| s.role(g.role).is_some_and(|r| r.level().is_top())));
                    // R12
                    let limit = s.account(ACCT).and_then(|a| a.seat_limit()).unwrap_or(u32::MAX);
                    prop_assert!(s.users(ACCT).filter(|u| u.is_enabled()).count() <= limit as usize);
                    // R8
                    let actor_caps: BTreeSet<(u64, char, u64)> = caps_before
                        .iter()
                        .filter(|c| c.0 == actor.get())
                        .map(|c| (c.1, c.2, c.3))
                        .collect();
                    for cap in capabilities(&e) {
                        prop_assert!(
                            caps_before.contains(&cap) || actor_caps.contains(&(cap.1, cap.2, cap.3)),
                            "{:?} by {:?} let user {} gain {:?}", change, actor, cap.0, cap
                        );
                    }
                    let records = audit.records();
                    prop_assert_eq!(records.len(), records_before + 1);
                    prop_assert!(records[records_before].outcome.is_applied());
                }
            }
        }
        // Not a property, a guard that the generator exercises the write path at all.
        prop_assert!(applied > 0 || tape.iter().all(|x| *x == 0));
    }
}
