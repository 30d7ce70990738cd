//! [`Storage`] for [`PgStorage`]: reads run as jobs on the worker thread; commits and waits
//! are handed to `commit` and `listen`.

use std::time::Duration;

use postgres::IsolationLevel;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::commit::{audit_rows, insert_audit};
use super::{PgStorage, db};
use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::storage::record::{decode, id_block, revision_from_sql, to_sql};
use crate::storage::{Batch, Commit, Loaded, ObjectKind, Storage};

impl<P> Storage<P> for PgStorage
where
    P: Copy + Send + core::fmt::Debug + Serialize + DeserializeOwned,
{
    fn load(&self) -> Result<Loaded<P>, Error> {
        let schema = self.schema.clone();
        let (head, bodies) = self.run(move |session| {
            // One snapshot: the head and the objects of the same state.
            let mut tx = session
                .client()?
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(db)?;
            let head: i64 = tx
                .query_one(
                    &format!("SELECT value FROM \"{schema}\".shopguard_meta WHERE name = 'head'"),
                    &[],
                )
                .and_then(|row| row.try_get(0))
                .map_err(db)?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT body::text FROM \"{schema}\".shopguard_object
                         ORDER BY kind, first_revision, position"
                    ),
                    &[],
                )
                .map_err(db)?;
            let bodies = rows
                .iter()
                .map(|row| row.try_get::<_, String>(0))
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok((head, bodies))
        })?;
        let records = bodies
            .iter()
            .map(|b| decode(b, "object"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Loaded {
            revision: revision_from_sql(head)?,
            records,
        })
    }

    fn commit(&self, commit: &Commit<'_, P>) -> Result<(), Error> {
        self.commit_batch(commit)
    }

    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<P>>, Error> {
        let schema = self.schema.clone();
        let after = to_sql(revision);
        let rows = self.run(move |session| {
            let rows = session
                .client()?
                .query(
                    &format!(
                        "SELECT revision, mutations::text FROM \"{schema}\".shopguard_batch
                         WHERE revision > $1 ORDER BY revision"
                    ),
                    &[&after],
                )
                .map_err(db)?;
            rows.iter()
                .map(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?)))
                .collect::<Result<Vec<_>, postgres::Error>>()
                .map_err(db)
        })?;
        rows.iter()
            .map(|(revision, body)| {
                Ok(Batch {
                    revision: revision_from_sql(*revision)?,
                    mutations: decode(body, "batch")?,
                })
            })
            .collect()
    }

    fn record_refused(&self, records: &[AuditRecord<P>]) -> Result<(), Error> {
        let rows = audit_rows(records)?;
        let schema = self.schema.clone();
        self.run(move |session| {
            let mut tx = session.client()?.transaction().map_err(db)?;
            insert_audit(&mut tx, &schema, &rows, None)?;
            tx.commit().map_err(db)
        })
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error> {
        let schema = self.schema.clone();
        let bodies = self.run(move |session| {
            let rows = session
                .client()?
                .query(
                    &format!("SELECT record::text FROM \"{schema}\".shopguard_audit ORDER BY seq"),
                    &[],
                )
                .map_err(db)?;
            rows.iter()
                .map(|row| row.try_get::<_, String>(0))
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)
        })?;
        bodies.iter().map(|b| decode(b, "audit record")).collect()
    }

    /// Always: replicas share the schema.
    fn is_shared(&self) -> bool {
        true
    }

    /// One transaction holding the kind's sequence row locked, so allocations from every
    /// replica are serialized.
    fn allocate_ids(&self, kind: ObjectKind, count: u64, at_least: u64) -> Result<u64, Error> {
        let schema = self.schema.clone();
        let code = i16::from(kind.code());
        self.run(move |session| {
            let mut tx = session.client()?.transaction().map_err(db)?;
            // The row exists from the first allocation on; creating it races harmlessly.
            tx.execute(
                &format!(
                    "INSERT INTO \"{schema}\".shopguard_sequence (kind, next) VALUES ($1, 1)
                     ON CONFLICT (kind) DO NOTHING"
                ),
                &[&code],
            )
            .map_err(db)?;
            let next: i64 = tx
                .query_one(
                    &format!(
                        "SELECT next FROM \"{schema}\".shopguard_sequence WHERE kind = $1
                         FOR UPDATE"
                    ),
                    &[&code],
                )
                .and_then(|row| row.try_get(0))
                .map_err(db)?;
            let highest: Option<i64> = tx
                .query_one(
                    &format!("SELECT max(id) FROM \"{schema}\".shopguard_object WHERE kind = $1"),
                    &[&code],
                )
                .and_then(|row| row.try_get(0))
                .map_err(db)?;
            let (first, next) = id_block(Some(next), highest, at_least, count, kind)?;
            tx.execute(
                &format!("UPDATE \"{schema}\".shopguard_sequence SET next = $2 WHERE kind = $1"),
                &[&code, &next],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(first)
        })
    }

    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, Error> {
        Ok(self.shared.wait_for_change(after, timeout))
    }
}
