//! CSV bulk upload and download of users (R18), in the catalog's template
//! ([`Catalog::user_template`]), and bulk upload of sources
//! (seed 003's *Manage sources*).
//!
//! Seed 003's template, which the OMS catalog uses:
//!
//! ```text
//! Username,E-mail,Enabled,Access all sales channels,Access all sources,Timezone,Role,Sources,Action
//! storeAssistant21,storeAssistant21@site.com,1,0,0,UTC,Store assistant,"WAREHOUSE, test-store",Create
//! ```
//!
//! The POS, omnichannel and payments catalogs assign users to stores, and their templates have
//! a Stores column ([`UserTemplate`](crate::UserTemplate)):
//!
//! ```text
//! Username,E-mail,Enabled,Timezone,Role,Stores,Action
//! ana,ana@shop.example,1,Europe/Madrid,Cashier,North,Create
//! olga,olga@shop.example,1,UTC,Admin,All,Create
//! ```
//!
//! A Stores cell lists store names or ids (`store#10`, or `10`), comma-separated, or says `All`
//! (every store, those opened later included, R3) or `None`. An empty cell never means all
//! stores: it is an error on the row, naming the Stores column, except on an `Update` row
//! whose Role is empty too, which keeps the user's role and stores. The row sets the user's
//! first grant: its role at those stores. Names are matched, ignoring case, among the stores
//! the uploader may see (R20); a name two of them share must be written as an id. A
//! store-limited uploader (an outlet manager) creates and edits users at its own stores.
//!
//! An upload is all or nothing. Every row is read and resolved here (roles by name or former
//! name, R14; sources by external id; stores by name or id; the user an `Update` row names),
//! and the rows' changes are planned as one batch by the engine's planner, as
//! [`Engine::apply_all`](crate::Engine::apply_all) plans one: validated (R12, R16) and
//! authorized as the uploading actor (R8–R10). If any row is bad, nothing is applied and the
//! error lists every problem with its line, column and reason, at most one per cell
//! ([`Error::problems`](crate::Error::problems)). Otherwise the batch is stored as one
//! revision, with one audit record per changed user; rows that match their user as the file
//! was read are authorized and left out. The batch is based on the state the file was read
//! against: a user someone else changed meanwhile is a `Conflict`, never overwritten.
//!
//! Cells a spreadsheet would run as a formula (starting with `=`, `+`, `-` or `@`) are refused on
//! upload, and neutralised on download with a leading `'`, which upload removes again, so a
//! download uploads back unchanged.

mod download;
mod records;
mod row;
mod sources;
mod upload;

pub use sources::{SOURCES_HEADER, UploadedSources};

use std::collections::HashMap;

use crate::admin::Applied;
use crate::admin::authorize;
use crate::admin::change::Change;
use crate::admin::commit::Write;
use crate::engine::index::folded;
use crate::engine::{Engine, Snapshot};
use crate::model::ids::UserId;
use crate::model::permission::Catalog;
use crate::model::user::User;
use crate::{Error, ErrorKind, Problem};
use row::{Known, plan_row};
use upload::UploadWrite;

/// Seed 003's template's columns, in order: the OMS catalog's
/// ([`UserTemplate::Oms`](crate::UserTemplate::Oms)). A catalog's own template is
/// [`Catalog::user_template`].
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

/// Every column any user template has; a template's columns are some of them, in this order.
const COLUMNS: [&str; 10] = [
    "Username",
    "E-mail",
    "Enabled",
    "Access all sales channels",
    "Access all sources",
    "Timezone",
    "Role",
    "Stores",
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
const STORES: usize = 7;
const SOURCES: usize = 8;
const ACTION: usize = 9;

/// A row's cells, one per column of [`COLUMNS`]: empty where the template lacks the column.
type Cells<'a> = [&'a str; COLUMNS.len()];

/// Which columns of [`COLUMNS`] a template has.
type Present = [bool; COLUMNS.len()];

/// The position in [`COLUMNS`] of each of `template`'s columns, and which it has.
fn layout(template: crate::UserTemplate) -> (Vec<usize>, Present) {
    let mut present = [false; COLUMNS.len()];
    let at: Vec<usize> = template
        .columns()
        .iter()
        .filter_map(|c| COLUMNS.iter().position(|x| x == c))
        .collect();
    for &i in &at {
        if let Some(p) = present.get_mut(i) {
            *p = true;
        }
    }
    (at, present)
}

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

/// A problem at `line` in the cell of column `column` (an index into [`COLUMNS`]). A reason
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
    Problem::at_line(line, header(column), kind, cut(reason.into()))
}

fn header(column: Option<usize>) -> Option<&'static str> {
    column.and_then(|c| COLUMNS.get(c).copied())
}

/// `reason`, cut to [`MAX_REASON`] bytes.
fn cut(mut reason: String) -> String {
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    reason
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

impl<P: Catalog> Engine<P> {
    /// Uploads users from a CSV file in the template's format, as `actor`. New users get their
    /// ids from `new_id`, called once per `Create` row that parses.
    ///
    /// The file's cells are read and resolved here (flags, action, timezone, role and source
    /// names, the user an `Update` row names); the changes the rows make are then planned by
    /// the engine's own planner, exactly as [`Engine::apply_all`] plans a batch, and every
    /// problem it finds is put on its row and column. Rows that would change nothing are
    /// authorized like the others, then left out of the batch.
    ///
    /// # Errors
    ///
    /// Nothing applied, and every problem in [`Error::problems`](crate::Error::problems), each
    /// with its own kind, line and column; the error has the first problem's kind
    /// ([`ErrorKind::SeatLimit`], [`ErrorKind::NotPermitted`], [`ErrorKind::InvalidInput`]…)
    /// and field (its column). [`ErrorKind::InvalidActor`] if the uploader is unknown or
    /// disabled, [`ErrorKind::NotPermitted`] if it may not create or edit users; or an error
    /// of [`Engine::apply_all`] that is not the batch's (storage, conflict).
    pub fn upload_users_csv(
        &self,
        actor: UserId,
        data: &[u8],
        limits: &CsvLimits,
        new_id: &mut dyn FnMut() -> UserId,
    ) -> Result<Uploaded, Error> {
        // A partitioned replica takes no writes, and records no refusals in shared storage.
        if self.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        let snapshot = self.snapshot();
        // R1, R9: who uploads is asked before any row is read.
        if let Err(err) = authorize::uploader(snapshot.index(), actor) {
            UploadWrite::new(self, &snapshot, actor, &Plan::default()).refused(&err);
            return Err(err);
        }
        let mut plan = plan_upload(&snapshot, actor, data, limits, new_id);
        if plan.problems.is_empty() {
            // Based on the state the file was read against: a user changed since by anyone
            // else is a conflict, never overwritten, and an unchanged row stays unchanged.
            let write = UploadWrite::new(self, &snapshot, actor, &plan);
            let applied = self.write_based_on(Some(snapshot.revision()), &write)?;
            return Ok(plan.uploaded(applied));
        }
        // The rows that did make a change are planned too, so that one report lists every
        // problem of the file.
        let staged = UploadWrite::new(self, &snapshot, actor, &plan)
            .stage(snapshot.index(), snapshot.revision())
            .err();
        if let Some(err) = staged {
            plan.problems.absorb(&err);
        }
        let err = core::mem::take(&mut plan.problems).into_error();
        UploadWrite::new(self, &snapshot, actor, &plan).refused(&err);
        Err(err)
    }

    /// What [`upload_users_csv`](Self::upload_users_csv) would do with this file now, changing
    /// nothing: every row is read, resolved, and planned by the same planner. `Ok` counts the
    /// users it would create, update and leave unchanged, with the revision it would get if
    /// nothing else were written first. Nothing is stored, published or audited: a preview is
    /// not an attempted change.
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
        // A partitioned replica cannot check the rules that reach past its accounts.
        if self.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        let snapshot = self.snapshot();
        authorize::uploader(snapshot.index(), actor)?;
        let mut plan = plan_upload(&snapshot, actor, data, limits, new_id);
        let revision = snapshot.revision().saturating_add(1);
        let staged = UploadWrite::new(self, &snapshot, actor, &plan)
            .stage(snapshot.index(), revision)
            .map(|s| (s.mutations.is_empty(), s.events));
        match staged {
            Ok((empty, events)) if plan.problems.is_empty() => {
                let revision = if empty { snapshot.revision() } else { revision };
                Ok(plan.uploaded(Applied { revision, events }))
            }
            Ok(_) => Err(plan.problems.into_error()),
            Err(err) => {
                plan.problems.absorb(&err);
                Err(plan.problems.into_error())
            }
        }
    }
}

/// What an upload asks for: a change per row that resolved, and the problems of the rest.
struct Plan<P> {
    /// One change per row whose cells resolved, unchanged rows included (they are
    /// authorized like the others).
    changes: Vec<Change<P>>,
    /// The line of each change's row.
    lines: Vec<u64>,
    /// Whether each change's row matches its user as the file was read: authorized, then
    /// left out of the batch.
    left_out: Vec<bool>,
    created: usize,
    unchanged: usize,
    /// Data rows read.
    rows: u64,
    /// The cells' problems; empty if every row resolved.
    problems: Problems,
}

impl<P> Default for Plan<P> {
    fn default() -> Self {
        Plan {
            changes: Vec::new(),
            lines: Vec::new(),
            left_out: Vec::new(),
            created: 0,
            unchanged: 0,
            rows: 0,
            problems: Problems::default(),
        }
    }
}

impl<P> Plan<P> {
    fn uploaded(&self, applied: Applied) -> Uploaded {
        Uploaded {
            applied,
            created: self.created,
            updated: self.changes.len() - self.created - self.unchanged,
            unchanged: self.unchanged,
        }
    }
}

/// How many problems an upload lists at most; the rest are counted. With at most one problem
/// per cell, a hostile file's report stays this small whatever its size.
const MAX_LISTED: usize = 100;

/// An upload's problems: the first [`MAX_LISTED`] in file order, and a count of the rest.
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

    /// Adds the problems of a refused upload's batch, already placed on their lines, and its
    /// count of omitted ones, keeping the first [`MAX_LISTED`] of all in file order.
    fn absorb(&mut self, err: &Error) {
        self.merge_placed(err.problems(), Problem::clone);
        self.omitted = self.omitted.saturating_add(err.problems_omitted());
    }

    /// Adds `problems`, each placed by `place`, keeping the first [`MAX_LISTED`] of all in
    /// file order (a problem of the file as a whole first).
    fn merge_placed(&mut self, problems: &[Problem], place: impl Fn(&Problem) -> Problem) {
        self.listed.extend(problems.iter().map(place));
        // Stable: a row's problems stay in the order they were found.
        self.listed.sort_by_key(Problem::line);
        // At most one problem per cell: the first found.
        let mut cells = std::collections::HashSet::new();
        self.listed
            .retain(|p| p.column().is_none() || cells.insert((p.line(), p.column())));
        if self.listed.len() > MAX_LISTED {
            let dropped = self.listed.len() - MAX_LISTED;
            self.listed.truncate(MAX_LISTED);
            self.omitted = self.omitted.saturating_add(dropped);
        }
    }

    fn into_error(self) -> Error {
        Error::upload(self.listed, self.omitted)
    }
}

impl Extend<Problem> for Problems {
    fn extend<I: IntoIterator<Item = Problem>>(&mut self, iter: I) {
        for p in iter {
            self.push(p);
        }
    }
}

/// Reads and resolves every row into a change; what a row's cells get wrong is a problem
/// of that row, and the row makes no change.
fn plan_upload<P: Catalog>(
    snapshot: &Snapshot<P>,
    actor: UserId,
    data: &[u8],
    limits: &CsvLimits,
    new_id: &mut dyn FnMut() -> UserId,
) -> Plan<P> {
    let mut plan = Plan::default();
    let problems = &mut plan.problems;
    let index = snapshot.index();
    // The caller has let only an enabled user with a user permission through.
    let Some(me) = index.user(actor) else {
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
            let columns = P::user_template().columns();
            if header.count != columns.len()
                || found.iter().map(String::as_str).ne(columns.iter().copied())
            {
                let reason = format!(
                    "the header must be `{}`, found `{}`",
                    columns.join(","),
                    found.join(",")
                );
                problems.push(problem(header.line, None, reason));
                return plan;
            }
        }
    }
    let (at, present) = layout(P::user_template());

    // The account's users by folded username, looked up for every `Update` row; the stores
    // the uploader may see by folded name and by id (R20), for every Stores cell; the sources
    // it may see by external id (R20), for every Sources cell.
    let by_username: HashMap<String, &User> = index
        .account_users(account)
        .map(|u| (folded(u.username()), u))
        .collect();
    let stores = row::StoreNames::new(snapshot.visible_stores(actor));
    let sources = row::SourceNames::new(snapshot.visible_sources(actor));
    let known = Known {
        me,
        by_username,
        stores,
        sources,
        present,
    };
    // The line of the first row naming each existing user: a file names a user once.
    let mut named: HashMap<UserId, u64> = HashMap::new();
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
        if record.count != at.len() {
            let reason = format!("expected {} fields, found {}", at.len(), record.count);
            problems.push(problem(line, None, reason));
            continue;
        }
        let before = problems.count();
        let mut cells: Cells<'_> = [""; COLUMNS.len()];
        for (&i, raw) in at.iter().zip(record.fields()) {
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
        match plan_row(snapshot, &known, account, line, &cells, &mut named) {
            Err(p) => problems.extend(p),
            Ok(row) => {
                let (change, unchanged) = match row.existing {
                    None => {
                        let user =
                            row.build(User::new(new_id(), account, cells[USERNAME], cells[EMAIL]));
                        plan.created += 1;
                        (Change::CreateUser(user), false)
                    }
                    Some(old) => {
                        let new = row.build(old.clone());
                        let same = &new == old;
                        plan.unchanged += usize::from(same);
                        (Change::UpdateUser(new), same)
                    }
                };
                plan.changes.push(change);
                plan.lines.push(line);
                plan.left_out.push(unchanged);
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
