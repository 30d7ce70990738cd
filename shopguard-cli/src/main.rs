//! `shopguard`: the authorization engine from a shell.
//!
//! Checks and their reasons, who may do what and where, listings as an actor sees them, CSV
//! import and export of users, the audit trail, and policy files — applied, diffed and
//! tested — against a SQLite file (`sqlite:PATH`) or a PostgreSQL schema (`postgres://…`),
//! with one of the four ready catalogs (`pos`, `omnichannel`, `payments`, `oms`).
//!
//! Run `shopguard help` for the commands, `shopguard help COMMAND` for one, with examples.

#![forbid(unsafe_code)]

mod args;
mod audit;
mod csv;
mod db;
mod failure;
mod lists;
mod out;
mod policy;
mod query;

use std::process::ExitCode;

use clap::Parser;
use shopguard::Catalog;
use shopguard::catalog::omnichannel::Omnichannel;
use shopguard::catalog::oms::Oms;
use shopguard::catalog::payments::Payments;
use shopguard::catalog::pos::Pos;

use args::{CatalogName, Cli, Command};

/// What a catalog needs to be stored and printed: every ready catalog is one.
pub(crate) trait Perms: Catalog + serde::Serialize + serde::de::DeserializeOwned {}

impl<P: Catalog + serde::Serialize + serde::de::DeserializeOwned> Perms for P {}
use failure::{Code, Failure};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(&cli) {
        Ok(code) => code,
        Err(failure) => failure.report(cli.json),
    };
    ExitCode::from(code as u8)
}

fn run(cli: &Cli) -> Result<Code, Failure> {
    match catalog(cli)? {
        CatalogName::Pos => run_with::<Pos>(cli, "pos"),
        CatalogName::Omnichannel => run_with::<Omnichannel>(cli, "omnichannel"),
        CatalogName::Payments => run_with::<Payments>(cli, "payments"),
        CatalogName::Oms => run_with::<Oms>(cli, "oms"),
    }
}

/// The catalog: `--catalog` (or `SHOPGUARD_CATALOG`), or the one a policy or test file names.
fn catalog(cli: &Cli) -> Result<CatalogName, Failure> {
    let from_file = match &cli.command {
        Command::Apply(a) => policy::catalog_in(&a.file)?,
        Command::Diff(a) => policy::catalog_in(&a.file)?,
        Command::Validate(a) => policy::catalog_in(&a.file)?,
        Command::Test(a) => policy::catalog_of_test(a)?,
        _ => None,
    };
    match (cli.catalog, from_file) {
        (Some(given), Some(file)) if given != file => Err(Failure::Usage(format!(
            "--catalog says `{given}` but the file says `{file}`"
        ))),
        (Some(c), _) | (None, Some(c)) => Ok(c),
        (None, None) => Err(Failure::Usage(
            "name the permission catalog: --catalog pos|omnichannel|payments|oms (or SHOPGUARD_CATALOG)"
                .to_owned(),
        )),
    }
}

fn run_with<P: Perms>(cli: &Cli, name: &str) -> Result<Code, Failure> {
    match &cli.command {
        Command::Check(a) => query::check::<P>(cli, a),
        Command::Explain(a) => query::explain::<P>(cli, a),
        Command::WhoCan(a) => query::who_can::<P>(cli, a),
        Command::ScopeFor(a) => query::scope_for::<P>(cli, a),
        Command::Users(a) => lists::users::<P>(cli, a),
        Command::Roles(a) => lists::roles::<P>(cli, a),
        Command::Stores(a) => lists::stores::<P>(cli, a),
        Command::Sources(a) => lists::sources::<P>(cli, a),
        Command::Channels(a) => lists::channels::<P>(cli, a),
        Command::Permissions => lists::permissions::<P>(cli),
        Command::Import(a) => csv::import::<P>(cli, a),
        Command::Export(a) => csv::export::<P>(cli, a, name),
        Command::Audit(a) => audit::audit::<P>(cli, a),
        Command::Apply(a) => policy::apply::<P>(cli, a),
        Command::Diff(a) => policy::diff::<P>(cli, a),
        Command::Test(a) => policy::test::<P>(cli, a),
        Command::Validate(a) => policy::validate::<P>(cli, a),
    }
}
