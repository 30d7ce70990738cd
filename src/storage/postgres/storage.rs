//! [`Storage`] for [`PgStorage`]: reads run as jobs on the worker thread; commits and waits
//! are handed to `commit` and `listen`.

use std::io::Write;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{IsolationLevel, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::commit::{audit_rows, insert_audit};
use super::{PgStorage, db};
use crate::Error;
use crate::admin::audit::{AuditRecord, now_unix_ms};
use crate::admin::audit_query::{AuditPage, AuditQuery};
use crate::storage::record::{decode, id_block, revision_from_sql, to_sql};
use crate::storage::trail::{self, Arg, PrunePlan, PruneSteps, audit_where};
use crate::storage::{Batch, Commit, Loaded, ObjectKind, Pruned, Retention, Storage};

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
        let (pruned, rows) = self.run(move |session| {
            // One snapshot: the pruned mark and the batches of the same state.
            let mut tx = session
                .client()?
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(db)?;
            let pruned = meta(&mut tx, &schema, "pruned_through")?;
            if pruned > after {
                return Ok((pruned, Vec::new()));
            }
            let rows = tx
                .query(
                    &format!(
                        "SELECT revision, mutations::text FROM \"{schema}\".shopguard_batch
                         WHERE revision > $1 ORDER BY revision"
                    ),
                    &[&after],
                )
                .map_err(db)?;
            let rows = rows
                .iter()
                .map(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?)))
                .collect::<Result<Vec<_>, postgres::Error>>()
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok((pruned, rows))
        })?;
        let pruned = revision_from_sql(pruned)?;
        if revision < pruned {
            return Err(Error::pruned(revision, pruned));
        }
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
            // The head row's lock, as commits take it: see `insert_audit`.
            lock_head(&mut tx, &schema)?;
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

    fn audit_query(&self, query: &AuditQuery) -> Result<AuditPage<P>, Error> {
        trail::audit_page(query, |below, n| {
            let schema = self.schema.clone();
            let (conditions, args) = audit_where(
                query,
                below,
                &format!("\"{schema}\".shopguard_audit"),
                &format!("\"{schema}\".shopguard_audit_target"),
                |n| format!("${n}"),
            );
            let sql = format!(
                "SELECT a.seq, a.record::text FROM \"{schema}\".shopguard_audit a
                 WHERE {conditions} ORDER BY a.seq DESC LIMIT {n}"
            );
            self.run(move |session| {
                let params = params(&args);
                let rows = session.client()?.query(&sql, &params).map_err(db)?;
                rows.iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                    .collect::<Result<Vec<_>, postgres::Error>>()
                    .map_err(db)
            })
        })
    }

    fn prune(&self, retention: &Retention, export: &mut dyn Write) -> Result<Pruned, Error> {
        trail::prune::<P>(self, retention, export)
    }

    fn register_follower(&self, name: &str, revision: u64) -> Result<(), Error> {
        let sql = format!(
            "INSERT INTO \"{}\".shopguard_follower (name, revision, seen_unix_ms)
             VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE
             SET revision = excluded.revision, seen_unix_ms = excluded.seen_unix_ms",
            self.schema
        );
        let (name, revision, now) = (name.to_owned(), to_sql(revision), to_sql(now_unix_ms()));
        self.run(move |session| {
            session
                .client()?
                .execute(&sql, &[&name, &revision, &now])
                .map_err(db)?;
            Ok(())
        })
    }

    fn unregister_follower(&self, name: &str) -> Result<(), Error> {
        let sql = format!(
            "DELETE FROM \"{}\".shopguard_follower WHERE name = $1",
            self.schema
        );
        let name = name.to_owned();
        self.run(move |session| {
            session.client()?.execute(&sql, &[&name]).map_err(db)?;
            Ok(())
        })
    }

    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, Error> {
        Ok(self.shared.wait_for_change(after, timeout))
    }
}

/// The query parameters, in the driver's form.
fn params(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| match a {
            Arg::Int(v) => v as &(dyn ToSql + Sync),
            Arg::Small(v) => v as &(dyn ToSql + Sync),
            Arg::Text(v) => v as &(dyn ToSql + Sync),
        })
        .collect()
}

/// A value of `shopguard_meta`.
fn meta(tx: &mut Transaction<'_>, schema: &str, name: &str) -> Result<i64, Error> {
    tx.query_one(
        &format!("SELECT value FROM \"{schema}\".shopguard_meta WHERE name = $1"),
        &[&name],
    )
    .and_then(|row| row.try_get(0))
    .map_err(db)
}

/// Takes the head row's lock, which serializes commits (and every audit insert, and the
/// removal of a prune), and returns the head revision.
fn lock_head(tx: &mut Transaction<'_>, schema: &str) -> Result<i64, Error> {
    tx.query_one(
        &format!("SELECT value FROM \"{schema}\".shopguard_meta WHERE name = 'head' FOR UPDATE"),
        &[],
    )
    .and_then(|row| row.try_get(0))
    .map_err(db)
}

/// The least revision of a follower seen after `stale`.
fn least_follower(
    tx: &mut Transaction<'_>,
    schema: &str,
    stale: i64,
) -> Result<Option<i64>, Error> {
    tx.query_one(
        &format!(
            "SELECT MIN(revision) FROM \"{schema}\".shopguard_follower WHERE seen_unix_ms > $1"
        ),
        &[&stale],
    )
    .and_then(|row| row.try_get(0))
    .map_err(db)
}

/// A row count for `LIMIT`.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PruneSteps for PgStorage {
    fn plan(&self, retention: &Retention, stale: i64) -> Result<PrunePlan, Error> {
        let schema = self.schema.clone();
        let horizon = retention
            .batches_before
            .map(|h| i64::try_from(h).unwrap_or(i64::MAX));
        self.run(move |session| {
            let mut tx = session
                .client()?
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(db)?;
            let from = meta(&mut tx, &schema, "pruned_through")?;
            let cut = match horizon {
                None => from,
                Some(horizon) => {
                    let head = meta(&mut tx, &schema, "head")?;
                    let young: Option<i64> = tx
                        .query_one(
                            &format!(
                                "SELECT MIN(revision) FROM \"{schema}\".shopguard_batch
                                 WHERE at_unix_ms >= $1"
                            ),
                            &[&horizon],
                        )
                        .and_then(|row| row.try_get(0))
                        .map_err(db)?;
                    let cut = young.map_or(head, |r| r.saturating_sub(1));
                    let cut = cut.min(least_follower(&mut tx, &schema, stale)?.unwrap_or(cut));
                    cut.max(from)
                }
            };
            tx.commit().map_err(db)?;
            Ok(PrunePlan { from, cut })
        })
    }

    fn batches(
        &self,
        after: i64,
        through: i64,
        n: usize,
    ) -> Result<Vec<(i64, i64, String)>, Error> {
        let sql = format!(
            "SELECT revision, at_unix_ms, mutations::text FROM \"{}\".shopguard_batch
             WHERE revision > $1 AND revision <= $2 ORDER BY revision LIMIT $3",
            self.schema
        );
        let n = limit(n);
        self.run(move |session| {
            let rows = session
                .client()?
                .query(&sql, &[&after, &through, &n])
                .map_err(db)?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                .collect::<Result<Vec<_>, postgres::Error>>()
                .map_err(db)
        })
    }

    fn audit(&self, after: i64, horizon: i64, n: usize) -> Result<Vec<(i64, String)>, Error> {
        let sql = format!(
            "SELECT seq, record::text FROM \"{}\".shopguard_audit
             WHERE seq > $1 AND at_unix_ms < $2 ORDER BY seq LIMIT $3",
            self.schema
        );
        let n = limit(n);
        self.run(move |session| {
            let rows = session
                .client()?
                .query(&sql, &[&after, &horizon, &n])
                .map_err(db)?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect::<Result<Vec<_>, postgres::Error>>()
                .map_err(db)
        })
    }

    fn remove(
        &self,
        cut: Option<i64>,
        audit: Option<(i64, i64)>,
        stale: i64,
    ) -> Result<Pruned, Error> {
        let schema = self.schema.clone();
        self.run(move |session| {
            let mut tx = session.client()?.transaction().map_err(db)?;
            lock_head(&mut tx, &schema)?;
            let mut pruned = Pruned::default();
            if let Some(cut) = cut {
                let from = meta(&mut tx, &schema, "pruned_through")?;
                let cut = cut.min(least_follower(&mut tx, &schema, stale)?.unwrap_or(cut));
                if cut > from {
                    pruned.batches = tx
                        .execute(
                            &format!(
                                "DELETE FROM \"{schema}\".shopguard_batch WHERE revision <= $1"
                            ),
                            &[&cut],
                        )
                        .map_err(db)?;
                    tx.execute(
                        &format!(
                            "UPDATE \"{schema}\".shopguard_meta SET value = $1
                             WHERE name = 'pruned_through'"
                        ),
                        &[&cut],
                    )
                    .map_err(db)?;
                }
            }
            if let Some((last, horizon)) = audit {
                tx.execute(
                    &format!(
                        "DELETE FROM \"{schema}\".shopguard_audit_target WHERE seq IN
                             (SELECT seq FROM \"{schema}\".shopguard_audit
                              WHERE seq <= $1 AND at_unix_ms < $2)"
                    ),
                    &[&last, &horizon],
                )
                .map_err(db)?;
                pruned.audit_records = tx
                    .execute(
                        &format!(
                            "DELETE FROM \"{schema}\".shopguard_audit
                             WHERE seq <= $1 AND at_unix_ms < $2"
                        ),
                        &[&last, &horizon],
                    )
                    .map_err(db)?;
            }
            tx.execute(
                &format!("DELETE FROM \"{schema}\".shopguard_follower WHERE seen_unix_ms <= $1"),
                &[&stale],
            )
            .map_err(db)?;
            pruned.through_revision = revision_from_sql(meta(&mut tx, &schema, "pruned_through")?)?;
            tx.commit().map_err(db)?;
            Ok(pruned)
        })
    }
}
