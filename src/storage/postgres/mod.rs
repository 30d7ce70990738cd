//! [`PgStorage`]: durable storage on a PostgreSQL server, shared by several replicas.

mod commit;
mod listen;
mod schema;
mod storage;
mod tls;

#[cfg(feature = "postgres-tls")]
pub use tls::PgTls;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, Config};

use crate::Error;
use listen::{Notified, listen};
use schema::migrate;
use tls::Connector;

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
/// receives it, and the engine's follower (an engine opened with
/// [`Engine::open`](crate::Engine::open) follows the schema by itself) catches up at once.
/// After a dropped connection, the listener reconnects and the follower reads every revision
/// it missed; it also reads the store every second whatever it was told.
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
/// // Follows every change the other replicas make, by itself.
/// let engine = Arc::new(Engine::<Pos>::open(PgStorage::connect(url, "shopguard")?)?);
/// assert!(engine.is_following());
/// // A form filled on another replica at revision 42: wait until this one has it.
/// let _form_state = engine.at_least(42, Duration::from_secs(5))?;
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
