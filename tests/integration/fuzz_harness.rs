//! The fuzz harness: one plain function per fuzz target, each taking the fuzzer's bytes and
//! panicking on any broken property.
//!
//! This one file is compiled twice: by the fuzz targets under `fuzz/` (nightly, libFuzzer),
//! which include it with `#[path = "../../tests/integration/fuzz_harness.rs"] mod harness;`,
//! and by the stable integration test `fuzz_replay.rs`, which replays every file of
//! `fuzz/corpus/<target>/` through the same functions. It uses nothing but the crate's public
//! API, `serde_json` and `arbitrary`, so the stable build needs neither nightly nor libFuzzer.

use arbitrary::{Result as ArbResult, Unstructured};
use shopguard::catalog::omnichannel::Omnichannel;
use shopguard::catalog::oms::Oms;
use shopguard::catalog::payments::Payments;
use shopguard::catalog::pos::Pos;
use shopguard::storage::{Batch, Commit, Loaded, Storage};
use shopguard::{
    Access, Account, AccountId, Catalog, Change, Channel, ChannelId, Engine, Error, Grant, Level,
    Mutation, OnAccount, OnChannel, OnRole, OnSource, OnStore, OnUser, Resource, Role, RoleId,
    Source, SourceId, Store, StoreId, User, UserId,
};

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// What an input's runs came to: how many were accepted and how many refused (uploads,
/// parses, opened engines, changes). The fuzz targets ignore it; the replay test adds it up
/// over a corpus and fails if either is zero, so that a corpus whose every input stops at the
/// first check cannot pass for a test of the rest.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Tally {
    /// Runs that were accepted.
    pub(crate) accepted: usize,
    /// Runs that were refused with an `Error`.
    pub(crate) refused: usize,
}

impl Tally {
    fn count<T, E>(&mut self, outcome: &Result<T, E>) {
        match outcome {
            Ok(_) => self.accepted += 1,
            Err(_) => self.refused += 1,
        }
    }
}

impl core::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.accepted += other.accepted;
        self.refused += other.refused;
    }
}

/// Unicode-lowercased, as the crate folds usernames, e-mails and role names.
fn folded(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// A cheap but complete fingerprint of what an engine shows: the revision and the `Debug` of
/// every account, store, source, channel, role and user (the accounts' in the snapshot's order).
pub(crate) fn fingerprint<P: Catalog>(engine: &Engine<P>) -> String {
    use core::fmt::Write as _;
    let s = engine.snapshot();
    let mut out = String::new();
    let _ = writeln!(out, "revision {}", s.revision());
    for a in s.accounts() {
        let _ = writeln!(out, "{a:?}");
        for x in s.stores(a.id()) {
            let _ = writeln!(out, "{x:?}");
        }
        for x in s.roles(a.id()) {
            let _ = writeln!(out, "{x:?}");
        }
        for x in s.users(a.id()) {
            let _ = writeln!(out, "{x:?}");
        }
    }
    out
}

/// The model invariants every accepted write must keep, for every account: exactly one enabled
/// owner holding a level-1 role (when the account has users, R11), enabled users within the
/// seat limit (R12), usernames and e-mails unique ignoring case (R16).
pub(crate) fn check_invariants<P: Catalog>(engine: &Engine<P>) {
    let s = engine.snapshot();
    for a in s.accounts() {
        let users: Vec<&User> = s.users(a.id()).collect();
        if !users.is_empty() {
            let owners: Vec<&&User> = users.iter().filter(|u| u.is_owner()).collect();
            assert_eq!(
                owners.len(),
                1,
                "account {:?} has {} owners: {owners:?}",
                a.id(),
                owners.len()
            );
            let owner = owners[0];
            assert!(owner.is_enabled(), "the owner of {:?} is disabled", a.id());
            let top = owner.grants().iter().any(|g| {
                s.role(g.role)
                    .is_some_and(|r| r.level().is_top() && r.account() == a.id())
            });
            assert!(
                top,
                "the owner of {:?} holds no level-1 role: {owner:?}",
                a.id()
            );
        }
        let enabled = users.iter().filter(|u| u.is_enabled()).count();
        if let Some(limit) = a.seat_limit() {
            assert!(
                enabled <= limit as usize,
                "account {:?}: {enabled} enabled users, seat limit {limit}",
                a.id()
            );
        }
        let mut names = std::collections::HashSet::new();
        let mut emails = std::collections::HashSet::new();
        for u in &users {
            assert_eq!(u.account(), a.id());
            assert!(
                names.insert(folded(u.username())),
                "account {:?}: username {:?} twice",
                a.id(),
                u.username()
            );
            assert!(
                emails.insert(folded(u.email())),
                "account {:?}: e-mail {:?} twice",
                a.id(),
                u.email()
            );
            for g in u.grants() {
                let role = s.role(g.role);
                assert!(
                    role.is_some_and(|r| r.account() == a.id()),
                    "{u:?} holds a role of no or another account"
                );
            }
        }
    }
}

/// `can` agrees with `check` (engine and snapshot) on one probe.
fn probe<P: Catalog, R: Resource>(engine: &Engine<P>, user: UserId, permission: P, resource: &R) {
    let can = engine.can(user, permission, resource);
    let check = engine.check(user, permission, resource);
    assert_eq!(
        can,
        check.is_allowed(),
        "can and check disagree for {user:?} {permission:?}: {check:?}"
    );
    let s = engine.snapshot();
    assert_eq!(s.can(user, permission, resource), can);
    if let Some(key) = engine.user_key(user) {
        assert_eq!(engine.can(key, permission, resource), can);
    }
}

/// Probes `can` against `check` for the users, over a few permissions and resources.
fn probe_all<P: Catalog>(
    engine: &Engine<P>,
    users: &[UserId],
    accounts: &[AccountId],
    stores: &[StoreId],
) {
    let perms: Vec<P> = P::permissions()
        .iter()
        .map(|p| p.flag())
        .step_by(3)
        .chain([P::empty(), P::all()])
        .collect();
    for &user in users {
        for &perm in &perms {
            for &a in accounts {
                probe(engine, user, perm, &OnAccount(a));
                for &st in stores {
                    probe(engine, user, perm, &OnStore(a, st));
                }
                probe(engine, user, perm, &OnSource(a, SourceId::new(20)));
                probe(engine, user, perm, &OnChannel(a, ChannelId::new(30)));
                probe(engine, user, perm, &OnRole(a, RoleId::new(2)));
                probe(engine, user, perm, &OnUser(a, UserId::new(101)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// csv_upload
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "csv")]
mod csv_fixture {
    use super::*;

    pub(crate) const ACME: AccountId = AccountId::new(1);
    pub(crate) const OTHER: AccountId = AccountId::new(2);
    pub(crate) const ROOT: UserId = UserId::new(1);
    pub(crate) const MANAGER: UserId = UserId::new(2);
    pub(crate) const ASSISTANT: UserId = UserId::new(3);

    /// Seed 003's template engine: two stores, two sources, a channel, the OMS roles, an owner,
    /// a store-limited manager, an assistant, a disabled user, and a user of another account
    /// whose names must not clash. Four seats: a file of a few new enabled users runs out.
    pub(crate) fn engine() -> Engine<Oms> {
        use shopguard::catalog::oms;
        let e = Engine::new();
        let outcome = e.unchecked_apply([
            Mutation::PutAccount(Account::new(ACME, "Acme").with_seat_limit(5)),
            Mutation::PutAccount(Account::new(OTHER, "Other")),
            Mutation::PutStore(Store::new(StoreId::new(10), ACME, "Madrid")),
            Mutation::PutStore(Store::new(StoreId::new(11), ACME, "Lisbon")),
            Mutation::PutSource(Source::new(SourceId::new(20), ACME, "WAREHOUSE")),
            Mutation::PutSource(Source::new(SourceId::new(21), ACME, "test-store")),
            Mutation::PutSource(Source::new(SourceId::new(22), OTHER, "elsewhere")),
            Mutation::PutChannel(Channel::new(ChannelId::new(30), ACME, "Web")),
            Mutation::PutRole(oms::administrator(RoleId::new(1), ACME)),
            Mutation::PutRole(
                oms::store_manager(RoleId::new(2), ACME)
                    .with_store_ceiling(Access::specific([StoreId::new(10)])),
            ),
            Mutation::PutRole(
                oms::store_assistant(RoleId::new(3), ACME)
                    .with_store_ceiling(Access::specific([StoreId::new(10)]))
                    .with_former_name("Shop assistant"),
            ),
            Mutation::PutRole(oms::customer_service_agent(RoleId::new(4), ACME)),
            Mutation::PutRole(oms::administrator(RoleId::new(5), OTHER)),
            Mutation::PutUser(
                User::new(ROOT, ACME, "root", "root@site.com")
                    .with_owner(true)
                    .with_grant(Grant::new(RoleId::new(1), Access::All))
                    .with_sources(Access::All)
                    .with_channels(Access::All),
            ),
            Mutation::PutUser(
                User::new(MANAGER, ACME, "madrid-manager", "mm@site.com")
                    .with_grant(Grant::new(RoleId::new(2), Access::All))
                    .with_sources(Access::specific([SourceId::new(21)])),
            ),
            Mutation::PutUser(
                User::new(ASSISTANT, ACME, "storeAssistant1", "sa1@site.com")
                    .with_grant(Grant::new(RoleId::new(3), Access::All))
                    .with_sources(Access::specific([SourceId::new(20)])),
            ),
            Mutation::PutUser(
                User::new(UserId::new(4), ACME, "gone", "gone@site.com")
                    .with_enabled(false)
                    .with_grant(Grant::new(RoleId::new(4), Access::All)),
            ),
            Mutation::PutUser(
                User::new(UserId::new(9), OTHER, "boss", "boss@other.com")
                    .with_owner(true)
                    .with_grant(Grant::new(RoleId::new(5), Access::All)),
            ),
        ]);
        assert!(outcome.is_ok(), "the CSV fixture is valid: {outcome:?}");
        e
    }
}

#[cfg(feature = "csv")]
/// New user ids for an upload, the same sequence on every call.
fn new_ids() -> impl FnMut() -> UserId {
    let mut next = 1000u64;
    move || {
        next += 1;
        UserId::new(next)
    }
}

/// `data` as a CSV file uploaded to a small OMS engine, by the owner (default limits) and by
/// a store-limited manager (small limits), each on a fresh engine.
///
/// Never panics; preview and upload agree on accept or refuse (and on the counts, or on the
/// problems); a refused upload, and every preview, leave the engine unchanged; at most 100
/// problems are listed; an accepted upload keeps every invariant, and the owner's download
/// then uploads back unchanged.
#[cfg(feature = "csv")]
pub(crate) fn csv_upload(data: &[u8]) -> Tally {
    use shopguard::import::CsvLimits;
    let small = CsvLimits {
        max_bytes: 4096,
        max_rows: 8,
    };
    let mut tally = Tally::default();
    for (actor, limits) in [
        (csv_fixture::ROOT, CsvLimits::default()),
        (csv_fixture::MANAGER, small),
        (csv_fixture::ASSISTANT, small),
    ] {
        let engine = csv_fixture::engine();
        let before = fingerprint(&engine);
        let preview = engine.preview_users_csv(actor, data, &limits, &mut new_ids());
        assert_eq!(fingerprint(&engine), before, "a preview changed the engine");
        let upload = engine.upload_users_csv(actor, data, &limits, &mut new_ids());
        tally.count(&upload);
        match (&preview, &upload) {
            (Ok(p), Ok(u)) => {
                assert_eq!(
                    (p.created(), p.updated(), p.unchanged()),
                    (u.created(), u.updated(), u.unchanged()),
                    "preview and upload counted differently"
                );
                assert_eq!(p.applied(), u.applied(), "preview and upload differ");
                check_invariants(&engine);
                if actor == csv_fixture::ROOT {
                    round_trip(&engine, actor);
                }
            }
            (Err(p), Err(u)) => {
                assert_eq!(
                    fingerprint(&engine),
                    before,
                    "a refused upload changed the engine"
                );
                for err in [p, u] {
                    assert!(
                        err.problems().len() <= 100,
                        "{} problems listed",
                        err.problems().len()
                    );
                }
                let listed = |e: &Error| -> Vec<String> {
                    e.problems().iter().map(ToString::to_string).collect()
                };
                assert_eq!(p.kind(), u.kind(), "preview and upload refused differently");
                assert_eq!(
                    listed(p),
                    listed(u),
                    "preview and upload listed different problems"
                );
                assert_eq!(p.problems_omitted(), u.problems_omitted());
            }
            _ => panic!("preview said {preview:?} but upload said {upload:?}"),
        }
    }
    tally
}

#[cfg(feature = "csv")]
/// The owner's download uploads back with nothing created or updated.
fn round_trip(engine: &Engine<Oms>, actor: UserId) {
    use shopguard::import::CsvLimits;
    let down = match engine.snapshot().download_users_csv(actor) {
        Ok(down) => down,
        Err(err) => panic!("the download failed: {err}"),
    };
    let before = fingerprint(engine);
    match engine.upload_users_csv(
        actor,
        down.as_bytes(),
        &CsvLimits::default(),
        &mut new_ids(),
    ) {
        Ok(again) => {
            assert_eq!(
                (again.created(), again.updated()),
                (0, 0),
                "the download did not upload back unchanged:\n{down}"
            );
            assert_eq!(fingerprint(engine), before);
        }
        Err(err) => panic!("the download did not upload back: {err}\n{down}"),
    }
}

// ---------------------------------------------------------------------------------------------
// permission_names
// ---------------------------------------------------------------------------------------------

/// The names of every flag in `p`, joined the way the docs write them (`A | B`).
fn name_form<P: Catalog>(p: P) -> String {
    P::permissions()
        .iter()
        .filter(|info| p.contains(info.flag()))
        .map(|info| info.name())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn permission_names_in<P: Catalog>(text: &str) -> Tally {
    let mut tally = Tally::default();
    let parsed = P::parse(text);
    tally.count(&parsed);
    match parsed {
        Ok(p) => {
            // Every parsed bit is a known flag, and the name form parses back to it.
            assert!(
                P::from_stored_bits(p.bits()).is_ok(),
                "{text:?} parsed to unknown bits {:#x}",
                p.bits()
            );
            let names = name_form(p);
            match P::parse(&names) {
                Ok(again) => assert_eq!(again, p, "{text:?} -> {names:?} did not round-trip"),
                Err(err) => panic!("{text:?} parsed, its names {names:?} did not: {err}"),
            }
            // Every name of the text is a known flag's name or display name, ignoring ASCII
            // case, and one flag's only.
            for part in text.split('|').map(str::trim).filter(|s| !s.is_empty()) {
                let fits = |i: &&shopguard::PermissionInfo<P>| {
                    i.name().eq_ignore_ascii_case(part)
                        || i.display_name().eq_ignore_ascii_case(part)
                };
                assert!(
                    P::permissions().iter().filter(fits).count() <= 1,
                    "{text:?}"
                );
                let info = P::permissions().iter().find(fits);
                assert!(
                    info.is_some(),
                    "{text:?}: `{part}` parsed but names no flag"
                );
            }
        }
        Err(err) => {
            assert_eq!(err.kind(), shopguard::ErrorKind::InvalidInput, "{err}");
            // The message is built from the text; it must not be empty.
            assert!(!err.to_string().is_empty());
        }
    }
    // The single-flag metadata agrees with parsing its own name.
    if let Some(info) = P::permissions().iter().find(|i| i.name() == text.trim()) {
        assert_eq!(P::parse(info.name()).ok(), Some(info.flag()));
        assert_eq!(P::info(info.flag()).map(|i| i.name()), Some(info.name()));
    }
    tally
}

/// `data` as permission-name text (`A | B`) in each of the four catalogs: parsing never
/// panics, refuses with `InvalidInput`, and whatever parses round-trips through its names.
pub(crate) fn permission_names(data: &[u8]) -> Tally {
    let text = String::from_utf8_lossy(data);
    let mut tally = permission_names_in::<Pos>(&text);
    tally += permission_names_in::<Omnichannel>(&text);
    tally += permission_names_in::<Payments>(&text);
    tally += permission_names_in::<Oms>(&text);
    tally
}

// ---------------------------------------------------------------------------------------------
// stored_records
// ---------------------------------------------------------------------------------------------

/// A store that hands back fixed records, as a SQL backend does after decoding its rows.
#[derive(Debug)]
struct Fixed<P>(Vec<Mutation<P>>);

impl<P: Clone + Send + Sync + core::fmt::Debug> Storage<P> for Fixed<P> {
    fn load(&self) -> Result<Loaded<P>, Error> {
        Ok(Loaded {
            revision: 7,
            records: self.0.clone(),
        })
    }

    fn commit(&self, _commit: &Commit<'_, P>) -> Result<(), Error> {
        Ok(())
    }

    fn changes_since(&self, _revision: u64) -> Result<Vec<Batch<P>>, Error> {
        Ok(Vec::new())
    }

    fn record_refused(&self, _records: &[shopguard::audit::AuditRecord<P>]) -> Result<(), Error> {
        Ok(())
    }

    fn audit_records(&self) -> Result<Vec<shopguard::audit::AuditRecord<P>>, Error> {
        Ok(Vec::new())
    }
}

/// A decoded value encodes and decodes back to itself (the stored form is stable).
fn re_encodes<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + core::fmt::Debug,
{
    let text = match serde_json::to_string(value) {
        Ok(text) => text,
        Err(err) => panic!("{value:?} decoded but does not encode: {err}"),
    };
    match serde_json::from_str::<T>(&text) {
        Ok(again) => assert_eq!(&again, value, "{text} decoded differently"),
        Err(err) => panic!("{value:?} encoded as {text}, which does not decode: {err}"),
    }
}

/// What a decoded record may hold: only known permission bits, levels from 1.
fn sane_record<P: Catalog>(m: &Mutation<P>) {
    if let Mutation::PutRole(r) = m {
        assert!(r.level().get() >= 1);
        assert!(
            P::from_stored_bits(r.permissions().bits()).is_ok(),
            "a stored role decoded with unknown permission bits {:#x}",
            r.permissions().bits()
        );
    }
}

fn stored_records_in<P>(text: &str) -> Tally
where
    P: Catalog + serde::Serialize + serde::de::DeserializeOwned,
{
    let mut tally = Tally::default();
    // One object row (`shopguard_object.body`).
    if let Ok(m) = serde_json::from_str::<Mutation<P>>(text) {
        sane_record(&m);
        re_encodes(&m);
    }
    // One batch row (`shopguard_batch.mutations`), and a batch as `changes_since` returns it.
    if let Ok(ms) = serde_json::from_str::<Vec<Mutation<P>>>(text) {
        ms.iter().for_each(sane_record);
        re_encodes(&ms);
        tally += open_on(ms);
    }
    if let Ok(b) = serde_json::from_str::<Batch<P>>(text) {
        b.mutations.iter().for_each(sane_record);
        re_encodes(&b);
    }
    // One audit row (`shopguard_audit.record`).
    if let Ok(a) = serde_json::from_str::<shopguard::audit::AuditRecord<P>>(text) {
        re_encodes(&a);
    }
    // A table of object rows, one per line: what `load` decodes one by one; a row that does
    // not decode fails the load, so only fully decoded tables reach the engine.
    let rows: Result<Vec<Mutation<P>>, _> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str::<Mutation<P>>)
        .collect();
    if let Ok(rows) = rows {
        tally += open_on(rows);
    }
    tally
}

/// Opens an engine on stored records: it refuses with an `Error` or keeps every invariant.
fn open_on<P>(records: Vec<Mutation<P>>) -> Tally
where
    P: Catalog + serde::Serialize + serde::de::DeserializeOwned,
{
    let mut tally = Tally::default();
    if records.is_empty() || records.len() > 64 {
        return tally;
    }
    let replay = records.clone();
    let opened = Engine::<P>::open(Fixed(records));
    tally.count(&opened);
    match opened {
        Ok(engine) => {
            assert_eq!(engine.revision(), 7);
            check_invariants(&engine);
            // The same records through the bootstrap path are accepted too.
            let fresh = Engine::<P>::new();
            let again = fresh.unchecked_apply(replay);
            assert!(
                again.is_ok(),
                "opened, but the same batch was refused: {again:?}"
            );
            let accounts: Vec<AccountId> = engine.snapshot().accounts().map(|a| a.id()).collect();
            let users: Vec<UserId> = engine
                .snapshot()
                .accounts()
                .flat_map(|a| {
                    engine
                        .snapshot()
                        .users(a.id())
                        .map(|u| u.id())
                        .collect::<Vec<_>>()
                })
                .take(4)
                .collect();
            probe_all(&engine, &users, &accounts, &[StoreId::new(10)]);
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
    tally
}

/// `data` as stored JSON records (an object row, a batch row, an audit row, or a table of
/// object rows one per line) for each of the four catalogs: decoding never panics; unknown
/// permission bits and levels outside 1..=255 are refused; whatever decodes encodes back to
/// itself; an engine opened on decoded records refuses them with an `Error` or keeps every
/// invariant.
pub(crate) fn stored_records(data: &[u8]) -> Tally {
    let text = String::from_utf8_lossy(data);
    let mut tally = stored_records_in::<Pos>(&text);
    tally += stored_records_in::<Omnichannel>(&text);
    tally += stored_records_in::<Payments>(&text);
    tally += stored_records_in::<Oms>(&text);
    tally
}

// ---------------------------------------------------------------------------------------------
// changes
// ---------------------------------------------------------------------------------------------

shopguard::permission_catalog! {
    /// A catalog with one permission of each reach and every admin permission.
    pub(crate) struct F {
        SELL = 0, "Register", Scoped, "sell";
        SHIP = 1, "Orders", Scoped, "ship orders";
        LIST_STAFF = 2, "Team", AccountWide, "list every member of staff";
        INVOICES = 3, "Billing", EntityBilling, "see invoices";
        STORE_INVOICES = 4, "Billing", StoreBilling, "see store invoices";
        SIGN = 5, "Documents", OwnerOnly, "sign documents";
        VIEW_USERS = 6, "Team", Scoped, "see users";
        CREATE_USERS = 7, "Team", Scoped, "invite users";
        EDIT_USERS = 8, "Team", Scoped, "amend users";
        DELETE_USERS = 9, "Team", Scoped, "delete users";
        ROLES = 10, "Team", Scoped, "manage roles";
        STORES = 11, "Team", AccountWide, "see every store";
        MANAGE_STORES = 12, "Settings", Scoped, "open, rename and close stores";
        MANAGE_SOURCES = 13, "Settings", Scoped, "create, edit and delete sources";
        MANAGE_CHANNELS = 14, "Settings", Scoped, "create, edit and delete sales channels";
    }
    admin {
        view_users: VIEW_USERS,
        create_users: CREATE_USERS,
        edit_users: EDIT_USERS,
        delete_users: DELETE_USERS,
        manage_roles: ROLES,
        view_stores: STORES,
        manage_stores: MANAGE_STORES,
        manage_sources: MANAGE_SOURCES,
        manage_channels: MANAGE_CHANNELS,
    }
}

const ACCOUNTS: [u64; 2] = [1, 2];
const STORES: [u64; 3] = [10, 11, 12];
const SOURCES: [u64; 2] = [20, 21];
const CHANNELS: [u64; 2] = [30, 31];
const ROLES: [u64; 5] = [1, 2, 3, 4, 5];
const USERS: [u64; 7] = [100, 101, 102, 103, 104, 105, 106];
const NAMES: [&str; 8] = ["ana", "ANA", "bob", "cy", "Ärger", "ärger", "a b", ""];
const EMAILS: [&str; 6] = [
    "ana@x.io",
    "ANA@X.IO",
    "bob@x.io",
    "cy@x.io",
    "ÄRGER@x.io",
    "not-an-email",
];
const ROLE_NAMES: [&str; 5] = ["Admin", "admin", "Manager", "Cashier", " "];

fn pick<T: Copy>(u: &mut Unstructured<'_>, from: &[T]) -> ArbResult<T> {
    u.choose(from).copied()
}

fn access<T: Ord + Copy>(
    u: &mut Unstructured<'_>,
    ids: &[u64],
    make: fn(u64) -> T,
) -> ArbResult<Access<T>> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => Access::None,
        1 => Access::All,
        _ => {
            let mut picked = Vec::new();
            for &id in ids {
                if u.arbitrary::<bool>()? {
                    picked.push(make(id));
                }
            }
            Access::specific(picked)
        }
    })
}

fn account_id(u: &mut Unstructured<'_>) -> ArbResult<AccountId> {
    Ok(AccountId::new(pick(u, &ACCOUNTS)?))
}

fn user_id(u: &mut Unstructured<'_>) -> ArbResult<UserId> {
    Ok(UserId::new(pick(u, &USERS)?))
}

fn role_id(u: &mut Unstructured<'_>) -> ArbResult<RoleId> {
    Ok(RoleId::new(pick(u, &ROLES)?))
}

fn permissions(u: &mut Unstructured<'_>) -> ArbResult<F> {
    Ok(F::from_bits_truncate(u.arbitrary::<u64>()?))
}

fn role(u: &mut Unstructured<'_>) -> ArbResult<Role<F>> {
    let level = Level::below_top(u.int_in_range(0..=3u8)?);
    let mut r = Role::new(
        role_id(u)?,
        account_id(u)?,
        pick(u, &ROLE_NAMES)?,
        level,
        permissions(u)?,
    )
    .with_store_ceiling(access(u, &STORES, StoreId::new)?)
    .with_source_ceiling(access(u, &SOURCES, SourceId::new)?)
    .with_channel_ceiling(access(u, &CHANNELS, ChannelId::new)?);
    if u.arbitrary::<bool>()? {
        r = r.with_former_name(pick(u, &ROLE_NAMES)?);
    }
    Ok(r)
}

fn user(u: &mut Unstructured<'_>) -> ArbResult<User> {
    let mut user = User::new(
        user_id(u)?,
        account_id(u)?,
        pick(u, &NAMES)?,
        pick(u, &EMAILS)?,
    )
    .with_enabled(u.ratio(4, 5)?)
    .with_owner(u.ratio(1, 6)?)
    .with_sources(access(u, &SOURCES, SourceId::new)?)
    .with_channels(access(u, &CHANNELS, ChannelId::new)?);
    for _ in 0..u.int_in_range(0..=2u8)? {
        user = user.with_grant(Grant::new(role_id(u)?, access(u, &STORES, StoreId::new)?));
    }
    if u.ratio(1, 8)? {
        // An unknown timezone is refused by the builder: keep the user as it was then.
        let tz = pick(u, &["Europe/Madrid", "Mars/Olympus"])?;
        user = user.clone().with_timezone(tz).unwrap_or(user);
    }
    Ok(user)
}

fn mutation(u: &mut Unstructured<'_>) -> ArbResult<Mutation<F>> {
    Ok(match u.int_in_range(0..=11u8)? {
        0 => {
            let mut a = Account::new(account_id(u)?, "Acct");
            if u.arbitrary::<bool>()? {
                a = a.with_seat_limit(u.int_in_range(0..=5u32)?);
            }
            Mutation::PutAccount(a.with_entity_level_billing(u.arbitrary()?))
        }
        1 => Mutation::RemoveAccount(account_id(u)?),
        2 => Mutation::PutStore(Store::new(
            StoreId::new(pick(u, &STORES)?),
            account_id(u)?,
            "Store",
        )),
        3 => Mutation::RemoveStore(StoreId::new(pick(u, &STORES)?)),
        4 => Mutation::PutSource(Source::new(
            SourceId::new(pick(u, &SOURCES)?),
            account_id(u)?,
            pick(u, &["WAREHOUSE", "warehouse", "shop"])?,
        )),
        5 => Mutation::RemoveSource(SourceId::new(pick(u, &SOURCES)?)),
        6 => Mutation::PutChannel(Channel::new(
            ChannelId::new(pick(u, &CHANNELS)?),
            account_id(u)?,
            "Web",
        )),
        7 => Mutation::RemoveChannel(ChannelId::new(pick(u, &CHANNELS)?)),
        8 => Mutation::PutRole(role(u)?),
        9 => Mutation::RemoveRole(role_id(u)?),
        10 => Mutation::PutUser(user(u)?),
        _ => Mutation::RemoveUser(user_id(u)?),
    })
}

fn change(u: &mut Unstructured<'_>) -> ArbResult<Change<F>> {
    // Ids one past the starting state's, for objects created by a change.
    let store = |u: &mut Unstructured<'_>| -> ArbResult<Store> {
        Ok(Store::new(
            StoreId::new(pick(u, &[10, 11, 12, 13])?),
            account_id(u)?,
            pick(u, &["Harbour", "North", " padded"])?,
        ))
    };
    let source = |u: &mut Unstructured<'_>| -> ArbResult<Source> {
        Ok(Source::new(
            SourceId::new(pick(u, &[20, 21, 22])?),
            account_id(u)?,
            pick(u, &["WAREHOUSE", "warehouse", "shop", "a,b"])?,
        ))
    };
    let channel = |u: &mut Unstructured<'_>| -> ArbResult<Channel> {
        Ok(Channel::new(
            ChannelId::new(pick(u, &[30, 31, 32])?),
            account_id(u)?,
            pick(u, &["Web", "App", ""])?,
        ))
    };
    Ok(match u.int_in_range(0..=22u8)? {
        0 => Change::CreateRole(role(u)?),
        1 => Change::UpdateRole(role(u)?),
        2 => Change::RenameRole {
            role: role_id(u)?,
            name: pick(u, &ROLE_NAMES)?.to_owned(),
        },
        3 => Change::DeleteRole {
            role: role_id(u)?,
            reassign_to: if u.arbitrary()? {
                Some(role_id(u)?)
            } else {
                None
            },
        },
        4 => Change::CreateUser(user(u)?),
        5 => Change::CopyUser {
            from: user_id(u)?,
            id: user_id(u)?,
            username: pick(u, &NAMES)?.to_owned(),
            email: pick(u, &EMAILS)?.to_owned(),
        },
        6 => Change::UpdateUser(user(u)?),
        7 => Change::EnableUser(user_id(u)?),
        8 => Change::DisableUser(user_id(u)?),
        9 => Change::DeleteUser(user_id(u)?),
        10 => Change::TransferOwnership { to: user_id(u)? },
        11 => Change::SetEntityLevelBilling(u.arbitrary()?),
        12 => Change::CreateStore(store(u)?),
        13 => Change::UpdateStore(store(u)?),
        14 => Change::DeleteStore(StoreId::new(pick(u, &[10, 11, 12, 13])?)),
        15 => Change::CreateSource(source(u)?),
        16 => Change::UpdateSource(source(u)?),
        17 => Change::DeleteSource(SourceId::new(pick(u, &[20, 21, 22])?)),
        18 => Change::CreateChannel(channel(u)?),
        19 => Change::UpdateChannel(channel(u)?),
        20 => Change::DeleteChannel(ChannelId::new(pick(u, &[30, 31, 32])?)),
        21 => Change::SetSeatLimit {
            limit: if u.ratio(1, 5)? {
                None
            } else {
                Some(u.int_in_range(0..=6u32)?)
            },
            disable_excess: u.arbitrary()?,
        },
        _ => Change::UploadUsers {
            rows: u.int_in_range(0..=3u64)?,
        },
    })
}

/// The starting state: two accounts with stores, sources, channels, roles at levels 1–3 and
/// a few users, so that the first changes have something to act on.
fn changes_engine() -> Engine<F> {
    let (acme, other) = (AccountId::new(1), AccountId::new(2));
    let e = Engine::new();
    let outcome = e.unchecked_apply([
        Mutation::PutAccount(Account::new(acme, "Acme").with_seat_limit(5)),
        Mutation::PutAccount(Account::new(other, "Other")),
        Mutation::PutStore(Store::new(StoreId::new(10), acme, "North")),
        Mutation::PutStore(Store::new(StoreId::new(11), acme, "South")),
        Mutation::PutStore(Store::new(StoreId::new(12), other, "Elsewhere")),
        Mutation::PutSource(Source::new(SourceId::new(20), acme, "WAREHOUSE")),
        Mutation::PutChannel(Channel::new(ChannelId::new(30), acme, "Web")),
        Mutation::PutRole(Role::new(
            RoleId::new(1),
            acme,
            "Admin",
            Level::TOP,
            F::all(),
        )),
        Mutation::PutRole(
            Role::new(
                RoleId::new(2),
                acme,
                "Manager",
                Level::below_top(1),
                F::SELL | F::SHIP | F::LIST_STAFF | F::VIEW_USERS | F::CREATE_USERS | F::EDIT_USERS,
            )
            .with_store_ceiling(Access::specific([StoreId::new(10)])),
        ),
        Mutation::PutRole(Role::new(
            RoleId::new(3),
            acme,
            "Cashier",
            Level::below_top(2),
            F::SELL,
        )),
        Mutation::PutRole(Role::new(
            RoleId::new(5),
            other,
            "Admin",
            Level::TOP,
            F::all(),
        )),
        Mutation::PutUser(
            User::new(UserId::new(100), acme, "owner", "owner@acme.io")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(UserId::new(101), acme, "marta", "marta@acme.io")
                .with_grant(Grant::new(
                    RoleId::new(2),
                    Access::specific([StoreId::new(10)]),
                ))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(UserId::new(102), acme, "sam", "sam@acme.io")
                .with_grant(Grant::new(RoleId::new(3), Access::All))
                .with_sources(Access::All),
        ),
        Mutation::PutUser(
            User::new(UserId::new(105), other, "boss", "boss@other.io")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(5), Access::All)),
        ),
    ]);
    assert!(outcome.is_ok(), "the changes fixture is valid: {outcome:?}");
    e
}

/// One step's outcome: every refused step leaves the engine as it was; every accepted one
/// keeps the invariants.
fn after_step<T: core::fmt::Debug>(
    engine: &Engine<F>,
    before: &str,
    what: &dyn core::fmt::Debug,
    outcome: &Result<T, Error>,
) {
    match outcome {
        Ok(_) => check_invariants(engine),
        Err(err) => {
            assert_eq!(
                fingerprint(engine),
                before,
                "refused ({err}) but changed the engine: {what:?}"
            );
            let _ = err.to_string();
        }
    }
}

/// Runs the steps `data` describes; `Err` only when the bytes run out mid-step.
fn run_changes(u: &mut Unstructured<'_>, engine: &Engine<F>, tally: &mut Tally) -> ArbResult<()> {
    let users: Vec<UserId> = USERS
        .iter()
        .map(|&id| UserId::new(id))
        .chain([UserId::new(999)])
        .collect();
    let accounts = [AccountId::new(1), AccountId::new(2), AccountId::new(3)];
    let stores = [StoreId::new(10), StoreId::new(11), StoreId::new(12)];
    for _ in 0..48 {
        if u.is_empty() {
            break;
        }
        let before = fingerprint(engine);
        match u.int_in_range(0..=5u8)? {
            0 => {
                let n = u.int_in_range(1..=3usize)?;
                let batch = (0..n).map(|_| mutation(u)).collect::<ArbResult<Vec<_>>>()?;
                let outcome = engine.unchecked_apply(batch.clone());
                after_step(engine, &before, &batch, &outcome);
            }
            1 | 2 => {
                let actor = user_id(u)?;
                let c = change(u)?;
                let outcome = engine.apply(actor, c.clone());
                tally.count(&outcome);
                after_step(engine, &before, &(actor, &c), &outcome);
            }
            _ => {
                let actor = user_id(u)?;
                let n = u.int_in_range(1..=3usize)?;
                let batch = (0..n).map(|_| change(u)).collect::<ArbResult<Vec<_>>>()?;
                let dry = engine.dry_run(actor, &batch);
                assert_eq!(fingerprint(engine), before, "a dry run changed the engine");
                let outcome = engine.apply_all(actor, batch.clone());
                tally.count(&outcome);
                assert_eq!(
                    dry.is_ok(),
                    outcome.is_ok(),
                    "dry run said {dry:?}, apply_all said {outcome:?} for {actor:?} {batch:?}"
                );
                after_step(engine, &before, &(actor, &batch), &outcome);
            }
        }
        // A refused step changed nothing (checked above): its probes would repeat the last ones.
        if fingerprint(engine) != before {
            probe_all(engine, &users, &accounts, &stores);
        }
    }
    Ok(())
}

/// `data` as a sequence of steps on a small engine: batches of `Mutation`s through
/// `unchecked_apply`, and `Change`s through `apply` or `apply_all` (with a `dry_run` first) by
/// arbitrary actors, every id from a small range so that objects collide. After every step:
/// a refused step left the engine unchanged; the invariants hold; `can` agrees with `check`
/// (probed after every step that changed the engine). The tally counts `Change` steps only.
pub(crate) fn changes(data: &[u8]) -> Tally {
    let engine = changes_engine();
    check_invariants(&engine);
    probe_all(
        &engine,
        &[UserId::new(100), UserId::new(101), UserId::new(102)],
        &[AccountId::new(1)],
        &[StoreId::new(10), StoreId::new(11)],
    );
    let mut u = Unstructured::new(data);
    let mut tally = Tally::default();
    // Running out of bytes mid-step ends the run; that step did nothing.
    let _ = run_changes(&mut u, &engine, &mut tally);
    tally
}
