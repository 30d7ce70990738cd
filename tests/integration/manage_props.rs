//! Issue 14: the write side and the read side agree on which users an actor manages.
//!
//! `can(actor, USERS, &OnUser(account, target))` is the read side's answer to "may `actor`
//! manage `target`"; [`Engine::apply`] with `DeleteUser`, `UpdateUser` and `CreateUser` is the
//! write side's. In random worlds (roles at levels 1–3 with random permissions and store
//! ceilings; users holding one to three grants at random stores), for every actor and every
//! target, the actor itself included, each change tried on a fresh copy of the world:
//!
//! - a delete, or an edit that changes nothing but the timezone, is accepted only where `can`
//!   allows;
//! - where `can` allows, a refusal names a rule the read side does not model (the owner, seats,
//!   input validation), never a permission, level, scope or lookup reason (`NotPermitted`,
//!   `Hierarchy`, `OutsideScope`, `Escalation`, `NotFound`);
//! - a user the actor was allowed to create is one `can` then lets it manage.
//!
//! A property that holds because nothing is ever allowed proves nothing: the test counts how
//! often each side says yes, and fails if the worlds stop exercising both directions.

use std::cell::Cell;
use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestRunner;
use shopguard::{
    Access, Account, AccountId, Applied, Catalog, Change, Channel, ChannelId, Decision, Engine,
    Error, ErrorKind, Grant, Level, Mutation, OnUser, Role, RoleId, Source, SourceId, Store,
    StoreId, User, UserId,
};

use crate::shared::Staff;

const ACCT: AccountId = AccountId::new(1);
const STORES: [u64; 3] = [1, 2, 3];
const SOURCES: [u64; 2] = [10, 11];
const CHANNELS: [u64; 2] = [20, 21];
const OWNER: UserId = UserId::new(100);
const OWNER_ROLE: RoleId = RoleId::new(1);

/// One account: its roles (the owner's first), its users (the owner first) and the users
/// every actor tries to create.
#[derive(Clone)]
struct World {
    roles: Vec<Role<Staff>>,
    users: Vec<User>,
    newcomers: Vec<User>,
}

/// A user before its roles are known: grants name roles by index into the random roles.
type Spec = (
    Vec<(Index, Access<StoreId>)>,
    Access<SourceId>,
    Access<ChannelId>,
    bool,
);

fn access<T: Ord + Copy + fmt::Debug + 'static>(
    ids: &'static [u64],
    id: fn(u64) -> T,
) -> impl Strategy<Value = Access<T>> + Clone {
    prop_oneof![
        1 => Just(Access::None),
        1 => Just(Access::All),
        2 => prop::sample::subsequence(ids, 1..=ids.len())
            .prop_map(move |v| Access::specific(v.into_iter().map(id))),
    ]
}

fn role() -> impl Strategy<Value = (u8, u64, bool, Access<StoreId>)> {
    (
        1u8..=3,
        0u64..64,
        prop::bool::weighted(0.7),
        prop_oneof![Just(Access::All), access(&STORES, StoreId::new)],
    )
}

fn spec(grants: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec((any::<Index>(), access(&STORES, StoreId::new)), grants),
        access(&SOURCES, SourceId::new),
        access(&CHANNELS, ChannelId::new),
        prop::bool::weighted(0.85),
    )
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(role(), 1..=4),
        prop::collection::vec(spec(1..=3), 1..=5),
        prop::collection::vec(spec(1..=2), 1..=3),
    )
        .prop_map(|(roles, staff, newcomers)| {
            let mut all = vec![Role::new(OWNER_ROLE, ACCT, "r1", Level::TOP, Staff::all())];
            for (i, (level, bits, users, ceiling)) in roles.into_iter().enumerate() {
                let id = 2 + i as u64;
                // The first random role always manages users; the others often do.
                let perms = Staff::from_bits_truncate(bits).difference(Staff::USERS)
                    | if users || i == 0 {
                        Staff::USERS
                    } else {
                        Staff::empty()
                    };
                all.push(
                    Role::new(
                        RoleId::new(id),
                        ACCT,
                        format!("r{id}"),
                        Level::new(level).unwrap(),
                        perms,
                    )
                    .with_store_ceiling(ceiling),
                );
            }
            // Users hold the random roles only; the owner's role stays the owner's.
            let random = all.len() - 1;
            let user =
                |id: u64, (grants, sources, channels, enabled): Spec| {
                    User::new(
                        UserId::new(id),
                        ACCT,
                        &format!("u{id}"),
                        &format!("u{id}@x.example"),
                    )
                    .with_grants(grants.into_iter().map(|(r, stores)| {
                        Grant::new(RoleId::new(2 + r.index(random) as u64), stores)
                    }))
                    .with_sources(sources)
                    .with_channels(channels)
                    .with_enabled(enabled)
                };
            let owner = User::new(OWNER, ACCT, "u100", "u100@x.example")
                .with_owner(true)
                .with_grant(Grant::new(OWNER_ROLE, Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All);
            let mut users = vec![owner];
            users.extend(staff.into_iter().zip(101..).map(|(s, id)| user(id, s)));
            World {
                roles: all,
                users,
                newcomers: newcomers
                    .into_iter()
                    .zip(200..)
                    .map(|(s, id)| user(id, s))
                    .collect(),
            }
        })
}

impl World {
    fn batch(&self) -> Vec<Mutation<Staff>> {
        let mut batch = vec![Mutation::PutAccount(
            Account::new(ACCT, "Shop").with_seat_limit(1_000),
        )];
        batch.extend(
            STORES.map(|s| Mutation::PutStore(Store::new(StoreId::new(s), ACCT, format!("s{s}")))),
        );
        batch.extend(
            SOURCES.map(|s| {
                Mutation::PutSource(Source::new(SourceId::new(s), ACCT, format!("src{s}")))
            }),
        );
        batch.extend(
            CHANNELS.map(|c| {
                Mutation::PutChannel(Channel::new(ChannelId::new(c), ACCT, format!("c{c}")))
            }),
        );
        batch.extend(self.roles.iter().cloned().map(Mutation::PutRole));
        batch.extend(self.users.iter().cloned().map(Mutation::PutUser));
        batch
    }

    fn role(&self, id: RoleId) -> Option<&Role<Staff>> {
        self.roles.iter().find(|r| r.id() == id)
    }
}

/// `*` for all, `-` for none, `{1,3}` for specific ids.
fn ids<T: Ord + Copy>(a: &Access<T>, raw: fn(T) -> u64) -> String {
    match a {
        Access::None => "-".to_owned(),
        Access::All => "*".to_owned(),
        Access::Specific(set) => {
            let list: Vec<String> = set.iter().map(|x| raw(x).to_string()).collect();
            format!("{{{}}}", list.join(","))
        }
    }
}

fn user_line(u: &User) -> String {
    let grants: Vec<String> = u
        .grants()
        .iter()
        .map(|g| format!("r{}@{}", g.role.get(), ids(&g.stores, StoreId::get)))
        .collect();
    format!(
        "u{}{} {} src={} ch={}{}",
        u.id().get(),
        if u.is_owner() { " owner" } else { "" },
        grants.join(" "),
        ids(u.sources(), SourceId::get),
        ids(u.channels(), ChannelId::get),
        if u.is_enabled() { "" } else { " disabled" },
    )
}

/// One line per role and user: what a failure needs to be read.
impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        for r in &self.roles {
            let perms: Vec<&str> = Staff::permissions()
                .iter()
                .filter(|i| r.permissions().contains(i.flag()))
                .map(|i| i.name())
                .collect();
            writeln!(
                f,
                "  r{} L{} {} ceiling={}",
                r.id().get(),
                r.level().get(),
                perms.join("|"),
                ids(&r.ceiling().stores, StoreId::get),
            )?;
        }
        for u in &self.users {
            writeln!(f, "  {}", user_line(u))?;
        }
        for u in &self.newcomers {
            writeln!(f, "  new {}", user_line(u))?;
        }
        Ok(())
    }
}

/// How often each side said yes, so that a vacuous run fails.
#[derive(Default)]
struct Tally {
    pairs: Cell<usize>,
    readable: Cell<usize>,
    deleted: Cell<usize>,
    edited: Cell<usize>,
    /// Pairs the read side allows and the write side refuses for a validation reason.
    refused_readable: Cell<usize>,
    /// Pairs whose enabled actor holds the permission through two or more grants: where
    /// combining grants could go wrong.
    several_grants: Cell<usize>,
    creations: Cell<usize>,
    created: Cell<usize>,
    created_by_staff: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

/// Refusals for a rule the read side does not model.
fn validation(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Owner
            | ErrorKind::SeatLimit
            | ErrorKind::InvalidInput
            | ErrorKind::InUse
            | ErrorKind::Duplicate
    )
}

/// The two-way rule for one change about an existing target.
fn agree(
    (actor, target, what): (UserId, UserId, &str),
    read: bool,
    decision: Decision,
    got: &Result<Applied, Error>,
    tally: &Tally,
) -> Result<(), TestCaseError> {
    match got {
        Ok(_) => prop_assert!(
            read,
            "{} of u{} by u{} was accepted, but check denies u{} managing u{}: {:?}",
            what,
            target.get(),
            actor.get(),
            actor.get(),
            target.get(),
            decision
        ),
        Err(err) if read => {
            prop_assert!(
                validation(err.kind()),
                "check lets u{} manage u{} ({:?}), but {} was refused with {:?}: {}",
                actor.get(),
                target.get(),
                decision,
                what,
                err.kind(),
                err
            );
            bump(&tally.refused_readable);
        }
        Err(_) => {}
    }
    Ok(())
}

fn check_world(w: &World, tally: &Tally) -> Result<(), TestCaseError> {
    let batch = w.batch();
    let fresh = || {
        let e = Engine::<Staff>::new();
        e.unchecked_apply(batch.clone()).unwrap();
        e
    };
    let world = fresh();
    for actor in &w.users {
        let a = actor.id();
        let managing = actor
            .grants()
            .iter()
            .filter(|g| {
                w.role(g.role)
                    .is_some_and(|r| r.permissions().contains(Staff::USERS))
            })
            .count();
        for target in &w.users {
            let t = target.id();
            let decision = world.check(a, Staff::USERS, &OnUser(ACCT, t));
            let read = world.can(a, Staff::USERS, &OnUser(ACCT, t));
            prop_assert_eq!(read, decision.is_allowed());
            bump(&tally.pairs);
            if read {
                bump(&tally.readable);
            }
            if managing >= 2 && actor.is_enabled() {
                bump(&tally.several_grants);
            }

            let del = fresh().apply(a, Change::DeleteUser(t));
            if del.is_ok() {
                bump(&tally.deleted);
            }
            agree((a, t, "delete"), read, decision, &del, tally)?;

            // Nothing about grants, scope or the e-mail (which recovers the account, so changing
            // it is an escalation unless the actor holds all the user holds) changes: an edit
            // anyone who manages the user may make.
            let moved = target.clone().with_timezone("Europe/Madrid").unwrap();
            let edit = fresh().apply(a, Change::UpdateUser(moved));
            if edit.is_ok() {
                bump(&tally.edited);
            }
            agree((a, t, "timezone edit"), read, decision, &edit, tally)?;
        }
        for new in &w.newcomers {
            let e = fresh();
            bump(&tally.creations);
            if e.apply(a, Change::CreateUser(new.clone())).is_ok() {
                bump(&tally.created);
                if !actor.is_owner() {
                    bump(&tally.created_by_staff);
                }
                let after = e.check(a, Staff::USERS, &OnUser(ACCT, new.id()));
                prop_assert!(
                    after.is_allowed(),
                    "u{} created u{}, but check then denies managing it: {:?}",
                    a.get(),
                    new.id().get(),
                    after
                );
            }
        }
    }
    Ok(())
}

#[test]
fn write_side_agrees_with_check_on_managing_users() {
    let mut config = ProptestConfig::with_cases(1000);
    // Regressions are not written into the source tree; a failure prints the whole world.
    config.failure_persistence = None;
    let mut runner = TestRunner::new(config);
    let tally = Tally::default();
    if let Err(failure) = runner.run(&world(), |w| check_world(&w, &tally)) {
        panic!("{failure}");
    }
    // The property must be exercised both ways: many pairs allowed and many refused, and
    // changes accepted, by staff as well as by the owner, often enough to matter.
    let share = |n: &Cell<usize>, of: &Cell<usize>| n.get() as f64 / of.get().max(1) as f64;
    let pairs = &tally.pairs;
    let summary = format!(
        "pairs {}, readable {}, deleted {}, edited {}, refused though readable {}, actor with \
         several managing grants {}, creations {}, created {} ({} by staff)",
        pairs.get(),
        tally.readable.get(),
        tally.deleted.get(),
        tally.edited.get(),
        tally.refused_readable.get(),
        tally.several_grants.get(),
        tally.creations.get(),
        tally.created.get(),
        tally.created_by_staff.get(),
    );
    assert!(share(&tally.readable, pairs) > 0.2, "{summary}");
    assert!(share(&tally.readable, pairs) < 0.8, "{summary}");
    assert!(share(&tally.deleted, pairs) > 0.1, "{summary}");
    assert!(share(&tally.edited, pairs) > 0.1, "{summary}");
    assert!(share(&tally.several_grants, pairs) > 0.1, "{summary}");
    assert!(share(&tally.created, &tally.creations) > 0.1, "{summary}");
    assert!(
        share(&tally.created_by_staff, &tally.creations) > 0.02,
        "{summary}"
    );
}
