//! `audit`: the audit trail (R19), filtered and paged by the store (`AuditQuery`), newest
//! first; JSON lines with `--json`.

use std::io::Write;

use shopguard::audit::{
    AuditActor, AuditCursor, AuditQuery, AuditRecord, Object, Outcome, OutcomeKind,
};
use shopguard::policy::{Names, Ref};
use shopguard::storage::{Key, ObjectKind};
use shopguard::{Change, Snapshot};

use crate::Perms;
use crate::args::{AuditArgs, Cli, KindName, OutcomeName};
use crate::db;
use crate::failure::{Code, Failure};
use crate::out::Table;

/// `audit`: one page of the account's records matching every filter given, newest first.
pub(crate) fn audit<P: Perms>(cli: &Cli, a: &AuditArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let account = db::account(cli, &snapshot)?;
    let names = Names::new(&snapshot, account);
    let mut query = AuditQuery::new(account).limit(a.limit);
    if let Some(text) = &a.actor {
        // A user of the account by username or `#id`, or else a system's name.
        let r: Ref = text.parse().map_err(Failure::Input)?;
        query = match names.user(&r) {
            Ok(id) => query.actor(id),
            Err(_) => query.actor(AuditActor::System(text.clone())),
        };
    }
    if let Some(text) = &a.target {
        query = query.target(target(&names, text)?);
    }
    if let Some(k) = a.kind {
        query = query.kind(match k {
            KindName::Account => ObjectKind::Account,
            KindName::Store => ObjectKind::Store,
            KindName::Source => ObjectKind::Source,
            KindName::Channel => ObjectKind::Channel,
            KindName::Role => ObjectKind::Role,
            KindName::User => ObjectKind::User,
        });
    }
    if let Some(o) = a.outcome {
        query = query.outcome(match o {
            OutcomeName::Applied => OutcomeKind::Applied,
            OutcomeName::Refused => OutcomeKind::Refused,
            OutcomeName::Unknown => OutcomeKind::Unknown,
        });
    }
    if let Some(t) = &a.since {
        query = query.since_unix_ms(parse_time(t)?);
    }
    if let Some(t) = &a.until {
        query = query.before_unix_ms(parse_time(t)?);
    }
    if let Some(c) = &a.after {
        let cursor: AuditCursor = c.parse().map_err(Failure::Input)?;
        query = query.after(cursor);
    }
    let page = engine
        .query_audit(&query)
        .map_err(Failure::input_or_storage)?;
    if cli.json {
        let mut out = std::io::stdout().lock();
        for entry in &page.entries {
            let line = serde_json::to_string(entry).map_err(|e| Failure::Io(e.to_string()))?;
            writeln!(out, "{line}")?;
        }
    } else {
        let mut table = Table::new(&["SEQ", "TIME (UTC)", "ACTOR", "CHANGE", "OUTCOME"]);
        for entry in &page.entries {
            let r = &entry.record;
            table.row(vec![
                entry.seq.to_string(),
                format_time(r.at_unix_ms),
                actor_text(&snapshot, &r.actor),
                change_text(&snapshot, r),
                match &r.outcome {
                    Outcome::Applied { revision } => format!("applied (revision {revision})"),
                    Outcome::Refused { kind, message } => format!("refused ({kind}): {message}"),
                    Outcome::Unknown { revision } => format!("unknown (revision {revision})"),
                    _ => "other".to_owned(),
                },
            ]);
        }
        table.print()?;
    }
    if let Some(next) = page.next {
        crate::out::note(&format!("more records: the next page is --after {next}"));
    }
    Ok(Code::Ok)
}

/// The object `kind:name` names, in the account.
fn target<P: Perms>(names: &Names<'_, P>, text: &str) -> Result<Key, Failure> {
    let Some((kind, name)) = text.split_once(':') else {
        return Err(Failure::Usage(format!(
            "`{text}` is not KIND:NAME, such as user:cara or store:North"
        )));
    };
    let r: Ref = name.parse().map_err(Failure::Input)?;
    Ok(match kind {
        "user" => names.user(&r).map_err(Failure::Input)?.into(),
        "role" => names.role(&r).map_err(Failure::Input)?.into(),
        "store" => names.store(&r).map_err(Failure::Input)?.into(),
        "source" => names.source(&r).map_err(Failure::Input)?.into(),
        "channel" => names.channel(&r).map_err(Failure::Input)?.into(),
        "account" => names.account().into(),
        other => {
            return Err(Failure::Usage(format!(
                "`{other}` is not a kind: use user, role, store, source, channel or account"
            )));
        }
    })
}

fn actor_text<P: Perms>(snapshot: &Snapshot<P>, actor: &AuditActor) -> String {
    match actor {
        AuditActor::User(id) => snapshot
            .user(*id)
            .map_or_else(|| format!("#{}", id.get()), |u| u.username().to_owned()),
        AuditActor::System(name) => format!("system `{name}`"),
        _ => "?".to_owned(),
    }
}

/// The change in words, with the object it is about where the record names it.
fn change_text<P: Perms>(snapshot: &Snapshot<P>, r: &AuditRecord<P>) -> String {
    let name = r.change.name();
    let object = match &r.change {
        Change::CreateRole(x) | Change::UpdateRole(x) => Some(x.name().to_owned()),
        Change::CreateUser(x) | Change::UpdateUser(x) => Some(x.username().to_owned()),
        Change::CopyUser { username, .. } => Some(username.clone()),
        Change::CreateStore(x) | Change::UpdateStore(x) => Some(x.name().to_owned()),
        Change::CreateSource(x) | Change::UpdateSource(x) => Some(x.external_id().to_owned()),
        Change::CreateChannel(x) | Change::UpdateChannel(x) => Some(x.name().to_owned()),
        Change::EnableUser(id) | Change::DisableUser(id) | Change::DeleteUser(id) => {
            Some(user_name(snapshot, r, *id))
        }
        Change::TransferOwnership { to } => Some(user_name(snapshot, r, *to)),
        Change::RenameRole { name, .. } => Some(name.clone()),
        Change::Unchecked { mutations } => return format!("{name} ({} writes)", mutations.len()),
        Change::UploadUsers { rows } => return format!("{name} ({rows} rows)"),
        Change::SetSeatLimit { limit, .. } => {
            Some(limit.map_or("none".to_owned(), |n| n.to_string()))
        }
        _ => None,
    };
    match object {
        Some(o) => format!("{name} `{o}`"),
        None => name.to_owned(),
    }
}

/// A user's name: from the record's before or after, or the engine now.
fn user_name<P: Perms>(
    snapshot: &Snapshot<P>,
    r: &AuditRecord<P>,
    id: shopguard::UserId,
) -> String {
    r.before
        .iter()
        .chain(&r.after)
        .find_map(|o| match o {
            Object::User(u) if u.id() == id => Some(u.username().to_owned()),
            _ => None,
        })
        .or_else(|| snapshot.user(id).map(|u| u.username().to_owned()))
        .unwrap_or_else(|| format!("#{}", id.get()))
}

/// Milliseconds since the Unix epoch as `2025-03-01 09:30:00`.
pub(crate) fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 as a date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A date as days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2025-03-01`, `2025-03-01T09:30`, `2025-03-01T09:30:00Z` (UTC), or Unix milliseconds.
pub(crate) fn parse_time(text: &str) -> Result<u64, Failure> {
    let bad = || {
        Failure::Usage(format!(
            "`{text}` is not a time: use 2025-03-01, 2025-03-01T09:30:00Z or Unix milliseconds"
        ))
    };
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let text_utc = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text_utc.split_once(['T', ' ']) {
        Some((d, t)) => (d, t),
        None => (text_utc, "00:00:00"),
    };
    let mut date_parts = date.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (date_parts.next(), date_parts.next(), date_parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1970 {
        return Err(bad());
    }
    let mut hms = time.splitn(3, ':');
    let h: u64 = hms.next().unwrap_or("0").parse().map_err(|_| bad())?;
    let min: u64 = hms.next().unwrap_or("0").parse().map_err(|_| bad())?;
    let s: u64 = hms
        .next()
        .unwrap_or("0")
        .split('.')
        .next()
        .unwrap_or("0")
        .parse()
        .map_err(|_| bad())?;
    if h > 23 || min > 59 || s > 60 {
        return Err(bad());
    }
    let days = u64::try_from(days_from_civil(y, m, d)).map_err(|_| bad())?;
    Ok(((days * 86_400) + h * 3600 + min * 60 + s) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_print_as_utc() {
        assert_eq!(parse_time("1970-01-01").ok(), Some(0));
        assert_eq!(
            parse_time("2000-03-01T00:00:00Z").ok(),
            Some(951_868_800_000)
        );
        assert_eq!(parse_time("951868800000").ok(), Some(951_868_800_000));
        assert_eq!(format_time(951_868_800_000), "2000-03-01 00:00:00");
        assert_eq!(format_time(1_709_251_199_000), "2024-02-29 23:59:59");
        assert_eq!(
            parse_time("2024-02-29T23:59:59Z").ok(),
            Some(1_709_251_199_000)
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2024-13-01").is_err());
    }
}
