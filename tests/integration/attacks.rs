//! Hostile tenants and hostile files against the CSV uploads: what a store- or source-limited
//! uploader can reach, and what its answers tell it of what it may not see (R18, R20).

use std::sync::Arc;

use shopguard::audit::MemoryAudit;
use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::pos::{self, Pos};
use shopguard::import::CsvLimits;
use shopguard::{
    Access, Account, AccountId, Engine, Grant, Level, Mutation, Role, RoleId, Source, SourceId,
    Store, StoreId, User, UserId,
};

use crate::fixture::state;

const SHOP: AccountId = AccountId::new(1);
const RIVAL: AccountId = AccountId::new(2);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);
const ADMIN: RoleId = RoleId::new(1);
const MANAGER: RoleId = RoleId::new(2);
const CASHIER: RoleId = RoleId::new(3);
const OWNER: UserId = UserId::new(1);
const MARTA: UserId = UserId::new(2);

fn ids() -> impl FnMut() -> UserId {
    let mut next = 5000;
    move || {
        next += 1;
        UserId::new(next)
    }
}

fn staff(id: u64, name: &str, role: RoleId, stores: Access<StoreId>) -> User {
    User::new(UserId::new(id), SHOP, name, &format!("{name}@shop.example"))
        .with_grant(Grant::new(role, stores))
}

fn pos_shop() -> Engine<Pos> {
    let e = Engine::new().with_audit(Arc::new(MemoryAudit::new()));
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
        Mutation::PutUser(staff(5, "nico", CASHIER, Access::specific([NORTH, SOUTH]))),
        Mutation::PutAccount(Account::new(RIVAL, "Rival")),
        Mutation::PutStore(Store::new(StoreId::new(90), RIVAL, "Rival Store")),
    ])
    .unwrap();
    e
}

const POS_HEADER: &str = "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n";

/// Seed 003's OMS: a manager and an assistant limited to the `north-store` source, the
/// `WAREHOUSE` source they may not see, and another account's source.
fn oms_shop() -> Engine<Oms> {
    let e = Engine::new().with_audit(Arc::new(MemoryAudit::new()));
    let user = |id: u64, name: &str, role: RoleId, sources: Access<SourceId>| {
        staff(id, name, role, Access::All)
            .with_sources(sources)
            .with_channels(Access::All)
    };
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Acme")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutSource(Source::new(SourceId::new(20), SHOP, "WAREHOUSE")),
        Mutation::PutSource(Source::new(SourceId::new(21), SHOP, "north-store")),
        Mutation::PutRole(oms::administrator(ADMIN, SHOP)),
        Mutation::PutRole(oms::store_manager(MANAGER, SHOP)),
        Mutation::PutRole(oms::store_assistant(CASHIER, SHOP)),
        Mutation::PutUser(user(1, "owner", ADMIN, Access::All).with_owner(true)),
        Mutation::PutUser(user(
            2,
            "mgr",
            MANAGER,
            Access::specific([SourceId::new(21)]),
        )),
        Mutation::PutUser(user(
            3,
            "asst",
            CASHIER,
            Access::specific([SourceId::new(21)]),
        )),
        Mutation::PutAccount(Account::new(RIVAL, "Rival")),
        Mutation::PutSource(Source::new(SourceId::new(90), RIVAL, "rival-depot")),
    ])
    .unwrap();
    e
}

#[test]
fn r20_a_hidden_source_in_a_sources_cell_reads_as_no_source() {
    let header = "Username,E-mail,Enabled,Access all sales channels,Access all sources,Timezone,Role,Sources,Action\n";
    let answer = |cell: &str, action: &str| {
        let e = oms_shop();
        let before = state(&e);
        let user = if action == "Create" { "bob" } else { "asst" };
        let csv = format!(
            "{header}{user},{user}@shop.example,1,1,0,UTC,Store assistant,{cell},{action}\n"
        );
        let err = e
            .upload_users_csv(MARTA, csv.as_bytes(), &CsvLimits::default(), &mut ids())
            .expect_err("the upload should be refused");
        assert_eq!(state(&e), before);
        let p = &err.problems()[0];
        (
            err.kind(),
            p.column().map(str::to_owned),
            p.reason().replace(cell, "<cell>"),
        )
    };
    for action in ["Create", "Update"] {
        let hidden = answer("WAREHOUSE", action);
        let missing = answer("NOWHERE", action);
        assert_eq!(
            hidden, missing,
            "{action}: a hidden source answers differently"
        );
        assert_eq!(hidden.0, shopguard::ErrorKind::NotFound);
        // Another account's source is no source either.
        assert_eq!(answer("rival-depot", action), missing);
    }
}

/// R20: a download lists in a user's Sources cell only the sources the downloader may see, and
/// the file uploads back changing nothing: an `Update` row keeps the user's hidden sources.
#[test]
fn r20_a_download_names_no_hidden_source_and_uploads_back_unchanged() {
    let e = oms_shop();
    let wh = UserId::new(7);
    let (warehouse, north_store) = (SourceId::new(20), SourceId::new(21));
    e.unchecked_apply([Mutation::PutUser(
        staff(7, "wh", CASHIER, Access::All)
            .with_sources(Access::specific([warehouse, north_store]))
            .with_channels(Access::All),
    )])
    .unwrap();
    let file = e.snapshot().download_users_csv(MARTA).unwrap();
    assert!(
        file.contains("wh,wh@shop.example,1,1,0,UTC,Store assistant,north-store,Update\n"),
        "{file}"
    );
    assert!(!file.to_ascii_lowercase().contains("warehouse"), "{file}");
    let before = state(&e);
    let up = e
        .upload_users_csv(MARTA, file.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap();
    assert_eq!((up.created(), up.updated()), (0, 0));
    assert_eq!(state(&e), before);
    // Taking away the one source it sees leaves the one it does not.
    let header = file.lines().next().unwrap();
    let csv = format!("{header}\nwh,wh@shop.example,1,1,0,UTC,Store assistant,,Update\n");
    let up = e
        .upload_users_csv(MARTA, csv.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap();
    assert_eq!(up.updated(), 1);
    assert_eq!(
        e.snapshot().user(wh).map(|u| u.sources().clone()),
        Some(Access::specific([warehouse]))
    );
    // The owner sees both, and its download names both.
    let full = e.snapshot().download_users_csv(OWNER).unwrap();
    assert!(
        full.contains(",Store assistant,WAREHOUSE,Update\n"),
        "{full}"
    );
}

/// A store-limited manager's Stores cell reaches only its own store, however a hidden store is
/// written (by name in any case, `store#N`, a bare id, another account's store, a keyword
/// among names): each reads as no store, with the answer a store that does not exist gets,
/// and `All` is refused as reaching outside its stores. The refused file changes nothing.
#[test]
fn r20_a_store_limited_uploader_reaches_no_other_store_however_it_is_written() {
    let answer = |cell: &str, update: bool| {
        let e = pos_shop();
        let before = state(&e);
        let row = if update {
            format!("ana,ana@shop.example,1,UTC,,\"{cell}\",Update")
        } else {
            format!("bob,bob@shop.example,1,UTC,Cashier,\"{cell}\",Create")
        };
        let csv = format!("{POS_HEADER}{row}\n");
        let err = e
            .upload_users_csv(MARTA, csv.as_bytes(), &CsvLimits::default(), &mut ids())
            .expect_err("the upload should be refused");
        assert_eq!(state(&e), before, "a refused upload changed the engine");
        let p = &err.problems()[0];
        assert_eq!(err.problems().len(), 1, "{err}");
        (
            err.kind(),
            p.column().map(str::to_owned),
            p.reason().to_owned(),
        )
    };
    for update in [false, true] {
        let missing = |entry: &str| {
            (
                shopguard::ErrorKind::NotFound,
                Some("Stores".to_owned()),
                format!("unknown store `{entry}`"),
            )
        };
        for hidden in [
            "South",
            "SOUTH",
            "store#11",
            "11",
            "store#90",
            "90",
            "Rival Store",
            "store#99",
        ] {
            assert_eq!(answer(hidden, update), missing(hidden), "{hidden}");
            assert_eq!(
                answer(&format!("North, {hidden}"), update),
                missing(hidden),
                "{hidden}"
            );
        }
        assert_eq!(answer("North, All", update), missing("All"));
        for all in ["All", "aLL"] {
            let (kind, column, _) = answer(all, update);
            assert_eq!(kind, shopguard::ErrorKind::OutsideScope);
            assert_eq!(column.as_deref(), Some("Stores"));
        }
    }
    // What it may do: its own store, by name or id, once or twice.
    let e = pos_shop();
    let csv =
        format!("{POS_HEADER}bob,bob@shop.example,1,UTC,Cashier,\"north, store#10, 10\",Create\n");
    let up = e
        .upload_users_csv(MARTA, csv.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap();
    assert_eq!(up.created(), 1);
    let bob = e
        .snapshot()
        .users(SHOP)
        .find(|u| u.username() == "bob")
        .cloned();
    assert_eq!(
        bob.map(|u| u.grants().to_vec()),
        Some(vec![Grant::new(CASHIER, Access::specific([NORTH]))])
    );
}
