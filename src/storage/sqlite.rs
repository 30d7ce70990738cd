//! [`SqliteStorage`]: durable storage in an embedded SQLite file.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::storage::record::{
    SCHEMA_VERSION, decode, encode, id_block, pending_migrations, revision_from_sql, to_sql,
};
use crate::storage::{Batch, Commit, Loaded, Mutation, ObjectKind, Storage};

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
    // Version 2: the id sequences (`Engine::next_id`), one row per object kind.
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
    tx.execute(
        "INSERT INTO shopguard_meta (name, value) VALUES ('schema_version', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION],
    )
    .map_err(db)?;
    tx.commit().map_err(db)
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

fn insert_audit<P: Serialize>(
    tx: &Transaction<'_>,
    records: &[AuditRecord<P>],
    revision: Option<u64>,
) -> Result<(), Error> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO shopguard_audit (at_unix_ms, actor, revision, applied, record)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db)?;
    for r in records {
        insert
            .execute(params![
                to_sql(r.at_unix_ms),
                // A system (an unchecked write) is 0 here; the record names it.
                to_sql(r.actor.user().map_or(0, crate::UserId::get)),
                revision.map(to_sql),
                r.outcome.is_applied(),
                encode(r)?
            ])
            .map_err(db)?;
    }
    Ok(())
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
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT revision, mutations FROM shopguard_batch WHERE revision > ?1
                 ORDER BY revision",
            )
            .map_err(db)?;
        let mut rows = stmt.query([to_sql(revision)]).map_err(db)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db)? {
            let revision: i64 = row.get(0).map_err(db)?;
            let body: String = row.get(1).map_err(db)?;
            out.push(Batch {
                revision: revision_from_sql(revision)?,
                mutations: decode(&body, "batch")?,
            });
        }
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
