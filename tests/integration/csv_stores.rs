//! CSV templates per catalog (R18, issue 17): the POS, payments and omnichannel templates have
//! a Stores column, so a roster round-trips and a store-limited manager uploads users at its
//! own stores; and the bulk upload of sources (seed 003's *Manage sources*), each row a
//! `CreateSource` or `DeleteSource` change.

use std::sync::Arc;

use proptest::prelude::*;
use shopguard::audit::{MemoryAudit, Outcome};
use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::payments::{self, Payments};
use shopguard::catalog::pos::{self, Pos};
use shopguard::import::{CsvLimits, SOURCES_HEADER};
use shopguard::{
    Access, Account, AccountId, Catalog, Change, Engine, ErrorKind, Grant, Level, Mutation, Role,
    RoleId, Source, SourceId, Store, StoreId, User, UserId, UserTemplate,
};

use crate::fixture::state;

const SHOP: AccountId = AccountId::new(1);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);
const ADMIN: RoleId = RoleId::new(1);
const MANAGER: RoleId = RoleId::new(2);
const CASHIER: RoleId = RoleId::new(3);
const OWNER: UserId = UserId::new(1);
const MARTA: UserId = UserId::new(2); // manager at North
const POS_HEADER: &str = "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n";

fn staff(id: u64, name: &str, role: RoleId, stores: Access<StoreId>) -> User {
    User::new(UserId::new(id), SHOP, name, &format!("{name}@shop.example"))
        .with_grant(Grant::new(role, stores))
}

/// Seed 000: a POS with two outlets, a manager at North who manages the cashiers there, and
/// cashiers at each outlet.
fn pos_shop() -> (Engine<Pos>, Arc<MemoryAudit<Pos>>) {
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::new().with_audit(audit.clone());
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop").with_seat_limit(20)),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(pos::admin(ADMIN, SHOP)),
        Mutation::PutRole(Role::new(
            MANAGER,
            SHOP,
            "Manager",
            Level::below_top(1),
            pos::MANAGER | Pos::VIEW_USERS | Pos::MANAGE_USERS,
        )),
        Mutation::PutRole(pos::cashier(CASHIER, SHOP)),
        Mutation::PutUser(staff(1, "olga", ADMIN, Access::All).with_owner(true)),
        Mutation::PutUser(staff(2, "marta", MANAGER, Access::specific([NORTH]))),
        Mutation::PutUser(staff(3, "ana", CASHIER, Access::specific([NORTH]))),
        Mutation::PutUser(
            staff(4, "sam", CASHIER, Access::specific([SOUTH]))
                .with_enabled(false)
                .with_timezone("Europe/Lisbon")
                .unwrap(),
        ),
        Mutation::PutUser(staff(5, "nico", CASHIER, Access::specific([NORTH, SOUTH]))),
        Mutation::PutUser(staff(6, "noel", CASHIER, Access::None)),
        Mutation::PutUser(User::new(UserId::new(7), SHOP, "idle", "idle@shop.example")),
    ])
    .unwrap();
    (e, audit)
}

/// Fresh user ids, never given twice in a run.
fn ids() -> impl FnMut() -> UserId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1000);
    || UserId::new(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

fn upload<P: Catalog>(
    e: &Engine<P>,
    actor: UserId,
    csv: &str,
) -> Result<shopguard::import::Uploaded, shopguard::Error> {
    e.upload_users_csv(actor, csv.as_bytes(), &CsvLimits::default(), &mut ids())
}

/// Uploads a bad file; its problems as `line column: reason` lines (the engine unchanged).
#[track_caller]
fn problems<P: Catalog>(e: &Engine<P>, actor: UserId, csv: &str) -> Vec<String> {
    let before = state(e);
    let err = upload(e, actor, csv).expect_err("the upload should be refused");
    assert_eq!(err.kind(), err.problems()[0].kind(), "{err}");
    assert_eq!(err.field(), err.problems()[0].column(), "{err}");
    assert_eq!(state(e), before, "a refused upload changed the engine");
    err.problems()
        .iter()
        .map(|p| format!("{} {}: {}", p.line(), p.column().unwrap_or("-"), p.reason()))
        .collect()
}

#[test]
fn each_catalog_has_its_template_and_oms_keeps_seed_003s() {
    assert_eq!(Oms::user_template(), UserTemplate::Oms);
    assert_eq!(
        Oms::user_template().columns(),
        shopguard::import::HEADER.as_slice()
    );
    assert_eq!(Pos::user_template(), UserTemplate::Stores);
    assert_eq!(Payments::user_template(), UserTemplate::Stores);
    assert_eq!(
        shopguard::catalog::omnichannel::Omnichannel::user_template(),
        UserTemplate::StoresAndChannels
    );
    for t in [UserTemplate::Stores, UserTemplate::StoresAndChannels] {
        assert!(t.columns().contains(&"Stores"), "{t:?}");
    }
    // A file in another catalog's template is refused at its header.
    let (e, _) = pos_shop();
    let oms_file = format!(
        "{}\nx,x@shop.example,1,0,0,UTC,Cashier,,Create\n",
        shopguard::import::HEADER.join(",")
    );
    let p = problems(&e, OWNER, &oms_file);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with(
            "1 -: the header must be `Username,E-mail,Enabled,Timezone,Role,Stores,Action`"
        ),
        "{p:?}"
    );
}

#[test]
fn r18_a_pos_roster_downloads_and_uploads_back_unchanged() {
    let (e, audit) = pos_shop();
    let down = e.snapshot().download_users_csv(OWNER).unwrap();
    assert_eq!(
        down,
        "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n\
         olga,olga@shop.example,1,UTC,Admin,All,Update\n\
         marta,marta@shop.example,1,UTC,Manager,North,Update\n\
         ana,ana@shop.example,1,UTC,Cashier,North,Update\n\
         sam,sam@shop.example,0,Europe/Lisbon,Cashier,South,Update\n\
         nico,nico@shop.example,1,UTC,Cashier,\"North, South\",Update\n\
         noel,noel@shop.example,1,UTC,Cashier,None,Update\n\
         idle,idle@shop.example,1,UTC,,,Update\n"
    );
    let (before, revision, records) = (state(&e), e.revision(), audit.records().len());
    let up = upload(&e, OWNER, &down).unwrap();
    assert_eq!((up.created(), up.updated(), up.unchanged()), (0, 0, 7));
    assert_eq!(up.applied().revision(), revision);
    assert_eq!(state(&e), before);
    assert_eq!(
        audit.records().len(),
        records,
        "an unchanged upload audits nothing"
    );
    assert_eq!(e.snapshot().download_users_csv(OWNER).unwrap(), down);
    // The manager's download holds the users it may edit (itself included), and uploads back
    // unchanged too.
    let mine = e.snapshot().download_users_csv(MARTA).unwrap();
    assert_eq!(
        mine,
        "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n\
         marta,marta@shop.example,1,UTC,Manager,North,Update\n\
         ana,ana@shop.example,1,UTC,Cashier,North,Update\n\
         noel,noel@shop.example,1,UTC,Cashier,None,Update\n\
         idle,idle@shop.example,1,UTC,,,Update\n"
    );
    assert_eq!(upload(&e, MARTA, &mine).unwrap().unchanged(), 4);
    assert_eq!(state(&e), before);
}

#[test]
fn r18_a_store_limited_manager_uploads_cashiers_at_its_store_only() {
    let (e, audit) = pos_shop();
    let file = format!(
        "{POS_HEADER}cara,cara@shop.example,1,UTC,Cashier,North,Create\n\
         dino,dino@shop.example,1,Europe/Madrid,cashier,north,Create\n"
    );
    let up = upload(&e, MARTA, &file).unwrap();
    assert_eq!(up.created(), 2);
    let s = e.snapshot();
    for name in ["cara", "dino"] {
        let u = s.users(SHOP).find(|u| u.username() == name).unwrap();
        assert_eq!(
            u.grants(),
            [Grant::new(CASHIER, Access::specific([NORTH]))],
            "{name}"
        );
    }
    // R19: each user created is audited as the manager's change.
    let created = audit
        .records()
        .iter()
        .filter(|r| r.actor.user() == Some(MARTA) && matches!(r.change, Change::CreateUser(_)))
        .count();
    assert_eq!(created, 2);
    // `All` is every store, which the manager does not reach.
    let all = format!("{POS_HEADER}eli,eli@shop.example,1,UTC,Cashier,All,Create\n");
    assert_eq!(
        problems(&e, MARTA, &all),
        ["2 Stores: cannot create user `eli`: role `Cashier` would reach stores outside yours"]
    );
}

#[test]
fn r18_a_row_naming_another_store_is_an_error_on_its_stores_cell() {
    let (e, _) = pos_shop();
    // South is not a store the North manager sees: it reads as no store (R20).
    let file = format!(
        "{POS_HEADER}cara,cara@shop.example,1,UTC,Cashier,North,Create\n\
         dino,dino@shop.example,1,UTC,Cashier,South,Create\n\
         eli,eli@shop.example,1,UTC,Cashier,\"North, Atlantis, South\",Create\n"
    );
    assert_eq!(
        problems(&e, MARTA, &file),
        [
            "3 Stores: unknown store `South`",
            "4 Stores: unknown store `Atlantis`, and 1 more",
        ]
    );
    // Its id reads the same as its name; the owner, who sees it, may.
    let by_id = format!("{POS_HEADER}dino,dino@shop.example,1,UTC,Cashier,store#11,Create\n");
    assert_eq!(
        problems(&e, MARTA, &by_id),
        ["2 Stores: unknown store `store#11`"]
    );
    upload(&e, OWNER, &by_id).unwrap();
    let dino = e
        .snapshot()
        .users(SHOP)
        .find(|u| u.username() == "dino")
        .unwrap()
        .clone();
    assert_eq!(
        dino.grants(),
        [Grant::new(CASHIER, Access::specific([SOUTH]))]
    );
}

#[test]
fn r18_a_payments_manager_sees_every_store_but_uploads_at_its_own() {
    // Seed 002: the manager sees every store's name (the store directory), and manages team
    // members of its own stores only: another store is refused on the Stores cell.
    let e = Engine::<Payments>::new();
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Shop")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(payments::administrator(ADMIN, SHOP)),
        Mutation::PutRole(payments::manager(MANAGER, SHOP)),
        Mutation::PutRole(payments::team_member(CASHIER, SHOP)),
        Mutation::PutUser(staff(1, "olga", ADMIN, Access::All).with_owner(true)),
        Mutation::PutUser(staff(2, "mia", MANAGER, Access::specific([NORTH]))),
    ])
    .unwrap();
    let file = format!(
        "{POS_HEADER}tom,tom@shop.example,1,UTC,TEAM_MEMBER,North,Create\n\
         tia,tia@shop.example,1,UTC,TEAM_MEMBER,\"North, South\",Create\n"
    );
    assert_eq!(
        problems(&e, MARTA, &file),
        ["3 Stores: cannot create user `tia`: role `TEAM_MEMBER` would reach stores outside yours"]
    );
    let ok = file.replace("\"North, South\"", "North");
    assert_eq!(upload(&e, MARTA, &ok).unwrap().created(), 2);
}

#[test]
fn r18_an_empty_stores_cell_is_never_all_stores() {
    let (e, _) = pos_shop();
    let file = format!(
        "{POS_HEADER}cara,cara@shop.example,1,UTC,Cashier,,Create\n\
         ana,ana@shop.example,1,UTC,Cashier,,Update\n\
         nico,nico@shop.example,1,UTC,Cashier,\" , \",Update\n"
    );
    assert_eq!(
        problems(&e, OWNER, &file),
        [
            "2 Stores: is empty: name the stores, or write `All` for every store",
            "3 Stores: is empty: name the stores, or write `All` for every store",
            "4 Stores: names no store: name the stores, or write `All` for every store",
        ]
    );
    // An `Update` row with an empty Role and Stores keeps the user's grants; a Stores cell with
    // an empty Role moves the user's role to those stores.
    let file = format!(
        "{POS_HEADER}ana,ana@shop.example,0,UTC,,,Update\n\
         nico,nico@shop.example,1,UTC,,South,Update\n"
    );
    let up = upload(&e, OWNER, &file).unwrap();
    assert_eq!(up.updated(), 2);
    let s = e.snapshot();
    let ana = s.user(UserId::new(3)).unwrap();
    assert!(!ana.is_enabled());
    assert_eq!(
        ana.grants(),
        [Grant::new(CASHIER, Access::specific([NORTH]))]
    );
    let nico = s.user(UserId::new(5)).unwrap();
    assert_eq!(
        nico.grants(),
        [Grant::new(CASHIER, Access::specific([SOUTH]))]
    );
    // A user with no role is given stores only with a role.
    let file = format!("{POS_HEADER}idle,idle@shop.example,1,UTC,,North,Update\n");
    assert_eq!(
        problems(&e, OWNER, &file),
        ["2 Role: a role is required to give the user stores"]
    );
}

#[test]
fn r18_stores_sharing_a_name_are_written_by_id_and_round_trip() {
    let (e, _) = pos_shop();
    e.unchecked_apply([
        Mutation::PutStore(Store::new(StoreId::new(12), SHOP, "north")),
        Mutation::PutStore(Store::new(StoreId::new(13), SHOP, "All")),
        Mutation::PutStore(Store::new(StoreId::new(14), SHOP, "Dock, Pier 4")),
        Mutation::PutStore(Store::new(StoreId::new(15), SHOP, "42")),
        // Named like another store's id: the id form names the store with that id.
        Mutation::PutStore(Store::new(StoreId::new(16), SHOP, "store#10")),
        Mutation::PutUser(staff(
            8,
            "rui",
            CASHIER,
            Access::specific([NORTH, StoreId::new(13), StoreId::new(14), StoreId::new(15)]),
        )),
        Mutation::PutUser(staff(
            9,
            "ida",
            CASHIER,
            Access::specific([StoreId::new(16)]),
        )),
    ])
    .unwrap();
    let down = e.snapshot().download_users_csv(OWNER).unwrap();
    assert!(
        down.contains(
            "rui,rui@shop.example,1,UTC,Cashier,\"store#10, store#13, store#14, store#15\",Update"
        ),
        "{down}"
    );
    assert!(
        down.contains("ida,ida@shop.example,1,UTC,Cashier,store#16,Update"),
        "{down}"
    );
    let before = state(&e);
    assert_eq!(upload(&e, OWNER, &down).unwrap().unchanged(), 9);
    assert_eq!(state(&e), before);
    // A name two stores share is refused, asking for the id.
    let file = format!("{POS_HEADER}zoe,zoe@shop.example,1,UTC,Cashier,NORTH,Create\n");
    assert_eq!(
        problems(&e, OWNER, &file),
        ["2 Stores: more than one store is named `NORTH`: write its id (`store#…`)"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any roster over stores with awkward names (shared, keywords, digits, commas, formula
    /// starts) downloads and uploads back to the same users, changing nothing.
    #[test]
    fn any_pos_roster_round_trips_through_its_template(
        names in prop::collection::vec(
            prop::sample::select(vec!["North", "north", "All", "none", "7", "store#21", "A, B", "=SUM(1)", "'q", "Pier"]),
            1..5,
        ),
        users in prop::collection::vec(
            (any::<bool>(), 0u8..3, prop::collection::vec(0usize..5, 0..4), 0u8..4),
            0..10,
        ),
    ) {
        let (e, _) = pos_shop();
        let mut batch: Vec<Mutation<Pos>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| Mutation::PutStore(Store::new(StoreId::new(20 + i as u64), SHOP, *n)))
            .collect();
        for (i, (enabled, role, stores, shape)) in users.iter().enumerate() {
            let ids: Vec<StoreId> = stores
                .iter()
                .filter(|s| **s < names.len())
                .map(|s| StoreId::new(20 + *s as u64))
                .collect();
            let access = match shape {
                0 => Access::All,
                1 => Access::None,
                _ if ids.is_empty() => Access::All,
                _ => Access::specific(ids),
            };
            let role = [ADMIN, MANAGER, CASHIER][usize::from(*role)];
            batch.push(Mutation::PutUser(
                staff(200 + i as u64, &format!("p{i}"), role, access).with_enabled(*enabled),
            ));
        }
        e.unchecked_apply(batch).unwrap();
        let before = state(&e);
        let down = e.snapshot().download_users_csv(OWNER).unwrap();
        let up = upload(&e, OWNER, &down).unwrap();
        prop_assert_eq!(up.updated() + up.created(), 0, "{}", down);
        prop_assert_eq!(state(&e), before);
    }
}

// ---------------------------------------------------------------------------------------------
// Sources (seed 003: Manage sources, "upload from a csv a list of sources").

const WAREHOUSE: SourceId = SourceId::new(20);
const LEAD: UserId = UserId::new(3); // stock lead: Manage sources, all sources
const LINA: UserId = UserId::new(4); // Manage sources at one source only
const ASSISTANT: UserId = UserId::new(5);

fn oms_shop() -> (Engine<Oms>, Arc<MemoryAudit<Oms>>) {
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::new().with_audit(audit.clone());
    let stock_lead = RoleId::new(6);
    let user = |id: u64, name: &str, role: RoleId, sources: Access<SourceId>| {
        staff(id, name, role, Access::All)
            .with_sources(sources)
            .with_channels(Access::All)
    };
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Acme")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutSource(Source::new(WAREHOUSE, SHOP, "WAREHOUSE")),
        Mutation::PutSource(Source::new(SourceId::new(21), SHOP, "north-store")),
        Mutation::PutRole(oms::administrator(ADMIN, SHOP)),
        Mutation::PutRole(oms::store_assistant(CASHIER, SHOP)),
        Mutation::PutRole(Role::new(
            stock_lead,
            SHOP,
            "Stock lead",
            Level::below_top(1),
            Oms::MANAGE_SOURCES | Oms::MANAGE_INVENTORY,
        )),
        Mutation::PutUser(user(1, "owner", ADMIN, Access::All).with_owner(true)),
        Mutation::PutUser(user(3, "lead", stock_lead, Access::All)),
        Mutation::PutUser(user(
            4,
            "lina",
            stock_lead,
            Access::specific([SourceId::new(21)]),
        )),
        Mutation::PutUser(user(5, "assistant", CASHIER, Access::specific([WAREHOUSE]))),
    ])
    .unwrap();
    (e, audit)
}

fn source_ids() -> impl FnMut() -> SourceId {
    let mut next = 40;
    move || {
        next += 1;
        SourceId::new(next)
    }
}

fn upload_sources(
    e: &Engine<Oms>,
    actor: UserId,
    csv: &str,
) -> Result<shopguard::import::UploadedSources, shopguard::Error> {
    e.upload_sources_csv(
        actor,
        csv.as_bytes(),
        &CsvLimits::default(),
        &mut source_ids(),
    )
}

#[track_caller]
fn source_problems(e: &Engine<Oms>, actor: UserId, csv: &str) -> Vec<String> {
    let before = state(e);
    let err = upload_sources(e, actor, csv).expect_err("the upload should be refused");
    assert_eq!(err.kind(), err.problems()[0].kind(), "{err}");
    assert_eq!(state(e), before, "a refused upload changed the engine");
    err.problems()
        .iter()
        .map(|p| format!("{} {}: {}", p.line(), p.column().unwrap_or("-"), p.reason()))
        .collect()
}

#[test]
fn a_role_with_manage_sources_uploads_a_list_of_sources_audited_per_source() {
    let (e, audit) = oms_shop();
    let header = SOURCES_HEADER.join(",");
    let file = format!("{header}\nsouth-store,Create\nDEPOT-2,Create\nWAREHOUSE,Delete\n");
    // WAREHOUSE is still named by the assistant, whom the lead may not see (R20): nothing
    // is applied.
    assert_eq!(
        source_problems(&e, LEAD, &file),
        ["4 Action: cannot remove source `WAREHOUSE`: still used by 1 other user"]
    );
    let file = file.replace("WAREHOUSE,Delete\n", "");
    let before = audit.records().len();
    let up = upload_sources(&e, LEAD, &file).unwrap();
    assert_eq!((up.created(), up.deleted()), (2, 0));
    let s = e.snapshot();
    assert_eq!(
        s.source_named(SHOP, "SOUTH-STORE").map(|x| x.id()),
        Some(SourceId::new(41))
    );
    assert_eq!(
        s.source_named(SHOP, "depot-2").map(|x| x.id()),
        Some(SourceId::new(42))
    );
    // R3: the lead's `All` sources reach them at once.
    assert!(e.can(
        LEAD,
        Oms::MANAGE_INVENTORY,
        &shopguard::OnSource(SHOP, SourceId::new(41))
    ));
    // R19: one record per source, as `CreateSource` by the lead, applied in one revision.
    let records = audit.records();
    let new: Vec<_> = records[before..].iter().collect();
    assert_eq!(new.len(), 2);
    for (r, id) in new.iter().zip([41, 42]) {
        assert_eq!(r.actor.user(), Some(LEAD));
        assert!(matches!(&r.change, Change::CreateSource(x) if x.id() == SourceId::new(id)));
        assert!(
            matches!(r.outcome, Outcome::Applied { revision } if revision == up.applied().revision())
        );
    }
    // A delete row of a source nothing refers to.
    let up = upload_sources(&e, LEAD, &format!("{header}\ndepot-2,Delete\n")).unwrap();
    assert_eq!(up.deleted(), 1);
    assert!(e.snapshot().source(SourceId::new(42)).is_none());
}

#[test]
fn a_cashier_may_not_upload_sources_and_the_refusal_is_audited() {
    let (e, audit) = oms_shop();
    let file = format!("{}\nsouth-store,Create\n", SOURCES_HEADER.join(","));
    let before = state(&e);
    let err = upload_sources(&e, ASSISTANT, &file).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted, "{err}");
    assert_eq!(
        err.to_string(),
        "cannot upload sources: you lack the permission to manage sources"
    );
    assert_eq!(state(&e), before);
    let last = audit.records().pop().unwrap();
    assert_eq!(last.change, Change::UploadSources { rows: 0 });
    assert_eq!(last.actor.user(), Some(ASSISTANT));
    assert!(!last.outcome.is_applied());
}

#[test]
fn a_sources_upload_reports_every_bad_row_and_applies_nothing() {
    let (e, audit) = oms_shop();
    let header = SOURCES_HEADER.join(",");
    let file = format!(
        "{header}\n\
         south-store,Create\n\
         Warehouse,Create\n\
         south-STORE,Create\n\
         bad id,Create\n\
         =cmd,Create\n\
         nowhere,Delete\n\
         x,Rename\n\
         a,b,c\n"
    );
    assert_eq!(
        source_problems(&e, LEAD, &file),
        [
            "3 External ID: `Warehouse` is already in use",
            "4 External ID: `south-STORE` appears again: first on line 2",
            "5 External ID: invalid source external id `bad id`: must be non-empty without white space",
            "6 External ID: looks like a spreadsheet formula (starts with =, +, - or @)",
            "7 External ID: no source `nowhere` to delete",
            "8 Action: must be Create or Delete, found `Rename`",
            "9 -: expected 2 fields, found 3",
        ]
    );
    // One record for the file, and one per row that made a change.
    let records = audit.records();
    let whole = records
        .iter()
        .rev()
        .find(|r| matches!(r.change, Change::UploadSources { .. }));
    assert_eq!(
        whole.map(|r| &r.change),
        Some(&Change::UploadSources { rows: 8 })
    );
}

#[test]
fn a_source_limited_actor_creates_no_source_and_deletes_none_it_cannot_see() {
    let (e, _) = oms_shop();
    let header = SOURCES_HEADER.join(",");
    let file = format!("{header}\nsouth-store,Create\nWAREHOUSE,Delete\n");
    assert_eq!(
        source_problems(&e, LINA, &file),
        [
            "2 Action: cannot create source `south-store`: it needs the permission to manage sources at every source",
            "3 External ID: no source `WAREHOUSE` to delete",
        ]
    );
}

#[test]
fn a_sources_upload_guards_its_header_and_size() {
    let (e, _) = oms_shop();
    assert_eq!(
        source_problems(&e, LEAD, "Name,Action\nx,Create\n"),
        ["1 -: the header must be `External ID,Action`, found `Name,Action`"]
    );
    let rows: String = (0..10).map(|i| format!("s{i},Create\n")).collect();
    let big = format!("{}\n{rows}", SOURCES_HEADER.join(","));
    let limits = CsvLimits {
        max_bytes: 10 << 20,
        max_rows: 3,
    };
    let before = state(&e);
    let err = e
        .upload_sources_csv(LEAD, big.as_bytes(), &limits, &mut source_ids())
        .unwrap_err();
    assert_eq!(err.problems().len(), 1, "{err}");
    assert!(err.to_string().contains("more than 3 rows"), "{err}");
    assert_eq!(state(&e), before);
}
