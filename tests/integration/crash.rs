//! Crash tests for the durable backends (issue 19): a child process writes batches in a loop and
//! is killed at random moments; the store it leaves must hold exactly a prefix of the batches.
//!
//! The child is this test binary run again, asked for [`WRITER`] with [`CHILD`] in its
//! environment: it opens the store, prints `READY`, then forever plans the next batch (two or
//! three changes by the owner: create or delete a user, rename one, sometimes disable or
//! enable one), prints `TRY r`, applies it with `apply_all` and prints `ACK r` once `apply_all`
//! has returned `Ok` — the moment a host would tell its user the change is saved. Which batch
//! comes next depends only on the state, so the parent replays the same sequence on an
//! in-memory model and knows what every revision must hold.
//!
//! After each kill the parent reopens the store and checks ([`verify`]):
//!
//! - every acknowledged batch is there: the stored revision is at least the last `ACK`, and at
//!   most the last `TRY` (one batch may have been stored and not yet acknowledged);
//! - nothing is half-applied: the reopened engine's accounts, stores, roles, users and
//!   decisions equal the model's at that revision, and the stored batches (`changes_since(0)`)
//!   are the model's, one per revision, with no gap;
//! - the audit matches the batches: the stored audit records (all but their time) are the
//!   model's, every one an applied record of a stored revision, none for a later one.
//!
//! SQLite (feature `sqlite`): the child is killed with SIGKILL ([`Child::kill`]) 200 times on
//! one file — mostly while it writes, some while it opens and recovers the file. PostgreSQL
//! (feature `postgres`): the test starts a server of its own with `.ci/postgres` (another port
//! and data directory, so the shared server the other tests use is never stopped), stops it
//! with `pg_ctl stop -m immediate` while the child writes (no checkpoint: the restart replays
//! the write-ahead log), kills the child, restarts the server and checks, 30 times. A backend
//! that is compiled in but cannot be run fails: nothing is skipped.
//!
//! `SHOPGUARD_CRASH_SEED` replays a run's kill times (each test prints its seed).

use std::io::Write as _;
use std::sync::Arc;

use shopguard::audit::{AuditRecord, Outcome};
use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::{Batch, MemoryStorage, Storage};
use shopguard::{
    Access, Account, AccountId, Change, Engine, Grant, Mutation, OnStore, RoleId, Snapshot, Store,
    StoreId, User, UserId,
};

/// The environment variable that makes `kills::WRITER` the child: `sqlite:<path>` or
/// `postgres:<schema>` (with the server in `SHOPGUARD_CRASH_PG`).
const CHILD: &str = "SHOPGUARD_CRASH_CHILD";

const SHOP: AccountId = AccountId::new(1);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);
const ADMIN: RoleId = RoleId::new(1);
const CASHIER: RoleId = RoleId::new(3);
const OWNER: UserId = UserId::new(1);
const ANA: UserId = UserId::new(2);
const BEN: UserId = UserId::new(3);
/// Users come and go in these eight slots.
const SLOTS: u64 = 8;

/// Revision 1: the account the batches work on.
fn world() -> Vec<Mutation<Pos>> {
    vec![
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop").with_seat_limit(50)),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(pos::admin(ADMIN, SHOP)),
        Mutation::PutRole(pos::cashier(CASHIER, SHOP)),
        Mutation::PutUser(
            User::new(OWNER, SHOP, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(ADMIN, Access::All)),
        ),
        Mutation::PutUser(cashier(ANA, "ana", NORTH)),
        Mutation::PutUser(cashier(BEN, "ben", SOUTH)),
    ]
}

fn cashier(id: UserId, name: &str, store: StoreId) -> User {
    User::new(id, SHOP, name, &format!("{name}@shop.example"))
        .with_grant(Grant::new(CASHIER, Access::specific([store])))
}

/// The batch that makes revision `s.revision() + 1`: a function of the state alone.
fn next_batch(s: &Snapshot<Pos>) -> Vec<Change<Pos>> {
    let r = s.revision() + 1;
    let slot = UserId::new(100 + r % SLOTS);
    let mut batch = vec![match s.user(slot) {
        Some(_) => Change::DeleteUser(slot),
        None => {
            let store = if r.is_multiple_of(2) { NORTH } else { SOUTH };
            Change::CreateUser(cashier(slot, &format!("u{r}"), store))
        }
    }];
    let ana = s.user(ANA).cloned().expect("ana is never deleted");
    batch.push(Change::UpdateUser(ana.with_username(&format!("ana{r}"))));
    if r.is_multiple_of(3) {
        let ben_enabled = s.user(BEN).is_some_and(User::is_enabled);
        batch.push(if ben_enabled {
            Change::DisableUser(BEN)
        } else {
            Change::EnableUser(BEN)
        });
    }
    batch
}

/// Everything observable about a snapshot: records and decisions.
fn state(s: &Snapshot<Pos>) -> String {
    let mut out = format!("revision {}\n", s.revision());
    for a in s.accounts() {
        out += &format!("{a:?}\n");
        let mut stores: Vec<_> = s.stores(a.id()).collect();
        stores.sort_by_key(|x| x.id());
        let mut roles: Vec<_> = s.roles(a.id()).collect();
        roles.sort_by_key(|x| x.id());
        out += &format!("{stores:?}\n{roles:?}\n");
        let mut users: Vec<_> = s.users(a.id()).collect();
        users.sort_by_key(|u| u.id());
        for u in users {
            out += &format!("{u:?}\n");
        }
    }
    let ids = [OWNER, ANA, BEN]
        .into_iter()
        .chain((0..SLOTS).map(|i| UserId::new(100 + i)));
    for user in ids {
        for store in [NORTH, SOUTH] {
            for p in [Pos::SELL, Pos::MANAGE_USERS] {
                let allowed = s.can(user, p, &OnStore(SHOP, store));
                out.push(if allowed { '1' } else { '0' });
            }
        }
    }
    out
}

/// An audit record without its time, which the model cannot know.
fn timeless(mut r: AuditRecord<Pos>) -> AuditRecord<Pos> {
    r.at_unix_ms = 0;
    r
}

/// The same batches on an in-memory store: what every revision must hold.
struct Model {
    store: Arc<MemoryStorage<Pos>>,
    engine: Engine<Pos>,
}

impl Model {
    fn new() -> Self {
        let store = Arc::new(MemoryStorage::new());
        let engine = Engine::open(Arc::clone(&store)).unwrap();
        engine.unchecked_apply(world()).unwrap();
        Model { store, engine }
    }

    /// Applies the writer's batches up to `revision`.
    fn advance_to(&self, revision: u64) {
        while self.engine.revision() < revision {
            let batch = next_batch(&self.engine.snapshot());
            self.engine.apply_all(OWNER, batch).unwrap();
        }
    }

    /// The model's batches after `from`, up to `to`, and their audit records.
    fn batches(&self, from: u64, to: u64) -> Vec<Batch<Pos>> {
        let mut all = self.store.changes_since(from).unwrap();
        all.retain(|b| b.revision <= to);
        all
    }

    fn audit(&self, from: u64, to: u64) -> Vec<AuditRecord<Pos>> {
        let in_range = |r: &AuditRecord<Pos>| match r.outcome {
            Outcome::Applied { revision } => revision > from && revision <= to,
            _ => true,
        };
        let records = self.store.audit_records().unwrap();
        records.into_iter().filter(in_range).map(timeless).collect()
    }
}

/// The child: writes batches until it is killed.
fn writer_loop(engine: &Engine<Pos>) -> ! {
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| {
        // Straight to the pipe, past the test harness's capture; flushed per line.
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    say(format!("READY {}", engine.revision()));
    loop {
        let r = engine.revision() + 1;
        let batch = next_batch(&engine.snapshot());
        say(format!("TRY {r}"));
        match engine.apply_all(OWNER, batch) {
            Ok(applied) => {
                assert_eq!(applied.revision(), r);
                say(format!("ACK {r}"));
            }
            Err(e) => {
                say(format!("ERR {r} {:?}: {e}", e.kind()));
                std::process::exit(3);
            }
        }
    }
}

/// The child's entry point when [`CHILD`] is set; otherwise a test of the writer and of
/// [`verify`] themselves: run to the end of 40 batches, every batch is found, and a store
/// missing an acknowledged batch, or holding a batch never tried, is caught.
#[test]
fn the_crash_writer_run_to_the_end_keeps_every_batch() {
    if let Ok(spec) = std::env::var(CHILD) {
        let engine = open_child_store(&spec);
        writer_loop(&engine);
    }
    let store = Arc::new(MemoryStorage::<Pos>::new());
    let engine = Engine::open(Arc::clone(&store)).unwrap();
    engine.unchecked_apply(world()).unwrap();
    for _ in 0..40 {
        engine
            .apply_all(OWNER, next_batch(&engine.snapshot()))
            .unwrap();
    }
    let model = Model::new();
    let found = verify(&*store, &model, 1, Some(41), Some(41)).unwrap();
    assert_eq!(found, 41);
    // Every slot was filled and emptied, Ben disabled and enabled: the batches do vary.
    let audit = store.audit_records().unwrap();
    for name in [
        "create user",
        "delete user",
        "update user",
        "disable user",
        "enable user",
    ] {
        assert!(audit.iter().any(|r| r.change.name() == name), "{name}");
    }
    // The checks catch what they are for.
    let err = verify(&*store, &model, 1, Some(42), Some(42)).unwrap_err();
    assert!(err.contains("acknowledged batch 42 is missing"), "{err}");
    let err = verify(&*store, &model, 1, Some(40), Some(40)).unwrap_err();
    assert!(err.contains("never tried"), "{err}");
    let partial = Arc::new(MemoryStorage::<Pos>::new());
    let half = Engine::open(Arc::clone(&partial)).unwrap();
    half.unchecked_apply(world()).unwrap();
    // Revision 2 as a batch of its first change only: a half-applied batch.
    let first = next_batch(&half.snapshot()).remove(0);
    half.apply(OWNER, first).unwrap();
    let err = verify(&*partial, &Model::new(), 1, Some(2), Some(2)).unwrap_err();
    assert!(err.contains("state at revision 2"), "{err}");
}

fn open_child_store(spec: &str) -> Engine<Pos> {
    match spec.split_once(':') {
        #[cfg(feature = "sqlite")]
        Some(("sqlite", path)) => {
            Engine::open(shopguard::storage::SqliteStorage::open(path).unwrap()).unwrap()
        }
        #[cfg(feature = "postgres")]
        Some(("postgres", schema)) => {
            let url = std::env::var("SHOPGUARD_CRASH_PG").unwrap();
            Engine::open(shopguard::storage::PgStorage::connect(&url, schema).unwrap()).unwrap()
        }
        _ => panic!("{CHILD}={spec}: not a backend this build has"),
    }
}

/// Checks a reopened store against the model (see the module's documentation) and returns its
/// revision. `before` is the revision checked last time; `acked` and `tried` what the child
/// printed since.
fn verify(
    storage: &dyn Storage<Pos>,
    model: &Model,
    before: u64,
    acked: Option<u64>,
    tried: Option<u64>,
) -> Result<u64, String> {
    let loaded = storage.load().map_err(|e| format!("load: {e}"))?;
    let revision = loaded.revision;
    let floor = acked.unwrap_or(before).max(before);
    if revision < floor {
        return Err(format!(
            "acknowledged batch {floor} is missing: the store is at revision {revision}"
        ));
    }
    let ceiling = tried.unwrap_or(before).max(before);
    if revision > ceiling {
        return Err(format!(
            "the store is at revision {revision}, a batch never tried (last tried {ceiling})"
        ));
    }
    if model.engine.revision() > revision {
        return Err(format!(
            "the model is past revision {revision}: use a new one"
        ));
    }
    model.advance_to(revision);
    let engine = Engine::open(StoredOnly(loaded)).map_err(|e| format!("reopen: {e}"))?;
    let found = state(&engine.snapshot());
    let expected = state(&model.engine.snapshot());
    if found != expected {
        return Err(format!(
            "state at revision {revision} differs from the model's:\n{found}\n---\n{expected}"
        ));
    }
    // The batches stored since the last check (the earlier ones were checked then), and their
    // audit records.
    let batches = storage
        .changes_since(before)
        .map_err(|e| format!("changes_since: {e}"))?;
    if batches != model.batches(before, revision) {
        return Err(format!(
            "the batches after revision {before} differ from the model's: {:?}",
            batches.iter().map(|b| b.revision).collect::<Vec<_>>()
        ));
    }
    let audit: Vec<AuditRecord<Pos>> = storage
        .audit_records()
        .map_err(|e| format!("audit_records: {e}"))?
        .into_iter()
        .filter(|r| match r.outcome {
            Outcome::Applied { revision } => revision > before,
            _ => true,
        })
        .map(timeless)
        .collect();
    let expected = model.audit(before, revision);
    if audit != expected {
        return Err(format!(
            "the audit after revision {before} differs from the model's: {} records, expected {}",
            audit.len(),
            expected.len()
        ));
    }
    Ok(revision)
}

/// A loaded state handed to a new engine, so that `verify` reopens exactly what it read.
#[derive(Debug)]
struct StoredOnly(shopguard::storage::Loaded<Pos>);

impl Storage<Pos> for StoredOnly {
    fn load(&self) -> Result<shopguard::storage::Loaded<Pos>, shopguard::Error> {
        Ok(self.0.clone())
    }
    fn commit(&self, _: &shopguard::storage::Commit<'_, Pos>) -> Result<(), shopguard::Error> {
        Err(shopguard::Error::storage("read only"))
    }
    fn changes_since(&self, _: u64) -> Result<Vec<Batch<Pos>>, shopguard::Error> {
        Ok(Vec::new())
    }
    fn record_refused(&self, _: &[AuditRecord<Pos>]) -> Result<(), shopguard::Error> {
        Ok(())
    }
    fn audit_records(&self) -> Result<Vec<AuditRecord<Pos>>, shopguard::Error> {
        Ok(Vec::new())
    }
}

/// The parents: they spawn, kill and check (with a durable backend only).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod kills {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use super::*;

    /// The test the child runs, by its full name in this binary.
    const WRITER: &str = "crash::the_crash_writer_run_to_the_end_keeps_every_batch";

    /// What a child printed before it died.
    #[derive(Default, Debug)]
    struct Lines {
        ready: bool,
        tried: Option<u64>,
        acked: Option<u64>,
        acks: u64,
        /// The last line was a `TRY`: a commit was under way when the child died.
        in_flight: bool,
        errors: Vec<String>,
    }

    impl Lines {
        fn take(&mut self, line: &str) {
            let number = |s: &str| s.trim().parse::<u64>().unwrap();
            if line.starts_with("READY") {
                self.ready = true;
            } else if let Some(r) = line.strip_prefix("TRY ") {
                self.tried = Some(number(r));
                self.in_flight = true;
            } else if let Some(r) = line.strip_prefix("ACK ") {
                let r = number(r);
                assert_eq!(self.tried, Some(r), "an ACK for a batch not tried");
                self.acked = Some(r);
                self.acks += 1;
                self.in_flight = false;
            } else if line.starts_with("ERR ") {
                self.errors.push(line.to_owned());
            }
        }
    }

    /// A running child, its output read as it comes.
    struct Writer {
        child: Child,
        lines: Arc<Mutex<Lines>>,
        reader: std::thread::JoinHandle<()>,
    }

    impl Writer {
        fn spawn(spec: &str, extra_env: &[(&str, &str)]) -> Writer {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command
                .args([WRITER, "--exact", "--nocapture", "--test-threads=1", "-q"])
                .env(CHILD, spec)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            for (k, v) in extra_env {
                command.env(k, v);
            }
            let mut child = command.spawn().unwrap();
            let stdout = child.stdout.take().unwrap();
            let lines = Arc::new(Mutex::new(Lines::default()));
            let sink = Arc::clone(&lines);
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    sink.lock().unwrap().take(&line);
                }
            });
            Writer {
                child,
                lines,
                reader,
            }
        }

        fn is_ready(&self) -> bool {
            self.lines.lock().unwrap().ready
        }

        fn has_exited(&mut self) -> bool {
            self.child.try_wait().unwrap().is_some()
        }

        /// SIGKILL (on Unix, [`Child::kill`] sends it), then everything it printed.
        fn kill(mut self) -> Lines {
            // An error here means the child had already exited: its lines say why.
            let _ = self.child.kill();
            self.child.wait().unwrap();
            self.reader.join().unwrap();
            Arc::try_unwrap(self.lines)
                .ok()
                .unwrap()
                .into_inner()
                .unwrap()
        }
    }

    /// A small deterministic generator for kill times; the seed is printed, and
    /// `SHOPGUARD_CRASH_SEED` replays it.
    struct Rng(u64);

    impl Rng {
        fn from_env(test: &str) -> Rng {
            let seed = std::env::var("SHOPGUARD_CRASH_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| {
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_nanos() as u64
                });
            println!("{test}: SHOPGUARD_CRASH_SEED={seed}");
            Rng(seed | 1)
        }

        /// Uniform enough in `0..n` (xorshift64*).
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        }
    }

    /// Figures of a run, printed at its end and copied into TESTING.md.
    #[derive(Default, Debug)]
    struct Figures {
        kills: u64,
        kills_before_ready: u64,
        kills_mid_commit: u64,
        in_flight_found: u64,
        acked: u64,
        found: u64,
    }

    /// Waits (bounded, 60 s) until `done`; the child exiting first fails the test.
    fn wait_until(writer: &mut Writer, what: &str, done: impl Fn(&Writer) -> bool) {
        let start = Instant::now();
        while !done(writer) {
            assert!(
                !writer.has_exited(),
                "the writer exited before {what}: {:?}",
                writer.lines.lock().unwrap()
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {what} in 60 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// One kill: what the child printed, checked against the reopened store.
    fn check_after_kill(
        lines: &Lines,
        storage: &dyn Storage<Pos>,
        model: &Model,
        before: u64,
        figures: &mut Figures,
    ) -> u64 {
        let revision = verify(storage, model, before, lines.acked, lines.tried)
            .unwrap_or_else(|e| panic!("after kill {}: {e}\n{lines:?}", figures.kills));
        figures.kills += 1;
        figures.acked += lines.acks;
        if lines.in_flight {
            figures.kills_mid_commit += 1;
            if Some(revision) == lines.tried {
                figures.in_flight_found += 1;
            }
        }
        figures.found = revision - 1;
        revision
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_holds_every_acknowledged_batch_after_200_kills() {
        let mut rng = Rng::from_env("sqlite crash");
        let dir = std::env::temp_dir().join(format!("shopguard-crash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("crash.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let open = || shopguard::storage::SqliteStorage::open(&path).unwrap();
        Engine::open(open())
            .unwrap()
            .unchecked_apply(world())
            .unwrap();
        let model = Model::new();
        let spec = format!("sqlite:{}", path.display());
        let mut figures = Figures::default();
        let mut revision = 1;
        let started = Instant::now();
        for i in 0..200 {
            let mut writer = Writer::spawn(&spec, &[]);
            if i % 10 == 0 {
                // Some kills while the child starts: opening the file, recovering its log.
                std::thread::sleep(Duration::from_millis(rng.below(40)));
                if !writer.is_ready() {
                    figures.kills_before_ready += 1;
                }
            } else {
                wait_until(&mut writer, "READY", Writer::is_ready);
                std::thread::sleep(Duration::from_micros(rng.below(40_000)));
            }
            assert!(!writer.has_exited(), "the writer exited on its own");
            let lines = writer.kill();
            assert!(lines.errors.is_empty(), "{:?}", lines.errors);
            revision = check_after_kill(&lines, &open(), &model, revision, &mut figures);
        }
        // The whole history once more, from the start.
        verify(&open(), &model, 0, Some(revision), Some(revision)).unwrap();
        println!(
            "sqlite crash: {figures:?} batches (revision {revision}) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(figures.kills, 200);
        // The kills must land while the child writes, not only before it starts.
        assert!(figures.acked >= 200, "{figures:?}");
        assert!(figures.kills_mid_commit >= 20, "{figures:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A PostgreSQL server of the test's own, started, crashed and restarted with `.ci/postgres`,
    /// and deleted when dropped.
    #[cfg(feature = "postgres")]
    struct PgServer {
        port: String,
        data: String,
        url: String,
    }

    #[cfg(feature = "postgres")]
    impl PgServer {
        fn start() -> PgServer {
            let pid = std::process::id();
            let mut server = PgServer {
                port: (56_000 + pid % 1_000).to_string(),
                data: format!("/tmp/shopguard-crash-pg-{pid}"),
                url: String::new(),
            };
            let out = server.ctl("start");
            let text = String::from_utf8_lossy(&out);
            server.url = text.lines().last().unwrap_or_default().to_owned();
            assert!(server.url.starts_with("host="), "{text}");
            server
        }

        /// Runs `.ci/postgres <command>` on this server; fails the test if it fails.
        fn ctl(&self, command: &str) -> Vec<u8> {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres");
            let out = Command::new("bash")
                .args([script, command])
                .env("SHOPGUARD_PG_PORT", &self.port)
                .env("SHOPGUARD_PG_DATA", &self.data)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "the `postgres` feature is on, so the crash test needs a PostgreSQL server of its \
                 own (`.ci/postgres {command}`, which installs one as root) and it failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }

    #[cfg(feature = "postgres")]
    impl Drop for PgServer {
        fn drop(&mut self) {
            let _ = self.ctl("destroy");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_holds_every_acknowledged_batch_after_30_immediate_stops() {
        use shopguard::storage::PgStorage;
        let mut rng = Rng::from_env("postgres crash");
        let started = Instant::now();
        let server = PgServer::start();
        let schema = "crash";
        let open = || PgStorage::connect(&server.url, schema).unwrap();
        Engine::open(open())
            .unwrap()
            .unchecked_apply(world())
            .unwrap();
        let model = Model::new();
        let spec = format!("postgres:{schema}");
        let mut figures = Figures::default();
        let mut revision = 1;
        for _ in 0..30 {
            let mut writer = Writer::spawn(&spec, &[("SHOPGUARD_CRASH_PG", &server.url)]);
            wait_until(&mut writer, "READY", Writer::is_ready);
            std::thread::sleep(Duration::from_micros(rng.below(200_000)));
            assert!(!writer.has_exited(), "the writer exited on its own");
            // The server goes first, while the child commits; the child is then killed too (its
            // engine would otherwise spend up to 40 s asking a dead server how its commit ended).
            server.ctl("crash");
            let lines = writer.kill();
            server.ctl("restart");
            revision = check_after_kill(&lines, &open(), &model, revision, &mut figures);
        }
        verify(&open(), &model, 0, Some(revision), Some(revision)).unwrap();
        println!(
            "postgres crash: {figures:?} batches (revision {revision}) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(figures.kills, 30);
        assert!(figures.acked >= 30, "{figures:?}");
        assert!(figures.kills_mid_commit >= 10, "{figures:?}");
    }
}
