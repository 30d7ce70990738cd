//! The collecting planner: a refused batch lists every problem — each change authorization
//! refuses, then every rule the state after the others breaks — on the change at fault, with
//! its kind, field and object; the dry run says the same as `apply_all` and changes nothing.

use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::Key;
use shopguard::{
    Access, Account, AccountId, Change, Engine, ErrorKind, Grant, Level, Mutation, Role, RoleId,
    Store, StoreId, User, UserId,
};

use crate::fixture::state;

const ACME: AccountId = AccountId::new(1);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);
const ADMIN: RoleId = RoleId::new(1);
const MANAGER: RoleId = RoleId::new(2);
const CASHIER: RoleId = RoleId::new(3);
const OWNER: UserId = UserId::new(100);
const MANAGER_NORTH: UserId = UserId::new(101);
const CASHIER_NORTH: UserId = UserId::new(102);
/// A disabled cashier at South, whom the North manager and the cashiers may not see.
const SAM: UserId = UserId::new(106);

/// A shop with 10 seats: the owner, a manager at North, four cashiers at North (6 enabled),
/// and a disabled cashier at South.
fn engine() -> Engine<Pos> {
    let e = Engine::new();
    let mut batch = vec![
        Mutation::PutAccount(Account::new(ACME, "Acme").with_seat_limit(10)),
        Mutation::PutStore(Store::new(NORTH, ACME, "North")),
        Mutation::PutStore(Store::new(SOUTH, ACME, "South")),
        Mutation::PutRole(pos::admin(ADMIN, ACME)),
        // A manager who manages the staff and roles below it.
        Mutation::PutRole(Role::new(
            MANAGER,
            ACME,
            "Manager",
            Level::below_top(1),
            pos::MANAGER | Pos::VIEW_USERS | Pos::MANAGE_USERS | Pos::MANAGE_ROLES,
        )),
        Mutation::PutRole(pos::cashier(CASHIER, ACME)),
        Mutation::PutUser(
            User::new(OWNER, ACME, "owner", "owner@acme.example")
                .with_owner(true)
                .with_grant(Grant::new(ADMIN, Access::All)),
        ),
        Mutation::PutUser(
            User::new(MANAGER_NORTH, ACME, "marta", "marta@acme.example")
                .with_grant(Grant::new(MANAGER, Access::specific([NORTH]))),
        ),
    ];
    for id in 102..106 {
        batch.push(Mutation::PutUser(
            User::new(
                UserId::new(id),
                ACME,
                &format!("u{id}"),
                &format!("u{id}@acme.example"),
            )
            .with_grant(Grant::new(CASHIER, Access::specific([NORTH]))),
        ));
    }
    batch.push(Mutation::PutUser(
        User::new(SAM, ACME, "sam", "sam.secret@acme.example")
            .with_enabled(false)
            .with_grant(Grant::new(CASHIER, Access::specific([SOUTH]))),
    ));
    e.unchecked_apply(batch).unwrap();
    e
}

fn cashier_at_north(id: u64, username: &str, email: &str) -> Change<Pos> {
    Change::CreateUser(
        User::new(UserId::new(id), ACME, username, email)
            .with_grant(Grant::new(CASHIER, Access::specific([NORTH]))),
    )
}

/// R9, R20: an actor who may not create users learns nothing from a refused creation about
/// which usernames and e-mails are taken: the answer is the same for a taken name and a
/// free one.
#[test]
fn r20_whether_a_name_is_taken_is_said_only_to_who_may_create_users() {
    let e = engine();
    let answer = |username: &str, email: &str| {
        let err = e
            .dry_run(CASHIER_NORTH, &[cashier_at_north(500, username, email)])
            .unwrap_err();
        let problems: Vec<String> = err
            .problems()
            .iter()
            .map(|p| format!("{:?} {:?}", p.kind(), p.reason().replace(username, "NAME")))
            .collect();
        (err.kind(), problems)
    };
    let taken = answer("SAM", "Sam.Secret@acme.example");
    assert_eq!(taken.0, ErrorKind::NotPermitted);
    assert_eq!(taken, answer("nobody", "nobody@acme.example"));
    // Whoever may create users is told, as creating the user would tell it.
    let err = e
        .dry_run(
            MANAGER_NORTH,
            &[cashier_at_north(500, "u103", "u103@acme.example")],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Duplicate, "{err}");
}

/// R20: the user a clash is with is the crate's own fact: neither `Debug` nor `Display` of
/// the error or its problems names a user the actor may not see.
#[test]
fn r20_a_clash_with_a_hidden_user_never_names_it() {
    let e = engine();
    let err = e
        .dry_run(
            MANAGER_NORTH,
            &[cashier_at_north(500, "sam", "new@acme.example")],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Duplicate, "{err}");
    let shown = format!("{err} {err:?} {:?}", err.problems());
    assert!(!shown.contains("106"), "{shown}");
    assert!(!shown.contains("sam.secret"), "{shown}");
}

/// A problem's change, kind, field and object.
type Found<'a> = (Option<usize>, ErrorKind, Option<&'a str>, Option<Key>);

#[test]
fn a_refused_batch_lists_every_problem_on_the_change_at_fault() {
    let e = engine();
    let before = state(&e);
    let batch = vec![
        // 0: two problems of its own (R16): a username with a space, an e-mail without `@`.
        Change::CreateUser(
            User::new(UserId::new(300), ACME, "bad name", "bad-address")
                .with_grant(Grant::new(CASHIER, Access::specific([NORTH]))),
        ),
        // 1: fine on its own.
        Change::CreateUser(
            User::new(UserId::new(301), ACME, "bo", "bo@acme.example")
                .with_grant(Grant::new(CASHIER, Access::specific([NORTH]))),
        ),
        // 2: a role at the manager's own level (R7).
        Change::CreateRole(Role::new(
            RoleId::new(60),
            ACME,
            "Deputy",
            Level::new(2).unwrap(),
            Pos::SELL,
        )),
        // 3: a user that does not exist.
        Change::DisableUser(UserId::new(999)),
        // 4: takes the username of change 1 (R16, unique ignoring case).
        Change::CreateUser(
            User::new(UserId::new(302), ACME, "BO", "bo2@acme.example")
                .with_grant(Grant::new(CASHIER, Access::specific([NORTH]))),
        ),
    ];
    let err = e.apply_all(MANAGER_NORTH, batch.clone()).unwrap_err();
    assert_eq!(state(&e), before, "a refused batch changed the engine");
    // The error is the first problem: authorization is judged change by change, first.
    assert_eq!(err.kind(), ErrorKind::Hierarchy, "{err}");
    let found: Vec<Found> = err
        .problems()
        .iter()
        .map(|p| (p.change(), p.kind(), p.field(), p.key()))
        .collect();
    assert_eq!(
        found,
        [
            (Some(2), ErrorKind::Hierarchy, None, None),
            (
                Some(3),
                ErrorKind::NotFound,
                None,
                Some(Key::from(UserId::new(999)))
            ),
            (Some(0), ErrorKind::InvalidInput, Some("username"), None),
            (Some(0), ErrorKind::InvalidInput, Some("e-mail"), None),
            (
                Some(4),
                ErrorKind::Duplicate,
                Some("username"),
                Some(Key::from(UserId::new(302)))
            ),
        ],
        "{err}"
    );
    // The message is the first problem's, as a single refusal's always was.
    assert_eq!(err.to_string(), err.problems()[0].reason());
    // The dry run plans the same batch the same way, and changes nothing.
    let dry = e.dry_run(MANAGER_NORTH, &batch).unwrap_err();
    assert_eq!(dry.problems(), err.problems());
    assert_eq!(state(&e), before);
    // Without the refused changes the batch goes in.
    let fine: Vec<Change<Pos>> = batch
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 1)
        .map(|(_, c)| c.clone())
        .collect();
    e.apply_all(MANAGER_NORTH, fine).unwrap();
    assert_eq!(
        e.snapshot().user(UserId::new(301)).map(User::username),
        Some("bo")
    );
}

#[test]
fn r12_a_seat_limit_excess_is_put_on_the_last_changes_that_enable_a_user() {
    let e = engine();
    // Acme allows 10 enabled users and has 6: five new enabled cashiers are one too many,
    // and a disabled one in between takes no seat.
    let cashier = |id: u64, enabled: bool| {
        Change::CreateUser(
            User::new(
                UserId::new(id),
                ACME,
                &format!("c{id}"),
                &format!("c{id}@acme.example"),
            )
            .with_enabled(enabled)
            .with_grant(Grant::new(CASHIER, Access::specific([NORTH]))),
        )
    };
    let enabled = e.snapshot().users(ACME).filter(|u| u.is_enabled()).count();
    assert_eq!(enabled, 6);
    let batch = vec![
        cashier(300, true),
        cashier(301, true),
        cashier(302, false),
        cashier(303, true),
        cashier(304, true),
        cashier(305, true),
    ];
    let err = e.dry_run(OWNER, &batch).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit);
    // The batch as a whole: 11 enabled users for a limit of 10.
    assert_eq!(
        (err.enabled_users(), err.seat_limit()),
        (Some(11), Some(10))
    );
    let found: Vec<(Option<usize>, Option<&str>)> = err
        .problems()
        .iter()
        .map(|p| (p.change(), p.field()))
        .collect();
    assert_eq!(found, [(Some(5), Some("enabled"))], "{err}");
    // A change that enables a user who ends the batch disabled takes no seat, and is not
    // blamed: here the excess is on the change that enabled the user still enabled last.
    let mut later_disabled = batch.clone();
    later_disabled.insert(5, cashier(306, true));
    later_disabled.push(Change::DisableUser(UserId::new(305)));
    let err = e.dry_run(OWNER, &later_disabled).unwrap_err();
    let found: Vec<Option<usize>> = err.problems().iter().map(|p| p.change()).collect();
    assert_eq!(found, [Some(5)], "{err}");
    // Leaving the last one disabled fits.
    let mut fits = batch.clone();
    fits[5] = cashier(305, false);
    e.dry_run(OWNER, &fits).unwrap();
}
