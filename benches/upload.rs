//! CSV upload of 10,000 rows (R18): parsing, resolving, validating and authorizing every row,
//! then applying them as one batch, into an account that starts with its owner only.

use std::error::Error;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use shopguard::catalog::oms::{self, Oms};
use shopguard::import::CsvLimits;
use shopguard::{
    Access, Account, AccountId, Engine, Grant, Mutation, RoleId, Source, SourceId, Store, StoreId,
    User, UserId,
};

const ROWS: usize = 10_000;
const ACME: AccountId = AccountId::new(1);
const OWNER: UserId = UserId::new(1);

fn engine() -> Result<Engine<Oms>, Box<dyn Error>> {
    let e = Engine::new();
    let mut batch = vec![
        Mutation::PutAccount(Account::new(ACME, "Acme")),
        Mutation::PutRole(oms::administrator(RoleId::new(1), ACME)),
        Mutation::PutRole(oms::store_assistant(RoleId::new(2), ACME)),
        Mutation::PutRole(oms::customer_service_agent(RoleId::new(3), ACME)),
    ];
    for s in 0..50u64 {
        batch.push(Mutation::PutStore(Store::new(
            StoreId::new(100 + s),
            ACME,
            format!("s{s}"),
        )));
        batch.push(Mutation::PutSource(Source::new(
            SourceId::new(200 + s),
            ACME,
            format!("src-{s}"),
        )));
    }
    batch.push(Mutation::PutUser(
        User::new(OWNER, ACME, "owner", "owner@site.com")
            .with_owner(true)
            .with_grant(Grant::new(RoleId::new(1), Access::All))
            .with_sources(Access::All)
            .with_channels(Access::All),
    ));
    e.unchecked_apply(batch)?;
    Ok(e)
}

fn file() -> String {
    let mut csv = String::from(
        "Username,E-mail,Enabled,Access all sales channels,Access all sources,Timezone,Role,Sources,Action\n",
    );
    for i in 0..ROWS {
        let role = if i % 3 == 0 {
            "Customer service agent"
        } else {
            "Store assistant"
        };
        let _ = writeln!(
            csv,
            "staff{i},staff{i}@site.com,{},0,0,Europe/Madrid,{role},\"src-{}, src-{}\",Create",
            u8::from(i % 10 != 0),
            i % 50,
            (i + 7) % 50
        );
    }
    csv
}

fn main() -> Result<(), Box<dyn Error>> {
    let csv = file();
    // An honest run first: every row is applied.
    let e = engine()?;
    let mut next = 1_000u64;
    let up = e.upload_users_csv(OWNER, csv.as_bytes(), &CsvLimits::default(), &mut || {
        next += 1;
        UserId::new(next)
    })?;
    if up.created() != ROWS {
        return Err(format!("created {} of {ROWS}", up.created()).into());
    }
    eprintln!("upload: {} bytes, {ROWS} rows, all created", csv.len());

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("upload");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("csv_10k_rows", |b| {
        b.iter_batched(
            || engine().ok(),
            |e| {
                let mut next = 1_000u64;
                e.map(|e| {
                    e.upload_users_csv(
                        OWNER,
                        black_box(csv.as_bytes()),
                        &CsvLimits::default(),
                        &mut || {
                            next += 1;
                            UserId::new(next)
                        },
                    )
                    .is_ok()
                })
            },
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
    c.final_summary();
    Ok(())
}
