//! `apply`, `diff`, `test` and `validate`: policy files and policy tests.

use std::path::Path;

use serde::Serialize;
use shopguard::audit::AuditActor;
use shopguard::policy::{Names, Policy, PolicyDiff, PolicyTests, TestReport};
use shopguard::{Engine, Error, Event};

use crate::Perms;
use crate::args::{Acting, ApplyArgs, CatalogName, Cli, DiffArgs, FileArgs, TestArgs};
use crate::db;
use crate::failure::{Code, Failure};
use crate::out::{self, Table};

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read `{}`: {e}", path.display())))
}

/// The catalog a file names, if it names one.
fn catalog_named(text: &str) -> Result<Option<CatalogName>, Failure> {
    match shopguard::policy::catalog_of(text).map_err(Failure::Input)? {
        None => Ok(None),
        Some(name) => CatalogName::parse(&name).map(Some).ok_or_else(|| {
            Failure::Usage(format!(
                "the file names the catalog `{name}`: use pos, omnichannel, payments or oms"
            ))
        }),
    }
}

/// The catalog the policy file at `path` names.
pub(crate) fn catalog_in(path: &Path) -> Result<Option<CatalogName>, Failure> {
    catalog_named(&read(path)?)
}

/// The catalog a test file names, or its policy file.
pub(crate) fn catalog_of_test(a: &TestArgs) -> Result<Option<CatalogName>, Failure> {
    if let Some(c) = catalog_named(&read(&a.file)?)? {
        return Ok(Some(c));
    }
    if a.live {
        return Ok(None);
    }
    let tests = PolicyTests::read(&a.file).map_err(Failure::Input)?;
    match a.policy.clone().or_else(|| tests.policy_path()) {
        Some(p) => catalog_in(&p),
        None => Ok(None),
    }
}

/// Who acts, in the engine's terms.
fn acting<P: Perms>(
    engine: &Engine<P>,
    policy: &Policy<P>,
    acting: &Acting,
    system: &str,
) -> Result<AuditActor, Failure> {
    match &acting.actor {
        None => Ok(AuditActor::System(system.to_owned())),
        Some(r) => {
            let snapshot = engine.snapshot();
            let names = Names::new(&snapshot, policy.account().id());
            Ok(AuditActor::User(names.user(r).map_err(Failure::Input)?))
        }
    }
}

/// Prints a refusal's problems, each on its entry of the diff (and that entry's line).
fn refusal<P: Perms>(diff: &PolicyDiff<P>, err: Error, json: bool) -> Failure {
    if !json {
        out::note(&format!("refused: {}", crate::failure::headline(&err)));
        for p in err.problems() {
            match diff.entry_of(p) {
                Some(e) => {
                    let line = e.line().map_or(String::new(), |l| format!("line {l}: "));
                    out::note(&format!("  {line}{e}\n      {}", p.reason()));
                }
                None => out::note(&format!("  {p}")),
            }
        }
        if err.problems_omitted() > 0 {
            out::note(&format!("  and {} more", err.problems_omitted()));
        }
        // Listed here already: the error is reported as its kind only.
        return Failure::Quiet(Failure::of(err).into());
    }
    Failure::of(err)
}

#[derive(Serialize)]
#[serde(bound = "")]
struct DiffOut<'a, P: Copy> {
    #[serde(flatten)]
    diff: &'a PolicyDiff<P>,
    dry_run: bool,
    revision: Option<u64>,
    invitations: Vec<String>,
}

fn show_diff<P: Perms>(diff: &PolicyDiff<P>) -> Result<(), Failure> {
    if diff.is_empty() {
        return out::line("nothing to change: the database already holds what the file says");
    }
    let mut table = Table::new(&["LINE", "CHANGE"]);
    for e in diff.entries() {
        table.row(vec![
            e.line().map_or(String::new(), |l| l.to_string()),
            e.to_string(),
        ]);
    }
    table.print()
}

/// `apply`: brings the account to the file, as an actor or as bootstrap.
pub(crate) fn apply<P: Perms>(cli: &Cli, a: &ApplyArgs) -> Result<Code, Failure> {
    let policy = Policy::<P>::read(&a.file).map_err(Failure::Input)?;
    let engine = db::open::<P>(cli)?;
    let by = acting(&engine, &policy, &a.acting, &a.system_name)?;
    let snapshot = engine.snapshot();
    let diff = policy.diff(&snapshot, &by).map_err(Failure::of)?;
    if a.dry_run {
        let planned = diff.dry_run(&engine);
        if cli.json {
            out::json(&DiffOut {
                diff: &diff,
                dry_run: true,
                revision: None,
                invitations: Vec::new(),
            })?;
        } else {
            show_diff(&diff)?;
        }
        return match planned {
            Ok(_) if diff.is_empty() => Ok(Code::Ok),
            Ok(_) => {
                if !cli.json {
                    out::line("dry run: every change would be applied; nothing was changed")?;
                }
                Ok(Code::Ok)
            }
            Err(err) => Err(refusal(&diff, err, cli.json)),
        };
    }
    let applied = match policy.apply(&engine, &by) {
        Ok(applied) => applied,
        Err(err) => {
            // Refused: show what was asked, then why.
            if !cli.json {
                show_diff(&diff)?;
            }
            return Err(refusal(&diff, err, cli.json));
        }
    };
    let invitations: Vec<String> = applied
        .applied()
        .map(|x| x.events().to_vec())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| match e {
            Event::Invited { email, .. } => Some(email),
            _ => None,
        })
        .collect();
    let revision = applied.applied().map(|x| x.revision());
    if cli.json {
        out::json(&DiffOut {
            diff: applied.diff(),
            dry_run: false,
            revision,
            invitations,
        })?;
        return Ok(Code::Ok);
    }
    show_diff(applied.diff())?;
    if let Some(r) = revision {
        let n = applied.diff().entries().len();
        out::line(&format!(
            "applied {n} {} as revision {r}",
            if n == 1 { "change" } else { "changes" }
        ))?;
    }
    if !invitations.is_empty() {
        out::line(&format!(
            "send a password link to each new user: {}",
            invitations.join(", ")
        ))?;
    }
    Ok(Code::Ok)
}

/// `diff`: what applying would change; exit 0 nothing, 1 changes pending, 4 refused.
pub(crate) fn diff<P: Perms>(cli: &Cli, a: &DiffArgs) -> Result<Code, Failure> {
    let policy = Policy::<P>::read(&a.file).map_err(Failure::Input)?;
    let engine = db::open::<P>(cli)?;
    let by = acting(&engine, &policy, &a.acting, "shopguard diff")?;
    let diff = policy.diff(&engine.snapshot(), &by).map_err(Failure::of)?;
    let planned = diff.dry_run(&engine);
    if cli.json {
        out::json(&DiffOut {
            diff: &diff,
            dry_run: true,
            revision: None,
            invitations: Vec::new(),
        })?;
    } else {
        show_diff(&diff)?;
    }
    match planned {
        Err(err) => Err(refusal(&diff, err, cli.json)),
        Ok(_) if diff.is_empty() => Ok(Code::Ok),
        Ok(_) => Ok(Code::No),
    }
}

/// `test`: a policy-test file against its policy file, or the database.
pub(crate) fn test<P: Perms>(cli: &Cli, a: &TestArgs) -> Result<Code, Failure> {
    let tests = PolicyTests::read(&a.file).map_err(Failure::Input)?;
    let report: TestReport = if a.live {
        let engine = db::open::<P>(cli)?;
        let account = db::account(cli, &engine.snapshot())?;
        tests.run(&engine, account)
    } else {
        let Some(path) = a.policy.clone().or_else(|| tests.policy_path()) else {
            return Err(Failure::Usage(
                "the test file names no policy: add `policy = \"…\"` to it, or give --policy"
                    .to_owned(),
            ));
        };
        let policy = Policy::<P>::read(&path).map_err(Failure::Input)?;
        policy.test(&tests).map_err(Failure::Input)?
    };
    if cli.json {
        out::json(&report)?;
    } else {
        for m in report.mismatches() {
            out::line(&format!("FAIL {m}"))?;
        }
        let failed = report.mismatches().len();
        out::line(&format!(
            "{}: {} passed, {failed} failed",
            a.file.display(),
            report.total() - failed
        ))?;
    }
    Ok(if report.is_success() {
        Code::Ok
    } else {
        Code::No
    })
}

/// `validate`: the file's own problems, then the engine's rules.
pub(crate) fn validate<P: Perms>(cli: &Cli, a: &FileArgs) -> Result<Code, Failure> {
    let policy = Policy::<P>::read(&a.file).map_err(Failure::Input)?;
    policy.validate().map_err(Failure::Input)?;
    if cli.json {
        out::json(&serde_json::json!({
            "valid": true,
            "account": policy.account().id(),
            "stores": policy.stores().len(),
            "sources": policy.sources().len(),
            "channels": policy.channels().len(),
            "roles": policy.roles().len(),
            "users": policy.users().len(),
        }))?;
    } else {
        out::line(&format!(
            "{}: valid — account `{}` with {} stores, {} sources, {} channels, {} roles, {} users",
            a.file.display(),
            policy.account().name(),
            policy.stores().len(),
            policy.sources().len(),
            policy.channels().len(),
            policy.roles().len(),
            policy.users().len(),
        ))?;
    }
    Ok(Code::Ok)
}
