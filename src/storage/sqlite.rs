//! [`SqliteStorage`]: durable storage in an embedded SQLite file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{
    Connection, OptionalExtension, Transaction, TransactionBehavior, params, params_from_iter,
};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::Error;
use crate::admin::audit::{AuditRecord, now_unix_ms};
use crate::admin::audit_query::{AuditPage, AuditQuery};
use crate::storage::record::{
    QUERY_COLUMNS_VERSION, SCHEMA_VERSION, decode, encode, id_block, pending_migrations,
    revision_from_sql, to_sql,
};
use crate::storage::trail::{self, Arg, AuditColumns, PrunePlan, PruneSteps, audit_where};
use crate::storage::{Batch, Commit, Loaded, Mutation, ObjectKind, Pruned, Retention, Storage};

/// Every migration, in order: entry `n` brings the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE shopguard_object (
         kind INTEGER NOT NULL,
         id INTEGER NOT NULL,
         first_revision INTEGER NOT NULL,
         position INTEGER NOT NULL,
         body TEXT NOT NULL,
         PRIMARY KEY (kind, id)
     );
     CREATE TABLE shopguard_batch (
         revision INTEGER PRIMARY KEY,
         at_unix_ms INTEGER NOT NULL,
         mutations TEXT NOT NULL
     );
     CREATE TABLE shopguard_audit (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         at_unix_ms INTEGER NOT NULL,
         actor INTEGER NOT NULL,
         revision INTEGER,
         applied INTEGER NOT NULL,
         record TEXT NOT NULL
     );
     INSERT INTO shopguard_meta (name, value) VALUES ('head', 0);",
    // Version 2: the audit trail's query columns (filled in from the records by `backfill`)
    // and indexes, followers' registrations, and the revision batches are pruned up to.
    "ALTER TABLE shopguard_audit ADD COLUMN account INTEGER;
     ALTER TABLE shopguard_audit ADD COLUMN system TEXT;
     ALTER TABLE shopguard_audit ADD COLUMN outcome INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE shopguard_audit ADD COLUMN kinds INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE shopguard_audit ADD COLUMN targets_complete INTEGER NOT NULL DEFAULT 1;
     CREATE TABLE shopguard_audit_target (
         seq INTEGER NOT NULL,
         kind INTEGER NOT NULL,
         id INTEGER NOT NULL,
         PRIMARY KEY (seq, kind, id)
     ) WITHOUT ROWID;
     CREATE INDEX shopguard_audit_target_object ON shopguard_audit_target (kind, id, seq);
     CREATE INDEX shopguard_audit_account ON shopguard_audit (account, seq);
     CREATE INDEX shopguard_audit_actor ON shopguard_audit (account, actor, seq);
     CREATE INDEX shopguard_audit_incomplete ON shopguard_audit (account, seq)
         WHERE NOT targets_complete;
     CREATE INDEX shopguard_audit_account_time ON shopguard_audit (account, at_unix_ms);
     CREATE INDEX shopguard_audit_time ON shopguard_audit (at_unix_ms);
     CREATE INDEX shopguard_batch_time ON shopguard_batch (at_unix_ms);
     CREATE TABLE shopguard_follower (
         name TEXT PRIMARY KEY,
         revision INTEGER NOT NULL,
         seen_unix_ms INTEGER NOT NULL
     );
     INSERT INTO shopguard_meta (name, value) VALUES ('pruned_through', 0);",
    // Version 3: the id sequences (`Engine::next_id`), one row per object kind.
    "CREATE TABLE shopguard_sequence (
         kind INTEGER PRIMARY KEY,
         next INTEGER NOT NULL
     );",
];

/// How often [`Storage::wait_for_change`] looks for a batch another connection stored.
/// A read of the head on the watch connection takes microseconds, so this costs little.
const POLL: Duration = Duration::from_millis(1);

/// Durable storage in an embedded SQLite file (feature `sqlite`): the choice for a service on
/// one host that must keep its changes across restarts.
///
/// Every commit is one SQLite transaction in write-ahead-log mode with `synchronous = FULL`,
/// so an accepted change is on disk before [`Engine::apply`](crate::Engine::apply) returns.
/// The audit records of a batch are written in the same transaction. The schema is created
/// and migrated on open; its version is kept in the table `shopguard_meta`.
///
/// Several handles may open the same file (in one process or several): SQLite serializes their
/// commits, and a batch planned on an old revision is refused as the [`Storage`] contract
/// says. An engine opened on a file with [`Engine::open`](crate::Engine::open) follows it by
/// itself ([`Storage::is_shared`]): its follower polls the head every millisecond, on a
/// connection of its own, so what another process stores is seen within about a millisecond.
///
/// # Blocking
///
/// Every method blocks on the file. From async code, call the engine's write methods inside
/// `tokio::task::spawn_blocking`.
///
/// # Example
///
/// ```
/// use shopguard::catalog::pos::{self, Pos};
/// use shopguard::storage::SqliteStorage;
/// use shopguard::{Account, AccountId, Engine, Mutation, RoleId};
///
/// let path = std::env::temp_dir().join(format!("shopguard-doc-{}.db", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let engine = Engine::<Pos>::open(SqliteStorage::open(&path)?)?;
/// engine.unchecked_apply([
///     Mutation::PutAccount(Account::new(AccountId::new(1), "Corner Shop")),
///     Mutation::PutRole(pos::cashier(RoleId::new(3), AccountId::new(1))),
/// ])?;
/// drop(engine);
///
/// // A restart: everything is back.
/// let engine = Engine::<Pos>::open(SqliteStorage::open(&path)?)?;
/// assert_eq!(engine.revision(), 1);
/// assert!(engine.snapshot().role(RoleId::new(3)).is_some());
/// # drop(engine);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SqliteStorage {
    conn: Mutex<Connection>,
    /// A second connection, opened on the first wait, on which followers poll the head
    /// without queueing behind commits on `conn`.
    watch: Mutex<Option<Connection>>,
    path: PathBuf,
    /// Fault injection: the next commit fails after this many mutations.
    fail_after: Mutex<Option<usize>>,
}

fn db(err: rusqlite::Error) -> Error {
    Error::storage(err)
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path`, and creates or migrates the
    /// schema.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the file cannot be opened or
    /// written, is not a SQLite database, or holds a schema newer than this release.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        // Write-ahead log: readers never block the writer; FULL: a commit is synced to disk.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::storage(format!(
                "`{}` cannot use a write-ahead log (journal mode `{mode}`)",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        migrate(&mut conn)?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            watch: Mutex::new(None),
            path,
            fail_after: Mutex::new(None),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if it cannot be read.
    pub fn schema_version(&self) -> Result<i64, Error> {
        read_meta(&self.lock(), "schema_version")
    }

    #[cfg(feature = "testing")]
    #[doc(hidden)]
    /// Fault injection, for tests: the next commit fails after writing `mutations` of its
    /// mutations, inside its transaction, as a failing disk write would. The transaction is
    /// rolled back and nothing of the batch remains.
    pub fn fail_next_commit_after(&self, mutations: usize) {
        *self
            .fail_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(mutations);
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The stored head, read on the watch connection.
    fn watched_head(&self) -> Result<u64, Error> {
        let mut watch = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        if watch.is_none() {
            let conn = Connection::open(&self.path).map_err(db)?;
            conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
            *watch = Some(conn);
        }
        let conn = watch
            .as_ref()
            .ok_or_else(|| Error::storage("no watch connection"))?;
        revision_from_sql(read_meta(conn, "head")?)
    }
}

fn read_meta(conn: &Connection, name: &str) -> Result<i64, Error> {
    conn.query_row(
        "SELECT value FROM shopguard_meta WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .map_err(db)
}

/// Creates the schema, or brings it up to [`SCHEMA_VERSION`], in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS shopguard_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        [],
    )
    .map_err(db)?;
    let found: i64 = tx
        .query_row(
            "SELECT value FROM shopguard_meta WHERE name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?
        .unwrap_or(0);
    for step in pending_migrations(MIGRATIONS, found)? {
        tx.execute_batch(step).map_err(db)?;
    }
    if (1..QUERY_COLUMNS_VERSION).contains(&found) {
        backfill(&tx)?;
    }
    tx.execute(
        "INSERT INTO shopguard_meta (name, value) VALUES ('schema_version', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION],
    )
    .map_err(db)?;
    tx.commit().map_err(db)
}

/// Fills the query columns and target rows of audit rows stored before they existed, a chunk
/// at a time. The records are read without their permissions' catalog (`IgnoredAny`): their
/// targets and kinds do not depend on it.
fn backfill(tx: &Transaction<'_>) -> Result<(), Error> {
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT seq, record FROM shopguard_audit WHERE seq > ?1 ORDER BY seq LIMIT 512",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(());
        };
        for (seq, text) in &rows {
            let record: AuditRecord<IgnoredAny> = decode(text, "audit record")?;
            let c = AuditColumns::of(&record);
            tx.execute(
                "UPDATE shopguard_audit SET account = ?1, system = ?2, outcome = ?3, kinds = ?4,
                 targets_complete = ?5 WHERE seq = ?6",
                params![c.account, c.system, c.outcome, c.kinds, c.complete, seq],
            )
            .map_err(db)?;
            insert_targets(tx, *seq, &c)?;
        }
        after = last;
    }
}

fn insert_targets(tx: &Transaction<'_>, seq: i64, c: &AuditColumns) -> Result<(), Error> {
    let mut insert = tx
        .prepare_cached("INSERT INTO shopguard_audit_target (seq, kind, id) VALUES (?1, ?2, ?3)")
        .map_err(db)?;
    for (kind, id) in &c.targets {
        insert.execute(params![seq, kind, id]).map_err(db)?;
    }
    Ok(())
}

fn write_batch<P: Copy + Serialize>(
    tx: &Transaction<'_>,
    commit: &Commit<'_, P>,
    fail_after: Option<usize>,
) -> Result<(), Error> {
    let revision = to_sql(commit.revision);
    let mut put = tx
        .prepare_cached(
            "INSERT INTO shopguard_object (kind, id, first_revision, position, body)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
        )
        .map_err(db)?;
    let mut remove = tx
        .prepare_cached("DELETE FROM shopguard_object WHERE kind = ?1 AND id = ?2")
        .map_err(db)?;
    for (n, m) in commit.mutations.iter().enumerate() {
        if fail_after == Some(n) {
            return Err(Error::storage(
                "injected fault: disk write failed mid-batch",
            ));
        }
        let key = m.key();
        if m.is_remove() {
            remove
                .execute(params![key.kind.code(), to_sql(key.id)])
                .map_err(db)?;
        } else {
            let position = i64::try_from(n).unwrap_or(i64::MAX);
            put.execute(params![
                key.kind.code(),
                to_sql(key.id),
                revision,
                position,
                encode(m)?
            ])
            .map_err(db)?;
        }
    }
    let at = commit
        .audit
        .first()
        .map_or_else(crate::admin::audit::now_unix_ms, |r| r.at_unix_ms);
    tx.execute(
        "INSERT INTO shopguard_batch (revision, at_unix_ms, mutations) VALUES (?1, ?2, ?3)",
        params![revision, to_sql(at), encode(&commit.mutations)?],
    )
    .map_err(db)?;
    insert_audit(tx, commit.audit, Some(commit.revision))?;
    tx.execute(
        "UPDATE shopguard_meta SET value = ?1 WHERE name = 'head'",
        [revision],
    )
    .map_err(db)?;
    Ok(())
}

fn insert_audit<P: Copy + Serialize>(
    tx: &Transaction<'_>,
    records: &[AuditRecord<P>],
    revision: Option<u64>,
) -> Result<(), Error> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO shopguard_audit (at_unix_ms, actor, system, account, revision, applied,
                 outcome, kinds, targets_complete, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db)?;
    for r in records {
        let c = AuditColumns::of(r);
        insert
            .execute(params![
                c.at,
                c.actor,
                c.system,
                c.account,
                revision.map(to_sql),
                c.applied,
                c.outcome,
                c.kinds,
                c.complete,
                encode(r)?
            ])
            .map_err(db)?;
        // INVARIANT: SQLite writes one transaction at a time, so sequence numbers increase in
        // the order rows become visible.
        insert_targets(tx, tx.last_insert_rowid(), &c)?;
    }
    Ok(())
}

fn value(arg: Arg) -> Value {
    match arg {
        Arg::Int(v) => Value::Integer(v),
        Arg::Small(v) => Value::Integer(i64::from(v)),
        Arg::Text(v) => Value::Text(v),
    }
}

impl PruneSteps for SqliteStorage {
    fn plan(&self, retention: &Retention, stale: i64) -> Result<PrunePlan, Error> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        let from = read_meta(&tx, "pruned_through")?;
        let cut = match retention.batches_before {
            None => from,
            Some(horizon) => {
                let head = read_meta(&tx, "head")?;
                let young: Option<i64> = tx
                    .query_row(
                        "SELECT MIN(revision) FROM shopguard_batch WHERE at_unix_ms >= ?1",
                        [i64::try_from(horizon).unwrap_or(i64::MAX)],
                        |r| r.get(0),
                    )
                    .map_err(db)?;
                let cut = young.map_or(head, |r| r.saturating_sub(1));
                let cut = cut.min(least_follower(&tx, stale)?.unwrap_or(cut));
                cut.max(from)
            }
        };
        tx.commit().map_err(db)?;
        Ok(PrunePlan { from, cut })
    }

    fn batches(
        &self,
        after: i64,
        through: i64,
        n: usize,
    ) -> Result<Vec<(i64, i64, String)>, Error> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT revision, at_unix_ms, mutations FROM shopguard_batch
                 WHERE revision > ?1 AND revision <= ?2 ORDER BY revision LIMIT ?3",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![after, through, limit(n)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn audit(&self, after: i64, horizon: i64, n: usize) -> Result<Vec<(i64, String)>, Error> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, record FROM shopguard_audit
                 WHERE seq > ?1 AND at_unix_ms < ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![after, horizon, limit(n)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn remove(
        &self,
        cut: Option<i64>,
        audit: Option<(i64, i64)>,
        stale: i64,
    ) -> Result<Pruned, Error> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut pruned = Pruned::default();
        if let Some(cut) = cut {
            let from = read_meta(&tx, "pruned_through")?;
            let cut = cut.min(least_follower(&tx, stale)?.unwrap_or(cut));
            if cut > from {
                let n = tx
                    .execute("DELETE FROM shopguard_batch WHERE revision <= ?1", [cut])
                    .map_err(db)?;
                pruned.batches = n as u64;
                tx.execute(
                    "UPDATE shopguard_meta SET value = ?1 WHERE name = 'pruned_through'",
                    [cut],
                )
                .map_err(db)?;
            }
        }
        if let Some((last, horizon)) = audit {
            tx.execute(
                "DELETE FROM shopguard_audit_target WHERE seq IN
                     (SELECT seq FROM shopguard_audit WHERE seq <= ?1 AND at_unix_ms < ?2)",
                [last, horizon],
            )
            .map_err(db)?;
            let n = tx
                .execute(
                    "DELETE FROM shopguard_audit WHERE seq <= ?1 AND at_unix_ms < ?2",
                    [last, horizon],
                )
                .map_err(db)?;
            pruned.audit_records = n as u64;
        }
        tx.execute(
            "DELETE FROM shopguard_follower WHERE seen_unix_ms <= ?1",
            [stale],
        )
        .map_err(db)?;
        pruned.through_revision = revision_from_sql(read_meta(&tx, "pruned_through")?)?;
        tx.commit().map_err(db)?;
        Ok(pruned)
    }
}

/// The least revision of a follower seen after `stale`.
fn least_follower(tx: &Transaction<'_>, stale: i64) -> Result<Option<i64>, Error> {
    tx.query_row(
        "SELECT MIN(revision) FROM shopguard_follower WHERE seen_unix_ms > ?1",
        [stale],
        |r| r.get(0),
    )
    .map_err(db)
}

/// A row count for `LIMIT`.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<P> Storage<P> for SqliteStorage
where
    P: Copy + Send + core::fmt::Debug + Serialize + DeserializeOwned,
{
    fn load(&self) -> Result<Loaded<P>, Error> {
        let mut conn = self.lock();
        // One read transaction: the head and the objects of the same state.
        let tx = conn.transaction().map_err(db)?;
        let revision = revision_from_sql(read_meta(&tx, "head")?)?;
        let mut records = Vec::new();
        {
            let mut rows = tx
                .prepare(
                    "SELECT body FROM shopguard_object ORDER BY kind, first_revision, position",
                )
                .map_err(db)?;
            let mut rows = rows.query([]).map_err(db)?;
            while let Some(row) = rows.next().map_err(db)? {
                let body: String = row.get(0).map_err(db)?;
                records.push(decode::<Mutation<P>>(&body, "object")?);
            }
        }
        tx.commit().map_err(db)?;
        Ok(Loaded { revision, records })
    }

    fn commit(&self, commit: &Commit<'_, P>) -> Result<(), Error> {
        let fail_after = self
            .fail_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut conn = self.lock();
        // IMMEDIATE: take the write lock now, so the head read below cannot go stale.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let head = revision_from_sql(read_meta(&tx, "head")?)?;
        if head != commit.base || commit.revision <= head {
            return Err(Error::revision_moved(commit.base, head));
        }
        // On any error the transaction is dropped, which rolls it back.
        write_batch(&tx, commit, fail_after)?;
        tx.commit().map_err(db)
    }

    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<P>>, Error> {
        let mut conn = self.lock();
        // One read transaction: the pruned mark and the batches of the same state.
        let tx = conn.transaction().map_err(db)?;
        let pruned = revision_from_sql(read_meta(&tx, "pruned_through")?)?;
        if revision < pruned {
            return Err(Error::pruned(revision, pruned));
        }
        let mut out = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT revision, mutations FROM shopguard_batch WHERE revision > ?1
                     ORDER BY revision",
                )
                .map_err(db)?;
            let mut rows = stmt.query([to_sql(revision)]).map_err(db)?;
            while let Some(row) = rows.next().map_err(db)? {
                let revision: i64 = row.get(0).map_err(db)?;
                let body: String = row.get(1).map_err(db)?;
                out.push(Batch {
                    revision: revision_from_sql(revision)?,
                    mutations: decode(&body, "batch")?,
                });
            }
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }

    fn record_refused(&self, records: &[AuditRecord<P>]) -> Result<(), Error> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        insert_audit(&tx, records, None)?;
        tx.commit().map_err(db)
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT record FROM shopguard_audit ORDER BY seq")
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db)? {
            let body: String = row.get(0).map_err(db)?;
            out.push(decode(&body, "audit record")?);
        }
        Ok(out)
    }

    /// Always: other processes and handles may open the same file.
    fn is_shared(&self) -> bool {
        true
    }

    /// One immediate transaction: it holds the file's write lock, so allocations from every
    /// process on the file are serialized.
    fn allocate_ids(&self, kind: ObjectKind, count: u64, at_least: u64) -> Result<u64, Error> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let code = kind.code();
        let next: Option<i64> = tx
            .query_row(
                "SELECT next FROM shopguard_sequence WHERE kind = ?1",
                [code],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        let highest: Option<i64> = tx
            .query_row(
                "SELECT max(id) FROM shopguard_object WHERE kind = ?1",
                [code],
                |r| r.get(0),
            )
            .map_err(db)?;
        let (first, next) = id_block(next, highest, at_least, count, kind)?;
        tx.execute(
            "INSERT INTO shopguard_sequence (kind, next) VALUES (?1, ?2)
             ON CONFLICT (kind) DO UPDATE SET next = excluded.next",
            params![code, next],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(first)
    }

    fn audit_query(&self, query: &AuditQuery) -> Result<AuditPage<P>, Error> {
        trail::audit_page(query, |below, n| {
            let (conditions, args) = audit_where(
                query,
                below,
                "shopguard_audit",
                "shopguard_audit_target",
                |n| format!("?{n}"),
            );
            let sql = format!(
                "SELECT a.seq, a.record FROM shopguard_audit a WHERE {conditions}
                 ORDER BY a.seq DESC LIMIT {}",
                limit(n)
            );
            let conn = self.lock();
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt
                .query_map(params_from_iter(args.into_iter().map(value)), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
    }

    fn prune(&self, retention: &Retention, export: &mut dyn Write) -> Result<Pruned, Error> {
        trail::prune::<P>(self, retention, export)
    }

    fn register_follower(&self, name: &str, revision: u64) -> Result<(), Error> {
        self.lock()
            .execute(
                "INSERT INTO shopguard_follower (name, revision, seen_unix_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE
                 SET revision = excluded.revision, seen_unix_ms = excluded.seen_unix_ms",
                params![name, to_sql(revision), to_sql(now_unix_ms())],
            )
            .map_err(db)?;
        Ok(())
    }

    fn unregister_follower(&self, name: &str) -> Result<(), Error> {
        self.lock()
            .execute("DELETE FROM shopguard_follower WHERE name = ?1", [name])
            .map_err(db)?;
        Ok(())
    }

    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout.min(crate::storage::LONGEST_WAIT);
        loop {
            if self.watched_head()? > after {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }
}
