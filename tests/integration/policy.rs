//! Policy files and policy tests (feature `policy`): the seed files pass their tests, a file
//! round-trips through an engine, `apply` is idempotent as a system and as a user, refusals
//! change nothing, former names are kept (R14), every problem of a file is named by line, and
//! on random pairs of worlds applying the second brings the engine exactly to it.

use proptest::prelude::*;
use shopguard::audit::{AuditActor, MemoryAudit};
use shopguard::catalog::omnichannel::Omnichannel;
use shopguard::catalog::oms::Oms;
use shopguard::catalog::payments::Payments;
use shopguard::catalog::pos::Pos;
use shopguard::policy::{Policy, PolicyTests, run_test_file};
use shopguard::{AccountId, Catalog, Engine, ErrorKind, Mutation, RoleId, UserId};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies")
}

fn system() -> AuditActor {
    AuditActor::System("policy tests".into())
}

/// The account as the engine holds it, as a policy; its objects sorted by id.
fn held<P: Catalog>(engine: &Engine<P>, account: AccountId) -> Policy<P> {
    Policy::export(&engine.snapshot(), account, &system(), None).unwrap()
}

/// What a policy says, as a set of puts sorted by object: two policies are the same account
/// when these are equal.
fn contents<P: Catalog>(p: &Policy<P>) -> Vec<String> {
    let mut all: Vec<String> = p.mutations().iter().map(|m| format!("{m:?}")).collect();
    all.sort();
    all
}

#[test]
fn the_four_seed_policies_pass_their_tests() {
    for (name, report) in [
        (
            "pos_outlets",
            run_test_file::<Pos>(seeds().join("pos_outlets.test.toml")),
        ),
        (
            "omnichannel_groups",
            run_test_file::<Omnichannel>(seeds().join("omnichannel_groups.test.toml")),
        ),
        (
            "payments_portal",
            run_test_file::<Payments>(seeds().join("payments_portal.test.toml")),
        ),
        (
            "oms_hierarchy",
            run_test_file::<Oms>(seeds().join("oms_hierarchy.test.toml")),
        ),
    ] {
        let report = report.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            report.total() >= 15,
            "{name}: {} expectations",
            report.total()
        );
        assert!(report.is_success(), "{name}: {report}");
    }
}

#[track_caller]
fn round_trip<P: Catalog>(file: &str) {
    let policy = Policy::<P>::read(seeds().join(file)).unwrap();
    policy.validate().unwrap();
    let engine = Engine::<P>::new();
    let applied = policy.apply(&engine, &system()).unwrap();
    assert!(applied.applied().is_some());
    let account = policy.account().id();
    // What the engine holds is the file; written out and read back, still the file.
    let out = held(&engine, account);
    assert_eq!(contents(&out), contents(&policy), "{file}");
    let text = out.to_toml().unwrap();
    let back = Policy::<P>::from_toml(&text).unwrap();
    assert_eq!(contents(&back), contents(&policy), "{file}:\n{text}");
    assert!(back.diff(&engine.snapshot(), &system()).unwrap().is_empty());
}

#[test]
fn each_seed_policy_round_trips_through_an_engine_and_its_export() {
    round_trip::<Pos>("pos_outlets.toml");
    round_trip::<Omnichannel>("omnichannel_groups.toml");
    round_trip::<Payments>("payments_portal.toml");
    round_trip::<Oms>("oms_hierarchy.toml");
}

const SHOP: &str = r#"
catalog = "pos"
[account]
id = 1
name = "Corner Shop"
seat_limit = 4
[[stores]]
id = 10
name = "North"
[[stores]]
id = 11
name = "South"
[[roles]]
id = 1
name = "Admin"
level = 1
permissions = "all"
[[roles]]
id = 3
name = "Cashier"
level = 3
permissions = ["SELL", "OPEN_REGISTER", "CLOSE_REGISTER"]
[[users]]
id = 100
username = "olivia"
email = "olivia@corner.example"
owner = true
role = "Admin"
stores = "all"
[[users]]
id = 102
username = "cara"
email = "cara@corner.example"
role = "Cashier"
stores = ["North"]
"#;

#[test]
fn applying_the_same_file_twice_writes_and_audits_nothing_the_second_time() {
    let audit = Arc::new(MemoryAudit::<Pos>::new());
    let engine = Engine::<Pos>::new().with_audit(audit.clone());
    let policy = Policy::<Pos>::from_toml(SHOP).unwrap();
    let first = policy.apply(&engine, &system()).unwrap();
    assert_eq!(first.applied().map(|a| a.revision()), Some(1));
    assert_eq!(audit.records().len(), 1);
    let second = policy.apply(&engine, &system()).unwrap();
    assert!(second.applied().is_none() && second.diff().is_empty());
    assert_eq!(second.diff().to_string(), "nothing to change");
    assert_eq!((engine.revision(), audit.records().len()), (1, 1));

    // As the owner: a changed file applies as changes of hers, then nothing again.
    let olivia = AuditActor::User(UserId::new(100));
    let changed = SHOP
        .replace("seat_limit = 4", "seat_limit = 3")
        .replace("stores = [\"North\"]", "stores = [\"North\", \"South\"]");
    let changed = Policy::<Pos>::from_toml(&changed).unwrap();
    let diff = changed.diff(&engine.snapshot(), &olivia).unwrap();
    assert_eq!(
        diff.to_string(),
        "~ update user `cara` (#102): grants `Cashier` at [North] → `Cashier` at [North, South]\n\
         ~ set seat limit `Corner Shop` (#1): seat limit 4 → 3"
    );
    let applied = changed.apply(&engine, &olivia).unwrap();
    assert_eq!(applied.applied().map(|a| a.revision()), Some(2));
    let records = audit.records();
    assert_eq!(records.len(), 3, "one record per change");
    assert!(records[1..].iter().all(|r| r.actor == olivia));
    assert!(changed.apply(&engine, &olivia).unwrap().applied().is_none());
    assert_eq!(
        contents(&held(&engine, AccountId::new(1))),
        contents(&changed)
    );
}

#[test]
fn a_refused_apply_changes_nothing_and_names_each_entry_at_fault() {
    let engine = Engine::<Pos>::new();
    Policy::<Pos>::from_toml(SHOP)
        .unwrap()
        .apply(&engine, &system())
        .unwrap();
    let before = contents(&held(&engine, AccountId::new(1)));
    let revision = engine.revision();
    // Cara (a cashier) would open a store and lower the plan: neither is hers.
    let text = SHOP.replace("seat_limit = 4", "seat_limit = 3").replace(
        "[[roles]]\nid = 1",
        "[[stores]]\nid = 12\nname = \"East\"\n[[roles]]\nid = 1",
    );
    let policy = Policy::<Pos>::from_toml(&text).unwrap();
    let cara = AuditActor::User(UserId::new(102));
    let diff = policy.diff(&engine.snapshot(), &cara).unwrap();
    let err = policy.apply(&engine, &cara).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted);
    let at_fault: Vec<&str> = err
        .problems()
        .iter()
        .filter_map(|p| diff.entry_of(p).map(|e| e.action()))
        .collect();
    assert!(at_fault.contains(&"create store"), "{at_fault:?}");
    assert!(at_fault.contains(&"set seat limit"), "{at_fault:?}");
    // The line of the new store's table in the file.
    let east = diff.entries().iter().find(|e| e.name() == "East").unwrap();
    assert_eq!(east.line(), Some(13));
    assert_eq!(
        (
            engine.revision(),
            contents(&held(&engine, AccountId::new(1)))
        ),
        (revision, before)
    );
    // A cashier sees no users: the diff says nothing about them, nor about the owner.
    assert!(
        diff.entries()
            .iter()
            .all(|e| e.action() != "transfer ownership")
    );
}

#[test]
fn r14_a_renamed_role_keeps_its_former_name_as_a_system_and_as_a_user() {
    let renamed = SHOP.replace("name = \"Cashier\"", "name = \"Till operator\"");
    let renamed = renamed.replace("role = \"Cashier\"", "role = \"Till operator\"");
    let mut held_roles = Vec::new();
    for by in [system(), AuditActor::User(UserId::new(100))] {
        let engine = Engine::<Pos>::new();
        Policy::<Pos>::from_toml(SHOP)
            .unwrap()
            .apply(&engine, &system())
            .unwrap();
        let policy = Policy::<Pos>::from_toml(&renamed).unwrap();
        let applied = policy.apply(&engine, &by).unwrap();
        assert_eq!(applied.diff().entries().len(), 1, "{}", applied.diff());
        let snapshot = engine.snapshot();
        let role = snapshot.role(RoleId::new(3)).unwrap();
        assert_eq!(role.name(), "Till operator");
        assert_eq!(role.former_names(), ["Cashier"]);
        // An old file naming the role by its former name still resolves.
        assert_eq!(
            snapshot
                .role_named(AccountId::new(1), "cashier")
                .map(|r| r.id()),
            Some(RoleId::new(3))
        );
        // The file need not list the former name: nothing more to change.
        assert!(policy.diff(&snapshot, &by).unwrap().is_empty());
        held_roles.push(format!("{role:?}"));
    }
    assert_eq!(
        held_roles[0], held_roles[1],
        "both ways write the same role"
    );
}

#[test]
fn a_policy_file_lists_every_problem_with_its_line_and_key() {
    let text = r#"
[account]
id = 1
name = "Shop"

[[stores]]
id = 10
name = "North"

[[stores]]
id = 10
name = "North"

[[roles]]
id = 1
name = "Admin"
level = 0
permissions = ["SELL", "FLY"]

[[users]]
id = 100
username = "a"
email = "a@shop.example"
owner = true
role = "Boss"
stores = ["Nowhere"]

[[users]]
id = 101
username = "b"
email = "b@shop.example"
owner = true
role = "Admin"
"#;
    let err = Policy::<Pos>::from_toml(text).unwrap_err();
    let got: Vec<(u64, Option<&str>, ErrorKind)> = err
        .problems()
        .iter()
        .map(|p| (p.line(), p.field(), p.kind()))
        .collect();
    assert_eq!(
        got,
        [
            (10, Some("id"), ErrorKind::Duplicate),
            (10, Some("name"), ErrorKind::Duplicate),
            (17, Some("level"), ErrorKind::InvalidInput),
            (18, Some("permissions"), ErrorKind::InvalidInput),
            (25, Some("role"), ErrorKind::NotFound),
            (26, Some("stores"), ErrorKind::NotFound),
            (32, Some("owner"), ErrorKind::Owner),
            (33, Some("stores"), ErrorKind::InvalidInput),
        ],
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("invalid policy file: 8 problems: line 10")
    );

    // Syntax and shape: the parser's one problem, at its line.
    let err =
        Policy::<Pos>::from_toml("[account]\nid = 1\nname = \"Shop\"\nseats = 3\n").unwrap_err();
    assert_eq!(err.problems()[0].line(), 4);
    assert!(err.problems()[0].reason().contains("unknown field `seats`"));
    let err = Policy::<Pos>::from_toml("[account]\nid = -1\nname = \"Shop\"\n").unwrap_err();
    assert_eq!(err.problems()[0].line(), 2);
    let err = Policy::<Pos>::from_toml(
        "[account]\nid = 1\nname = \"S\"\n[[roles]]\nid = 1\nname = \"R\"\nlevel = 1\npermissions = \"SELL\"\n",
    )
    .unwrap_err();
    assert!(
        err.problems()[0]
            .reason()
            .contains("write permissions as a list")
    );
    // A file larger than the limit is refused before it is parsed.
    let huge = "#".repeat(shopguard::policy::MAX_FILE_BYTES + 1);
    assert_eq!(
        Policy::<Pos>::from_toml(&huge).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn a_policy_test_file_names_each_mismatch_and_each_malformed_expectation() {
    let policy = Policy::<Pos>::from_toml(SHOP).unwrap();
    let tests = PolicyTests::from_toml(
        r#"
[[decision]]
user = "cara"
permission = "SELL"
store = "South"
expect = "deny"
reason = "outside_scope:channel"

[[decision]]
user = "zed"
permission = "SELL"
expect = "deny"

[[who_can]]
permission = "SELL"
store = "North"
expect = ["olivia"]

[[scope_for]]
user = "cara"
permission = "SELL"
stores = ["North", "South"]

[[change]]
actor = "cara"
delete_user = "olivia"
expect = "applies"
"#,
    )
    .unwrap();
    let report = policy.test(&tests).unwrap();
    let got: Vec<(u64, &str, &str)> = report
        .mismatches()
        .iter()
        .map(|m| (m.line(), m.section(), m.actual()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "decision", "deny (outside_scope:store)"),
            (9, "decision", "nothing: no user is named `zed`"),
            (14, "who_can", "[cara, olivia]"),
            (19, "scope_for", "stores [North]"),
            (24, "change", "not_found (user `user#100` not found)"),
        ]
    );
    assert!(report.clone().into_result().is_err());
    assert!(
        report
            .to_string()
            .starts_with("5 expectations, 5 mismatches")
    );

    let err = PolicyTests::from_toml(
        "[[change]]\nactor = \"cara\"\nexpect = \"maybe\"\ndelete_user = \"a\"\ndisable_user = \"b\"\n",
    )
    .unwrap_err();
    let fields: Vec<Option<&str>> = err.problems().iter().map(|p| p.field()).collect();
    assert_eq!(fields, [Some("change"), Some("expect")], "{err}");
}

// ---------------------------------------------------------------------------------------------
// Random worlds: applying B over A brings the engine exactly to B, as a system and as the
// owner, and applying B again changes nothing.

const STORES: [(u64, &str); 4] = [(10, "North"), (11, "South"), (12, "East"), (13, "West")];
const PERMS: [&str; 8] = [
    "SELL",
    "OPEN_REGISTER",
    "CLOSE_REGISTER",
    "VIEW_REPORTS",
    "MANAGE_OUTLETS",
    "VIEW_USERS",
    "MANAGE_USERS",
    "MANAGE_ROLES",
];

#[derive(Clone, Debug)]
struct World {
    stores: Vec<bool>,
    /// Roles 2..=5: present, level (2 or 3), permission bits, store ceiling (bits; 0 = all).
    roles: Vec<(bool, u8, u8, u8)>,
    /// Users 101..=106: present, role among the present ones, stores (bits; 0 = all),
    /// enabled, timezone.
    users: Vec<(bool, u8, u8, bool, bool)>,
    seat_limit: Option<u32>,
    billing: bool,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(any::<bool>(), 4),
        prop::collection::vec((any::<bool>(), 2u8..=3, any::<u8>(), 0u8..16), 4),
        prop::collection::vec(
            (
                any::<bool>(),
                any::<u8>(),
                0u8..16,
                any::<bool>(),
                any::<bool>(),
            ),
            6,
        ),
        prop::option::of(7u32..20),
        any::<bool>(),
    )
        .prop_map(|(stores, roles, users, seat_limit, billing)| World {
            stores,
            roles,
            users,
            seat_limit,
            billing,
        })
}

/// A set of the present stores, by name, from bits (0: all).
fn stores_of(world: &World, bits: u8) -> String {
    if bits == 0 {
        return "\"all\"".into();
    }
    let names: Vec<String> = STORES
        .iter()
        .enumerate()
        .filter(|(i, _)| world.stores[*i] && bits & (1 << i) != 0)
        .map(|(_, (_, n))| format!("\"{n}\""))
        .collect();
    format!("[{}]", names.join(", "))
}

impl World {
    fn toml(&self) -> String {
        let mut t = String::from("catalog = \"pos\"\n[account]\nid = 1\nname = \"Shop\"\n");
        if let Some(n) = self.seat_limit {
            t.push_str(&format!("seat_limit = {n}\n"));
        }
        if self.billing {
            t.push_str("entity_level_billing = true\n");
        }
        for (i, (id, name)) in STORES.iter().enumerate() {
            if self.stores[i] {
                t.push_str(&format!("[[stores]]\nid = {id}\nname = \"{name}\"\n"));
            }
        }
        t.push_str("[[roles]]\nid = 1\nname = \"Admin\"\nlevel = 1\npermissions = \"all\"\n");
        let mut present = vec![1u64];
        for (i, (here, level, bits, ceiling)) in self.roles.iter().enumerate() {
            if !here {
                continue;
            }
            let id = i as u64 + 2;
            present.push(id);
            let perms: Vec<String> = PERMS
                .iter()
                .enumerate()
                .filter(|(b, _)| bits & (1 << b) != 0)
                .map(|(_, p)| format!("\"{p}\""))
                .collect();
            t.push_str(&format!(
                "[[roles]]\nid = {id}\nname = \"Role {id}\"\nlevel = {level}\npermissions = [{}]\nstores = {}\n",
                perms.join(", "),
                stores_of(self, *ceiling)
            ));
        }
        t.push_str(
            "[[users]]\nid = 100\nusername = \"owner\"\nemail = \"owner@shop.example\"\nowner = true\nrole = \"Admin\"\nstores = \"all\"\n",
        );
        for (i, (here, role, stores, enabled, madrid)) in self.users.iter().enumerate() {
            if !here {
                continue;
            }
            let id = 101 + i as u64;
            let role = present[*role as usize % present.len()];
            t.push_str(&format!(
                "[[users]]\nid = {id}\nusername = \"u{id}\"\nemail = \"u{id}@shop.example\"\nenabled = {enabled}\ntimezone = \"{}\"\nrole = {role}\nstores = {}\n",
                if *madrid { "Europe/Madrid" } else { "UTC" },
                stores_of(self, *stores)
            ));
        }
        t
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn applying_a_file_brings_the_engine_exactly_to_it(a in world(), b in world()) {
        let (a, b) = (
            Policy::<Pos>::from_toml(&a.toml()).unwrap(),
            Policy::<Pos>::from_toml(&b.toml()).unwrap(),
        );
        let account = AccountId::new(1);
        let owner = AuditActor::User(UserId::new(100));
        for by in [system(), owner] {
            let engine = Engine::<Pos>::new();
            a.apply(&engine, &system()).unwrap();
            prop_assert_eq!(contents(&held(&engine, account)), contents(&a));
            let applied = b.apply(&engine, &by);
            prop_assert!(applied.is_ok(), "as {:?}: {}", by, applied.err().map(|e| e.to_string()).unwrap_or_default());
            prop_assert_eq!(
                contents(&held(&engine, account)),
                contents(&b),
                "as {:?}, after {}",
                by,
                applied.map(|x| x.diff().to_string()).unwrap_or_default()
            );
            let revision = engine.revision();
            let again = b.apply(&engine, &by).unwrap();
            prop_assert!(again.applied().is_none());
            prop_assert_eq!(engine.revision(), revision);
        }
    }
}

#[test]
fn bootstrap_writes_what_the_file_says_and_nothing_of_other_accounts() {
    let engine = Engine::<Pos>::new();
    engine
        .unchecked_apply([Mutation::PutAccount(shopguard::Account::new(
            AccountId::new(2),
            "Other",
        ))])
        .unwrap();
    let policy = Policy::<Pos>::from_toml(SHOP).unwrap();
    policy.apply(&engine, &system()).unwrap();
    let snapshot = engine.snapshot();
    assert_eq!(snapshot.accounts().count(), 2);
    assert_eq!(
        snapshot.account(AccountId::new(2)).map(|a| a.name()),
        Some("Other")
    );
    // An id another account holds is refused, with the line of the object.
    let clash = SHOP.replace("id = 1\nname = \"Corner Shop\"", "id = 3\nname = \"Third\"");
    let err = Policy::<Pos>::from_toml(&clash)
        .unwrap()
        .apply(&engine, &system())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongAccount, "{err}");
}

#[test]
fn disabling_a_user_is_a_change_of_its_own() {
    let engine = Engine::<Pos>::new();
    let a = SHOP.to_owned();
    let b = SHOP.replace("role = \"Cashier\"", "enabled = false\nrole = \"Cashier\"");
    Policy::<Pos>::from_toml(&a)
        .unwrap()
        .apply(&engine, &system())
        .unwrap();
    let b = Policy::<Pos>::from_toml(&b).unwrap();
    let diff = b.diff(&engine.snapshot(), &system()).unwrap();
    assert_eq!(diff.to_string(), "~ disable user `cara` (#102)");
    b.apply(&engine, &system()).unwrap();
    assert_eq!(contents(&held(&engine, AccountId::new(1))), contents(&b));
    // As the owner, of a level-1 user.
    let engine = Engine::<Pos>::new();
    let a = SHOP.replace(
        "role = \"Cashier\"\nstores = [\"North\"]",
        "role = \"Admin\"\nstores = \"all\"",
    );
    let b = a.replace("role = \"Admin\"\nstores = \"all\"\n\"", "X");
    let b = b.replace(
        "username = \"cara\"",
        "username = \"cara\"\nenabled = false",
    );
    Policy::<Pos>::from_toml(&a)
        .unwrap()
        .apply(&engine, &system())
        .unwrap();
    let b = Policy::<Pos>::from_toml(&b).unwrap();
    let owner = AuditActor::User(UserId::new(100));
    let applied = b.apply(&engine, &owner).unwrap();
    assert_eq!(applied.diff().to_string(), "~ disable user `cara` (#102)");
    assert!(applied.applied().is_some());
    assert!(
        !engine
            .snapshot()
            .user(UserId::new(102))
            .unwrap()
            .is_enabled()
    );
}

#[test]
fn r11_a_file_naming_another_owner_transfers_ownership_when_the_owner_applies_it() {
    // adam, a second admin, becomes the owner.
    let with_adam = SHOP.replace(
        "[[users]]\nid = 102",
        "[[users]]\nid = 103\nusername = \"adam\"\nemail = \"adam@corner.example\"\nrole = \"Admin\"\nstores = \"all\"\n[[users]]\nid = 102",
    );
    let moved = with_adam
        .replace("owner = true\n", "")
        .replace("username = \"adam\"", "username = \"adam\"\nowner = true");
    for (by, may) in [
        (system(), true),
        (AuditActor::User(UserId::new(100)), true),
        (AuditActor::User(UserId::new(103)), false),
    ] {
        let engine = Engine::<Pos>::new();
        Policy::<Pos>::from_toml(&with_adam)
            .unwrap()
            .apply(&engine, &system())
            .unwrap();
        let policy = Policy::<Pos>::from_toml(&moved).unwrap();
        let diff = policy.diff(&engine.snapshot(), &by).unwrap();
        assert_eq!(
            diff.to_string(),
            "~ transfer ownership `adam` (#103): from `olivia`",
            "as {by:?}"
        );
        let result = policy.apply(&engine, &by);
        let owner = engine
            .snapshot()
            .users(AccountId::new(1))
            .find(|u| u.is_owner())
            .map(|u| u.id());
        if may {
            assert!(result.is_ok(), "as {by:?}: {:?}", result.err());
            assert_eq!(owner, Some(UserId::new(103)));
            assert_eq!(
                contents(&held(&engine, AccountId::new(1))),
                contents(&policy)
            );
        } else {
            // Only the owner transfers ownership.
            assert_eq!(result.unwrap_err().kind(), ErrorKind::NotPermitted);
            assert_eq!(owner, Some(UserId::new(100)));
        }
    }
}

/// A file of `n` stores, `n` roles all called `Clerk` and `n` users, each user's grant
/// naming a store: about 200 bytes an object.
fn crowded_file(n: usize) -> String {
    let mut text = String::from("[account]\nid = 1\nname = \"Shop\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[stores]]\nid = {}\nname = \"S{i}\"\n",
            10_000 + i
        ));
    }
    text.push_str("[[roles]]\nid = 1\nname = \"Admin\"\nlevel = 1\npermissions = \"all\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[roles]]\nid = {}\nname = \"Clerk\"\nlevel = 3\npermissions = [\"SELL\"]\n",
            100_000 + i
        ));
    }
    for i in 0..n {
        text.push_str(&format!(
            "[[users]]\nid = {}\nusername = \"u{i}\"\nemail = \"u{i}@shop.example\"\nrole = \"Admin\"\nstores = [\"S{i}\"]\n",
            1_000_000 + i
        ));
    }
    text
}

#[test]
fn a_large_file_reads_with_every_line_right() {
    // Each object's line was once found by counting the newlines before it, and each role's
    // name was checked against every role already sharing it: both squared in the file's
    // size, minutes for this file. Its cost is measured by `cargo bench --bench policy`, not
    // here; this test holds the lines the linear lookup gives to those of the file.
    let text = crowded_file(10_000);
    assert!(text.len() > 1 << 20, "{} bytes", text.len());
    let policy = Policy::<Pos>::from_toml(&text).unwrap();
    assert_eq!(policy.users().len(), 10_000);
    // Every user's line is the line of its `[[users]]` header, counted plainly.
    let headers: Vec<u64> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[users]]")
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert_eq!(headers.len(), 10_000);
    for (user, header) in policy.users().iter().zip(&headers) {
        assert_eq!(
            policy.line_of(user.id()),
            Some(*header),
            "line of {}",
            user.id()
        );
    }
}

#[test]
fn a_policy_test_that_could_not_fail_is_refused_with_its_line() {
    // Each of these passed whatever the engine answered: a scope expectation naming no
    // dimension, a deny reason on an allowed decision, a role on a denied one.
    let policy = Policy::<Pos>::from_toml(SHOP).unwrap();
    let vacuous = [
        (
            "[[scope_for]]\nuser = \"cara\"\npermission = \"SELL\"\n",
            "scope_for",
        ),
        (
            "[[decision]]\nuser = \"cara\"\npermission = \"SELL\"\nstore = \"North\"\nexpect = \"allow\"\nreason = \"outside_scope:store\"\n",
            "reason",
        ),
        (
            "[[decision]]\nuser = \"cara\"\npermission = \"SELL\"\nstore = \"South\"\nexpect = \"deny\"\nby_role = \"Admin\"\n",
            "by_role",
        ),
    ];
    for (text, field) in vacuous {
        let err = PolicyTests::from_toml(&format!("\n{text}")).unwrap_err();
        let got: Vec<(u64, Option<&str>)> = err
            .problems()
            .iter()
            .map(|p| (p.line(), p.field()))
            .collect();
        assert_eq!(got, [(2, Some(field))], "{text}: {err}");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    // The same expectations, saying something, are checked: these are wrong and fail.
    let wrong = PolicyTests::from_toml(
        "[[scope_for]]\nuser = \"cara\"\npermission = \"SELL\"\nstores = \"all\"\n\
         [[decision]]\nuser = \"cara\"\npermission = \"SELL\"\nstore = \"North\"\nexpect = \"allow\"\nby_role = \"Admin\"\n",
    )
    .unwrap();
    assert_eq!(policy.test(&wrong).unwrap().mismatches().len(), 2);
}
