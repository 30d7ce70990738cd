//! What the SQL backends share: the record encoding and the schema version.
//!
//! Objects, batches and audit records are stored as JSON documents (serde), so a stored row
//! reads the same as the types' serde form, and SQL tools can inspect it. Ids and revisions
//! are unsigned 64-bit numbers; SQL integers are signed, so they are stored with the same bits.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// The schema version the adapters of this release write. Each adapter's migrations bring
/// version `n` to `n + 1`; a database at a newer version is refused.
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// The first schema version whose audit rows have the query columns: older rows get them on
/// migration.
pub(crate) const QUERY_COLUMNS_VERSION: i64 = 2;

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(Error::storage)
}

pub(crate) fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::storage(format!("cannot decode stored {what}: {e}")))
}

/// An id or revision as a SQL integer, same bits.
pub(crate) fn to_sql(value: u64) -> i64 {
    i64::from_ne_bytes(value.to_ne_bytes())
}

/// A SQL integer as the id or time stored with the same bits.
pub(crate) fn from_sql(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

/// A stored revision: SQL integers are signed, and a revision never exceeds `i64::MAX`, so a
/// negative one is corruption (it would also leave no room for the next revision).
pub(crate) fn revision_from_sql(value: i64) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| Error::storage(format!("corrupt stored revision {value}")))
}

/// The migrations a database at schema version `found` still needs (entry `n` of
/// `migrations` brings version `n` to `n + 1`). Refuses a database written by a newer release.
pub(crate) fn pending_migrations<'m>(
    migrations: &'m [&'m str],
    found: i64,
) -> Result<&'m [&'m str], Error> {
    let newer = || {
        Error::storage(format!(
            "the database has shopguard schema version {found}: this release reads up to \
             {SCHEMA_VERSION}"
        ))
    };
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(newer());
    }
    usize::try_from(found)
        .ok()
        .and_then(|from| migrations.get(from..))
        .ok_or_else(newer)
}

/// The block of `count` ids a SQL store hands out: from the stored sequence's next id (`None`
/// before the first allocation of the kind), the highest id of the kind it holds (`None` if
/// none; ids past `i64::MAX` read as negative and are left out: allocation never reaches
/// them), and the engine's floor. Returns the first id and the sequence's next value.
pub(crate) fn id_block(
    next: Option<i64>,
    highest: Option<i64>,
    at_least: u64,
    count: u64,
    kind: crate::storage::ObjectKind,
) -> Result<(u64, i64), Error> {
    let stored = next.and_then(|n| u64::try_from(n).ok()).unwrap_or(1);
    let above = highest
        .and_then(|h| u64::try_from(h).ok())
        .map_or(1, |h| h.saturating_add(1));
    let first = stored.max(above).max(at_least).max(1);
    let next = first
        .checked_add(count)
        .and_then(|end| i64::try_from(end).ok())
        .ok_or_else(|| Error::storage(format!("the {kind} ids are used up")))?;
    Ok((first, next))
}
