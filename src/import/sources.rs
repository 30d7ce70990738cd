//! Bulk upload of sources from a CSV file (seed 003: *Manage sources*, "upload from a csv a
//! list of sources"). Each row is a [`Change::CreateSource`] or [`Change::DeleteSource`],
//! planned with the others as one batch by the engine's planner, so a row is authorized,
//! validated and audited exactly as the change alone would be; one bad row and nothing is
//! applied.

use std::collections::HashMap;

use super::upload::UploadWrite;
use super::{CsvLimits, Plan, cell_value, cut};
use crate::admin::change::Change;
use crate::admin::commit::Write;
use crate::admin::{Applied, authorize};
use crate::engine::{Engine, Snapshot};
use crate::model::account::Source;
use crate::model::ids::{SourceId, UserId};
use crate::model::permission::Catalog;
use crate::trace::Traced;
use crate::{Error, ErrorKind, Problem};

/// The sources template's columns, in order: a source's external id (how imports and the
/// users template name it), and `Create` or `Delete`.
///
/// ```text
/// External ID,Action
/// south-store,Create
/// OLD-DEPOT,Delete
/// ```
pub const SOURCES_HEADER: [&str; 2] = ["External ID", "Action"];

const EXTERNAL_ID: usize = 0;
const ACTION: usize = 1;

/// An upload of sources that was applied.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UploadedSources {
    applied: Applied,
    created: usize,
    deleted: usize,
}

impl UploadedSources {
    /// The batch as applied.
    pub fn applied(&self) -> &Applied {
        &self.applied
    }

    /// Rows that created a source.
    pub fn created(&self) -> usize {
        self.created
    }

    /// Rows that deleted a source.
    pub fn deleted(&self) -> usize {
        self.deleted
    }
}

impl<P: Catalog> Engine<P> {
    /// Uploads sources from a CSV file in the [`SOURCES_HEADER`] template, as `actor`: each
    /// `Create` row creates a source with an id from `new_id` (called once per such row that
    /// parses), each `Delete` row deletes the source with that external id.
    ///
    /// The rows are planned as one batch of [`Change::CreateSource`] and
    /// [`Change::DeleteSource`] by the engine's planner, as [`Engine::apply_all`] plans one:
    /// creating needs the catalog's `manage_sources` at every source, deleting it at that
    /// source (R2, R3); external ids stay unique in the account, ignoring ASCII case; a source
    /// still referred to is not deleted (`InUse`). A `Delete` row naming a source the actor
    /// may not see reads as naming none (R20). Applied, each row's change is audited like the
    /// change alone; refused, the file leaves one audit record
    /// ([`Change::UploadSources`]) and one per row it asked for (R19).
    ///
    /// ```
    /// use shopguard::catalog::oms::{self, Oms};
    /// use shopguard::import::CsvLimits;
    /// use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId, SourceId, User, UserId};
    ///
    /// let engine = Engine::<Oms>::new();
    /// let (shop, root) = (AccountId::new(1), UserId::new(1));
    /// engine.unchecked_apply([
    ///     Mutation::PutAccount(Account::new(shop, "Acme")),
    ///     Mutation::PutRole(oms::administrator(RoleId::new(1), shop)),
    ///     Mutation::PutUser(
    ///         User::new(root, shop, "root", "root@acme.example")
    ///             .with_owner(true)
    ///             .with_grant(Grant::new(RoleId::new(1), Access::All))
    ///             .with_sources(Access::All),
    ///     ),
    /// ])?;
    /// let mut next = 20;
    /// let file = "External ID,Action\nWAREHOUSE,Create\nnorth-store,Create\n";
    /// let up = engine.upload_sources_csv(root, file.as_bytes(), &CsvLimits::default(), &mut || {
    ///     next += 1;
    ///     SourceId::new(next)
    /// })?;
    /// assert_eq!(up.created(), 2);
    /// assert_eq!(engine.snapshot().source_named(shop, "warehouse").map(|s| s.id()), Some(SourceId::new(21)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Nothing applied, and every problem in [`Error::problems`], each with its own kind, line
    /// and column (`External ID` or `Action`); the error has the first problem's kind.
    /// [`ErrorKind::InvalidActor`] if the uploader is unknown or disabled,
    /// [`ErrorKind::NotPermitted`] if it may not manage sources; or an error of
    /// [`Engine::apply_all`] that is not the batch's (storage, conflict).
    pub fn upload_sources_csv(
        &self,
        actor: UserId,
        data: &[u8],
        limits: &CsvLimits,
        new_id: &mut dyn FnMut() -> SourceId,
    ) -> Result<UploadedSources, Error> {
        let account = self.core.current.load().user(actor).map(|u| u.account());
        let traced = Traced::upload("sources", actor, account, data.len());
        let result = traced.in_scope(|| self.upload_sources_once(actor, data, limits, new_id));
        if let Ok(uploaded) = &result {
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            traced.record("created", count(uploaded.created()));
            traced.record("deleted", count(uploaded.deleted()));
        }
        traced.finish(&result, |u| u.applied().revision());
        result
    }

    /// [`upload_sources_csv`](Self::upload_sources_csv), inside its span.
    fn upload_sources_once(
        &self,
        actor: UserId,
        data: &[u8],
        limits: &CsvLimits,
        new_id: &mut dyn FnMut() -> SourceId,
    ) -> Result<UploadedSources, Error> {
        if self.core.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        let snapshot = self.snapshot();
        // R1: who uploads is asked before any row is read.
        if let Err(err) = authorize::source_uploader(snapshot.index(), actor) {
            UploadWrite::new(self, &snapshot, actor, &Plan::default())
                .of_sources()
                .refused(&err);
            return Err(err);
        }
        let (mut plan, deleted) = plan_sources(&snapshot, actor, data, limits, new_id);
        if plan.problems.is_empty() {
            let applied = self.write_based_on(
                Some(snapshot.revision()),
                &UploadWrite::new(self, &snapshot, actor, &plan).of_sources(),
            )?;
            return Ok(UploadedSources {
                applied,
                created: plan.created,
                deleted,
            });
        }
        let staged = UploadWrite::new(self, &snapshot, actor, &plan)
            .of_sources()
            .stage(snapshot.index(), snapshot.revision())
            .err();
        if let Some(err) = staged {
            plan.problems.absorb(&err);
        }
        let err = core::mem::take(&mut plan.problems).into_error();
        UploadWrite::new(self, &snapshot, actor, &plan)
            .of_sources()
            .refused(&err);
        Err(err)
    }
}

/// A problem at `line` in column `column` of [`SOURCES_HEADER`].
fn problem(
    kind: ErrorKind,
    line: u64,
    column: Option<usize>,
    reason: impl Into<String>,
) -> Problem {
    let column = column.and_then(|c| SOURCES_HEADER.get(c).copied());
    Problem::at_line(line, column, kind, cut(reason.into()))
}

/// Reads every row into a change; a row whose cells are bad makes none. The plan, and how many
/// rows delete a source.
fn plan_sources<P: Catalog>(
    snapshot: &Snapshot<P>,
    actor: UserId,
    data: &[u8],
    limits: &CsvLimits,
    new_id: &mut dyn FnMut() -> SourceId,
) -> (Plan<P>, usize) {
    let mut plan = Plan::default();
    let mut deleted = 0;
    let problems = &mut plan.problems;
    let invalid = ErrorKind::InvalidInput;
    let Some(account) = snapshot.user(actor).map(|u| u.account()) else {
        problems.push(problem(invalid, 0, None, "unknown uploading user"));
        return (plan, deleted);
    };
    if data.len() > limits.max_bytes {
        let reason = format!("is {} bytes: the limit is {}", data.len(), limits.max_bytes);
        problems.push(problem(invalid, 0, None, reason));
        return (plan, deleted);
    }
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut records = super::records::Records::new(data);
    let Some(header) = records.next() else {
        let reason = "the file is empty: a header is needed";
        problems.push(problem(invalid, 1, None, reason));
        return (plan, deleted);
    };
    let found: Vec<String> = header
        .fields()
        .map(|f| String::from_utf8_lossy(f).trim().to_owned())
        .collect();
    if header.count != SOURCES_HEADER.len() || found.iter().map(String::as_str).ne(SOURCES_HEADER) {
        let reason = format!(
            "the header must be `{}`, found `{}`",
            SOURCES_HEADER.join(","),
            found.join(",")
        );
        problems.push(problem(invalid, header.line, None, reason));
        return (plan, deleted);
    }
    // The sources the uploader may see, by external id ignoring ASCII case (R20): a `Delete`
    // row naming any other reads as naming none.
    let visible: HashMap<String, SourceId> = snapshot
        .visible_sources(actor)
        .into_iter()
        .map(|s| (s.external_id().to_ascii_lowercase(), s.id()))
        .collect();
    for (n, record) in records.enumerate() {
        let line = record.line;
        plan.rows = n as u64 + 1;
        if n >= limits.max_rows {
            let reason = format!(
                "more than {} rows: the limit is {}",
                limits.max_rows, limits.max_rows
            );
            problems.push(problem(invalid, line, None, reason));
            break;
        }
        if record.count != SOURCES_HEADER.len() {
            let reason = format!(
                "expected {} fields, found {}",
                SOURCES_HEADER.len(),
                record.count
            );
            problems.push(problem(invalid, line, None, reason));
            continue;
        }
        let mut cells = [""; SOURCES_HEADER.len()];
        let mut bad = false;
        for (i, raw) in record.fields().enumerate() {
            let Some(cell) = cells.get_mut(i) else {
                continue;
            };
            let value = core::str::from_utf8(raw)
                .map_err(|_| "is not valid UTF-8")
                .and_then(|text| cell_value(text.trim()));
            match value {
                Ok(v) => *cell = v,
                Err(reason) => {
                    problems.push(problem(invalid, line, Some(i), reason));
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        let [external_id, action] = cells;
        let change = match action.to_ascii_lowercase().as_str() {
            "create" => Change::CreateSource(Source::new(new_id(), account, external_id)),
            "delete" => match visible.get(&external_id.to_ascii_lowercase()) {
                Some(id) => {
                    deleted += 1;
                    Change::DeleteSource(*id)
                }
                None => {
                    let reason = format!("no source `{external_id}` to delete");
                    problems.push(problem(
                        ErrorKind::NotFound,
                        line,
                        Some(EXTERNAL_ID),
                        reason,
                    ));
                    continue;
                }
            },
            _ => {
                let reason = format!("must be Create or Delete, found `{action}`");
                problems.push(problem(invalid, line, Some(ACTION), reason));
                continue;
            }
        };
        plan.created += usize::from(matches!(change, Change::CreateSource(_)));
        plan.changes.push(change);
        plan.lines.push(line);
        plan.left_out.push(false);
    }
    (plan, deleted)
}

/// A problem the planner found, put on its row's line and column: an external id's problems
/// (malformed, taken) on `External ID`, the rest (permission, scope, still in use) on
/// `Action`. A clash with another row of the file names that row; a clash with a source of
/// the account names none (R20).
pub(super) fn place<P>(lines: &[u64], changes: &[Change<P>], p: &Problem) -> Problem {
    let mut line = p.change().and_then(|c| lines.get(c)).copied().unwrap_or(0);
    let external_id = |c: usize| match changes.get(c) {
        Some(Change::CreateSource(s)) => Some(s.external_id()),
        _ => None,
    };
    let on_id = p.field() == Some("source external id");
    let column = if on_id { EXTERNAL_ID } else { ACTION };
    let reason = match (p.kind(), on_id, p.change().and_then(external_id)) {
        (ErrorKind::Duplicate, true, Some(mine)) => {
            let other = (0..changes.len())
                .filter(|c| Some(*c) != p.change())
                .find(|c| external_id(*c).is_some_and(|x| x.eq_ignore_ascii_case(mine)))
                .and_then(|c| Some((*lines.get(c)?, external_id(c)?)));
            match other {
                // Two rows of the file: the later one is at fault, naming the earlier.
                Some((first, _)) if first < line => {
                    format!("`{mine}` appears again: first on line {first}")
                }
                Some((later, theirs)) => {
                    let first = core::mem::replace(&mut line, later);
                    format!("`{theirs}` appears again: first on line {first}")
                }
                None => format!("`{mine}` is already in use"),
            }
        }
        _ => p.reason().to_owned(),
    };
    let column = SOURCES_HEADER.get(column).copied().filter(|_| line > 0);
    p.clone().placed(line, column, cut(reason))
}
