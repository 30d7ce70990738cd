//! An upload as a write: its rows' changes staged by the engine's planner through the commit
//! pipeline, and the planner's problems placed on their rows and columns.

use super::{
    ACTION, ALL_CHANNELS, EMAIL, ENABLED, Plan, Present, Problems, ROLE, SOURCES, STORES, TIMEZONE,
    USERNAME, cut, header, layout,
};
use crate::admin::audit::now_unix_ms;
use crate::admin::authorize;
use crate::admin::change::Change;
use crate::admin::commit::{Staged, Write};
use crate::admin::plan::{self, Options};
use crate::engine::index::Index;
use crate::engine::{Engine, Snapshot};
use crate::model::ids::UserId;
use crate::model::permission::Catalog;
use crate::model::user::User;
use crate::{Error, ErrorKind, Problem};

/// An upload as the commit pipeline stages and audits it: its rows' changes, planned by the
/// engine's planner, their problems placed on their lines.
pub(super) struct UploadWrite<'a, P: Catalog> {
    engine: &'a Engine<P>,
    actor: UserId,
    account: Option<crate::AccountId>,
    at: u64,
    /// Data rows read.
    rows: u64,
    /// The line of each change's row.
    lines: &'a [u64],
    /// Whether each change's row is unchanged (left out of the batch).
    unchanged: &'a [bool],
    changes: &'a [Change<P>],
    /// What the file uploads.
    what: Upload,
}

/// What a file uploads: users in the catalog's template (which columns it has), or sources.
#[derive(Clone, Copy)]
pub(super) enum Upload {
    Users(Present),
    Sources,
}

impl<'a, P: Catalog> UploadWrite<'a, P> {
    pub(super) fn new(
        engine: &'a Engine<P>,
        snapshot: &Snapshot<P>,
        actor: UserId,
        plan: &'a Plan<P>,
    ) -> Self {
        UploadWrite {
            engine,
            actor,
            account: snapshot.user(actor).map(User::account),
            at: now_unix_ms(),
            rows: plan.rows,
            lines: &plan.lines,
            unchanged: &plan.left_out,
            changes: &plan.changes,
            what: Upload::Users(layout(P::user_template()).1),
        }
    }

    /// The same, for a file of sources.
    pub(super) fn of_sources(mut self) -> Self {
        self.what = Upload::Sources;
        self
    }
}

impl<P: Catalog> Write<P> for UploadWrite<'_, P> {
    fn stage(&self, current: &Index<P>, revision: u64) -> Result<Staged<'_, P>, Error> {
        let options = Options {
            unchanged: self.unchanged,
        };
        plan::stage(
            current,
            self.actor,
            self.changes,
            self.at,
            revision,
            options,
        )
        .map_err(|err| {
            let me = current.user(self.actor);
            let mut problems = Problems::default();
            problems.merge_placed(err.problems(), |p| match self.what {
                Upload::Users(present) => place(current, me, &present, self.lines, self.changes, p),
                Upload::Sources => super::sources::place(self.lines, self.changes, p),
            });
            problems.omitted = problems.omitted.saturating_add(err.problems_omitted());
            problems.into_error()
        })
    }

    fn refused(&self, err: &Error) {
        // R19: one record for the upload as a whole, with the report; then one per change the
        // rows asked for, each with a short reason (the report is not copied into every one).
        let (engine, at, actor, account) = (self.engine, self.at, self.actor, self.account);
        let whole = [match self.what {
            Upload::Users(_) => Change::UploadUsers { rows: self.rows },
            Upload::Sources => Change::UploadSources { rows: self.rows },
        }];
        engine.audit_refused(at, actor, account, &whole, err);
        if !self.changes.is_empty() {
            let short = Error::refused(err.kind(), "apply an upload row", "the upload was refused");
            engine.audit_refused(at, actor, account, self.changes, &short);
        }
    }

    fn retried(&self, err: &Error) {
        let records = plan::refused_records(self.at, self.actor, self.account, self.changes, err);
        let _ignored = self.engine.audit.record(&records);
    }

    fn skips_empty(&self) -> bool {
        true
    }
}

/// A problem the planner found, put on its row's line and its field's column, and worded
/// for the file: a clash names the other row, or says the name is taken, never by whom.
fn place<P: Catalog>(
    index: &Index<P>,
    me: Option<&User>,
    present: &Present,
    lines: &[u64],
    changes: &[Change<P>],
    p: &Problem,
) -> Problem {
    let user_of = |c: usize| match changes.get(c) {
        Some(Change::CreateUser(u) | Change::UpdateUser(u)) => Some(u),
        _ => None,
    };
    let mut line = p.change().and_then(|c| lines.get(c)).copied().unwrap_or(0);
    let column = column_for(p.field(), p.kind(), present);
    let reason = match (p.kind(), p.field(), p.clash(), p.seats()) {
        (ErrorKind::SeatLimit, _, _, Some((enabled, limit))) => {
            format!("would be enabled user {enabled}: the plan allows {limit}")
        }
        (ErrorKind::Duplicate, Some(field @ ("username" | "e-mail")), Some(other), _) => {
            let value = |u: &User| match field {
                "username" => u.username().to_owned(),
                _ => u.email().to_owned(),
            };
            let mine = p.change().and_then(user_of).map(value).unwrap_or_default();
            let other_row = (0..changes.len())
                .find(|c| p.change() != Some(*c) && user_of(*c).is_some_and(|u| u.id() == other))
                .and_then(|c| Some((*lines.get(c)?, user_of(c).map(value)?)));
            let editable = index
                .user(other)
                .zip(me)
                .is_some_and(|(o, me)| authorize::may_edit(index, me, o));
            match (other_row, field) {
                // Two rows of the file: the later one is at fault, naming the earlier.
                (Some((first, _)), _) if first < line => {
                    format!("`{mine}` appears again: first on line {first}")
                }
                (Some((later, theirs)), _) => {
                    let first = core::mem::replace(&mut line, later);
                    format!("`{theirs}` appears again: first on line {first}")
                }
                (None, "username") if editable => format!("`{mine}` already exists: use Update"),
                (None, "username") => format!("`{mine}` is not available"),
                (None, _) => format!("`{mine}` is already in use"),
            }
        }
        _ => p.reason().to_owned(),
    };
    p.clone()
        .placed(line, header(Some(column)).filter(|_| line > 0), cut(reason))
}
/// The template column a problem of a row's change is about: the field it names (a typed
/// fact of the problem, never its message), else by the rule that refused; a store outside
/// the uploader's is the Stores column's where the template has one. A column the template
/// lacks falls back to Role.
fn column_for(field: Option<&str>, kind: ErrorKind, present: &Present) -> usize {
    let has = |c: usize| present.get(c).copied().unwrap_or(false);
    let column = match (field, kind) {
        (Some("username"), _) => USERNAME,
        (Some("e-mail"), _) => EMAIL,
        (Some("timezone"), _) => TIMEZONE,
        (Some("stores"), _) | (None, ErrorKind::OutsideScope) => STORES,
        (Some("sources"), _) => SOURCES,
        (Some("sales channels"), _) => ALL_CHANNELS,
        (Some("enabled"), _) => ENABLED,
        (_, ErrorKind::NotPermitted | ErrorKind::Owner) => ACTION,
        _ => ROLE,
    };
    if has(column) { column } else { ROLE }
}
