//! Seed 001, an omnichannel marketplace back office, on [`shopguard::catalog::omnichannel`].
//!
//! Users belong to *groups*: a group is a named permission set over the seed's 25-cell matrix of
//! sections × actions, and in shopguard a group is a role. The walk-through checks the catalog
//! against the seed's table, creates a group ("Users - Group - Add"), prints its matrix, invites
//! a user into it and shows what the user may and may not do; a member without `Users Create`
//! cannot invite anyone.
//!
//! The seed has no hierarchy. As the catalog's templates do, a group that manages users is put
//! at level 1 and every other group at level 2.
//!
//! Run with `cargo run --example omnichannel_groups`. Exits non-zero if any outcome differs from
//! the seed page.

mod support;

use shopguard::catalog::omnichannel::{self, Omnichannel};
use shopguard::{
    Access, Account, AccountId, Catalog, Change, Channel, ChannelId, DenyReason, Engine, ErrorKind,
    Event, Grant, Level, Mutation, OnChannel, OnStore, OnUser, Role, RoleId, Store, StoreId, User,
    UserId,
};
use support::{Seed, names};

const TOKO: AccountId = AccountId::new(2);
const JAKARTA: StoreId = StoreId::new(10);
const SHOPEE: ChannelId = ChannelId::new(30);
const TOKOPEDIA: ChannelId = ChannelId::new(31);
const ADMINISTRATOR: RoleId = RoleId::new(1);
const ORDER_FULFILMENT: RoleId = RoleId::new(2);
const CATALOGUE_EDITOR: RoleId = RoleId::new(3);
const WAREHOUSE: RoleId = RoleId::new(4);
const SUPERVISOR: RoleId = RoleId::new(5);
const RETURNS: RoleId = RoleId::new(6);
const OWNER: UserId = UserId::new(100);
const WATI: UserId = UserId::new(101);
const SARI: UserId = UserId::new(102);
const BUDI: UserId = UserId::new(103);
const DEWI: UserId = UserId::new(104);
const EKO: UserId = UserId::new(105);

/// The seed's table ("Roles Section | Role"), row by row.
const SEED_MATRIX: [(&str, &str); 25] = [
    ("Dashboard", "View"),
    ("Product", "View"),
    ("Product", "Scan"),
    ("Product", "Download"),
    ("Product", "Upload"),
    ("Inventory", "View"),
    ("Inventory", "Update"),
    ("Price", "View"),
    ("Price", "Update"),
    ("Orders", "View"),
    ("Orders", "Fulfillment"),
    ("Orders", "Download"),
    ("SyncLog", "View"),
    ("Logistics", "View"),
    ("Logistics", "Update"),
    ("Channel", "View"),
    ("Channel", "Add"),
    ("Channel", "Edit"),
    ("Channel", "Delete"),
    ("Developer", "View"),
    ("Json API", "View"),
    ("Users", "View"),
    ("Users", "Create"),
    ("Users", "Edit"),
    ("Users", "Delete"),
];

/// The action of a flag, from its name: `ORDERS_FULFILLMENT` → `Fulfillment`.
fn action(name: &str) -> String {
    let last = name.rsplit('_').next().unwrap_or(name);
    let mut chars = last.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_string() + &chars.as_str().to_lowercase()
    })
}

/// Prints a group's matrix, one line per section: `[x] View  [ ] Add …`.
fn print_matrix(group: &Role<Omnichannel>) {
    println!("    matrix of group `{}`:", group.name());
    let mut line = String::new();
    let mut area = "";
    for info in Omnichannel::permissions() {
        if info.area() != area {
            if !line.is_empty() {
                println!("{}", line.trim_end());
            }
            area = info.area();
            line = format!("      {area:<10}");
        }
        let mark = if group.permissions().contains(info.flag()) {
            "x"
        } else {
            " "
        };
        line.push_str(&format!("  [{mark}] {:<12}", action(info.name())));
    }
    println!("{}", line.trim_end());
}

fn member(id: UserId, name: &str, group: RoleId) -> User {
    User::new(id, TOKO, name, &format!("{name}@toko.example"))
        .with_grant(Grant::new(group, Access::All))
        .with_channels(Access::All)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seed = Seed::new("Seed 001: an omnichannel back office (DealPOS Omni), user groups");
    let engine = Engine::<Omnichannel>::new();
    let revision = engine.unchecked_apply([
        Mutation::PutAccount(Account::new(TOKO, "Toko Maju")),
        Mutation::PutStore(Store::new(JAKARTA, TOKO, "Jakarta")),
        Mutation::PutChannel(Channel::new(SHOPEE, TOKO, "Shopee")),
        Mutation::PutRole(omnichannel::administrator(ADMINISTRATOR, TOKO)),
        Mutation::PutRole(omnichannel::order_fulfilment(ORDER_FULFILMENT, TOKO)),
        Mutation::PutRole(omnichannel::catalogue_editor(CATALOGUE_EDITOR, TOKO)),
        Mutation::PutUser(member(OWNER, "owner", ADMINISTRATOR).with_owner(true)),
    ])?;
    println!(
        "bootstrap (revision {revision}): store Jakarta, channel Shopee, groups \
         Administrator / Order fulfilment / Catalogue editor, the owner in Administrator"
    );
    let jakarta = OnStore(TOKO, JAKARTA);
    let shopee = OnChannel(TOKO, SHOPEE);

    seed.section("The permission matrix");
    let catalog: Vec<(&str, String)> = Omnichannel::permissions()
        .iter()
        .map(|p| (p.area(), action(p.name())))
        .collect();
    let same = catalog.len() == SEED_MATRIX.len()
        && catalog
            .iter()
            .zip(SEED_MATRIX)
            .all(|((area, act), (section, role))| *area == section && act == role);
    seed.expect(
        "the catalog's sections x actions are the seed's 25 rows, in order",
        same,
        format!("{} cells", catalog.len()),
    );

    seed.section("Users - Group - Add");
    let warehouse = Role::new(
        WAREHOUSE,
        TOKO,
        "Warehouse",
        Level::below_top(1),
        Omnichannel::ORDERS_VIEW
            | Omnichannel::ORDERS_FULFILLMENT
            | Omnichannel::INVENTORY_VIEW
            | Omnichannel::INVENTORY_UPDATE
            | Omnichannel::LOGISTICS_VIEW
            | Omnichannel::LOGISTICS_UPDATE
            | Omnichannel::CHANNEL_VIEW
            | Omnichannel::USERS_VIEW,
    );
    seed.applies(
        &engine,
        "the owner adds the group Warehouse with 8 of the 25 cells",
        OWNER,
        Change::CreateRole(warehouse),
    );
    let snapshot = engine.snapshot();
    let group = snapshot
        .role(WAREHOUSE)
        .ok_or("the group was not created")?;
    print_matrix(group);
    let granted = Omnichannel::permissions()
        .iter()
        .filter(|p| group.permissions().contains(p.flag()))
        .count();
    seed.expect(
        "the group's matrix has the 8 cells ticked",
        granted == 8,
        format!("{granted} of 25 granted"),
    );
    let groups = names(snapshot.visible_roles(OWNER).iter().map(|r| r.name()));
    seed.expect(
        "the owner's group list shows it",
        groups.iter().any(|g| g == "Warehouse"),
        format!("{groups:?}"),
    );

    seed.section("Invite a user into the group");
    seed.refuses(
        &engine,
        "the owner invites eko into a group not created yet",
        OWNER,
        Change::CreateUser(member(EKO, "eko", RETURNS)),
        ErrorKind::NotFound,
    );
    let applied = seed.applies(
        &engine,
        "the owner invites wati into Warehouse",
        OWNER,
        Change::CreateUser(member(WATI, "wati", WAREHOUSE)),
    );
    let invited = applied.as_ref().map_or(&[][..], |a| a.events());
    let expected = [Event::Invited {
        user: WATI,
        email: "wati@toko.example".into(),
    }];
    seed.expect(
        "the host is asked to send wati the invitation",
        invited == expected,
        format!("{invited:?}"),
    );
    seed.applies(
        &engine,
        "the owner invites budi into Order fulfilment",
        OWNER,
        Change::CreateUser(member(BUDI, "budi", ORDER_FULFILMENT)),
    );

    seed.section("What a member of Warehouse may do");
    seed.allow(
        &engine,
        "wati: Orders View",
        WATI,
        Omnichannel::ORDERS_VIEW,
        &jakarta,
    );
    seed.allow(
        &engine,
        "wati: Orders Fulfillment",
        WATI,
        Omnichannel::ORDERS_FULFILLMENT,
        &jakarta,
    );
    seed.deny(
        &engine,
        "wati: Orders Download",
        WATI,
        Omnichannel::ORDERS_DOWNLOAD,
        &jakarta,
        DenyReason::PermissionMissing,
    );
    seed.allow(
        &engine,
        "wati: Inventory Update",
        WATI,
        Omnichannel::INVENTORY_UPDATE,
        &jakarta,
    );
    seed.deny(
        &engine,
        "wati: Price Update",
        WATI,
        Omnichannel::PRICE_UPDATE,
        &jakarta,
        DenyReason::PermissionMissing,
    );
    seed.allow(
        &engine,
        "wati: Channel View on Shopee",
        WATI,
        Omnichannel::CHANNEL_VIEW,
        &shopee,
    );
    seed.deny(
        &engine,
        "wati: Channel Delete on Shopee",
        WATI,
        Omnichannel::CHANNEL_DELETE,
        &shopee,
        DenyReason::PermissionMissing,
    );
    seed.allow(
        &engine,
        "wati: Users View of budi",
        WATI,
        Omnichannel::USERS_VIEW,
        &OnUser(TOKO, BUDI),
    );
    let users = names(
        engine
            .snapshot()
            .visible_users(WATI)
            .iter()
            .map(|u| u.username()),
    );
    seed.expect(
        "wati's Users page lists every user",
        users == ["owner", "wati", "budi"],
        format!("{users:?}"),
    );
    seed.refuses(
        &engine,
        "wati invites dewi (no Users Create)",
        WATI,
        Change::CreateUser(member(DEWI, "dewi", WAREHOUSE)),
        ErrorKind::NotPermitted,
    );
    let budi = engine
        .snapshot()
        .user(BUDI)
        .cloned()
        .ok_or("budi is gone")?;
    seed.refuses(
        &engine,
        "wati edits budi (no Users Edit)",
        WATI,
        Change::UpdateUser(budi.with_timezone("Asia/Jakarta")?),
        ErrorKind::NotPermitted,
    );
    seed.refuses(
        &engine,
        "wati deletes budi (no Users Delete)",
        WATI,
        Change::DeleteUser(BUDI),
        ErrorKind::NotPermitted,
    );
    let snapshot = engine.snapshot();
    let groups = snapshot.visible_roles(WATI);
    seed.expect(
        "wati sees no groups (they need Users Create, Edit and Delete)",
        groups.is_empty(),
        format!("{} groups", groups.len()),
    );

    seed.section("Channel - Add, Edit, Delete");
    let tokopedia = Channel::new(TOKOPEDIA, TOKO, "Tokopedia");
    seed.refuses(
        &engine,
        "wati adds the Tokopedia channel (no Channel Add)",
        WATI,
        Change::CreateChannel(tokopedia.clone()),
        ErrorKind::NotPermitted,
    );
    seed.applies(
        &engine,
        "the owner adds the Tokopedia channel",
        OWNER,
        Change::CreateChannel(tokopedia),
    );
    seed.allow(
        &engine,
        "wati (all channels) views Tokopedia at once",
        WATI,
        Omnichannel::CHANNEL_VIEW,
        &OnChannel(TOKO, TOKOPEDIA),
    );
    seed.applies(
        &engine,
        "the owner renames it (Channel Edit)",
        OWNER,
        Change::UpdateChannel(Channel::new(TOKOPEDIA, TOKO, "Tokopedia Mall")),
    );
    let snapshot = engine.snapshot();
    let channels = names(snapshot.visible_channels(WATI).iter().map(|c| c.name()));
    seed.expect(
        "wati's channel list",
        channels == ["Shopee", "Tokopedia Mall"],
        format!("{channels:?}"),
    );

    seed.section("A group that may invite");
    seed.note("the seed has no hierarchy: a group that manages users is put at level 1");
    let supervisor = Role::new(
        SUPERVISOR,
        TOKO,
        "Supervisor",
        Level::TOP,
        Omnichannel::DASHBOARD_VIEW
            | Omnichannel::ORDERS_VIEW
            | Omnichannel::ORDERS_FULFILLMENT
            | Omnichannel::ORDERS_DOWNLOAD
            | Omnichannel::LOGISTICS_VIEW
            | Omnichannel::LOGISTICS_UPDATE
            | Omnichannel::CHANNEL_VIEW
            | Omnichannel::USERS_VIEW
            | Omnichannel::USERS_CREATE
            | Omnichannel::USERS_EDIT
            | Omnichannel::USERS_DELETE,
    );
    seed.applies(
        &engine,
        "the owner adds the group Supervisor, with the Users cells",
        OWNER,
        Change::CreateRole(supervisor),
    );
    seed.applies(
        &engine,
        "the owner invites sari into Supervisor",
        OWNER,
        Change::CreateUser(member(SARI, "sari", SUPERVISOR)),
    );
    seed.allow(
        &engine,
        "sari: Users Create",
        SARI,
        Omnichannel::USERS_CREATE,
        &jakarta,
    );
    seed.applies(
        &engine,
        "sari invites dewi into Order fulfilment",
        SARI,
        Change::CreateUser(member(DEWI, "dewi", ORDER_FULFILMENT)),
    );
    seed.refuses(
        &engine,
        "sari invites eko into Catalogue editor, cells she lacks (R8)",
        SARI,
        Change::CreateUser(member(EKO, "eko", CATALOGUE_EDITOR)),
        ErrorKind::Escalation,
    );
    let returns = Role::new(
        RETURNS,
        TOKO,
        "Returns",
        Level::below_top(1),
        Omnichannel::ORDERS_VIEW | Omnichannel::CHANNEL_DELETE,
    );
    seed.refuses(
        &engine,
        "sari adds a group with Channel Delete, a cell she lacks (R8)",
        SARI,
        Change::CreateRole(returns.clone()),
        ErrorKind::Escalation,
    );
    seed.applies(
        &engine,
        "sari adds the group Returns without it",
        SARI,
        Change::CreateRole(returns.with_permissions(Omnichannel::ORDERS_VIEW)),
    );
    seed.applies(
        &engine,
        "sari deletes dewi (Users Delete)",
        SARI,
        Change::DeleteUser(DEWI),
    );

    seed.finish()
}
