//! `import` and `export`: users in the CSV upload template (R18), and the account as a
//! policy file.

use std::io::{Read, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use shopguard::audit::AuditActor;
use shopguard::import::{CsvLimits, Uploaded};
use shopguard::policy::{Names, Policy};
use shopguard::{Event, UserId};

use crate::Perms;
use crate::args::{Cli, ExportArgs, ExportFormat, ImportArgs};
use crate::db;
use crate::failure::{Code, Failure};
use crate::out::{self, Table};

/// Invitations listed in a table; `--json` lists every one.
const SHOWN: usize = 20;

/// Files at least this large get a progress bar (on a terminal only).
const LARGE: u64 = 256 << 10;

/// Reads the file, with a progress bar on a terminal for a large one.
fn read_file(
    path: &std::path::Path,
    limits: &CsvLimits,
) -> Result<(Vec<u8>, Option<ProgressBar>), Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::Usage(format!("cannot read `{}`: {e}", path.display())))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limits.max_bytes as u64 {
        return Err(Failure::Usage(format!(
            "`{}` has {len} bytes: an upload takes at most {}",
            path.display(),
            limits.max_bytes
        )));
    }
    let bar = (len >= LARGE).then(|| {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg} {wide_bar} {bytes}/{total_bytes}")
        {
            bar.set_style(style);
        }
        bar.set_message("reading");
        bar
    });
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte past the limit is enough to know the file is too large, if it grew meanwhile.
    let limit = u64::try_from(limits.max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    match &bar {
        Some(b) => b.wrap_read(file).take(limit).read_to_end(&mut data)?,
        None => file.take(limit).read_to_end(&mut data)?,
    };
    if let Some(b) = &bar {
        // The engine reads, resolves and plans every row at once: a spinner while it does.
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            b.set_style(style);
        }
        let rows = data
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            .saturating_sub(1);
        b.set_message(format!("checking {rows} rows"));
        b.enable_steady_tick(Duration::from_millis(100));
    }
    Ok((data, bar))
}

#[derive(Serialize)]
struct ImportOut {
    dry_run: bool,
    revision: u64,
    created: usize,
    updated: usize,
    unchanged: usize,
    invitations: Vec<Invitation>,
}

#[derive(Serialize)]
struct Invitation {
    user: String,
    email: String,
}

/// `import`: an upload as an actor; `--dry-run` lists every problem and changes nothing.
pub(crate) fn import<P: Perms>(cli: &Cli, a: &ImportArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let account = db::account(cli, &snapshot)?;
    let names = Names::new(&snapshot, account);
    let actor = names.user(&a.actor).map_err(Failure::Input)?;
    let limits = CsvLimits::default();
    let (data, bar) = read_file(&a.file, &limits)?;
    // Ids are unique across the engine's accounts: new ones start above every user's.
    let mut next = a.first_id.unwrap_or_else(|| {
        snapshot
            .accounts()
            .flat_map(|acc| snapshot.users(acc.id()))
            .map(|u| u.id().get())
            .max()
            .map_or(1, |m| m.saturating_add(1))
    });
    let mut new_id = || {
        let id = UserId::new(next);
        next = next.saturating_add(1);
        id
    };
    let result: Result<Uploaded, shopguard::Error> = if a.dry_run {
        engine.preview_users_csv(actor, &data, &limits, &mut new_id)
    } else {
        engine.upload_users_csv(actor, &data, &limits, &mut new_id)
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let uploaded = result.map_err(Failure::of)?;
    let after = engine.snapshot();
    let invitations: Vec<Invitation> = uploaded
        .applied()
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Invited { user, email } => Some(Invitation {
                user: after
                    .user(*user)
                    .map_or_else(|| format!("#{}", user.get()), |u| u.username().to_owned()),
                email: email.clone(),
            }),
            _ => None,
        })
        .collect();
    let report = ImportOut {
        dry_run: a.dry_run,
        revision: uploaded.applied().revision(),
        created: uploaded.created(),
        updated: uploaded.updated(),
        unchanged: uploaded.unchanged(),
        invitations,
    };
    if cli.json {
        out::json(&report)?;
        return Ok(Code::Ok);
    }
    let users = |n: usize| {
        if n == 1 {
            "1 user".to_owned()
        } else {
            format!("{n} users")
        }
    };
    let text = if a.dry_run {
        format!(
            "would create {}, update {} and leave {} unchanged (dry run: nothing was changed)",
            users(report.created),
            users(report.updated),
            users(report.unchanged)
        )
    } else {
        format!(
            "created {}, updated {} and left {} unchanged (revision {})",
            users(report.created),
            users(report.updated),
            users(report.unchanged),
            report.revision
        )
    };
    out::line(&text)?;
    if !a.dry_run && !report.invitations.is_empty() {
        out::line("send each new user a password link:")?;
        let total = report.invitations.len();
        let mut table = Table::new(&["USER", "E-MAIL"]);
        for i in report.invitations.into_iter().take(SHOWN) {
            table.row(vec![i.user, i.email]);
        }
        table.print()?;
        if total > SHOWN {
            out::line(&format!(
                "and {} more (--json lists every one)",
                total - SHOWN
            ))?;
        }
    }
    Ok(Code::Ok)
}

/// Writes `text` to `--output` or standard output.
fn emit(output: Option<&std::path::Path>, text: &str) -> Result<(), Failure> {
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::Io(format!("cannot write `{}`: {e}", path.display()))),
        None => {
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

/// `export`: the users an actor may edit as CSV, or the account as a policy file.
pub(crate) fn export<P: Perms>(cli: &Cli, a: &ExportArgs, catalog: &str) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let account = db::account(cli, &snapshot)?;
    let names = Names::new(&snapshot, account);
    let by = match &a.acting.actor {
        Some(r) => AuditActor::User(names.user(r).map_err(Failure::Input)?),
        None => AuditActor::System("shopguard export".to_owned()),
    };
    match a.format {
        ExportFormat::Csv => {
            let Some(actor) = by.user() else {
                return Err(Failure::Usage(
                    "a CSV export is of the users an actor may edit: name it with --as".to_owned(),
                ));
            };
            let text = snapshot.download_users_csv(actor).map_err(Failure::of)?;
            emit(a.output.as_deref(), &text)?;
        }
        ExportFormat::Policy => {
            let policy =
                Policy::export(&snapshot, account, &by, Some(catalog)).map_err(Failure::of)?;
            let text = policy.to_toml().map_err(Failure::of)?;
            emit(a.output.as_deref(), &text)?;
        }
    }
    Ok(Code::Ok)
}
