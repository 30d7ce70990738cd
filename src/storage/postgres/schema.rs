//! The schema's tables, created or migrated on connect.

use postgres::Client;

use super::db;
use crate::Error;
use crate::storage::record::{SCHEMA_VERSION, pending_migrations};

/// Every migration, in order: entry `n` brings the schema from version `n` to `n + 1`. `{s}`
/// stands for the schema name.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE \"{s}\".shopguard_object (
         kind smallint NOT NULL,
         id bigint NOT NULL,
         first_revision bigint NOT NULL,
         position integer NOT NULL,
         body jsonb NOT NULL,
         PRIMARY KEY (kind, id)
     );
     CREATE TABLE \"{s}\".shopguard_batch (
         revision bigint PRIMARY KEY,
         at_unix_ms bigint NOT NULL,
         writer text NOT NULL,
         mutations jsonb NOT NULL
     );
     CREATE TABLE \"{s}\".shopguard_audit (
         seq bigserial PRIMARY KEY,
         at_unix_ms bigint NOT NULL,
         actor bigint NOT NULL,
         revision bigint,
         applied boolean NOT NULL,
         record jsonb NOT NULL
     );
     INSERT INTO \"{s}\".shopguard_meta (name, value) VALUES ('head', 0);",
    // Version 2: the id sequences (`Engine::next_id`), one row per object kind.
    "CREATE TABLE \"{s}\".shopguard_sequence (
         kind smallint PRIMARY KEY,
         next bigint NOT NULL
     );",
];

/// Creates the schema, or brings it up to [`SCHEMA_VERSION`], in one transaction, under an
/// advisory lock (replicas may start together).
pub(super) fn migrate(client: &mut Client, schema: &str) -> Result<(), Error> {
    let mut tx = client.transaction().map_err(db)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('shopguard:' || $1::text))",
        &[&schema],
    )
    .map_err(db)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         CREATE TABLE IF NOT EXISTS \"{schema}\".shopguard_meta (
             name text PRIMARY KEY,
             value bigint NOT NULL
         );"
    ))
    .map_err(db)?;
    let found: i64 = tx
        .query_opt(
            &format!("SELECT value FROM \"{schema}\".shopguard_meta WHERE name = 'schema_version'"),
            &[],
        )
        .map_err(db)?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(db)?
        .unwrap_or(0);
    for step in pending_migrations(MIGRATIONS, found)? {
        tx.batch_execute(&step.replace("{s}", schema)).map_err(db)?;
    }
    tx.execute(
        &format!(
            "INSERT INTO \"{schema}\".shopguard_meta (name, value) VALUES ('schema_version', $1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        ),
        &[&SCHEMA_VERSION],
    )
    .map_err(db)?;
    tx.commit().map_err(db)
}
