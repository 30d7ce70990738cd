//! [`PgStorage`]: durable storage on a PostgreSQL server, shared by several replicas.

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, IsolationLevel, NoTls, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::storage::record::{
    SCHEMA_VERSION, decode, encode, pending_migrations, revision_from_sql, to_sql,
};
use crate::storage::{Batch, Commit, Key, Loaded, Storage};

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
];

/// How long the listener waits for a notification before looking at its stop flag.
const LISTEN_TICK: Duration = Duration::from_millis(100);

/// How long to keep asking whether a commit whose connection dropped was stored: longer than
/// the server's `idle_in_transaction_session_timeout` below.
const IN_DOUBT_WAIT: Duration = Duration::from_secs(40);

/// Session settings, so that no transaction holds the head-row lock (and so every replica's
/// writes) for long: a commit waits at most 10 s for the lock, a statement runs at most 60 s,
/// and the server ends a session idle in a transaction for 30 s. Options given in the
/// connection parameters come after these, so they win.
const SESSION_OPTIONS: &str = "-c lock_timeout=10s -c statement_timeout=60s \
                               -c idle_in_transaction_session_timeout=30s";

/// How long a probe of an idle connection may take before it counts as dropped.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Numbers the handles of this process, so each one's connections can be told apart.
static HANDLES: AtomicU64 = AtomicU64::new(0);

/// Durable storage on a PostgreSQL server (feature `postgres`), for services that run several
/// replicas.
///
/// Every engine (replica) opens its own `PgStorage` on the same database and schema, with
/// [`connect`](Self::connect) or, over TLS, `connect_tls` (feature `postgres-tls`). A commit
/// is one transaction that locks the schema's head-revision row, so commits from all replicas
/// are serialized: a batch planned on an old revision is refused, and the engine catches up
/// and plans again (or reports [`ErrorKind::Conflict`](crate::ErrorKind::Conflict)). The audit
/// records of a batch are written in the same transaction. Each commit sends a
/// `NOTIFY shopguard_<schema>` with its revision; a listener connection of every handle
/// receives it, and [`Engine::follow`](crate::Engine::follow) catches up at once. After a
/// dropped connection, the listener reconnects and the follower reads every revision it missed.
///
/// The schema (a PostgreSQL schema of that name, created if needed) is created and migrated on
/// connect, under an advisory lock so that replicas starting together do not race; its
/// version is kept in the table `shopguard_meta`.
///
/// # Threads, and calling from async code
///
/// The handle runs the [`postgres`] client on two threads of its own: one for reads and
/// commits, one listening for notifications. Its methods send the work there and wait for the
/// answer, so they may be called from anywhere — including from inside a tokio runtime, where
/// the `postgres` client used directly would panic. They do block the calling thread while the
/// database works, so an async service should call the engine's write methods inside
/// `tokio::task::spawn_blocking`. Checks ([`Engine::can`](crate::Engine::can)) never touch the
/// database.
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use shopguard::catalog::pos::Pos;
/// use shopguard::storage::PgStorage;
/// use shopguard::Engine;
///
/// let url = "host=127.0.0.1 port=5432 user=postgres dbname=shop";
/// let engine = Arc::new(Engine::<Pos, _>::open(PgStorage::connect(url, "shopguard")?)?);
/// // Learn of every change the other replicas make.
/// let _follower = engine.follow(Duration::from_secs(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PgStorage {
    schema: String,
    jobs: Mutex<Option<Sender<Job>>>,
    worker: Option<JoinHandle<()>>,
    listener: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// This handle's connections' `application_name`.
    app_name: String,
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    notified: Mutex<Notified>,
    changed: Condvar,
    /// Fault injection: the next commit drops its connection after this many writes.
    fail_after: Mutex<Option<usize>>,
}

#[derive(Debug, Default)]
struct Notified {
    /// The highest revision announced by a notification.
    revision: u64,
    /// How many times the listener has (re)connected: after a reconnect, notifications may
    /// have been missed, and waiters should read.
    connects: u64,
}

/// How connections are made: in the clear, or over TLS.
#[derive(Clone)]
enum Connector {
    Plain,
    #[cfg(feature = "postgres-tls")]
    Tls(postgres_native_tls::MakeTlsConnector),
}

impl Connector {
    fn connect(&self, config: &Config) -> Result<Client, postgres::Error> {
        match self {
            Connector::Plain => config.connect(NoTls),
            #[cfg(feature = "postgres-tls")]
            Connector::Tls(tls) => config.connect(tls.clone()),
        }
    }
}

/// TLS settings for [`PgStorage::connect_tls`] (feature `postgres-tls`): which certificate
/// authorities to trust. Uses the platform's TLS library (OpenSSL on Linux).
///
/// # Example
///
/// ```no_run
/// use shopguard::catalog::pos::Pos;
/// use shopguard::storage::{PgStorage, PgTls};
/// use shopguard::Engine;
///
/// let ca = std::fs::read("/etc/shop/db-ca.pem")?;
/// let tls = PgTls::with_root_certificate(&ca)?;
/// let url = "host=db.shop.internal user=shop dbname=shop";
/// let engine = Engine::<Pos, _>::open(PgStorage::connect_tls(url, "shopguard", &tls)?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "postgres-tls")]
#[derive(Clone)]
pub struct PgTls(postgres_native_tls::MakeTlsConnector);

#[cfg(feature = "postgres-tls")]
impl PgTls {
    /// Trusts the system's certificate authorities.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the TLS library cannot be set up.
    pub fn system_roots() -> Result<Self, Error> {
        Self::build(None)
    }

    /// Trusts the certificate authority in `pem` (a private CA, say), besides the system's.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if `pem` is not a PEM
    /// certificate; [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the TLS library cannot
    /// be set up.
    pub fn with_root_certificate(pem: &[u8]) -> Result<Self, Error> {
        let cert = native_tls::Certificate::from_pem(pem).map_err(|_| {
            Error::invalid("root certificate", "(not shown)", "not a PEM certificate")
        })?;
        Self::build(Some(cert))
    }

    fn build(root: Option<native_tls::Certificate>) -> Result<Self, Error> {
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(root) = root {
            builder.add_root_certificate(root);
        }
        let connector = builder.build().map_err(Error::storage)?;
        Ok(PgTls(postgres_native_tls::MakeTlsConnector::new(connector)))
    }
}

#[cfg(feature = "postgres-tls")]
impl core::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PgTls").finish_non_exhaustive()
    }
}

/// The worker thread's connection, made (again) when needed.
struct Session {
    config: Config,
    connector: Connector,
    client: Option<Client>,
}

impl Session {
    /// The connection, made again if the server dropped it. A dropped connection is only
    /// noticed when used, so it is probed first (one round trip): a job then never starts on a
    /// dead connection, and a drop during a job fails only that job.
    fn client(&mut self) -> Result<&mut Client, Error> {
        let alive = self
            .client
            .as_mut()
            .is_some_and(|c| !c.is_closed() && c.is_valid(PROBE_TIMEOUT).is_ok());
        if !alive {
            self.client = None;
            let client = self.connector.connect(&self.config).map_err(db)?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::storage("no PostgreSQL connection"))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A driver error's message with its sources (`postgres::Error` alone displays `db error`).
fn pg_text(err: &postgres::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    format!("PostgreSQL: {message}")
}

/// A driver error as a storage error.
fn db(err: postgres::Error) -> Error {
    Error::storage(pg_text(&err))
}

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
struct AuditRow {
    at: i64,
    actor: i64,
    applied: bool,
    record: String,
}

impl PgStorage {
    /// Connects to the server described by `params` (a libpq-style string such as
    /// `host=127.0.0.1 port=5432 user=shop dbname=shop`, or a `postgresql://` URL) and uses
    /// the schema `schema`, creating or migrating it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if `params` cannot be parsed
    /// or `schema` is not a lower-case identifier of at most 40 characters (letters, digits,
    /// `_`, not starting with a digit or `pg_`, which PostgreSQL reserves); [`ErrorKind::Storage`](crate::ErrorKind::Storage) if
    /// the server cannot be reached or the schema is newer than this release.
    pub fn connect(params: &str, schema: &str) -> Result<Self, Error> {
        Self::open_with(params, schema, Connector::Plain)
    }

    /// Like [`connect`](Self::connect), over TLS (feature `postgres-tls`): the server's
    /// certificate is verified against `tls`'s roots and must name the host connected to.
    /// Unless the parameters say otherwise, `sslmode=require`: a server that does not offer TLS
    /// is refused rather than used in the clear.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); [`ErrorKind::Storage`](crate::ErrorKind::Storage) also if
    /// the TLS handshake fails (an untrusted or mismatched certificate).
    #[cfg(feature = "postgres-tls")]
    pub fn connect_tls(params: &str, schema: &str, tls: &PgTls) -> Result<Self, Error> {
        Self::open_with(params, schema, Connector::Tls(tls.0.clone()))
    }

    fn open_with(params: &str, schema: &str, connector: Connector) -> Result<Self, Error> {
        let valid = !schema.is_empty()
            && schema.len() <= 40
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && !schema.starts_with("pg_");
        if !valid {
            return Err(Error::invalid(
                "schema",
                schema,
                "use 1 to 40 lower-case letters, digits and `_`, not starting with a digit or `pg_`",
            ));
        }
        let mut base: Config = params.parse().map_err(|_| {
            Error::invalid(
                "connection parameters",
                "(not shown)",
                "not a PostgreSQL connection string or URL",
            )
        })?;
        // Bounded waits everywhere: a dead server or network is noticed, never waited on for
        // hours, and dropping the handle ends its threads.
        if base.get_connect_timeout().is_none() {
            base.connect_timeout(Duration::from_secs(10));
        }
        if base.get_tcp_user_timeout().is_none() {
            base.tcp_user_timeout(Duration::from_secs(30));
        }
        base.keepalives(true);
        base.keepalives_idle(Duration::from_secs(30));
        let options = match base.get_options() {
            Some(theirs) => format!("{SESSION_OPTIONS} {theirs}"),
            None => SESSION_OPTIONS.to_owned(),
        };
        base.options(&options);
        #[cfg(feature = "postgres-tls")]
        if matches!(connector, Connector::Tls(_))
            && base.get_ssl_mode() == postgres::config::SslMode::Prefer
        {
            base.ssl_mode(postgres::config::SslMode::Require);
        }
        let handle = HANDLES.fetch_add(1, Ordering::Relaxed);
        let app_name = format!("shopguard-{schema}-{}-{handle}", std::process::id());
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            notified: Mutex::new(Notified::default()),
            changed: Condvar::new(),
            fail_after: Mutex::new(None),
        });

        let (jobs, inbox) = mpsc::channel::<Job>();
        let mut worker_config = base.clone();
        worker_config.application_name(&app_name);
        let worker_connector = connector.clone();
        let worker = std::thread::Builder::new()
            .name("shopguard-pg".to_owned())
            .spawn(move || {
                let mut session = Session {
                    config: worker_config,
                    connector: worker_connector,
                    client: None,
                };
                for job in inbox {
                    job(&mut session);
                }
            })
            .map_err(Error::storage)?;

        let mut storage = PgStorage {
            schema: schema.to_owned(),
            jobs: Mutex::new(Some(jobs)),
            worker: Some(worker),
            listener: None,
            shared: Arc::clone(&shared),
            app_name: app_name.clone(),
        };
        let s = storage.schema.clone();
        storage.run(move |session| migrate(session.client()?, &s))?;

        let mut listen_config = base;
        listen_config.application_name(&app_name);
        let channel = storage.channel();
        let listener = std::thread::Builder::new()
            .name("shopguard-pg-listen".to_owned())
            .spawn(move || listen(&listen_config, &connector, &channel, &shared))
            .map_err(Error::storage)?;
        storage.listener = Some(listener);
        Ok(storage)
    }

    /// The schema this handle uses.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The schema version of the database.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if it cannot be read.
    pub fn schema_version(&self) -> Result<i64, Error> {
        let sql = format!(
            "SELECT value FROM \"{}\".shopguard_meta WHERE name = 'schema_version'",
            self.schema
        );
        self.run(move |session| {
            let row = session.client()?.query_one(&sql, &[]).map_err(db)?;
            row.try_get(0).map_err(db)
        })
    }

    /// The notification channel: `shopguard_<schema>`.
    fn channel(&self) -> String {
        format!("shopguard_{}", self.schema)
    }

    #[cfg(feature = "testing")]
    #[doc(hidden)]
    /// Fault injection, for tests: the next commit writes `writes` of its object writes, and
    /// then its connection is dropped by the server (`pg_terminate_backend`), mid-transaction.
    /// The server rolls the transaction back; the next call reconnects.
    pub fn fail_next_commit_after(&self, writes: usize) {
        *lock(&self.shared.fail_after) = Some(writes);
    }

    #[cfg(feature = "testing")]
    #[doc(hidden)]
    /// Fault injection, for tests: the server drops both connections of this handle (the
    /// worker's and the listener's), as a network failure would. Both reconnect on their own.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the server cannot be reached.
    pub fn drop_connections(&self) -> Result<(), Error> {
        let name = self.app_name.clone();
        self.run(move |session| {
            let client = session.client()?;
            // The listener's first; then the worker's own, which ends this query.
            client
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .map_err(db)?;
            let _ends_here = client.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())");
            Ok(())
        })
    }

    /// Runs `job` on the worker thread and waits for its answer.
    fn run<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Session) -> Result<T, Error> + Send + 'static,
    {
        let gone = || Error::storage("the PostgreSQL worker thread has stopped");
        let (reply, answer) = mpsc::channel();
        let sender = lock(&self.jobs).clone().ok_or_else(gone)?;
        sender
            .send(Box::new(move |session: &mut Session| {
                let _receiver_gone = reply.send(job(session));
            }))
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

impl Drop for PgStorage {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // Closing the job channel ends the worker's loop.
        lock(&self.jobs).take();
        for thread in [self.worker.take(), self.listener.take()]
            .into_iter()
            .flatten()
        {
            let _ignored = thread.join();
        }
    }
}

/// Creates the schema, or brings it up to [`SCHEMA_VERSION`], in one transaction, under an
/// advisory lock (replicas may start together).
fn migrate(client: &mut Client, schema: &str) -> Result<(), Error> {
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

/// The listener thread: LISTEN, and wake waiters on every notification and every reconnect.
fn listen(config: &Config, connector: &Connector, channel: &str, shared: &Shared) {
    let mut backoff = Duration::from_millis(50);
    while !shared.stop.load(Ordering::Acquire) {
        let mut client = match connector.connect(config) {
            Ok(client) => client,
            Err(_) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        if client
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .is_err()
        {
            std::thread::sleep(backoff);
            continue;
        }
        backoff = Duration::from_millis(50);
        {
            // Anything stored while not listening is read by the waiters' catch-up.
            let mut n = lock(&shared.notified);
            n.connects += 1;
            shared.changed.notify_all();
        }
        while !shared.stop.load(Ordering::Acquire) {
            let next = client.notifications().timeout_iter(LISTEN_TICK).next();
            match next {
                Ok(Some(note)) => {
                    if let Ok(revision) = note.payload().parse::<u64>() {
                        let mut n = lock(&shared.notified);
                        n.revision = n.revision.max(revision);
                        shared.changed.notify_all();
                    }
                }
                Ok(None) if !client.is_closed() => {}
                // The connection dropped: connect again.
                Ok(None) | Err(_) => break,
            }
        }
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

fn insert_audit(
    tx: &mut Transaction<'_>,
    schema: &str,
    rows: &[AuditRow],
    revision: Option<i64>,
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let at: Vec<i64> = rows.iter().map(|r| r.at).collect();
    let actor: Vec<i64> = rows.iter().map(|r| r.actor).collect();
    let applied: Vec<bool> = rows.iter().map(|r| r.applied).collect();
    let record: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
    tx.execute(
        &format!(
            "INSERT INTO \"{schema}\".shopguard_audit (at_unix_ms, actor, revision, applied, record)
             SELECT a, u, $5, ok, r::jsonb
             FROM unnest($1::bigint[], $2::bigint[], $3::boolean[], $4::text[])
                 WITH ORDINALITY AS t(a, u, ok, r, n)
             ORDER BY n"
        ),
        &[&at, &actor, &applied, &record, &revision],
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

fn audit_rows<P: Serialize>(records: &[AuditRecord<P>]) -> Result<Vec<AuditRow>, Error> {
    records
        .iter()
        .map(|r| {
            Ok(AuditRow {
                at: to_sql(r.at_unix_ms),
                actor: to_sql(r.actor.get()),
                applied: r.outcome.is_applied(),
                record: encode(r)?,
            })
        })
        .collect()
}

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

    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout.min(crate::storage::LONGEST_WAIT);
        let mut n = lock(&self.shared.notified);
        let connects = n.connects;
        while n.revision <= after && n.connects == connects {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            n = self
                .shared
                .changed
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(n.revision > after || n.connects != connects)
    }
}
