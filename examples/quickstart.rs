//! A small OMS on the in-memory default: two stores, a warehouse, three roles, five users, and
//! the engine's decisions with their reasons.
//!
//! Run with `cargo run --example quickstart`. Exits non-zero if any decision differs from the
//! one written next to it.

use shopguard::catalog::oms::{self, Oms};
use shopguard::{
    Access, Account, AccountId, Channel, ChannelId, Decision, DenyReason, Dimension, Engine, Grant,
    Mutation, OnAccount, OnStore, OnUser, Place, Resource, RoleId, Source, SourceId, Store,
    StoreId, User, UserId,
};

/// A host type: an order knows its account, store, source (once sourced) and channel.
struct Order {
    account: AccountId,
    store: StoreId,
    source: Option<SourceId>,
    channel: ChannelId,
}

impl Resource for Order {
    fn account(&self) -> AccountId {
        self.account
    }
    fn store(&self) -> Place<StoreId> {
        Place::At(self.store)
    }
    fn source(&self) -> Place<SourceId> {
        self.source.map_or(Place::Unplaced, Place::At)
    }
    fn channel(&self) -> Place<ChannelId> {
        Place::At(self.channel)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::<Oms>::new();
    let acme = AccountId::new(1);
    let (madrid, lisbon) = (StoreId::new(10), StoreId::new(11));
    let (warehouse, madrid_src) = (SourceId::new(20), SourceId::new(21));
    let web = ChannelId::new(30);
    let (admin, manager, assistant) = (RoleId::new(1), RoleId::new(2), RoleId::new(3));
    let (olga, marta, luis, sara, tom) = (
        UserId::new(100),
        UserId::new(101),
        UserId::new(102),
        UserId::new(103),
        UserId::new(104),
    );

    let revision = engine.unchecked_apply([
        Mutation::PutAccount(Account::new(acme, "Acme Retail").with_seat_limit(10)),
        Mutation::PutStore(Store::new(madrid, acme, "Madrid Centro")),
        Mutation::PutStore(Store::new(lisbon, acme, "Lisboa Baixa")),
        Mutation::PutSource(Source::new(warehouse, acme, "WAREHOUSE")),
        Mutation::PutSource(Source::new(madrid_src, acme, "madrid-store")),
        Mutation::PutChannel(Channel::new(web, acme, "Web store")),
        Mutation::PutRole(oms::administrator(admin, acme)),
        Mutation::PutRole(oms::store_manager(manager, acme)),
        Mutation::PutRole(
            oms::store_assistant(assistant, acme).with_channel_ceiling(Access::specific([web])),
        ),
        Mutation::PutUser(
            User::new(olga, acme, "olga", "olga@acme.example")
                .with_owner(true)
                .with_grant(Grant::new(admin, Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(marta, acme, "marta", "marta@acme.example")
                .with_timezone("Europe/Madrid")?
                .with_grant(Grant::new(manager, Access::specific([madrid])))
                .with_sources(Access::specific([madrid_src]))
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(luis, acme, "luis", "luis@acme.example")
                .with_grant(Grant::new(assistant, Access::specific([madrid])))
                .with_sources(Access::specific([madrid_src]))
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            // Sources left at the form's default, None (R4).
            User::new(sara, acme, "sara", "sara@acme.example")
                .with_grant(Grant::new(assistant, Access::specific([lisbon]))),
        ),
        Mutation::PutUser(
            User::new(tom, acme, "tom", "tom@acme.example")
                .with_enabled(false)
                .with_grant(Grant::new(assistant, Access::specific([madrid]))),
        ),
    ])?;
    println!("loaded revision {revision}: 2 stores, 2 sources, 1 channel, 3 roles, 5 users\n");

    let order = |source| Order {
        account: acme,
        store: madrid,
        source,
        channel: web,
    };
    let (sourced, pending, from_warehouse) =
        (order(Some(madrid_src)), order(None), order(Some(warehouse)));

    let cases: Vec<(&str, Decision, Result<RoleId, DenyReason>)> = vec![
        (
            "luis picks an in-store pickup order of Madrid",
            engine.check(luis, Oms::MANAGE_ISPU_ORDERS, &sourced),
            Ok(assistant),
        ),
        (
            "luis opens the reports",
            engine.check(luis, Oms::REPORTS, &OnStore(acme, madrid)),
            Err(DenyReason::PermissionMissing),
        ),
        (
            "marta downloads Madrid's reports",
            engine.check(marta, Oms::REPORTS, &OnStore(acme, madrid)),
            Ok(manager),
        ),
        (
            "marta downloads Lisbon's reports",
            engine.check(marta, Oms::REPORTS, &OnStore(acme, lisbon)),
            Err(DenyReason::OutsideScope(Dimension::Store)),
        ),
        (
            "marta sees an order shipped from the warehouse",
            engine.check(marta, Oms::CS_MANAGE_ORDERS, &from_warehouse),
            Err(DenyReason::OutsideScope(Dimension::Source)),
        ),
        (
            "marta sees an order pending sourcing (R5)",
            engine.check(marta, Oms::CS_MANAGE_ORDERS, &pending),
            Err(DenyReason::NeedsAll(Dimension::Source)),
        ),
        (
            "olga sees an order pending sourcing (R5)",
            engine.check(olga, Oms::CS_MANAGE_ORDERS, &pending),
            Ok(admin),
        ),
        (
            "sara, with no sources, opens ship-from-store orders (R4)",
            engine.check(sara, Oms::MANAGE_SHIP_FROM_STORE_ORDERS, &sourced),
            Err(DenyReason::NoSources),
        ),
        (
            "tom, disabled, sells",
            engine.check(tom, Oms::MANAGE_ISPU_ORDERS, &sourced),
            Err(DenyReason::UserDisabled),
        ),
        (
            "marta edits luis, whose grant is in Madrid (R10)",
            engine.check(marta, Oms::MANAGE_USERS, &OnUser(acme, luis)),
            Ok(manager),
        ),
        (
            "marta edits sara, whose grant is in Lisbon (R10)",
            engine.check(marta, Oms::MANAGE_USERS, &OnUser(acme, sara)),
            Err(DenyReason::OutsideScope(Dimension::Store)),
        ),
        (
            "marta changes account settings",
            engine.check(marta, Oms::MANAGE_CATALOGUE, &OnAccount(acme)),
            Err(DenyReason::PermissionMissing),
        ),
        (
            "olga manages the catalogue of the whole account",
            engine.check(olga, Oms::MANAGE_CATALOGUE, &OnAccount(acme)),
            Ok(admin),
        ),
        (
            "someone unknown opens the orders page",
            engine.check(UserId::new(999), Oms::SALES_MANAGE_ORDERS, &OnAccount(acme)),
            Err(DenyReason::UnknownUser),
        ),
        (
            "olga looks at a store of another account",
            engine.check(
                olga,
                Oms::REPORTS,
                &OnStore(AccountId::new(2), StoreId::new(99)),
            ),
            Err(DenyReason::WrongAccount),
        ),
    ];

    let mut wrong = 0;
    for (what, got, want) in &cases {
        // The engine also says which grant allowed: every user here has one, so the role is
        // what to compare.
        let same = match got {
            Decision::Allow(a) => Ok(a.role()) == *want,
            Decision::Deny(r) => Err(*r) == *want,
        };
        let mark = if same { "ok " } else { "BAD" };
        if !same {
            wrong += 1;
        }
        println!("{mark} {what:<58} {got}");
    }
    println!(
        "\n{} decisions, {wrong} differ from the expected ones",
        cases.len()
    );
    if wrong > 0 {
        return Err(format!("{wrong} decisions differ").into());
    }
    Ok(())
}
