//! A small account shared by the rule tests: a test catalog exercising every [`Reach`].

use shopguard::{
    Access, Account, AccountId, Channel, ChannelId, Engine, Grant, Level, Mutation, Role, RoleId,
    Source, SourceId, Store, StoreId, User, UserId, permission_catalog,
};

permission_catalog! {
    /// A catalog with one permission of each reach.
    pub(crate) struct T {
        SELL = 0, "Register", Scoped, "sell";
        REFUND = 1, "Register", Scoped, "refund";
        SHIP = 2, "Orders", Scoped, "ship orders";
        LIST_STAFF = 3, "Team", AccountWide, "list every member of staff";
        INVOICES = 4, "Billing", EntityBilling, "see invoices";
        STORE_INVOICES = 5, "Billing", StoreBilling, "see store invoices";
        SIGN = 6, "Documents", OwnerOnly, "sign documents";
    }
}

pub(crate) const ACME: AccountId = AccountId::new(1);
pub(crate) const OTHER: AccountId = AccountId::new(2);
pub(crate) const NORTH: StoreId = StoreId::new(10);
pub(crate) const SOUTH: StoreId = StoreId::new(11);
pub(crate) const FOREIGN_STORE: StoreId = StoreId::new(90);
pub(crate) const WAREHOUSE: SourceId = SourceId::new(20);
pub(crate) const SHOP_SOURCE: SourceId = SourceId::new(21);
pub(crate) const WEB: ChannelId = ChannelId::new(30);
pub(crate) const MARKET: ChannelId = ChannelId::new(31);
pub(crate) const ADMIN: RoleId = RoleId::new(1);
pub(crate) const MANAGER: RoleId = RoleId::new(2);
pub(crate) const CASHIER: RoleId = RoleId::new(3);
pub(crate) const ACCOUNTANT: RoleId = RoleId::new(4);
pub(crate) const OWNER: UserId = UserId::new(100);
pub(crate) const MANAGER_NORTH: UserId = UserId::new(101);
pub(crate) const CASHIER_NORTH: UserId = UserId::new(102);
pub(crate) const CASHIER_SOUTH: UserId = UserId::new(103);
pub(crate) const DISABLED: UserId = UserId::new(104);
pub(crate) const NO_SOURCES: UserId = UserId::new(105);
pub(crate) const ACCOUNTANT_NORTH: UserId = UserId::new(106);
pub(crate) const OTHER_OWNER: UserId = UserId::new(200);

pub(crate) fn level(n: u8) -> Level {
    Level::new(n).unwrap()
}

pub(crate) fn base() -> Vec<Mutation<T>> {
    vec![
        Mutation::PutAccount(Account::new(ACME, "Acme").with_seat_limit(10)),
        Mutation::PutAccount(Account::new(OTHER, "Other")),
        Mutation::PutStore(Store::new(NORTH, ACME, "North")),
        Mutation::PutStore(Store::new(SOUTH, ACME, "South")),
        Mutation::PutStore(Store::new(FOREIGN_STORE, OTHER, "Elsewhere")),
        Mutation::PutSource(Source::new(WAREHOUSE, ACME, "WAREHOUSE")),
        Mutation::PutSource(Source::new(SHOP_SOURCE, ACME, "north-store")),
        Mutation::PutChannel(Channel::new(WEB, ACME, "Web")),
        Mutation::PutChannel(Channel::new(MARKET, ACME, "Marketplace")),
        Mutation::PutRole(Role::new(ADMIN, ACME, "Admin", Level::TOP, T::all())),
        Mutation::PutRole(Role::new(
            MANAGER,
            ACME,
            "Manager",
            level(2),
            T::SELL | T::REFUND | T::SHIP | T::LIST_STAFF | T::STORE_INVOICES,
        )),
        Mutation::PutRole(
            Role::new(CASHIER, ACME, "Cashier", level(3), T::SELL | T::SHIP)
                .with_channel_ceiling(Access::specific([WEB])),
        ),
        Mutation::PutRole(Role::new(
            ACCOUNTANT,
            ACME,
            "Accountant",
            level(2),
            T::INVOICES,
        )),
        Mutation::PutRole(Role::new(
            RoleId::new(50),
            OTHER,
            "Admin",
            Level::TOP,
            T::all(),
        )),
        Mutation::PutUser(
            User::new(OWNER, ACME, "owner", "owner@acme.example")
                .with_owner(true)
                .with_grant(Grant::new(ADMIN, Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(MANAGER_NORTH, ACME, "marta", "marta@acme.example")
                .with_grant(Grant::new(MANAGER, Access::specific([NORTH])))
                .with_sources(Access::specific([SHOP_SOURCE]))
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(CASHIER_NORTH, ACME, "ana", "ana@acme.example")
                .with_grant(Grant::new(CASHIER, Access::specific([NORTH])))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(CASHIER_SOUTH, ACME, "sam", "sam@acme.example")
                .with_grant(Grant::new(CASHIER, Access::specific([SOUTH])))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(DISABLED, ACME, "dan", "dan@acme.example")
                .with_enabled(false)
                .with_grant(Grant::new(ADMIN, Access::All))
                .with_sources(Access::All),
        ),
        Mutation::PutUser(
            User::new(NO_SOURCES, ACME, "nora", "nora@acme.example")
                .with_grant(Grant::new(MANAGER, Access::All))
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(ACCOUNTANT_NORTH, ACME, "acc", "acc@acme.example")
                .with_grant(Grant::new(ACCOUNTANT, Access::specific([NORTH]))),
        ),
        Mutation::PutUser(
            User::new(OTHER_OWNER, OTHER, "owner", "owner@other.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(50), Access::All)),
        ),
    ]
}

pub(crate) fn engine() -> Engine<T> {
    let e = Engine::new();
    e.unchecked_apply(base()).unwrap();
    e
}

/// Everything observable about an engine (accounts, stores, roles, users, revision), for
/// comparing the state before and after a refused change.
pub(crate) fn state<P: shopguard::Catalog>(e: &Engine<P>) -> String {
    let s = e.snapshot();
    let mut out = format!("revision {}\n", s.revision());
    for a in s.accounts() {
        out += &format!("{a:?}\n");
        for x in s.stores(a.id()) {
            out += &format!("{x:?}\n");
        }
        for x in s.sources(a.id()) {
            out += &format!("{x:?}\n");
        }
        for x in s.channels(a.id()) {
            out += &format!("{x:?}\n");
        }
        for x in s.roles(a.id()) {
            out += &format!("{x:?}\n");
        }
        for x in s.users(a.id()) {
            out += &format!("{x:?}\n");
        }
    }
    out
}
