//! The schema's tables, created or migrated on connect.

use postgres::{Client, Transaction};
use serde::de::IgnoredAny;

use super::commit::insert_targets;
use super::db;
use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::storage::record::{QUERY_COLUMNS_VERSION, SCHEMA_VERSION, decode, pending_migrations};
use crate::storage::trail::AuditColumns;

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
    // Version 2: the audit trail's query columns (filled in from the records by `backfill`)
    // and indexes, followers' registrations, and the revision batches are pruned up to.
    "ALTER TABLE \"{s}\".shopguard_audit
         ADD COLUMN account bigint,
         ADD COLUMN system text,
         ADD COLUMN outcome smallint NOT NULL DEFAULT 0,
         ADD COLUMN kinds smallint NOT NULL DEFAULT 0,
         ADD COLUMN targets_complete boolean NOT NULL DEFAULT true;
     CREATE TABLE \"{s}\".shopguard_audit_target (
         seq bigint NOT NULL,
         kind smallint NOT NULL,
         id bigint NOT NULL,
         PRIMARY KEY (seq, kind, id)
     );
     CREATE INDEX shopguard_audit_target_object ON \"{s}\".shopguard_audit_target (kind, id, seq);
     CREATE INDEX shopguard_audit_account ON \"{s}\".shopguard_audit (account, seq);
     CREATE INDEX shopguard_audit_actor ON \"{s}\".shopguard_audit (account, actor, seq);
     CREATE INDEX shopguard_audit_incomplete ON \"{s}\".shopguard_audit (account, seq)
         WHERE NOT targets_complete;
     CREATE INDEX shopguard_audit_account_time ON \"{s}\".shopguard_audit (account, at_unix_ms);
     CREATE INDEX shopguard_audit_time ON \"{s}\".shopguard_audit (at_unix_ms);
     CREATE INDEX shopguard_batch_time ON \"{s}\".shopguard_batch (at_unix_ms);
     CREATE TABLE \"{s}\".shopguard_follower (
         name text PRIMARY KEY,
         revision bigint NOT NULL,
         seen_unix_ms bigint NOT NULL
     );
     INSERT INTO \"{s}\".shopguard_meta (name, value) VALUES ('pruned_through', 0);",
    // Version 3: the id sequences (`Engine::next_id`), one row per object kind.
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
    if (1..QUERY_COLUMNS_VERSION).contains(&found) {
        backfill(&mut tx, schema)?;
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

/// Fills the query columns and target rows of audit rows stored before they existed, a chunk
/// at a time. The records are read without their permissions' catalog (`IgnoredAny`): their
/// targets and kinds do not depend on it.
fn backfill(tx: &mut Transaction<'_>, schema: &str) -> Result<(), Error> {
    let mut after = 0i64;
    loop {
        let rows = tx
            .query(
                &format!(
                    "SELECT seq, record::text FROM \"{schema}\".shopguard_audit WHERE seq > $1
                     ORDER BY seq LIMIT 512"
                ),
                &[&after],
            )
            .map_err(db)?;
        let mut seqs = Vec::with_capacity(rows.len());
        let mut columns = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.try_get(0).map_err(db)?;
            let text: String = row.try_get(1).map_err(db)?;
            let record: AuditRecord<IgnoredAny> = decode(&text, "audit record")?;
            seqs.push(seq);
            columns.push(AuditColumns::of(&record));
        }
        let account: Vec<Option<i64>> = columns.iter().map(|c| c.account).collect();
        let system: Vec<Option<&str>> = columns.iter().map(|c| c.system.as_deref()).collect();
        let outcome: Vec<i16> = columns.iter().map(|c| c.outcome).collect();
        let kinds: Vec<i16> = columns.iter().map(|c| c.kinds).collect();
        let complete: Vec<bool> = columns.iter().map(|c| c.complete).collect();
        tx.execute(
            &format!(
                "UPDATE \"{schema}\".shopguard_audit a
                 SET account = t.account, system = t.system, outcome = t.outcome,
                     kinds = t.kinds, targets_complete = t.complete
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::smallint[],
                             $5::smallint[], $6::boolean[])
                     AS t(seq, account, system, outcome, kinds, complete)
                 WHERE a.seq = t.seq"
            ),
            &[&seqs, &account, &system, &outcome, &kinds, &complete],
        )
        .map_err(db)?;
        let pairs: Vec<(i64, &AuditColumns)> = seqs.iter().copied().zip(&columns).collect();
        insert_targets(tx, schema, &pairs)?;
        let last = seqs.last().copied();
        match last {
            Some(seq) => after = seq,
            None => return Ok(()),
        }
    }
}
