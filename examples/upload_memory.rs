//! Peak memory of hostile uploads of the size limit (issue 14): files of 10 MiB
//! (`CsvLimits::default().max_bytes`) made of the header and `x,x,x,…`, as in
//! `benches/upload.rs`. Each is refused with at most 100 problems listed and the rest counted.
//!
//! ```text
//! cargo run --release --example upload_memory
//! ```
//!
//! How it measures: each file is uploaded in a fresh process (this program runs itself once
//! per file), so that memory one upload freed is not reused by the next. There, after the
//! engine and the file are built, the kernel's peak resident set (`VmHWM` in
//! `/proc/self/status`) is reset to the current resident set (writing `5` to
//! `/proc/self/clear_refs`, Linux 4.0 and later), the upload runs, and `VmHWM` is read again.
//! The growth of the peak over the resident set before the upload is the upload's working
//! memory: parsing, the problems, the audit record of the refusal (kept by the default
//! in-memory audit log). The file itself (the caller's, at most the limit) is resident before
//! the upload, so it is not in the growth; both figures are printed as multiples of the limit.
//!
//! What it does not count: memory allocated but never written (the resident set counts pages
//! touched), and memory the allocator already held, freed, before the upload and reused in it
//! (little: the engine here is small and the file is one allocation). Bytes requested from the
//! allocator during the upload (a counting allocator, `stats_alloc`) are printed beside it: a
//! sum over every allocation, not a peak. Without `/proc` (not Linux) nothing is measured and
//! the program exits successfully.
//!
//! Exits non-zero if an upload is applied, lists more than 100 problems, or its working memory
//! is above [`TARGET`] times the limit.

use std::alloc::System;
use std::env;
use std::error::Error;
use std::fs;
use std::process::{Command, ExitCode};

use shopguard::catalog::oms::{self, Oms};
use shopguard::import::CsvLimits;
use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId, User, UserId};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "../benches/csv_files/mod.rs"]
mod csv_files;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ACME: AccountId = AccountId::new(1);
const OWNER: UserId = UserId::new(1);
const MIB: f64 = (1u64 << 20) as f64;

/// The target: an upload's working memory (peak growth) at most this many times the limit.
/// The upload borrows the file and keeps at most the template's nine fields of a record,
/// whatever the record's length, so it needs a small fraction of the limit.
const TARGET: f64 = 1.0;

/// The files: a name, and `x` cells to a line.
const FILES: [(&str, usize); 3] = [
    // Lines of 300 cells: about 17,500 rows, one problem each.
    ("commas", 300),
    // One line of about 5.2 million cells: one record, one problem.
    ("one_line", usize::MAX),
    // Rows of the template's nine cells, every one bad: up to the 100,000-row limit.
    ("nine_cells", 9),
];

fn main() -> Result<ExitCode, Box<dyn Error>> {
    match env::args().nth(1) {
        Some(name) => measure(&name),
        None => {
            let limit = CsvLimits::default().max_bytes;
            println!(
                "hostile uploads of {limit} bytes ({:.0} MiB, the size limit); working memory \
                 at most {TARGET:.1} times the limit",
                limit as f64 / MIB
            );
            let me = env::current_exe()?;
            let mut code = ExitCode::SUCCESS;
            for (name, _) in FILES {
                if !Command::new(&me).arg(name).status()?.success() {
                    code = ExitCode::FAILURE;
                }
            }
            Ok(code)
        }
    }
}

/// Uploads the file called `name` and prints its peak memory.
fn measure(name: &str) -> Result<ExitCode, Box<dyn Error>> {
    let (_, cells) = FILES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("no file called {name}"))?;
    let limits = CsvLimits::default();
    let engine = engine()?;
    let csv = csv_files::hostile(*cells, limits.max_bytes);

    // The peak so far is forgotten: from here, `VmHWM` is the peak of what follows.
    let reset = fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_bytes("VmRSS:");
    let region = Region::new(GLOBAL);
    let mut next = 1_000u64;
    let outcome = engine.upload_users_csv(OWNER, csv.as_bytes(), &limits, &mut || {
        next += 1;
        UserId::new(next)
    });
    let requested = region.change().bytes_allocated;
    let peak = status_bytes("VmHWM:");

    let err = match outcome {
        Ok(_) => return Err(format!("{name}: the upload was applied").into()),
        Err(err) => err,
    };
    let (listed, omitted) = (err.problems().len(), err.problems_omitted());
    println!(
        "\n{name}: {} bytes, {} lines; refused: {listed} problems listed, {omitted} more counted",
        csv.len(),
        csv.lines().count()
    );
    if listed > 100 {
        return Err(format!("{name}: {listed} problems listed").into());
    }
    let limit = limits.max_bytes as f64;
    println!(
        "  bytes requested from the allocator during the upload: {:.1} MiB (a sum, not a peak)",
        requested as f64 / MIB
    );
    let (Some(before), Some(peak), true) = (before, peak, reset) else {
        println!("  peak resident set not measured: needs Linux's /proc/self/clear_refs");
        return Ok(ExitCode::SUCCESS);
    };
    let growth = peak.saturating_sub(before);
    let working = growth as f64 / limit;
    println!(
        "  resident before: {:.1} MiB (the file, the engine, the program); peak: {:.1} MiB",
        before as f64 / MIB,
        peak as f64 / MIB
    );
    println!(
        "  working memory (peak growth): {:.2} MiB = {working:.3} x the limit; with the file \
         itself: {:.2} x the limit",
        growth as f64 / MIB,
        (growth as f64 + csv.len() as f64) / limit
    );
    Ok(if working <= TARGET {
        ExitCode::SUCCESS
    } else {
        eprintln!("{name}: over the target of {TARGET:.1} x the limit");
        ExitCode::FAILURE
    })
}

/// An account with its owner, who may upload, and the three OMS roles.
fn engine() -> Result<Engine<Oms>, Box<dyn Error>> {
    let engine = Engine::<Oms>::new();
    engine.unchecked_apply([
        Mutation::PutAccount(Account::new(ACME, "Acme")),
        Mutation::PutRole(oms::administrator(RoleId::new(1), ACME)),
        Mutation::PutRole(oms::store_assistant(RoleId::new(2), ACME)),
        Mutation::PutRole(oms::customer_service_agent(RoleId::new(3), ACME)),
        Mutation::PutUser(
            User::new(OWNER, ACME, "owner", "owner@site.com")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
    ])?;
    Ok(engine)
}

/// A `kB` line of `/proc/self/status`, in bytes, where `/proc` has it.
fn status_bytes(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
