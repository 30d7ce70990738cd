//! CSV bulk upload and download of users (R18), in seed 003's template.
//!
//! ```text
//! Username,E-mail,Enabled,Access all sales channels,Access all sources,Timezone,Role,Sources,Action
//! storeAssistant21,storeAssistant21@site.com,1,0,0,UTC,Store assistant,"WAREHOUSE, test-store",Create
//! ```
//!
//! An upload is all or nothing: every row is parsed, resolved (roles by name or former name,
//! R14; sources by external id), validated (R16) and authorized as the uploading actor
//! (R8–R10, R12) first; if any row is bad, nothing is applied and the error lists every bad row
//! with its line, column and reason ([`Error::problems`](crate::Error::problems)). Otherwise all
//! rows are applied as one batch through [`Engine::apply_all`](crate::Engine::apply_all), one
//! audit record per user.
//!
//! Cells a spreadsheet would run as a formula (starting with `=`, `+`, `-` or `@`) are refused on
//! upload, and neutralised on download with a leading `'`, which upload removes again, so a
//! download uploads back unchanged.

mod download;
mod records;
mod row;

use std::collections::HashMap;

use crate::admin::Applied;
use crate::admin::authorize;
use crate::admin::change::Change;
use crate::engine::index::folded;
use crate::engine::{Engine, Snapshot};
use crate::model::ids::UserId;
use crate::model::permission::Catalog;
use crate::model::user::User;
use crate::storage::Storage;
use crate::{Error, ErrorKind, Problem};
use row::{Known, plan_row};

/// The template's columns, in order.
pub const HEADER: [&str; 9] = [
    "Username",
    "E-mail",
    "Enabled",
    "Access all sales channels",
    "Access all sources",
    "Timezone",
    "Role",
    "Sources",
    "Action",
];

const USERNAME: usize = 0;
const EMAIL: usize = 1;
const ENABLED: usize = 2;
const ALL_CHANNELS: usize = 3;
const ALL_SOURCES: usize = 4;
const TIMEZONE: usize = 5;
const ROLE: usize = 6;
const SOURCES: usize = 7;
const ACTION: usize = 8;

/// How large an upload may be.
#[derive(Clone, Copy, Debug)]
pub struct CsvLimits {
    /// Bytes in the file, at most.
    pub max_bytes: usize,
    /// Rows below the header, at most.
    pub max_rows: usize,
}

impl Default for CsvLimits {
    /// 10 MiB and 100,000 rows.
    fn default() -> Self {
        CsvLimits {
            max_bytes: 10 << 20,
            max_rows: 100_000,
        }
    }
}

/// A problem at `line` in the cell of column `column` (an index into [`HEADER`]). A reason
/// quotes the cell it is about; a hostile cell is cut to [`MAX_REASON`] bytes, so a report's
/// size does not grow with the file's cells.
fn problem(line: u64, column: Option<usize>, reason: impl Into<String>) -> Problem {
    problem_as(ErrorKind::InvalidInput, line, column, reason)
}

/// [`problem`] breaking the rule `kind`.
fn problem_as(
    kind: ErrorKind,
    line: u64,
    column: Option<usize>,
    reason: impl Into<String>,
) -> Problem {
    let mut reason = reason.into();
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    Problem::new(
        line,
        column.and_then(|c| HEADER.get(c).copied()),
        kind,
        reason,
    )
}

/// The longest problem reason kept, in bytes.
const MAX_REASON: usize = 200;

/// An upload that was applied.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Uploaded {
    applied: Applied,
    created: usize,
    updated: usize,
    unchanged: usize,
}

impl Uploaded {
    /// The batch as applied (revision, invitations to send).
    pub fn applied(&self) -> &Applied {
        &self.applied
    }

    /// Rows that created a user.
    pub fn created(&self) -> usize {
        self.created
    }

    /// Rows that updated a user.
    pub fn updated(&self) -> usize {
        self.updated
    }

    /// `Update` rows that matched the user as it was, and so changed nothing.
    pub fn unchanged(&self) -> usize {
        self.unchanged
    }
}

impl<P: Catalog, S: Storage<P>> Engine<P, S> {
    /// Uploads users from a CSV file in the template's format, as `actor`. New users get their
    /// ids from `new_id`, called once per `Create` row that parses.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] with every bad row in
    /// [`Error::problems`](crate::Error::problems) (nothing applied); or any error of
    /// [`Engine::apply_all`].
    pub fn upload_users_csv(
        &self,
        actor: UserId,
        data: &[u8],
        limits: &CsvLimits,
        new_id: &mut dyn FnMut() -> UserId,
    ) -> Result<Uploaded, Error> {
        let snapshot = self.snapshot();
        let account = snapshot.user(actor).map(User::account);
        let refuse = |err: Error, rows: u64, attempted: &[Change<P>]| {
            // R19: one record for the upload as a whole, with the report; then one per row it
            // asked for, each with a short reason (the report is not copied into every one).
            let at = crate::admin::audit::now_unix_ms();
            self.audit_refused(at, actor, account, &[Change::UploadUsers { rows }], &err);
            if !attempted.is_empty() {
                let short =
                    Error::refused(err.kind(), "apply an upload row", "the upload was refused");
                self.audit_refused(at, actor, account, attempted, &short);
            }
            err
        };
        // R1, R9: who uploads is asked before any row is read.
        if let Err(err) = authorize::uploader(snapshot.index(), actor) {
            return Err(refuse(err, 0, &[]));
        }
        let plan = plan_upload(&snapshot, actor, data, limits, new_id);
        if !plan.problems.is_empty() {
            let err = Error::upload(plan.problems.listed, plan.problems.omitted);
            return Err(refuse(err, plan.rows, &plan.attempted));
        }
        let updated = plan.changes.len() - plan.created;
        let applied = if plan.changes.is_empty() {
            Applied {
                revision: snapshot.revision(),
                events: Vec::new(),
            }
        } else {
            // A refusal now (another writer went first, a storage failure) is audited per
            // change by `apply_all`; the upload as a whole is recorded here.
            self.apply_all(actor, plan.changes)
                .map_err(|err| refuse(err, plan.rows, &[]))?
        };
        Ok(Uploaded {
            applied,
            created: plan.created,
            updated,
            unchanged: plan.unchanged,
        })
    }

    /// What [`upload_users_csv`](Self::upload_users_csv) would do with this file now, changing
    /// nothing: every row is parsed, resolved and authorized, and the batch is planned and
    /// validated by the engine's own dry run ([`Engine::dry_run`]). `Ok` counts the users it
    /// would create, update and leave unchanged, with the revision it would get if nothing
    /// else were written first. Nothing is stored, published or audited: a preview is not an
    /// attempted change.
    ///
    /// # Errors
    ///
    /// As [`upload_users_csv`](Self::upload_users_csv).
    pub fn preview_users_csv(
        &self,
        actor: UserId,
        data: &[u8],
        limits: &CsvLimits,
        new_id: &mut dyn FnMut() -> UserId,
    ) -> Result<Uploaded, Error> {
        let snapshot = self.snapshot();
        authorize::uploader(snapshot.index(), actor)?;
        let plan = plan_upload(&snapshot, actor, data, limits, new_id);
        if !plan.problems.is_empty() {
            return Err(Error::upload(plan.problems.listed, plan.problems.omitted));
        }
        let updated = plan.changes.len() - plan.created;
        let applied = self.dry_run(actor, &plan.changes)?;
        Ok(Uploaded {
            applied,
            created: plan.created,
            updated,
            unchanged: plan.unchanged,
        })
    }
}

/// What an upload would do.
struct Plan<P> {
    /// The changes to apply, one per row that changes something.
    changes: Vec<Change<P>>,
    /// Every change a row asked for, refused ones included: what the audit records when the
    /// upload is refused.
    attempted: Vec<Change<P>>,
    created: usize,
    unchanged: usize,
    /// Data rows read.
    rows: u64,
    /// Empty if the upload may be applied.
    problems: Problems,
}

/// How many problems an upload lists at most; the rest are counted. With at most one problem
/// per cell, a hostile file's report stays this small whatever its size.
const MAX_LISTED: usize = 100;

/// An upload's problems: the first [`MAX_LISTED`], and a count of the rest.
#[derive(Default)]
struct Problems {
    listed: Vec<Problem>,
    omitted: usize,
}

impl Problems {
    fn push(&mut self, p: Problem) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(p);
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.omitted == 0
    }

    fn count(&self) -> usize {
        self.listed.len().saturating_add(self.omitted)
    }
}

impl Extend<Problem> for Problems {
    fn extend<I: IntoIterator<Item = Problem>>(&mut self, iter: I) {
        for p in iter {
            self.push(p);
        }
    }
}

/// Parses, resolves, validates and authorizes every row.
fn plan_upload<P: Catalog>(
    snapshot: &Snapshot<P>,
    actor: UserId,
    data: &[u8],
    limits: &CsvLimits,
    new_id: &mut dyn FnMut() -> UserId,
) -> Plan<P> {
    let mut plan = Plan {
        changes: Vec::new(),
        attempted: Vec::new(),
        created: 0,
        unchanged: 0,
        rows: 0,
        problems: Problems::default(),
    };
    let problems = &mut plan.problems;
    let index = snapshot.index();
    // The caller has let only an enabled user with a user permission through.
    let Some(me) = index.users.get(&actor) else {
        problems.push(problem(0, None, "unknown uploading user"));
        return plan;
    };
    let account = me.account();
    if data.len() > limits.max_bytes {
        let reason = format!("is {} bytes: the limit is {}", data.len(), limits.max_bytes);
        problems.push(problem(0, None, reason));
        return plan;
    }
    // Spreadsheets save "CSV UTF-8" with a byte-order mark; it is not part of the header.
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut records = records::Records::new(data);
    match records.next() {
        None => {
            problems.push(problem(1, None, "the file is empty: a header is needed"));
            return plan;
        }
        Some(header) => {
            let found: Vec<String> = header
                .fields()
                .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                .collect();
            if header.count != HEADER.len() || found.iter().map(String::as_str).ne(HEADER) {
                let reason = format!(
                    "the header must be `{}`, found `{}`",
                    HEADER.join(","),
                    found.join(",")
                );
                problems.push(problem(header.line, None, reason));
                return plan;
            }
        }
    }

    // The account's users by folded username and e-mail, looked up for every row.
    let mut by_username: HashMap<String, &User> = HashMap::new();
    let mut by_email: HashMap<String, &User> = HashMap::new();
    let mut enabled = 0usize;
    for u in index.account_users(account) {
        by_username.insert(folded(u.username()), u);
        by_email.insert(folded(u.email()), u);
        enabled += usize::from(u.is_enabled());
    }
    let known = Known {
        me,
        by_username,
        by_email,
    };
    let mut seen_usernames: HashMap<String, u64> = HashMap::new();
    let mut seen_emails: HashMap<String, u64> = HashMap::new();
    let limit = snapshot.account(account).and_then(|a| a.seat_limit());
    for (n, record) in records.enumerate() {
        let line = record.line;
        plan.rows = n as u64 + 1;
        if n >= limits.max_rows {
            let reason = format!(
                "more than {} rows: the limit is {}",
                limits.max_rows, limits.max_rows
            );
            problems.push(problem(line, None, reason));
            break;
        }
        if record.count != HEADER.len() {
            let reason = format!("expected {} fields, found {}", HEADER.len(), record.count);
            problems.push(problem(line, None, reason));
            continue;
        }
        let before = problems.count();
        let mut cells: [&str; 9] = [""; 9];
        for (i, raw) in record.fields().enumerate() {
            let Some(cell) = cells.get_mut(i) else {
                continue;
            };
            match core::str::from_utf8(raw) {
                Ok(text) => match cell_value(text.trim()) {
                    Ok(v) => *cell = v,
                    Err(reason) => problems.push(problem(line, Some(i), reason)),
                },
                Err(_) => problems.push(problem(line, Some(i), "is not valid UTF-8")),
            }
        }
        if problems.count() > before {
            continue;
        }
        match plan_row(
            snapshot,
            &known,
            account,
            line,
            &cells,
            &mut seen_usernames,
            &mut seen_emails,
        ) {
            Err(p) => problems.extend(p),
            Ok(row) => {
                let change = match row.existing {
                    None => {
                        let user =
                            row.build(User::new(new_id(), account, cells[USERNAME], cells[EMAIL]));
                        Change::CreateUser(user)
                    }
                    Some(old) => Change::UpdateUser(row.build(old.clone())),
                };
                // R8–R10: the row as the uploading actor would make it; a row that changes
                // nothing is authorized like any other.
                if let Err(e) = authorize::plan(index, actor, &change) {
                    plan.attempted.push(change);
                    problems.push(problem_as(
                        e.kind(),
                        line,
                        Some(column_for(&e)),
                        e.to_string(),
                    ));
                    continue;
                }
                if let (Change::UpdateUser(new), Some(old)) = (&change, row.existing)
                    && new == old
                {
                    plan.unchanged += 1;
                    continue;
                }
                plan.attempted.push(change.clone());
                // R12: count what the upload would enable.
                let was = row.existing.is_some_and(User::is_enabled);
                if row.enabled && !was {
                    enabled += 1;
                    if let Some(limit) = limit.filter(|l| enabled > *l as usize) {
                        let reason =
                            format!("would be enabled user {enabled}: the plan allows {limit}");
                        problems.push(problem_as(
                            ErrorKind::SeatLimit,
                            line,
                            Some(ENABLED),
                            reason,
                        ));
                        continue;
                    }
                } else if !row.enabled && was {
                    enabled = enabled.saturating_sub(1);
                }
                plan.created += usize::from(row.existing.is_none());
                plan.changes.push(change);
            }
        }
    }
    plan
}

/// A cell's value: a formula is refused; a neutralised one (`'=…`) loses its quote.
fn cell_value(text: &str) -> Result<&str, &'static str> {
    match text.strip_prefix('\'') {
        Some(rest) if needs_quote(rest) => Ok(rest),
        _ if formula(text) => Err("looks like a spreadsheet formula (starts with =, +, - or @)"),
        _ => Ok(text),
    }
}

/// Whether a spreadsheet would run `text` as a formula: it starts with one of the characters
/// OWASP's CSV injection page lists (`=`, `+`, `-`, `@`, tab, carriage return), or a line feed.
fn formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r', '\n'])
}

/// Whether `text` is written with a leading `'` on download: formulas, and values that start
/// with a quote themselves (so that upload, which removes one quote, gives them back).
fn needs_quote(text: &str) -> bool {
    formula(text) || text.starts_with('\'')
}

/// The template column an error of a row's change is about: the field it names (a typed
/// fact of the error, never its message), else by the rule that refused.
fn column_for(e: &Error) -> usize {
    match (e.field(), e.kind()) {
        (Some("username"), _) => USERNAME,
        (Some("e-mail"), _) => EMAIL,
        (Some("timezone"), _) => TIMEZONE,
        (Some("sources"), _) => SOURCES,
        (Some("sales channels"), _) => ALL_CHANNELS,
        (_, ErrorKind::NotPermitted | ErrorKind::Owner) => ACTION,
        _ => ROLE,
    }
}
