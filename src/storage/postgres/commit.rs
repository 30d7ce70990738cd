//! One batch's transaction: its object and audit rows, and, if the connection drops while
//! committing, asking the server whether it was stored.

use std::collections::HashMap;
use std::error::Error as _;
use std::time::{Duration, Instant};

use postgres::Transaction;
use serde::Serialize;

use super::{PgStorage, Session, db, lock, pg_text};
use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::storage::record::{encode, revision_from_sql, to_sql};
use crate::storage::trail::AuditColumns;
use crate::storage::{Commit, Key};

/// How long to keep asking whether a commit whose connection dropped was stored: longer than
/// the server's `idle_in_transaction_session_timeout` (in
/// [`SESSION_OPTIONS`](super::SESSION_OPTIONS)).
const IN_DOUBT_WAIT: Duration = Duration::from_secs(40);

/// One object write of a commit, ready for the worker thread.
struct Op {
    kind: i16,
    id: i64,
    position: i32,
    /// The final put's JSON, or `None` if the object ends removed.
    body: Option<String>,
    /// The batch removes the object (before any final put): delete its row first.
    reset: bool,
}

/// One audit row, ready for the worker thread.
pub(super) struct AuditRow {
    columns: AuditColumns,
    record: String,
}

impl PgStorage {
    /// [`Storage::commit`](crate::storage::Storage::commit): one transaction on the worker
    /// thread, under the row lock on the head revision.
    pub(super) fn commit_batch<P: Copy + Serialize>(
        &self,
        commit: &Commit<'_, P>,
    ) -> Result<(), Error> {
        let ops = reduce(commit.mutations)?;
        let batch = encode(&commit.mutations)?;
        let audit = audit_rows(commit.audit)?;
        let at = to_sql(
            commit
                .audit
                .first()
                .map_or_else(crate::admin::audit::now_unix_ms, |r| r.at_unix_ms),
        );
        let (base, revision) = (commit.base, commit.revision);
        let schema = self.schema.clone();
        let channel = self.channel();
        let fail_after = lock(&self.shared.fail_after).take();
        let writer = self.app_name.clone();
        self.run(move |session| {
            let client = session.client()?;
            let mut tx = client.transaction().map_err(db)?;
            // Row lock on the head: commits from every replica queue here, one at a time.
            let row = tx
                .query_one(
                    &format!(
                        "SELECT value, pg_backend_pid(), pg_current_xact_id()::text
                         FROM \"{schema}\".shopguard_meta WHERE name = 'head' FOR UPDATE"
                    ),
                    &[],
                )
                .map_err(db)?;
            let head: i64 = row.try_get(0).map_err(db)?;
            let pid: i32 = row.try_get(1).map_err(db)?;
            let xid: String = row.try_get(2).map_err(db)?;
            let head = revision_from_sql(head)?;
            if head != base || revision <= head {
                return Err(Error::revision_moved(base, head));
            }
            let rev = to_sql(revision);
            match fail_after {
                Some(n) => {
                    let (first, _rest) = ops.split_at(n.min(ops.len()));
                    write_ops(&mut tx, &schema, rev, first)?;
                    // The connection drops mid-transaction; the server rolls it back.
                    tx.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")
                        .map_err(db)?;
                    return Err(Error::storage(
                        "injected fault: the connection survived pg_terminate_backend",
                    ));
                }
                None => write_ops(&mut tx, &schema, rev, &ops)?,
            }
            tx.execute(
                &format!(
                    "INSERT INTO \"{schema}\".shopguard_batch (revision, at_unix_ms, writer, mutations)
                     VALUES ($1, $2, $3, $4::text::jsonb)"
                ),
                &[&rev, &at, &writer, &batch],
            )
            .map_err(db)?;
            insert_audit(&mut tx, &schema, &audit, Some(rev))?;
            tx.execute(
                &format!("UPDATE \"{schema}\".shopguard_meta SET value = $1 WHERE name = 'head'"),
                &[&rev],
            )
            .map_err(db)?;
            // Delivered to every listener when (and only if) the transaction commits.
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&channel, &revision.to_string()],
            )
            .map_err(db)?;
            match tx.commit() {
                Ok(()) => Ok(()),
                // The server answered: the transaction was rolled back.
                Err(err) if err.as_db_error().is_some() => Err(db(err)),
                // The connection dropped while committing: the server may have committed.
                Err(err) => match committed(session, &xid, pid) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(db(err)),
                    Err(unknown) => Err(Error::outcome_unknown(format!(
                        "the connection dropped while committing revision {revision} ({}), and \
                         the server could not be asked afterwards: {}",
                        pg_text(&err),
                        unknown
                            .source()
                            .map_or_else(|| unknown.to_string(), ToString::to_string)
                    ))),
                },
            }
        })
    }
}

/// Reduces a batch to one write per object (writes to different objects commute), keeping
/// first-appearance order. An object removed and put again in the batch is deleted first and
/// inserted anew, as the other backends do, so it loads in the same place.
fn reduce<P: Copy + Serialize>(
    mutations: &[crate::storage::Mutation<P>],
) -> Result<Vec<Op>, Error> {
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut ops: Vec<Op> = Vec::new();
    for (n, m) in mutations.iter().enumerate() {
        let key = m.key();
        let position = i32::try_from(n).unwrap_or(i32::MAX);
        let body = if m.is_remove() {
            None
        } else {
            Some(encode(m)?)
        };
        match index.get(&key).and_then(|&i| ops.get_mut(i)) {
            Some(slot) => {
                if body.is_none() {
                    slot.reset = true;
                } else if slot.body.is_none() {
                    // Put again after a remove: a new row, placed here.
                    slot.position = position;
                }
                slot.body = body;
            }
            None => {
                index.insert(key, ops.len());
                ops.push(Op {
                    kind: i16::from(key.kind.code()),
                    id: to_sql(key.id),
                    position,
                    reset: body.is_none(),
                    body,
                });
            }
        }
    }
    Ok(ops)
}

fn write_ops(
    tx: &mut Transaction<'_>,
    schema: &str,
    revision: i64,
    ops: &[Op],
) -> Result<(), Error> {
    let removes: Vec<&Op> = ops.iter().filter(|o| o.reset).collect();
    if !removes.is_empty() {
        let kinds: Vec<i16> = removes.iter().map(|o| o.kind).collect();
        let ids: Vec<i64> = removes.iter().map(|o| o.id).collect();
        tx.execute(
            &format!(
                "DELETE FROM \"{schema}\".shopguard_object o
                 USING unnest($1::smallint[], $2::bigint[]) AS t(k, i)
                 WHERE o.kind = t.k AND o.id = t.i"
            ),
            &[&kinds, &ids],
        )
        .map_err(db)?;
    }
    let puts: Vec<&Op> = ops.iter().filter(|o| o.body.is_some()).collect();
    if !puts.is_empty() {
        let kinds: Vec<i16> = puts.iter().map(|o| o.kind).collect();
        let ids: Vec<i64> = puts.iter().map(|o| o.id).collect();
        let positions: Vec<i32> = puts.iter().map(|o| o.position).collect();
        let bodies: Vec<&str> = puts.iter().filter_map(|o| o.body.as_deref()).collect();
        tx.execute(
            &format!(
                "INSERT INTO \"{schema}\".shopguard_object
                     (kind, id, first_revision, position, body)
                 SELECT k, i, $5, p, b::jsonb
                 FROM unnest($1::smallint[], $2::bigint[], $3::integer[], $4::text[])
                     AS t(k, i, p, b)
                 ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body"
            ),
            &[&kinds, &ids, &positions, &bodies, &revision],
        )
        .map_err(db)?;
    }
    Ok(())
}

/// Inserts the audit rows, in order, and their target rows, in one statement. The caller
/// holds the lock on the head row.
///
/// INVARIANT: every audit insert holds the head row's lock, so sequence numbers (reserved
/// here, under it, as one range) increase in the order rows become visible: a reader paging by
/// `seq` never misses a row that commits later with a smaller number.
pub(super) fn insert_audit(
    tx: &mut Transaction<'_>,
    schema: &str,
    rows: &[AuditRow],
    revision: Option<i64>,
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(rows.len())
        .map_err(|_| Error::storage("too many audit records in one batch"))?;
    let at: Vec<i64> = rows.iter().map(|r| r.columns.at).collect();
    let actor: Vec<i64> = rows.iter().map(|r| r.columns.actor).collect();
    let system: Vec<Option<&str>> = rows.iter().map(|r| r.columns.system.as_deref()).collect();
    let account: Vec<Option<i64>> = rows.iter().map(|r| r.columns.account).collect();
    let applied: Vec<bool> = rows.iter().map(|r| r.columns.applied).collect();
    let outcome: Vec<i16> = rows.iter().map(|r| r.columns.outcome).collect();
    let kinds: Vec<i16> = rows.iter().map(|r| r.columns.kinds).collect();
    let complete: Vec<bool> = rows.iter().map(|r| r.columns.complete).collect();
    let record: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
    // The target rows, by the ordinal (from 1) of their record.
    let (mut target_of, mut target_kind, mut target_id) = (Vec::new(), Vec::new(), Vec::new());
    for (n, row) in (1i64..).zip(rows) {
        for (kind, id) in &row.columns.targets {
            target_of.push(n);
            target_kind.push(*kind);
            target_id.push(*id);
        }
    }
    let sequence = format!("\"{schema}\".shopguard_audit");
    tx.execute(
        &format!(
            "WITH r AS MATERIALIZED (
                 SELECT setval(pg_get_serial_sequence($11, 'seq'),
                               nextval(pg_get_serial_sequence($11, 'seq')) + $12 - 1)
                        - $12 + 1 AS first
             ),
             audit AS (
                 INSERT INTO \"{schema}\".shopguard_audit (seq, at_unix_ms, actor, system,
                     account, revision, applied, outcome, kinds, targets_complete, record)
                 SELECT r.first + t.n - 1, a, u, sy, ac, $10, ok, o, k, c, rec::jsonb
                 FROM r, unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[],
                                $5::boolean[], $6::smallint[], $7::smallint[], $8::boolean[],
                                $9::text[])
                     WITH ORDINALITY AS t(a, u, sy, ac, ok, o, k, c, rec, n)
             )
             INSERT INTO \"{schema}\".shopguard_audit_target (seq, kind, id)
             SELECT r.first + t.n - 1, t.kind, t.id
             FROM r, unnest($13::bigint[], $14::smallint[], $15::bigint[]) AS t(n, kind, id)"
        ),
        &[
            &at,
            &actor,
            &system,
            &account,
            &applied,
            &outcome,
            &kinds,
            &complete,
            &record,
            &revision,
            &sequence,
            &count,
            &target_of,
            &target_kind,
            &target_id,
        ],
    )
    .map_err(db)?;
    Ok(())
}

/// Inserts the target rows of audit rows `(seq, columns)`.
pub(super) fn insert_targets(
    tx: &mut Transaction<'_>,
    schema: &str,
    rows: &[(i64, &AuditColumns)],
) -> Result<(), Error> {
    let mut seqs = Vec::new();
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    for (seq, columns) in rows {
        for (kind, id) in &columns.targets {
            seqs.push(*seq);
            kinds.push(*kind);
            ids.push(*id);
        }
    }
    if seqs.is_empty() {
        return Ok(());
    }
    tx.execute(
        &format!(
            "INSERT INTO \"{schema}\".shopguard_audit_target (seq, kind, id)
             SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[])"
        ),
        &[&seqs, &kinds, &ids],
    )
    .map_err(db)?;
    Ok(())
}

/// Whether the transaction `xid` committed, after its connection dropped while committing.
/// Its backend (`pid`) may still be committing, so it is stopped and waited for first; then
/// the server's own record of the transaction is authoritative. Tries again (a fresh
/// connection each time) until [`IN_DOUBT_WAIT`] has passed: by then the server has ended the
/// old session in any case (`idle_in_transaction_session_timeout`).
fn committed(session: &mut Session, xid: &str, pid: i32) -> Result<bool, Error> {
    let deadline = Instant::now() + IN_DOUBT_WAIT;
    let mut last = Error::storage("not asked yet");
    while Instant::now() < deadline {
        match ask_committed(session, xid, pid, deadline) {
            Ok(Some(answer)) => return Ok(answer),
            Ok(None) => {}
            Err(err) => last = err,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last)
}

/// One attempt of [`committed`]: `None` if the transaction is still running.
fn ask_committed(
    session: &mut Session,
    xid: &str,
    pid: i32,
    deadline: Instant,
) -> Result<Option<bool>, Error> {
    let client = session.client()?;
    client
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .map_err(db)?;
    while client
        .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .map_err(db)?
        .is_some()
    {
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status: Option<String> = client
        .query_one("SELECT pg_xact_status($1::text::xid8)::text", &[&xid])
        .and_then(|row| row.try_get(0))
        .map_err(db)?;
    match status.as_deref() {
        Some("committed") => Ok(Some(true)),
        Some("aborted") => Ok(Some(false)),
        Some("in progress") => Ok(None),
        other => Err(Error::storage(format!(
            "the server no longer knows transaction {xid} ({other:?})"
        ))),
    }
}

pub(super) fn audit_rows<P: Copy + Serialize>(
    records: &[AuditRecord<P>],
) -> Result<Vec<AuditRow>, Error> {
    records
        .iter()
        .map(|r| {
            Ok(AuditRow {
                columns: AuditColumns::of(r),
                record: encode(r)?,
            })
        })
        .collect()
}
