//! Seed 003, an order management system (OMS), on [`shopguard::catalog::oms`].
//!
//! Roles have a hierarchy (1 = top): level 1 sees and creates level-1 roles and everything
//! below, level 2 only level 3, level 3 no roles at all. A role ticks its stores and sales
//! channels (None / All / Specific), which cap its users; a user has sources (None / All /
//! Specific). A user with no sources gets a distinct denial on source-filtered pages, and an
//! order pending sourcing needs all sources and all sales channels. Sources are created with
//! the Manage sources permission. A new user can be copied from an existing one, and
//! the user list is searchable.
//!
//! Run with `cargo run --example oms_hierarchy`. Exits non-zero if any outcome differs from the
//! seed page.

mod support;

use shopguard::catalog::oms::{self, Oms};
use shopguard::{
    Access, Account, AccountId, Change, Channel, ChannelId, DenyReason, Dimension, Engine,
    ErrorKind, Grant, Level, Mutation, OnSource, OnStore, Place, Resource, Role, RoleId, Source,
    SourceId, Store, StoreId, User, UserId, UserQuery,
};
use support::{Seed, names};

const ACME: AccountId = AccountId::new(3);
const MADRID: StoreId = StoreId::new(10);
const LISBON: StoreId = StoreId::new(11);
const WAREHOUSE: SourceId = SourceId::new(20);
const MADRID_SRC: SourceId = SourceId::new(21);
const LISBON_SRC: SourceId = SourceId::new(22);
const PORTO_SRC: SourceId = SourceId::new(23);
const WEB: ChannelId = ChannelId::new(30);
const MARKET: ChannelId = ChannelId::new(31);
const ADMINISTRATOR: RoleId = RoleId::new(1);
const STORE_MANAGER: RoleId = RoleId::new(2);
const STORE_ASSISTANT: RoleId = RoleId::new(3);
const CS_AGENT: RoleId = RoleId::new(4);
const REGIONAL_ADMIN: RoleId = RoleId::new(5);
const PICKER: RoleId = RoleId::new(6);
const STOCK_CLERK: RoleId = RoleId::new(7);
const DEPUTY: RoleId = RoleId::new(8);
const ROOT: UserId = UserId::new(100); // the account owner, Administrator (level 1)
const MARTA: UserId = UserId::new(110); // Store manager of Madrid (level 2)
const LUIS: UserId = UserId::new(111); // Store assistant of Madrid (level 3)
const CARL: UserId = UserId::new(112); // Customer service agent, all stores and sources
const SARA: UserId = UserId::new(113); // Store assistant of Lisbon, sources left at None
const RITA: UserId = UserId::new(114); // Regional admin (level 1)
const NINA: UserId = UserId::new(115); // Stock clerk
const PIA: UserId = UserId::new(116); // Picker
const LUISA: UserId = UserId::new(120); // copied from luis by root
const LEO: UserId = UserId::new(121); // copied from luis by marta
const SA21: UserId = UserId::new(122); // the seed's CSV example user
const XAVI: UserId = UserId::new(123); // never created: every attempt is refused

/// A host type: an order knows its store, its source once sourced, and its sales channel.
struct Order {
    store: StoreId,
    source: Option<SourceId>,
    channel: ChannelId,
}

impl Resource for Order {
    fn account(&self) -> AccountId {
        ACME
    }
    fn store(&self) -> Place<StoreId> {
        Place::At(self.store)
    }
    fn source(&self) -> Place<SourceId> {
        // Pending sourcing (also backorders and pre-orders): only all sources reach it (R5).
        self.source.map_or(Place::Unplaced, Place::At)
    }
    fn channel(&self) -> Place<ChannelId> {
        Place::At(self.channel)
    }
}

fn order(store: StoreId, source: Option<SourceId>, channel: ChannelId) -> Order {
    Order {
        store,
        source,
        channel,
    }
}

fn user(id: UserId, name: &str, role: RoleId, stores: Access<StoreId>) -> User {
    User::new(id, ACME, name, &format!("{name}@acme.example"))
        .with_grant(Grant::new(role, stores))
        .with_channels(Access::All)
}

fn role_names(roles: &[&Role<Oms>]) -> Vec<String> {
    names(roles.iter().map(|r| r.name()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seed = Seed::new("Seed 003: an order management system, roles with a hierarchy");
    let engine = Engine::<Oms>::new();
    let revision = engine.unchecked_apply([
        Mutation::PutAccount(Account::new(ACME, "Acme Retail")),
        Mutation::PutStore(Store::new(MADRID, ACME, "Madrid")),
        Mutation::PutStore(Store::new(LISBON, ACME, "Lisbon")),
        Mutation::PutSource(Source::new(WAREHOUSE, ACME, "WAREHOUSE")),
        Mutation::PutSource(Source::new(MADRID_SRC, ACME, "madrid-store")),
        Mutation::PutSource(Source::new(LISBON_SRC, ACME, "lisbon-store")),
        Mutation::PutChannel(Channel::new(WEB, ACME, "Web store")),
        Mutation::PutChannel(Channel::new(MARKET, ACME, "Marketplace")),
        Mutation::PutRole(oms::administrator(ADMINISTRATOR, ACME)),
        Mutation::PutRole(oms::store_manager(STORE_MANAGER, ACME)),
        Mutation::PutRole(oms::store_assistant(STORE_ASSISTANT, ACME)),
        // Sales channels: Specific, the web store only.
        Mutation::PutRole(
            oms::customer_service_agent(CS_AGENT, ACME)
                .with_channel_ceiling(Access::specific([WEB])),
        ),
        Mutation::PutUser(
            user(ROOT, "root", ADMINISTRATOR, Access::All)
                .with_owner(true)
                .with_sources(Access::All),
        ),
    ])?;
    println!(
        "bootstrap (revision {revision}): stores Madrid and Lisbon, sources WAREHOUSE, \
         madrid-store and lisbon-store, channels Web store and Marketplace, roles Administrator \
         (1), Store manager (2), Store assistant (3), Customer service agent (3, Web store only), \
         owner root"
    );

    seed.section("System > Users > Add User (as root)");
    let marta = user(MARTA, "marta", STORE_MANAGER, Access::specific([MADRID]))
        .with_sources(Access::specific([MADRID_SRC]))
        .with_timezone("Europe/Madrid")?;
    let luis = user(LUIS, "luis", STORE_ASSISTANT, Access::specific([MADRID]))
        .with_sources(Access::specific([MADRID_SRC]))
        .with_timezone("Europe/Madrid")?;
    let carl = user(CARL, "carl", CS_AGENT, Access::All).with_sources(Access::All);
    // Sources left at the form's default, None.
    let sara = user(SARA, "sara", STORE_ASSISTANT, Access::specific([LISBON]))
        .with_timezone("Europe/Lisbon")?;
    for (who, new) in [
        ("marta, Store manager of Madrid, source madrid-store", marta),
        ("luis, Store assistant of Madrid, source madrid-store", luis),
        ("carl, Customer service agent, all sources", carl),
        ("sara, Store assistant of Lisbon, sources None", sara),
    ] {
        seed.applies(
            &engine,
            &format!("root adds {who}"),
            ROOT,
            Change::CreateUser(new),
        );
    }

    seed.section("Hierarchy: which roles each level sees (System > Roles)");
    let snapshot = engine.snapshot();
    let seen = role_names(&snapshot.visible_roles(ROOT));
    seed.expect(
        "root (level 1) sees level 1 and every level below",
        seen == [
            "Administrator",
            "Store manager",
            "Store assistant",
            "Customer service agent",
        ],
        format!("{seen:?}"),
    );
    let seen = role_names(&snapshot.visible_roles(MARTA));
    seed.expect(
        "marta (level 2) sees only level-3 roles",
        seen == ["Store assistant", "Customer service agent"],
        format!("{seen:?}"),
    );
    let seen = role_names(&snapshot.visible_roles(LUIS));
    seed.expect(
        "luis (level 3) sees no roles",
        seen.is_empty(),
        format!("{seen:?}"),
    );

    seed.section("Hierarchy: which roles each level may create and modify");
    let internal = Oms::DEVELOPER_TOOLS
        | Oms::EVENTS
        | Oms::MESSAGE_LOG
        | Oms::FORCE_SHIPMENT
        | Oms::FORCE_SOFT_ALLOCATION
        | Oms::EXTENSIONS;
    let regional = Role::new(
        REGIONAL_ADMIN,
        ACME,
        "Regional admin",
        Level::TOP,
        Oms::all().difference(internal),
    );
    seed.applies(
        &engine,
        "root creates Regional admin at level 1",
        ROOT,
        Change::CreateRole(regional),
    );
    seed.applies(
        &engine,
        "root adds rita as Regional admin",
        ROOT,
        Change::CreateUser(
            user(RITA, "rita", REGIONAL_ADMIN, Access::All).with_sources(Access::All),
        ),
    );
    let seen = role_names(&engine.snapshot().visible_roles(RITA));
    seed.expect(
        "rita (level 1) sees the other level-1 role, Administrator",
        seen.iter().any(|r| r == "Administrator"),
        format!("{seen:?}"),
    );
    let level = |n: u8| Level::new(n);
    let deputy = Role::new(DEPUTY, ACME, "Deputy", level(2)?, Oms::REPORTS);
    seed.refuses(
        &engine,
        "marta (level 2) creates a level-2 role",
        MARTA,
        Change::CreateRole(deputy),
        ErrorKind::Hierarchy,
    );
    seed.refuses(
        &engine,
        "marta creates a level-1 role",
        MARTA,
        Change::CreateRole(Role::new(DEPUTY, ACME, "Deputy", Level::TOP, Oms::REPORTS)),
        ErrorKind::Hierarchy,
    );
    // Stores: Specific (Madrid); sources available to the role: madrid-store.
    let picker = Role::new(
        PICKER,
        ACME,
        "Picker",
        level(3)?,
        Oms::MANAGE_ISPU_ORDERS | Oms::ISPU_DASHBOARD | Oms::PENDING_ARRIVAL,
    )
    .with_store_ceiling(Access::specific([MADRID]))
    .with_source_ceiling(Access::specific([MADRID_SRC]));
    seed.applies(
        &engine,
        "marta creates Picker at level 3, stores: Madrid",
        MARTA,
        Change::CreateRole(picker),
    );
    let seen = role_names(&engine.snapshot().visible_roles(MARTA));
    seed.expect(
        "marta's roles list now shows Picker",
        seen.iter().any(|r| r == "Picker"),
        format!("{seen:?}"),
    );
    seed.refuses(
        &engine,
        "marta renames Administrator (level 1)",
        MARTA,
        Change::RenameRole {
            role: ADMINISTRATOR,
            name: "Boss".into(),
        },
        ErrorKind::Hierarchy,
    );
    let widened = oms::store_manager(STORE_MANAGER, ACME).with_permissions(Oms::all());
    seed.refuses(
        &engine,
        "marta modifies her own level-2 role",
        MARTA,
        Change::UpdateRole(widened),
        ErrorKind::Hierarchy,
    );
    seed.refuses(
        &engine,
        "marta creates a level-3 role with Force Shipment, not hers (R8)",
        MARTA,
        Change::CreateRole(Role::new(
            DEPUTY,
            ACME,
            "Deputy",
            level(3)?,
            Oms::REPORTS | Oms::FORCE_SHIPMENT,
        )),
        ErrorKind::Escalation,
    );
    seed.refuses(
        &engine,
        "luis (level 3) creates a role",
        LUIS,
        Change::CreateRole(Role::new(DEPUTY, ACME, "Deputy", level(3)?, Oms::REPORTS)),
        ErrorKind::NotPermitted,
    );

    seed.section("Stores and sales channels ticked on the role cap its users");
    let web_madrid = order(MADRID, Some(MADRID_SRC), WEB);
    let market_madrid = order(MADRID, Some(MADRID_SRC), MARKET);
    let warehouse_madrid = order(MADRID, Some(WAREHOUSE), WEB);
    let web_lisbon = order(LISBON, Some(LISBON_SRC), WEB);
    seed.allow(
        &engine,
        "carl (role: Web store only) manages a Web store order",
        CARL,
        Oms::CS_MANAGE_ORDERS,
        &web_madrid,
    );
    seed.deny(
        &engine,
        "carl manages a Marketplace order, though his own channels are All",
        CARL,
        Oms::CS_MANAGE_ORDERS,
        &market_madrid,
        DenyReason::OutsideScope(Dimension::Channel),
    );
    let clerk = Role::new(
        STOCK_CLERK,
        ACME,
        "Stock clerk",
        level(3)?,
        Oms::MANAGE_INVENTORY | Oms::MANUAL_STOCK_UPDATE | Oms::SALES_MANAGE_ORDERS,
    )
    .with_channel_ceiling(Access::None);
    seed.applies(
        &engine,
        "root creates Stock clerk, sales channels: None",
        ROOT,
        Change::CreateRole(clerk),
    );
    seed.applies(
        &engine,
        "root adds nina as Stock clerk, all sources and channels",
        ROOT,
        Change::CreateUser(user(NINA, "nina", STOCK_CLERK, Access::All).with_sources(Access::All)),
    );
    seed.allow(
        &engine,
        "nina updates the WAREHOUSE stock",
        NINA,
        Oms::MANUAL_STOCK_UPDATE,
        &OnSource(ACME, WAREHOUSE),
    );
    seed.deny(
        &engine,
        "nina opens a Web store order",
        NINA,
        Oms::SALES_MANAGE_ORDERS,
        &web_madrid,
        DenyReason::OutsideScope(Dimension::Channel),
    );
    seed.applies(
        &engine,
        "root adds pia as Picker, all stores and sources",
        ROOT,
        Change::CreateUser(user(PIA, "pia", PICKER, Access::All).with_sources(Access::All)),
    );
    seed.allow(
        &engine,
        "pia picks a Madrid order from madrid-store",
        PIA,
        Oms::MANAGE_ISPU_ORDERS,
        &web_madrid,
    );
    seed.deny(
        &engine,
        "pia picks a Lisbon order: Picker's stores are Madrid",
        PIA,
        Oms::MANAGE_ISPU_ORDERS,
        &web_lisbon,
        DenyReason::OutsideScope(Dimension::Store),
    );
    seed.deny(
        &engine,
        "pia picks a WAREHOUSE order: not a source of her role",
        PIA,
        Oms::MANAGE_ISPU_ORDERS,
        &warehouse_madrid,
        DenyReason::OutsideScope(Dimension::Source),
    );

    seed.section("Sources on users: None / All / Specific");
    seed.allow(
        &engine,
        "luis (madrid-store) picks an order sourced to madrid-store",
        LUIS,
        Oms::MANAGE_ISPU_ORDERS,
        &web_madrid,
    );
    seed.deny(
        &engine,
        "luis picks an order sourced to WAREHOUSE",
        LUIS,
        Oms::MANAGE_ISPU_ORDERS,
        &warehouse_madrid,
        DenyReason::OutsideScope(Dimension::Source),
    );
    seed.deny(
        &engine,
        "sara (sources None) opens a Lisbon order: the error page",
        SARA,
        Oms::MANAGE_ISPU_ORDERS,
        &web_lisbon,
        DenyReason::NoSources,
    );
    seed.allow(
        &engine,
        "sara opens Lisbon's ISPU dashboard (no source filter)",
        SARA,
        Oms::ISPU_DASHBOARD,
        &OnStore(ACME, LISBON),
    );
    let porto_store = Source::new(PORTO_SRC, ACME, "porto-store");
    seed.refuses(
        &engine,
        "luis creates a source (Manage sources is not his)",
        LUIS,
        Change::CreateSource(porto_store.clone()),
        ErrorKind::NotPermitted,
    );
    seed.applies(
        &engine,
        "root creates a source, porto-store (Stock Management > Manage sources)",
        ROOT,
        Change::CreateSource(porto_store),
    );
    let porto = order(MADRID, Some(PORTO_SRC), WEB);
    seed.allow(
        &engine,
        "carl (All Sources) sees an order sourced to porto-store",
        CARL,
        Oms::CS_MANAGE_ORDERS,
        &porto,
    );
    seed.deny(
        &engine,
        "luis (Specific) does not",
        LUIS,
        Oms::MANAGE_ISPU_ORDERS,
        &porto,
        DenyReason::OutsideScope(Dimension::Source),
    );

    seed.section("Orders not yet sourced need all sales channels and all sources");
    seed.note(
        "the seed's rule, the default; an account may narrow it to all sources \
         (PendingSourcing::AllSources)",
    );
    let pending = order(MADRID, None, WEB);
    seed.allow(
        &engine,
        "root (all sources and channels) sees an order pending sourcing",
        ROOT,
        Oms::SOURCE_ENGINE,
        &pending,
    );
    seed.allow(
        &engine,
        "rita (all sources and channels) sees it",
        RITA,
        Oms::SALES_MANAGE_ORDERS,
        &pending,
    );
    seed.deny(
        &engine,
        "marta (madrid-store only) does not",
        MARTA,
        Oms::CS_MANAGE_ORDERS,
        &pending,
        DenyReason::NeedsAll(Dimension::Source),
    );
    seed.deny(
        &engine,
        "carl (all sources, but his role ticks the Web store only) does not either, though \
         the order is on the Web store",
        CARL,
        Oms::CS_MANAGE_ORDERS,
        &pending,
        DenyReason::NeedsAll(Dimension::Channel),
    );
    seed.deny(
        &engine,
        "sara (sources None) gets the error page",
        SARA,
        Oms::MANAGE_ISPU_ORDERS,
        &pending,
        DenyReason::NoSources,
    );

    seed.section("Copy from an existing user");
    seed.applies(
        &engine,
        "root adds luisa, copied from luis",
        ROOT,
        Change::CopyUser {
            from: LUIS,
            id: LUISA,
            username: "luisa".into(),
            email: "luisa@acme.example".into(),
        },
    );
    let snapshot = engine.snapshot();
    let copied = snapshot
        .user(LUISA)
        .zip(snapshot.user(LUIS))
        .is_some_and(|(a, b)| {
            a.grants() == b.grants()
                && a.sources() == b.sources()
                && a.channels() == b.channels()
                && a.timezone() == b.timezone()
                && !a.is_owner()
        });
    let shown = snapshot.user(LUISA).map_or("missing".to_owned(), |u| {
        format!(
            "{:?}, sources {:?}, {}",
            u.grants(),
            u.sources(),
            u.timezone()
        )
    });
    seed.expect(
        "luisa has luis's role, stores, sources, channels and timezone",
        copied,
        shown,
    );
    seed.allow(
        &engine,
        "luisa picks an order sourced to madrid-store",
        LUISA,
        Oms::MANAGE_ISPU_ORDERS,
        &web_madrid,
    );
    seed.applies(
        &engine,
        "marta adds leo, copied from luis (her store)",
        MARTA,
        Change::CopyUser {
            from: LUIS,
            id: LEO,
            username: "leo".into(),
            email: "leo@acme.example".into(),
        },
    );
    seed.refuses(
        &engine,
        "marta copies sara, a user of Lisbon she cannot see",
        MARTA,
        Change::CopyUser {
            from: SARA,
            id: XAVI,
            username: "xavi".into(),
            email: "xavi@acme.example".into(),
        },
        ErrorKind::NotFound,
    );

    seed.section("User name, e-mail, timezone");
    let sa21 = User::new(SA21, ACME, "storeAssistant21", "storeAssistant21@site.com")
        .with_grant(Grant::new(STORE_ASSISTANT, Access::specific([LISBON])))
        .with_sources(Access::specific([LISBON_SRC]))
        .with_timezone("Europe/Lisbon")?;
    seed.refuses(
        &engine,
        "root adds `store assistant21` (do not use spaces)",
        ROOT,
        Change::CreateUser(sa21.clone().with_username("store assistant21")),
        ErrorKind::InvalidInput,
    );
    let mars = sa21.clone().with_timezone("Mars/Olympus");
    seed.expect(
        "a user in timezone Mars/Olympus cannot even be written down",
        mars.as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::InvalidInput),
        mars.map_or_else(|e| format!("refused: {e}"), |_| "accepted".to_owned()),
    );
    seed.applies(
        &engine,
        "root adds storeAssistant21, Europe/Lisbon, source lisbon-store",
        ROOT,
        Change::CreateUser(sa21.clone()),
    );
    seed.refuses(
        &engine,
        "root adds STOREASSISTANT21 (usernames ignore case)",
        ROOT,
        Change::CreateUser(
            User::new(XAVI, ACME, "STOREASSISTANT21", "xavi@acme.example")
                .with_grant(Grant::new(STORE_ASSISTANT, Access::specific([LISBON]))),
        ),
        ErrorKind::Duplicate,
    );
    seed.applies(
        &engine,
        "root deactivates storeAssistant21 (Enabled = 0)",
        ROOT,
        Change::DisableUser(SA21),
    );

    seed.section("The searchable user list");
    let snapshot = engine.snapshot();
    let role_of = |u: &User| {
        u.grants()
            .first()
            .and_then(|g| snapshot.role(g.role))
            .map_or("-", |r| r.name())
    };
    println!(
        "    {:<18} {:<27} {:<24} active",
        "user name", "e-mail", "role"
    );
    for u in snapshot.visible_users(ROOT) {
        println!(
            "    {:<18} {:<27} {:<24} {}",
            u.username(),
            u.email(),
            role_of(u),
            if u.is_enabled() { "yes" } else { "no" }
        );
    }
    let search = |actor: UserId, query: UserQuery| {
        names(
            snapshot
                .search_users(actor, &query)
                .iter()
                .map(|u| u.username()),
        )
    };
    let found = search(ROOT, UserQuery::new().username("LU"));
    seed.expect(
        "search by user name `LU`",
        found == ["luis", "luisa"],
        format!("{found:?}"),
    );
    let found = search(ROOT, UserQuery::new().email("@site.com"));
    seed.expect(
        "search by e-mail `@site.com`",
        found == ["storeAssistant21"],
        format!("{found:?}"),
    );
    let found = search(ROOT, UserQuery::new().role(STORE_ASSISTANT).enabled(true));
    seed.expect(
        "search by role Store assistant, active",
        found == ["luis", "sara", "luisa", "leo"],
        format!("{found:?}"),
    );
    let found = search(ROOT, UserQuery::new().enabled(false));
    seed.expect(
        "search for inactive users",
        found == ["storeAssistant21"],
        format!("{found:?}"),
    );
    let found = search(MARTA, UserQuery::new());
    // pia holds all stores, but her Picker role is limited to Madrid: she is Madrid's too.
    seed.expect(
        "marta's list: the users of her store only (R10, R20)",
        found == ["marta", "luis", "pia", "luisa", "leo"],
        format!("{found:?}"),
    );
    let found = search(LUIS, UserQuery::new());
    seed.expect(
        "luis (no Manage users) has no user list",
        found.is_empty(),
        format!("{found:?}"),
    );

    seed.finish()
}
