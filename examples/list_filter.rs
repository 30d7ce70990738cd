//! The SQL filter a list page applies for a few users (R21): which stores, sources and sales
//! channels each may see orders of, and who may refund at a store.
//!
//! Run with `cargo run --example list_filter`. Exits non-zero if a filter disagrees with `can`.

use shopguard::catalog::oms::{self, Oms};
use shopguard::scope::{Columns, Dialect};
use shopguard::{
    Access, Account, AccountId, Channel, ChannelId, Engine, Grant, Mutation, OnSource, OnStore,
    RoleId, Source, SourceId, Store, StoreId, User, UserId,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::<Oms>::new();
    let acme = AccountId::new(1);
    let stores: [StoreId; 4] = [10, 11, 12, 13].map(StoreId::new);
    let sources: [SourceId; 3] = [20, 21, 22].map(SourceId::new);
    let (web, market) = (ChannelId::new(30), ChannelId::new(31));
    let (admin, manager, cs) = (RoleId::new(1), RoleId::new(2), RoleId::new(3));

    let mut batch = vec![
        Mutation::PutAccount(Account::new(acme, "Acme Retail")),
        Mutation::PutChannel(Channel::new(web, acme, "Web store")),
        Mutation::PutChannel(Channel::new(market, acme, "Marketplace")),
        Mutation::PutRole(oms::administrator(admin, acme)),
        Mutation::PutRole(oms::store_manager(manager, acme)),
        Mutation::PutRole(
            oms::customer_service_agent(cs, acme).with_channel_ceiling(Access::specific([web])),
        ),
    ];
    for (i, s) in stores.iter().enumerate() {
        batch.push(Mutation::PutStore(Store::new(
            *s,
            acme,
            format!("Store {i}"),
        )));
    }
    for (i, s) in sources.iter().enumerate() {
        batch.push(Mutation::PutSource(Source::new(
            *s,
            acme,
            format!("source-{i}"),
        )));
    }
    let users = [
        (
            "olga",
            "owner: everything",
            Grant::new(admin, Access::All),
            Access::All,
        ),
        (
            "marta",
            "manager of two stores, one source",
            Grant::new(manager, Access::specific([stores[0], stores[1]])),
            Access::specific([sources[0]]),
        ),
        (
            "carl",
            "customer service, all stores, web store only",
            Grant::new(cs, Access::All),
            Access::All,
        ),
        (
            "nina",
            "manager with no sources assigned",
            Grant::new(manager, Access::specific([stores[2]])),
            Access::None,
        ),
    ];
    for (i, (name, _, grant, srcs)) in users.iter().enumerate() {
        batch.push(Mutation::PutUser(
            User::new(
                UserId::new(100 + i as u64),
                acme,
                name,
                &format!("{name}@acme.example"),
            )
            .with_owner(i == 0)
            .with_grant(grant.clone())
            .with_sources(srcs.clone())
            .with_channels(Access::All),
        ));
    }
    engine.unchecked_apply(batch)?;

    let columns = Columns::new("o.account_id")
        .store("o.store_id")
        .source("o.source_id")
        .channel("o.channel_id");
    let mut disagreements = 0;
    for (i, (name, who, _, _)) in users.iter().enumerate() {
        let user = UserId::new(100 + i as u64);
        let scope = engine.snapshot().scope_for(user, Oms::CS_MANAGE_ORDERS);
        let sql = scope.to_sql(Dialect::Postgres, &columns, 1)?;
        println!("{name} ({who}):");
        if scope.no_sources() {
            println!("  no sources assigned: show the error page, not an empty list");
        }
        println!("  SELECT * FROM orders o WHERE {}", sql.condition());
        for (n, p) in sql.params().iter().enumerate() {
            println!("    ${} = {p:?}", n + 1);
        }
        // The filter and `can` must agree on every store and source.
        for &s in &stores {
            disagreements += usize::from(
                scope.allows_store(s) != engine.can(user, Oms::CS_MANAGE_ORDERS, &OnStore(acme, s)),
            );
        }
        for &s in &sources {
            disagreements += usize::from(
                scope.allows_source(s)
                    != engine.can(user, Oms::CS_MANAGE_ORDERS, &OnSource(acme, s)),
            );
        }
    }

    let refunders = engine
        .snapshot()
        .who_can(Oms::RELEASE_REFUNDS, &OnStore(acme, stores[0]));
    let snapshot = engine.snapshot();
    let names: Vec<&str> = refunders
        .iter()
        .filter_map(|u| snapshot.user(*u).map(User::username))
        .collect();
    println!("\nwho may release refunds at Store 0: {names:?}");

    if disagreements > 0 {
        return Err(format!("{disagreements} filter decisions disagree with can").into());
    }
    println!("every filter agrees with can on every store and source");
    Ok(())
}
