//! Onboarding store staff from a spreadsheet (R18). With seed 003's template (the OMS): a file
//! with a bad row is refused whole with a report, the fixed file is applied as one batch, and
//! the download gives the same template back; the sources those users work from are uploaded
//! from a list first (*Manage sources*). With the POS template (seed 000), which has a Stores
//! column: an outlet manager uploads cashiers for its own outlet, a row naming another outlet
//! is refused on its Stores cell, and the outlet's roster downloads and uploads back unchanged.
//!
//! Run with `cargo run --example csv_onboarding`. Exits non-zero if an outcome is not the
//! expected one.

use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::pos::{self, Pos};
use shopguard::import::CsvLimits;
use shopguard::{
    Access, Account, AccountId, Engine, Event, Grant, Level, Mutation, Role, RoleId, SourceId,
    Store, StoreId, User, UserId,
};

const TEMPLATE: &str = "\
Username,E-mail,Enabled,Access all sales channels,Access all sources,Timezone,Role,Sources,Action
storeAssistant21,storeAssistant21@site.com,1,0,0,Europe/Madrid,Store assistant,\"WAREHOUSE, test-store\",Create
storeAssistant22,storeAssistant22@site.com,1,0,0,Europe/Madrid,Store assistant,test-store,Create
store assistant23,storeAssistant23@site.com,1,0,0,Europe/Madrid,Store assistant,test-store,Create
csAgent1,csAgent1@site.com,1,1,1,UTC,Customer service agent,,Create
csAgent2,csAgent2@site.com,0,1,0,UTC,Customer service agent,MOON-BASE,Create
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::<Oms>::new();
    let acme = AccountId::new(1);
    let root = UserId::new(1);
    engine.unchecked_apply([
        Mutation::PutAccount(Account::new(acme, "Acme Retail").with_seat_limit(300)),
        Mutation::PutStore(Store::new(StoreId::new(10), acme, "Madrid Centro")),
        Mutation::PutRole(oms::administrator(RoleId::new(1), acme)),
        Mutation::PutRole(oms::store_assistant(RoleId::new(2), acme)),
        Mutation::PutRole(oms::customer_service_agent(RoleId::new(3), acme)),
        Mutation::PutUser(
            User::new(root, acme, "root", "root@site.com")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
    ])?;
    let mut next = 100u64;
    let mut new_id = || {
        next += 1;
        UserId::new(next)
    };

    println!("sources: the list the stock team keeps, uploaded by the administrator");
    let sources = "External ID,Action\nWAREHOUSE,Create\ntest-store,Create\n";
    let mut next_source = 19u64;
    let up =
        engine.upload_sources_csv(root, sources.as_bytes(), &CsvLimits::default(), &mut || {
            next_source += 1;
            SourceId::new(next_source)
        })?;
    println!(
        "  applied as revision {}: {} sources created, each audited as `create source`",
        up.applied().revision(),
        up.created()
    );
    if up.created() != 2 {
        return Err("expected two sources".into());
    }

    println!("upload 1: the file as the spreadsheet came in");
    let err = match engine.upload_users_csv(
        root,
        TEMPLATE.as_bytes(),
        &CsvLimits::default(),
        &mut new_id,
    ) {
        Ok(_) => return Err("a file with bad rows was applied".into()),
        Err(err) => err,
    };
    for p in err.problems() {
        println!("  {p}");
    }
    let users = engine.snapshot().users(acme).count();
    println!("  nothing applied: the account still has {users} user(s)");
    if err.problems().len() != 2 || users != 1 {
        return Err("expected two bad rows and nothing applied".into());
    }

    println!("\nupload 2: the fixed file");
    let fixed = TEMPLATE
        .replace("store assistant23", "storeAssistant23")
        .replace(",MOON-BASE,", ",test-store,");
    let up = engine.upload_users_csv(root, fixed.as_bytes(), &CsvLimits::default(), &mut new_id)?;
    println!(
        "  applied as revision {}: {} created, {} updated",
        up.applied().revision(),
        up.created(),
        up.updated()
    );
    for e in up.applied().events() {
        if let Event::Invited { email, .. } = e {
            println!("  send a password link to {email}");
        }
    }

    println!("\ndownload:");
    let down = engine.snapshot().download_users_csv(root)?;
    print!("{down}");
    let again =
        engine.upload_users_csv(root, down.as_bytes(), &CsvLimits::default(), &mut new_id)?;
    let same = engine.snapshot().download_users_csv(root)? == down;
    println!(
        "\nuploading the download back: {} rows unchanged, {} updated, template unchanged: {same}",
        again.unchanged(),
        again.updated()
    );
    if up.created() != 5 || !same || again.updated() != 0 {
        return Err("the fixed upload or the round trip did not go as expected".into());
    }
    pos_outlet()
}

/// Seed 000: an outlet manager onboards cashiers for its outlet with the POS template.
fn pos_outlet() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::<Pos>::new();
    let shop = AccountId::new(2);
    let (owner, marta) = (UserId::new(1), UserId::new(2));
    let (admin, manager, cashier) = (RoleId::new(1), RoleId::new(2), RoleId::new(3));
    let (harbour, station) = (StoreId::new(10), StoreId::new(11));
    engine.unchecked_apply([
        Mutation::PutAccount(Account::new(shop, "Corner Shop").with_seat_limit(10)),
        Mutation::PutStore(Store::new(harbour, shop, "Harbour")),
        Mutation::PutStore(Store::new(station, shop, "Station")),
        Mutation::PutRole(pos::admin(admin, shop)),
        Mutation::PutRole(Role::new(
            manager,
            shop,
            "Manager",
            Level::below_top(1),
            pos::MANAGER | Pos::VIEW_USERS | Pos::MANAGE_USERS,
        )),
        Mutation::PutRole(pos::cashier(cashier, shop)),
        Mutation::PutUser(
            User::new(owner, shop, "olga", "olga@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(admin, Access::All)),
        ),
        Mutation::PutUser(
            User::new(marta, shop, "marta", "marta@shop.example")
                .with_grant(Grant::new(manager, Access::specific([harbour]))),
        ),
    ])?;
    let mut next = 100u64;
    let mut new_id = || {
        next += 1;
        UserId::new(next)
    };
    let file = "\
Username,E-mail,Enabled,Timezone,Role,Stores,Action
cara,cara@shop.example,1,Europe/Lisbon,Cashier,Harbour,Create
dino,dino@shop.example,1,Europe/Lisbon,Cashier,Station,Create
";
    println!("\nPOS: the Harbour manager uploads two cashiers");
    let err =
        match engine.upload_users_csv(marta, file.as_bytes(), &CsvLimits::default(), &mut new_id) {
            Ok(_) => return Err("a cashier for another outlet was created".into()),
            Err(err) => err,
        };
    for p in err.problems() {
        println!("  {p}");
    }
    if err.problems().first().and_then(|p| p.column()) != Some("Stores") {
        return Err("expected the Stores cell of the Station row".into());
    }
    let fixed = file.replace("Cashier,Station", "Cashier,Harbour");
    let up =
        engine.upload_users_csv(marta, fixed.as_bytes(), &CsvLimits::default(), &mut new_id)?;
    let s = engine.snapshot();
    let at_harbour = s
        .users(shop)
        .filter(|u| u.grants() == [Grant::new(cashier, Access::specific([harbour]))])
        .count();
    println!(
        "  fixed: {} created, {at_harbour} cashiers at Harbour only",
        up.created()
    );

    println!("\nthe owner's roster, downloaded:");
    let down = s.download_users_csv(owner)?;
    print!("{down}");
    let back =
        engine.upload_users_csv(owner, down.as_bytes(), &CsvLimits::default(), &mut new_id)?;
    println!(
        "uploaded back: {} unchanged, {} updated, revision still {}",
        back.unchanged(),
        back.updated(),
        back.applied().revision()
    );
    if up.created() != 2 || at_harbour != 2 || back.updated() != 0 || back.unchanged() != 4 {
        return Err("the POS upload or its round trip did not go as expected".into());
    }
    Ok(())
}
