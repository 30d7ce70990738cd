//! Onboarding store staff from a spreadsheet (R18, seed 003's template): a file with a bad row
//! is refused whole with a report, the fixed file is applied as one batch, and the download
//! gives the same template back.
//!
//! Run with `cargo run --example csv_onboarding`. Exits non-zero if an outcome is not the
//! expected one.

use shopguard::catalog::oms::{self, Oms};
use shopguard::import::CsvLimits;
use shopguard::{
    Access, Account, AccountId, Engine, Event, Grant, Mutation, RoleId, Source, SourceId, Store,
    StoreId, User, UserId,
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
        Mutation::PutSource(Source::new(SourceId::new(20), acme, "WAREHOUSE")),
        Mutation::PutSource(Source::new(SourceId::new(21), acme, "test-store")),
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
    Ok(())
}
