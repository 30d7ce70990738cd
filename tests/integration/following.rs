//! Two processes on one SQLite file: what one writes, the other's checks see without asking.
//!
//! The second process is this test binary run again with [`CHILD`] set to the file: it opens
//! its own engine on the file, disables the cashier as the owner, prints the revision and
//! exits. The parent meanwhile answers checks from an engine opened with `Engine::open`,
//! which follows a shared store by itself, and from one opened with `open_unfollowed`, which
//! stays behind until it syncs (the behaviour before following was the default).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::SqliteStorage;
use shopguard::{
    Access, Account, AccountId, Change, Engine, Grant, Mutation, OnStore, RoleId, Store, StoreId,
    User, UserId,
};

/// The environment variable that makes [`PARENT`] the child: the SQLite file to write.
const CHILD: &str = "SHOPGUARD_FOLLOW_CHILD";
/// The test's own name, for the child's command line.
const PARENT: &str =
    "following::a_cashier_disabled_by_another_process_is_denied_here_without_a_write";

const SHOP: AccountId = AccountId::new(1);
const NORTH: StoreId = StoreId::new(10);
const OWNER: UserId = UserId::new(1);
const ANA: UserId = UserId::new(2);

fn world() -> Vec<Mutation<Pos>> {
    vec![
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutRole(pos::admin(RoleId::new(1), SHOP)),
        Mutation::PutRole(pos::cashier(RoleId::new(3), SHOP)),
        Mutation::PutUser(
            User::new(OWNER, SHOP, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
        Mutation::PutUser(
            User::new(ANA, SHOP, "ana", "ana@shop.example")
                .with_grant(Grant::new(RoleId::new(3), Access::specific([NORTH]))),
        ),
    ]
}

#[test]
fn a_cashier_disabled_by_another_process_is_denied_here_without_a_write() {
    if let Ok(path) = std::env::var(CHILD) {
        let engine = Engine::<Pos>::open(SqliteStorage::open(&path).unwrap()).unwrap();
        let applied = engine.apply(OWNER, Change::DisableUser(ANA)).unwrap();
        println!("REVISION {}", applied.revision());
        return;
    }
    let dir = std::env::temp_dir().join(format!("shopguard-following-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shop.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let here = Engine::<Pos>::open(SqliteStorage::open(&path).unwrap()).unwrap();
    here.unchecked_apply(world()).unwrap();
    let unfollowed = Engine::<Pos>::open_unfollowed(SqliteStorage::open(&path).unwrap()).unwrap();
    assert!(here.is_following() && !unfollowed.is_following());
    let till = OnStore(SHOP, NORTH);
    assert!(here.can(ANA, Pos::SELL, &till));

    let out = Command::new(std::env::current_exe().unwrap())
        .args([PARENT, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD, &path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let stored = Instant::now();
    assert!(out.status.success(), "the child failed: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let revision: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REVISION "))
        .unwrap_or_else(|| panic!("the child said no revision: {stdout}"))
        .parse()
        .unwrap();

    // Checks only, as request handlers make them: the follower brings the disable in.
    while here.can(ANA, Pos::SELL, &till) {
        assert!(
            stored.elapsed() < Duration::from_secs(10),
            "the other process's disable was never seen"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let took = stored.elapsed();
    // The documented bound is the poll interval, a second; room is left for a busy machine.
    assert!(took < Duration::from_secs(3), "seen after {took:?}");
    assert_eq!(here.revision(), revision);
    assert!(here.follow_error().is_none());
    // The engine that does not follow still allows her: the old default's defect.
    assert!(unfollowed.can(ANA, Pos::SELL, &till));
    assert_eq!(unfollowed.sync().unwrap(), revision);
    assert!(!unfollowed.can(ANA, Pos::SELL, &till));
    drop((here, unfollowed));
    let _ = std::fs::remove_dir_all(&dir);
}
