//! CSV uploads (R18), measured side by side in one group:
//!
//! - `csv_10k_rows`: 10,000 rows, parsed, resolved, validated, authorized and applied as one
//!   batch, into an account that starts with its owner only.
//! - `hostile_10mib_*` (issue 14): files of the size limit (`CsvLimits::default().max_bytes`,
//!   10 MiB) made of the header and `x,x,x,…`, refused with at most 100 problems listed and
//!   the rest counted: `commas` has lines of 300 cells, `one_line` is one line of about 5.2
//!   million cells, `nine_cells` has rows of the template's nine cells, every one bad (read up
//!   to the 100,000-row limit).
//! - `sources_cell_20k_*` (issue 14): one row whose Sources cell names 20,000 sources that
//!   the uploader's account does not have, so every name is looked up and the row is refused.
//!   `alone`: the account is the only one; `other_tenants`: 100 other accounts (an owner and
//!   an administrator role each) hold 200 sources each, 20,000 in all, named as in the cell. The two should be close: a
//!   name is looked up in the uploader's account only.

use std::error::Error;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;

mod csv_files;
use shopguard::audit::{AuditRecord, AuditSink};
use shopguard::catalog::oms::{self, Oms};
use shopguard::import::CsvLimits;
use shopguard::{
    Access, Account, AccountId, Engine, Grant, Mutation, RoleId, Source, SourceId, Store, StoreId,
    User, UserId,
};

const ROWS: usize = 10_000;
const ACME: AccountId = AccountId::new(1);
const OWNER: UserId = UserId::new(1);

/// Other tenants for `sources_cell_20k_other_tenants`: accounts, and sources in each.
const OTHER_ACCOUNTS: u64 = 100;
const SOURCES_EACH: u64 = 200;
/// Names in the Sources cell: as many as the other tenants hold.
const CELL_NAMES: u64 = OTHER_ACCOUNTS * SOURCES_EACH;

/// The most problems an upload lists (the rest are counted).
const MAX_LISTED: usize = 100;

/// Audit records are dropped, so that refusing the same file again and again does not grow a
/// log in memory between samples.
#[derive(Debug)]
struct Discard;

impl AuditSink<Oms> for Discard {
    fn record(&self, _records: &[AuditRecord<Oms>]) -> Result<(), shopguard::Error> {
        Ok(())
    }
}

/// Acme: three roles, 50 stores, 50 sources (`src-0` … `src-49`) and its owner.
fn acme() -> Vec<Mutation<Oms>> {
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
    batch
}

fn engine() -> Result<Engine<Oms>, Box<dyn Error>> {
    let e = Engine::new();
    e.unchecked_apply(acme())?;
    Ok(e)
}

/// Acme, with audit records dropped; with `others`, also [`OTHER_ACCOUNTS`] accounts of
/// [`SOURCES_EACH`] sources, an administrator role and an owner each. Their sources are named `other-0` …
/// `other-19999`, the names of [`sources_cell`].
fn refusing_engine(others: bool) -> Result<Engine<Oms>, Box<dyn Error>> {
    let e = Engine::new().with_audit(Arc::new(Discard));
    let mut batch = acme();
    if others {
        for a in 0..OTHER_ACCOUNTS {
            let account = AccountId::new(1_000 + a);
            let admin = RoleId::new(1_000 + a);
            batch.push(Mutation::PutAccount(Account::new(
                account,
                format!("Tenant {a}"),
            )));
            batch.push(Mutation::PutRole(oms::administrator(admin, account)));
            for s in 0..SOURCES_EACH {
                let n = a * SOURCES_EACH + s;
                batch.push(Mutation::PutSource(Source::new(
                    SourceId::new(100_000 + n),
                    account,
                    format!("other-{n}"),
                )));
            }
            batch.push(Mutation::PutUser(
                User::new(
                    UserId::new(100_000 + a),
                    account,
                    &format!("owner{a}"),
                    &format!("owner{a}@tenant{a}.com"),
                )
                .with_owner(true)
                .with_grant(Grant::new(admin, Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
            ));
        }
    }
    e.unchecked_apply(batch)?;
    Ok(e)
}

fn file() -> String {
    let mut csv = csv_files::header();
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

/// One row whose Sources cell names `other-0` … `other-19999`.
fn sources_cell() -> String {
    let mut names = String::new();
    for n in 0..CELL_NAMES {
        if n > 0 {
            names.push_str(", ");
        }
        let _ = write!(names, "other-{n}");
    }
    let header = csv_files::header();
    format!(
        "{header}staff0,staff0@site.com,1,0,0,Europe/Madrid,Store assistant,\"{names}\",Create\n"
    )
}

/// Uploads `csv` as the owner; `true` if it is refused.
fn refused(e: &Engine<Oms>, csv: &str) -> bool {
    let mut next = 1_000u64;
    e.upload_users_csv(OWNER, csv.as_bytes(), &CsvLimits::default(), &mut || {
        next += 1;
        UserId::new(next)
    })
    .is_err()
}

/// Uploads `csv` once and checks the refusal: at most [`MAX_LISTED`] problems listed, and
/// `total` problems in all when it is known.
fn check_refused(
    e: &Engine<Oms>,
    name: &str,
    csv: &str,
    total: Option<usize>,
) -> Result<shopguard::Error, Box<dyn Error>> {
    let mut next = 1_000u64;
    let err = match e.upload_users_csv(OWNER, csv.as_bytes(), &CsvLimits::default(), &mut || {
        next += 1;
        UserId::new(next)
    }) {
        Ok(_) => return Err(format!("{name}: the upload was applied").into()),
        Err(err) => err,
    };
    let (listed, omitted) = (err.problems().len(), err.problems_omitted());
    eprintln!(
        "{name}: {} bytes, refused: {listed} problems listed, {omitted} more counted",
        csv.len()
    );
    if listed == 0 || listed > MAX_LISTED {
        return Err(format!("{name}: {listed} problems listed").into());
    }
    if omitted > 0 && listed != MAX_LISTED {
        return Err(format!("{name}: {omitted} omitted with only {listed} listed").into());
    }
    if let Some(total) = total
        && listed + omitted != total
    {
        return Err(format!("{name}: {} problems, expected {total}", listed + omitted).into());
    }
    Ok(err)
}

/// The Sources cell is refused alone, naming the first name and counting the others.
fn check_sources_refused(e: &Engine<Oms>, name: &str, csv: &str) -> Result<(), Box<dyn Error>> {
    let err = check_refused(e, name, csv, Some(1))?;
    let p = err.problems().first().ok_or("no problem")?;
    let expected = format!("unknown source `other-0`, and {} more", CELL_NAMES - 1);
    if p.column() != Some("Sources") || p.reason() != expected {
        return Err(format!("{name}: unexpected problem: {p}").into());
    }
    Ok(())
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

    // The hostile files and the Sources cell, checked once outside the timing.
    let alone = refusing_engine(false)?;
    let crowded = refusing_engine(true)?;
    let commas = csv_files::hostile(300, CsvLimits::default().max_bytes);
    let one_line = csv_files::hostile(usize::MAX, CsvLimits::default().max_bytes);
    let nine_cells = csv_files::hostile(9, CsvLimits::default().max_bytes);
    // Every line of 300 cells is one problem: its number of fields.
    let commas_rows = commas.lines().count() - 1;
    check_refused(&alone, "hostile_10mib_commas", &commas, Some(commas_rows))?;
    check_refused(&alone, "hostile_10mib_one_line", &one_line, Some(1))?;
    check_refused(&alone, "hostile_10mib_nine_cells", &nine_cells, None)?;
    let cell = sources_cell();
    check_sources_refused(&alone, "sources_cell_20k_alone", &cell)?;
    check_sources_refused(&crowded, "sources_cell_20k_other_tenants", &cell)?;

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
    // A refused upload changes nothing: the same engine serves every iteration.
    group.measurement_time(Duration::from_secs(10));
    for (name, file) in [
        ("hostile_10mib_commas", &commas),
        ("hostile_10mib_one_line", &one_line),
        ("hostile_10mib_nine_cells", &nine_cells),
    ] {
        group.bench_function(name, |b| b.iter(|| refused(&alone, black_box(file))));
    }
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("sources_cell_20k_alone", |b| {
        b.iter(|| refused(&alone, black_box(&cell)));
    });
    group.bench_function("sources_cell_20k_other_tenants", |b| {
        b.iter(|| refused(&crowded, black_box(&cell)));
    });
    group.finish();
    c.final_summary();
    Ok(())
}
