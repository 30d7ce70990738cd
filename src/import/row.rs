//! One row of an upload: its cells resolved against the account (roles by name or former name,
//! sources by external id, stores by name or id, the user it names if the uploader may edit
//! it) and validated, one problem per cell at most.

use std::collections::{HashMap, HashSet};

use super::{
    ACTION, ALL_CHANNELS, ALL_SOURCES, COLUMNS, Cells, EMAIL, ENABLED, Present, ROLE, SOURCES,
    STORES, TIMEZONE, USERNAME, problem_as,
};
use crate::admin::authorize;
use crate::engine::Snapshot;
use crate::engine::index::{folded, validate_email, validate_username};
use crate::model::access::Access;
use crate::model::account::{Source, Store};
use crate::model::ids::{SourceId, StoreId};
use crate::model::permission::Catalog;
use crate::model::user::{Grant, User, parse_timezone};
use crate::{ErrorKind, Problem};

/// The uploader, the account's users before the upload by folded username, the stores and
/// sources it may see, and the template's columns.
pub(super) struct Known<'a> {
    pub(super) me: &'a User,
    pub(super) by_username: HashMap<String, &'a User>,
    pub(super) stores: StoreNames,
    pub(super) sources: SourceNames,
    pub(super) present: Present,
}

/// The sources an actor may see (R20), by external id ignoring ASCII case (as external ids are
/// unique): how a Sources cell is read. A source it may not see reads as no source, and an
/// `Update` row keeps the user's hidden sources, which its download never wrote.
pub(super) struct SourceNames {
    by_external_id: HashMap<String, SourceId>,
    ids: HashSet<SourceId>,
}

impl SourceNames {
    pub(super) fn new(sources: Vec<&Source>) -> Self {
        SourceNames {
            by_external_id: sources
                .iter()
                .map(|s| (s.external_id().to_ascii_lowercase(), s.id()))
                .collect(),
            ids: sources.iter().map(|s| s.id()).collect(),
        }
    }

    fn resolve(&self, external_id: &str) -> Option<SourceId> {
        self.by_external_id
            .get(&external_id.to_ascii_lowercase())
            .copied()
    }

    fn sees(&self, id: SourceId) -> bool {
        self.ids.contains(&id)
    }
}

/// The stores an actor may see (R20), by folded name and by id: how a Stores cell is read,
/// and written.
pub(super) struct StoreNames {
    by_name: HashMap<String, Vec<StoreId>>,
    ids: HashSet<StoreId>,
}

impl StoreNames {
    pub(super) fn new(stores: Vec<&Store>) -> Self {
        let mut by_name: HashMap<String, Vec<StoreId>> = HashMap::new();
        let mut ids = HashSet::new();
        for s in stores {
            by_name.entry(folded(s.name())).or_default().push(s.id());
            ids.insert(s.id());
        }
        StoreNames { by_name, ids }
    }

    /// The store an entry of a Stores cell names: a visible store's id written `store#10`,
    /// else a name (ignoring case) one visible store has, else a visible store's id written
    /// `10`.
    fn resolve(&self, entry: &str) -> Result<StoreId, StoreMiss> {
        let id = |digits: &str| {
            digits
                .parse::<u64>()
                .map(StoreId::new)
                .ok()
                .filter(|id| self.ids.contains(id))
        };
        if let Some(found) = entry.strip_prefix("store#").and_then(id) {
            return Ok(found);
        }
        match self.by_name.get(&folded(entry)).map(Vec::as_slice) {
            Some([one]) => return Ok(*one),
            Some([_, _, ..]) => return Err(StoreMiss::Ambiguous),
            _ => {}
        }
        id(entry).ok_or(StoreMiss::Unknown)
    }

    /// How a download writes a store so that [`StoreNames::resolve`] reads it back: its name,
    /// unless another visible store shares it, it reads as a keyword or an id, or it holds a
    /// comma; then its id.
    pub(super) fn write(&self, store: &Store) -> String {
        let name = store.name();
        let plain = self
            .by_name
            .get(&folded(name))
            .is_some_and(|v| v.len() == 1)
            && !name.contains(',')
            && !is_keyword(name)
            && !name.starts_with("store#")
            && name.parse::<u64>().is_err();
        if plain {
            name.to_owned()
        } else {
            store.id().to_string()
        }
    }
}

enum StoreMiss {
    Unknown,
    Ambiguous,
}

/// `All` and `None`, which a Stores cell spells out, ignoring ASCII case.
fn is_keyword(text: &str) -> bool {
    text.eq_ignore_ascii_case("all") || text.eq_ignore_ascii_case("none")
}

/// A row, resolved.
pub(super) struct Row<'a> {
    pub(super) existing: Option<&'a User>,
    pub(super) enabled: bool,
    /// `None`: the template has no such column (the user's channels are kept).
    pub(super) all_channels: Option<bool>,
    /// `None`: the template has no Sources column (the user's sources are kept).
    pub(super) sources: Option<Access<SourceId>>,
    /// `None`: an `Update` row with an empty Role cell keeps the user's grants.
    pub(super) role: Option<crate::RoleId>,
    /// The stores of the first grant; `None`: the template has no Stores column (a new user
    /// holds its role at every store), or an `Update` row keeps the user's grants.
    pub(super) stores: Option<Access<StoreId>>,
    pub(super) timezone: chrono_tz::Tz,
    pub(super) username: &'a str,
    pub(super) email: &'a str,
}

impl Row<'_> {
    pub(super) fn build(&self, base: User) -> User {
        let grants: Vec<Grant> = match (self.role, &self.stores, base.grants()) {
            (None, None, gs) => gs.to_vec(),
            // A Stores column: the row is the first grant, its role at those stores.
            (role, Some(stores), [first, rest @ ..]) => {
                core::iter::once(Grant::new(role.unwrap_or(first.role), stores.clone()))
                    .chain(rest.iter().cloned())
                    .collect()
            }
            (Some(role), Some(stores), []) => vec![Grant::new(role, stores.clone())],
            // No Stores column (seed 003): a new role replaces the first grant's, at its
            // stores, unless the user holds it already.
            (Some(role), None, gs) if gs.iter().any(|g| g.role == role) => gs.to_vec(),
            (Some(role), None, [first, rest @ ..]) => {
                core::iter::once(Grant::new(role, first.stores.clone()))
                    .chain(rest.iter().cloned())
                    .collect()
            }
            (Some(role), None, []) => vec![Grant::new(role, Access::All)],
            // Refused when the row is read: stores need a role.
            (None, Some(_), []) => Vec::new(),
        };
        let channels = match self.all_channels {
            None => base.channels().clone(),
            Some(true) => Access::All,
            Some(false) if base.channels().is_all() => Access::None,
            // The template has no channel list: a user's specific channels are kept.
            Some(false) => base.channels().clone(),
        };
        let sources = self
            .sources
            .clone()
            .unwrap_or_else(|| base.sources().clone());
        base.with_username(self.username)
            .with_email(self.email)
            .with_enabled(self.enabled)
            .with_grants(grants)
            .with_sources(sources)
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
    cells: &Cells<'a>,
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
        stores,
        sources,
        action,
    ] = *cells;
    let has = |column: usize| known.present.get(column).copied().unwrap_or(false);
    // At most one problem per cell: the first found.
    let mut bad_cells = [false; COLUMNS.len()];
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
    let all_channels = has(ALL_CHANNELS).then(|| {
        flag(all_channels).unwrap_or_else(|r| {
            bad_as(ErrorKind::InvalidInput, ALL_CHANNELS, r);
            false
        })
    });
    let all_sources = has(ALL_SOURCES)
        && flag(all_sources).unwrap_or_else(|r| {
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
    let stores = if has(STORES) {
        store_access(
            known,
            stores,
            role.is_empty() && !create,
            &mut |kind, reason| {
                bad_as(kind, STORES, reason);
            },
        )
    } else {
        None
    };
    if matches!(stores, Some(Some(_)))
        && role.is_empty()
        && existing.is_some_and(|u| u.grants().is_empty())
    {
        bad_as(
            ErrorKind::InvalidInput,
            ROLE,
            "a role is required to give the user stores".to_owned(),
        );
    }
    let sources = if !has(SOURCES) {
        None
    } else if all_sources {
        Some(Access::All)
    } else {
        // R20: an `Update` row keeps the user's sources the uploader may not see; the cell
        // names only the others (a download writes only those).
        let mut ids: Vec<SourceId> = match existing.filter(|_| !create).map(User::sources) {
            Some(Access::Specific(held)) => {
                held.iter().filter(|&s| !known.sources.sees(s)).collect()
            }
            _ => Vec::new(),
        };
        let (mut unknown, mut first_unknown) = (0usize, None);
        for name in sources.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            // R20: a source the uploader may not see reads as no source.
            match known.sources.resolve(name) {
                Some(id) => ids.push(id),
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
        Some(if ids.is_empty() {
            Access::None
        } else {
            Access::specific(ids)
        })
    };
    match (role_id, tz) {
        (Some(role), Some(timezone)) if problems.len() == format_problems => Ok(Row {
            existing: existing.filter(|_| !create),
            enabled,
            all_channels,
            sources,
            role,
            stores: stores.flatten(),
            timezone,
            username,
            email,
        }),
        _ => Err(problems),
    }
}

/// A Stores cell: `All`, `None`, or store names and ids among the stores the uploader may see
/// (a store it may not see reads as no store, R20). An empty cell is never all stores: it is
/// refused, unless `keep` (an `Update` row with an empty Role keeps the user's grants), when
/// it is `Some(None)`. `None` if the cell is bad (reported through `bad`).
fn store_access(
    known: &Known<'_>,
    cell: &str,
    keep: bool,
    bad: &mut dyn FnMut(ErrorKind, String),
) -> Option<Option<Access<StoreId>>> {
    if cell.is_empty() {
        if keep {
            return Some(None);
        }
        bad(
            ErrorKind::InvalidInput,
            "is empty: name the stores, or write `All` for every store".to_owned(),
        );
        return None;
    }
    if cell.eq_ignore_ascii_case("all") {
        return Some(Some(Access::All));
    }
    if cell.eq_ignore_ascii_case("none") {
        return Some(Some(Access::None));
    }
    let mut ids = Vec::new();
    let (mut unknown, mut first_unknown, mut ambiguous) = (0usize, None, None);
    for entry in cell.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match known.stores.resolve(entry) {
            Ok(id) => ids.push(id),
            Err(StoreMiss::Ambiguous) => {
                ambiguous.get_or_insert(entry);
            }
            Err(StoreMiss::Unknown) => {
                unknown += 1;
                first_unknown.get_or_insert(entry);
            }
        }
    }
    if let Some(name) = first_unknown {
        let reason = match unknown - 1 {
            0 => format!("unknown store `{name}`"),
            more => format!("unknown store `{name}`, and {more} more"),
        };
        bad(ErrorKind::NotFound, reason);
        return None;
    }
    if let Some(name) = ambiguous {
        bad(
            ErrorKind::InvalidInput,
            format!("more than one store is named `{name}`: write its id (`store#…`)"),
        );
        return None;
    }
    if ids.is_empty() {
        bad(
            ErrorKind::InvalidInput,
            "names no store: name the stores, or write `All` for every store".to_owned(),
        );
        return None;
    }
    Some(Some(Access::specific(ids)))
}
