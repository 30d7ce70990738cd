//! One row of an upload: its cells resolved against the account (roles by name or former name,
//! sources by external id, the user it names if the uploader may edit it) and validated, one
//! problem per cell at most.

use std::collections::HashMap;

use super::{
    ACTION, ALL_CHANNELS, ALL_SOURCES, EMAIL, ENABLED, HEADER, ROLE, SOURCES, TIMEZONE, USERNAME,
    problem_as,
};
use crate::admin::authorize;
use crate::engine::Snapshot;
use crate::engine::index::{folded, validate_email, validate_username};
use crate::model::access::Access;
use crate::model::ids::SourceId;
use crate::model::permission::Catalog;
use crate::model::user::{Grant, User, parse_timezone};
use crate::{ErrorKind, Problem};

/// The uploader, and the account's users before the upload, by folded username.
pub(super) struct Known<'a> {
    pub(super) me: &'a User,
    pub(super) by_username: HashMap<String, &'a User>,
}

/// A row, resolved.
pub(super) struct Row<'a> {
    pub(super) existing: Option<&'a User>,
    pub(super) enabled: bool,
    pub(super) all_channels: bool,
    pub(super) sources: Access<SourceId>,
    /// `None`: an `Update` row with an empty Role cell keeps the user's grants.
    pub(super) role: Option<crate::RoleId>,
    pub(super) timezone: chrono_tz::Tz,
    pub(super) username: &'a str,
    pub(super) email: &'a str,
}

impl Row<'_> {
    pub(super) fn build(&self, base: User) -> User {
        let grants: Vec<Grant> = match (self.role, base.grants()) {
            (None, gs) => gs.to_vec(),
            (Some(role), gs) if gs.iter().any(|g| g.role == role) => gs.to_vec(),
            (Some(role), [first, rest @ ..]) => {
                core::iter::once(Grant::new(role, first.stores.clone()))
                    .chain(rest.iter().cloned())
                    .collect()
            }
            (Some(role), []) => vec![Grant::new(role, Access::All)],
        };
        let channels = if self.all_channels {
            Access::All
        } else if base.channels().is_all() {
            Access::None
        } else {
            // The template has no channel list: a user's specific channels are kept.
            base.channels().clone()
        };
        base.with_username(self.username)
            .with_email(self.email)
            .with_enabled(self.enabled)
            .with_grants(grants)
            .with_sources(self.sources.clone())
            .with_channels(channels)
            .with_tz(self.timezone)
    }
}

/// Resolves and validates one row's cells.
pub(super) fn plan_row<'a, P: Catalog>(
    snapshot: &'a Snapshot<P>,
    known: &Known<'a>,
    account: crate::AccountId,
    line: u64,
    cells: &[&'a str; 9],
    named: &mut HashMap<crate::UserId, u64>,
) -> Result<Row<'a>, Vec<Problem>> {
    let mut problems = Vec::new();
    let [
        username,
        email,
        enabled,
        all_channels,
        all_sources,
        timezone,
        role,
        sources,
        action,
    ] = *cells;
    // At most one problem per cell: the first found.
    let mut bad_cells = [false; HEADER.len()];
    let mut bad_as = |kind: ErrorKind, col: usize, reason: String| {
        if let Some(seen) = bad_cells.get_mut(col)
            && !core::mem::replace(seen, true)
        {
            problems.push(problem_as(kind, line, Some(col), reason));
        }
    };
    let flag = |text: &str| match text {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(format!("must be 1 or 0, found `{other}`")),
    };
    let enabled = flag(enabled).unwrap_or_else(|r| {
        bad_as(ErrorKind::InvalidInput, ENABLED, r);
        false
    });
    let all_channels = flag(all_channels).unwrap_or_else(|r| {
        bad_as(ErrorKind::InvalidInput, ALL_CHANNELS, r);
        false
    });
    let all_sources = flag(all_sources).unwrap_or_else(|r| {
        bad_as(ErrorKind::InvalidInput, ALL_SOURCES, r);
        false
    });
    let create = match action.to_ascii_lowercase().as_str() {
        "create" => true,
        "update" => false,
        _ => {
            bad_as(
                ErrorKind::InvalidInput,
                ACTION,
                format!("must be Create or Update, found `{action}`"),
            );
            true
        }
    };
    // The engine's own rules for usernames and e-mails: a row that resolves is validated by
    // the planner like any change, so these are reported here only for a row that does not.
    let mut format_problems = 0;
    if let Err(e) = validate_username(username) {
        bad_as(ErrorKind::InvalidInput, USERNAME, e.to_string());
        format_problems += 1;
    }
    if let Err(e) = validate_email(email) {
        bad_as(ErrorKind::InvalidInput, EMAIL, e.to_string());
        format_problems += 1;
    }
    // R20: a user the uploader may not edit is answered as if there were none; no message
    // names another user. Whether a `Create` row's username or e-mail is taken is the
    // planner's to say.
    let taken = known.by_username.get(&folded(username)).copied();
    let existing = taken.filter(|u| authorize::may_edit(snapshot.index(), known.me, u));
    if !create {
        match existing {
            None => bad_as(
                ErrorKind::NotFound,
                USERNAME,
                format!("no user `{username}` to update"),
            ),
            // A file names a user once: a second row for the same user is ambiguous.
            Some(u) => {
                if let Some(first) = named.insert(u.id(), line) {
                    bad_as(
                        ErrorKind::Duplicate,
                        USERNAME,
                        format!("`{username}` appears again: first on line {first}"),
                    );
                }
            }
        }
    }
    let tz = match parse_timezone(timezone) {
        Ok(tz) => Some(tz),
        Err(e) => {
            bad_as(ErrorKind::InvalidInput, TIMEZONE, e.to_string());
            None
        }
    };
    // `Some(None)`: keep the grants (an `Update` with an empty Role cell).
    let role_id = match snapshot.role_named(account, role) {
        Some(r) => Some(Some(r.id())),
        None if role.is_empty() && !create => Some(None),
        None if role.is_empty() => {
            bad_as(
                ErrorKind::InvalidInput,
                ROLE,
                "a role is required to create a user".to_owned(),
            );
            None
        }
        None => {
            bad_as(ErrorKind::NotFound, ROLE, format!("unknown role `{role}`"));
            None
        }
    };
    let sources = if all_sources {
        Access::All
    } else {
        let mut ids = Vec::new();
        let (mut unknown, mut first_unknown) = (0usize, None);
        for name in sources.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match snapshot.source_named(account, name) {
                Some(s) => ids.push(s.id()),
                None => {
                    unknown += 1;
                    first_unknown.get_or_insert(name);
                }
            }
        }
        if let Some(name) = first_unknown {
            let reason = match unknown - 1 {
                0 => format!("unknown source `{name}`"),
                more => format!("unknown source `{name}`, and {more} more"),
            };
            bad_as(ErrorKind::NotFound, SOURCES, reason);
        }
        if ids.is_empty() {
            Access::None
        } else {
            Access::specific(ids)
        }
    };
    match (role_id, tz) {
        (Some(role), Some(timezone)) if problems.len() == format_problems => Ok(Row {
            existing: existing.filter(|_| !create),
            enabled,
            all_channels,
            sources,
            role,
            timezone,
            username,
            email,
        }),
        _ => Err(problems),
    }
}
