//! The shared, deterministic workload of `benches/check.rs` and `examples/memory.rs`.
//!
//! One account, [`USERS`] users (or any number, [`World::generate_users`]), [`STORES`] stores
//! and [`ROLES`] roles over a 64-permission catalog. Each role holds a random subset of about
//! half the permissions; each user holds exactly one grant at one to five specific stores, or
//! (one in ten) at every store. User 0 is the account owner, holding role 0 (the only level-1
//! role) at every store.
//!
//! Everything comes from one seeded splitmix64 generator, so every run builds the same world.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use shopguard::{
    Access, Account, AccountId, Grant, Level, Mutation, OnStore, Role, RoleId, Store, StoreId,
    User, UserId,
};

/// Users in the account.
pub(crate) const USERS: usize = 100_000;
/// Stores in the account.
pub(crate) const STORES: usize = 1_000;
/// Roles in the account.
pub(crate) const ROLES: usize = 20;
/// The account.
pub(crate) const ACCOUNT: AccountId = AccountId::new(1);
/// User ids are the dense user number plus this, so the engine sees sparse keys.
pub(crate) const USER_ID_OFFSET: u64 = 1_000_000;
/// Store ids are the dense store number plus this.
pub(crate) const STORE_ID_OFFSET: u64 = 50_000;
/// Role ids are the dense role number plus this.
pub(crate) const ROLE_ID_OFFSET: u64 = 700;
/// The seed of the world.
pub(crate) const WORLD_SEED: u64 = 0x5eed_cafe_f00d_0001;

shopguard::permission_catalog! {
    /// A synthetic catalog of 64 store-scoped permissions.
    pub(crate) struct Perm64 {
        P0 = 0, "Synthetic", Scoped, "Synthetic permission 0";
        P1 = 1, "Synthetic", Scoped, "Synthetic permission 1";
        P2 = 2, "Synthetic", Scoped, "Synthetic permission 2";
        P3 = 3, "Synthetic", Scoped, "Synthetic permission 3";
        P4 = 4, "Synthetic", Scoped, "Synthetic permission 4";
        P5 = 5, "Synthetic", Scoped, "Synthetic permission 5";
        P6 = 6, "Synthetic", Scoped, "Synthetic permission 6";
        P7 = 7, "Synthetic", Scoped, "Synthetic permission 7";
        P8 = 8, "Synthetic", Scoped, "Synthetic permission 8";
        P9 = 9, "Synthetic", Scoped, "Synthetic permission 9";
        P10 = 10, "Synthetic", Scoped, "Synthetic permission 10";
        P11 = 11, "Synthetic", Scoped, "Synthetic permission 11";
        P12 = 12, "Synthetic", Scoped, "Synthetic permission 12";
        P13 = 13, "Synthetic", Scoped, "Synthetic permission 13";
        P14 = 14, "Synthetic", Scoped, "Synthetic permission 14";
        P15 = 15, "Synthetic", Scoped, "Synthetic permission 15";
        P16 = 16, "Synthetic", Scoped, "Synthetic permission 16";
        P17 = 17, "Synthetic", Scoped, "Synthetic permission 17";
        P18 = 18, "Synthetic", Scoped, "Synthetic permission 18";
        P19 = 19, "Synthetic", Scoped, "Synthetic permission 19";
        P20 = 20, "Synthetic", Scoped, "Synthetic permission 20";
        P21 = 21, "Synthetic", Scoped, "Synthetic permission 21";
        P22 = 22, "Synthetic", Scoped, "Synthetic permission 22";
        P23 = 23, "Synthetic", Scoped, "Synthetic permission 23";
        P24 = 24, "Synthetic", Scoped, "Synthetic permission 24";
        P25 = 25, "Synthetic", Scoped, "Synthetic permission 25";
        P26 = 26, "Synthetic", Scoped, "Synthetic permission 26";
        P27 = 27, "Synthetic", Scoped, "Synthetic permission 27";
        P28 = 28, "Synthetic", Scoped, "Synthetic permission 28";
        P29 = 29, "Synthetic", Scoped, "Synthetic permission 29";
        P30 = 30, "Synthetic", Scoped, "Synthetic permission 30";
        P31 = 31, "Synthetic", Scoped, "Synthetic permission 31";
        P32 = 32, "Synthetic", Scoped, "Synthetic permission 32";
        P33 = 33, "Synthetic", Scoped, "Synthetic permission 33";
        P34 = 34, "Synthetic", Scoped, "Synthetic permission 34";
        P35 = 35, "Synthetic", Scoped, "Synthetic permission 35";
        P36 = 36, "Synthetic", Scoped, "Synthetic permission 36";
        P37 = 37, "Synthetic", Scoped, "Synthetic permission 37";
        P38 = 38, "Synthetic", Scoped, "Synthetic permission 38";
        P39 = 39, "Synthetic", Scoped, "Synthetic permission 39";
        P40 = 40, "Synthetic", Scoped, "Synthetic permission 40";
        P41 = 41, "Synthetic", Scoped, "Synthetic permission 41";
        P42 = 42, "Synthetic", Scoped, "Synthetic permission 42";
        P43 = 43, "Synthetic", Scoped, "Synthetic permission 43";
        P44 = 44, "Synthetic", Scoped, "Synthetic permission 44";
        P45 = 45, "Synthetic", Scoped, "Synthetic permission 45";
        P46 = 46, "Synthetic", Scoped, "Synthetic permission 46";
        P47 = 47, "Synthetic", Scoped, "Synthetic permission 47";
        P48 = 48, "Synthetic", Scoped, "Synthetic permission 48";
        P49 = 49, "Synthetic", Scoped, "Synthetic permission 49";
        P50 = 50, "Synthetic", Scoped, "Synthetic permission 50";
        P51 = 51, "Synthetic", Scoped, "Synthetic permission 51";
        P52 = 52, "Synthetic", Scoped, "Synthetic permission 52";
        P53 = 53, "Synthetic", Scoped, "Synthetic permission 53";
        P54 = 54, "Synthetic", Scoped, "Synthetic permission 54";
        P55 = 55, "Synthetic", Scoped, "Synthetic permission 55";
        P56 = 56, "Synthetic", Scoped, "Synthetic permission 56";
        P57 = 57, "Synthetic", Scoped, "Synthetic permission 57";
        P58 = 58, "Synthetic", Scoped, "Synthetic permission 58";
        P59 = 59, "Synthetic", Scoped, "Synthetic permission 59";
        P60 = 60, "Synthetic", Scoped, "Synthetic permission 60";
        P61 = 61, "Synthetic", Scoped, "Synthetic permission 61";
        P62 = 62, "Synthetic", Scoped, "Synthetic permission 62";
        P63 = 63, "Synthetic", Scoped, "Synthetic permission 63";
    }
    admin {
        view_users: P62,
        create_users: P62,
        edit_users: P62,
        delete_users: P62,
        manage_roles: P63,
    }
}

/// splitmix64: small, fast and good enough to shuffle a benchmark's world.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (bias below 2^-40 for these sizes).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        // The high half of a 64x64 product is below `n`, so it fits in usize.
        (wide >> 64) as usize
    }

    /// True with probability `percent` / 100.
    pub(crate) fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The world as plain vectors indexed by dense numbers: the source of both the engine's batch
/// and the floor's tables.
#[derive(Debug, Clone)]
pub(crate) struct World {
    /// Permission bits of each role.
    pub(crate) role_bits: Vec<u64>,
    /// The role (dense number) of each user's single grant.
    pub(crate) user_role: Vec<usize>,
    /// Whether each user's grant covers every store.
    pub(crate) user_all: Vec<bool>,
    /// Each user's store ids (raw keys, sorted, distinct); empty when `user_all`.
    pub(crate) user_stores: Vec<Vec<u64>>,
}

/// The raw key of store number `s`.
pub(crate) fn store_key(s: usize) -> u64 {
    STORE_ID_OFFSET + s as u64
}

/// The id of user number `u`.
pub(crate) fn user_id(u: usize) -> UserId {
    UserId::new(USER_ID_OFFSET + u as u64)
}

/// The id of role number `r`.
pub(crate) fn role_id(r: usize) -> RoleId {
    RoleId::new(ROLE_ID_OFFSET + r as u64)
}

impl World {
    /// Generates the world of [`USERS`] users from [`WORLD_SEED`].
    pub(crate) fn generate() -> Self {
        Self::generate_users(USERS)
    }

    /// Generates a world of `users` users from [`WORLD_SEED`]. The first `n` users of a larger
    /// world are those of the world of `n` users (users are drawn one after another).
    pub(crate) fn generate_users(users: usize) -> Self {
        let mut rng = SplitMix64::new(WORLD_SEED);
        // About half of the 64 permissions each: every bit is a fair coin.
        let role_bits: Vec<u64> = (0..ROLES).map(|_| rng.next_u64()).collect();
        let mut user_role = Vec::with_capacity(users);
        let mut user_all = Vec::with_capacity(users);
        let mut user_stores = Vec::with_capacity(users);
        for u in 0..users {
            if u == 0 {
                // The owner: role 0 (level 1) at every store.
                user_role.push(0);
                user_all.push(true);
                user_stores.push(Vec::new());
                continue;
            }
            user_role.push(rng.below(ROLES));
            if rng.percent(10) {
                user_all.push(true);
                user_stores.push(Vec::new());
            } else {
                let count = 1 + rng.below(5);
                let mut stores = Vec::with_capacity(count);
                while stores.len() < count {
                    let s = store_key(rng.below(STORES));
                    if !stores.contains(&s) {
                        stores.push(s);
                    }
                }
                stores.sort_unstable();
                user_all.push(false);
                user_stores.push(stores);
            }
        }
        World {
            role_bits,
            user_role,
            user_all,
            user_stores,
        }
    }

    /// The permission bits of user number `u`'s role (empty if out of range).
    pub(crate) fn user_bits(&self, u: usize) -> u64 {
        self.user_role
            .get(u)
            .and_then(|&r| self.role_bits.get(r))
            .copied()
            .unwrap_or(0)
    }

    /// The whole world as one batch for `Engine::unchecked_apply`.
    pub(crate) fn mutations(&self) -> Vec<Mutation<Perm64>> {
        let mut batch = Vec::with_capacity(1 + STORES + ROLES + USERS);
        batch.push(Mutation::PutAccount(Account::new(ACCOUNT, "Bench Retail")));
        for s in 0..STORES {
            batch.push(Mutation::PutStore(Store::new(
                StoreId::new(store_key(s)),
                ACCOUNT,
                format!("Store {s}"),
            )));
        }
        for (r, &bits) in self.role_bits.iter().enumerate() {
            // Role 0 is the owner's level-1 role; the others are levels 2 and 3.
            let level = Level::below_top(if r == 0 { 0 } else { 1 + (r % 2) as u8 });
            batch.push(Mutation::PutRole(Role::new(
                role_id(r),
                ACCOUNT,
                format!("Role {r}"),
                level,
                Perm64::from_bits_retain(bits),
            )));
        }
        let grants = self
            .user_role
            .iter()
            .zip(&self.user_all)
            .zip(&self.user_stores);
        for (u, ((&role, &all), stores)) in grants.enumerate() {
            let access = if all {
                Access::All
            } else {
                Access::specific(stores.iter().map(|&s| StoreId::new(s)))
            };
            let user = User::new(
                user_id(u),
                ACCOUNT,
                &format!("user{u}"),
                &format!("user{u}@example.com"),
            )
            .with_owner(u == 0)
            .with_grant(Grant::new(role_id(role), access));
            batch.push(Mutation::PutUser(user));
        }
        batch
    }

    /// The compact floor's tables: a 16-byte record per user, one shared list of store runs,
    /// the account's stores, and the id map for [`CompactFloor::can_by_id`].
    pub(crate) fn compact_floor(&self) -> CompactFloor {
        let mut records = Vec::with_capacity(self.user_role.len());
        let mut runs = Vec::new();
        for (u, (&all, stores)) in self.user_all.iter().zip(&self.user_stores).enumerate() {
            // Runs are found by u32 offsets: far more than any world here needs (a wrapped
            // offset would make the floor disagree with the engine, which the benches check).
            let start = u32::try_from(runs.len()).unwrap_or(u32::MAX);
            let len = if all {
                ALL_STORES
            } else {
                runs.extend_from_slice(stores);
                u32::try_from(stores.len()).unwrap_or(0)
            };
            records.push(FloorRecord {
                // Every user of the workload is enabled; a disabled one would get an empty mask
                // here, as the engine's quick entry has (and so be denied everything).
                mask: self.user_bits(u),
                start,
                len,
            });
        }
        let ids = (0..self.user_role.len())
            .map(|u| (user_id(u).get(), u32::try_from(u).unwrap_or(u32::MAX)))
            .collect();
        CompactFloor {
            account: ACCOUNT.get(),
            records,
            runs,
            account_stores: (0..STORES).map(store_key).collect(),
            ids,
        }
    }

    /// The per-user-`Vec` floor's tables.
    pub(crate) fn floor(&self) -> Floor {
        Floor {
            bits: (0..self.user_role.len())
                .map(|u| self.user_bits(u))
                .collect(),
            all: self.user_all.clone(),
            stores: self.user_stores.clone(),
        }
    }

    /// `n` queries from `seed`, about half of them allowed: the store is one of the user's with
    /// probability 1/2 (any store for a user with every store), else any store; the permission
    /// is one of the role's with probability 7/10, else any of the 64.
    pub(crate) fn queries(&self, n: usize, seed: u64) -> Queries {
        let mut rng = SplitMix64::new(seed);
        let mut floor = Vec::with_capacity(n);
        let mut engine = Vec::with_capacity(n);
        while floor.len() < n {
            let u = rng.below(self.user_role.len());
            let bits = self.user_bits(u);
            let own = self.user_stores.get(u).map_or(&[][..], Vec::as_slice);
            let store = if rng.percent(50) && !own.is_empty() {
                own.get(rng.below(own.len()))
                    .copied()
                    .unwrap_or_else(|| store_key(0))
            } else {
                store_key(rng.below(STORES))
            };
            let bit = if rng.percent(70) && bits != 0 {
                nth_set_bit(bits, rng.below(bits.count_ones() as usize))
            } else {
                rng.below(64) as u32
            };
            let perm = 1u64 << bit;
            floor.push(FloorQuery {
                user: u,
                perm,
                account: ACCOUNT.get(),
                store,
            });
            engine.push(EngineQuery {
                user: user_id(u),
                perm: Perm64::from_bits_retain(perm),
                on: OnStore(ACCOUNT, StoreId::new(store)),
            });
        }
        Queries { floor, engine }
    }
}

/// The position of the `n`-th (from 0) set bit of `bits`; `bits` must have more than `n`.
fn nth_set_bit(mut bits: u64, n: usize) -> u32 {
    for _ in 0..n {
        bits &= bits - 1;
    }
    bits.trailing_zeros()
}

/// The per-user-`Vec` floor: the same decision from plain vectors indexed by dense user number,
/// each user's stores in a heap block of their own. It does not compare the query's account and
/// does not check that a store exists for an all-stores user (every query of the workload is in
/// the account and names one of its stores); [`CompactFloor`] does both, as the engine must.
#[derive(Debug, Clone)]
pub(crate) struct Floor {
    /// Permission bits of each user's role.
    pub(crate) bits: Vec<u64>,
    /// Whether each user has every store.
    pub(crate) all: Vec<bool>,
    /// Each user's sorted store keys.
    pub(crate) stores: Vec<Vec<u64>>,
}

impl Floor {
    /// Whether user number `user` holds `perm` at store `store`.
    #[inline]
    pub(crate) fn can(&self, user: usize, perm: u64, store: u64) -> bool {
        let Some(&bits) = self.bits.get(user) else {
            return false;
        };
        bits & perm == perm
            && (self.all.get(user) == Some(&true)
                || self
                    .stores
                    .get(user)
                    .is_some_and(|s| s.binary_search(&store).is_ok()))
    }
}

/// [`FloorRecord::len`] of a user at every store of the account.
pub(crate) const ALL_STORES: u32 = u32::MAX;

/// One user of the [`CompactFloor`]: 16 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FloorRecord {
    /// The permissions the user holds at the stores of the record: the role's bits (the
    /// workload's catalog has no account-wide, owner-only or withheld permission, so nothing
    /// is taken out). A disabled user would have an empty mask.
    pub(crate) mask: u64,
    /// Where the user's run starts in [`CompactFloor::runs`].
    pub(crate) start: u32,
    /// The run's length, or [`ALL_STORES`].
    pub(crate) len: u32,
}

const _: () = assert!(size_of::<FloorRecord>() == 16);

impl FloorRecord {
    /// The compact floor's check of one record: `perm` held, the account right (`in_account`),
    /// and `store` in the record's run of `runs` or, for a user at every store, among
    /// `account_stores`.
    #[inline]
    pub(crate) fn allows(
        &self,
        perm: u64,
        in_account: bool,
        store: u64,
        runs: &[u64],
        account_stores: &HashSet<u64, IdBuild>,
    ) -> bool {
        if perm == 0 || self.mask & perm != perm || !in_account {
            return false;
        }
        if self.len == ALL_STORES {
            return account_stores.contains(&store);
        }
        let start = self.start as usize;
        let run = runs.get(start..start + self.len as usize).unwrap_or(&[]);
        // As the engine searches runs: linearly up to eight stores, else by bisection.
        if run.len() <= 8 {
            run.contains(&store)
        } else {
            run.binary_search(&store).is_ok()
        }
    }
}

/// The compact floor: the plainest layout that answers the engine's quick-path question, for
/// one account.
///
/// What [`CompactFloor::can`] proves, and so what a `true` means (the same things the engine's
/// keyed `Reader::can` proves for a store check on this workload, see
/// `src/engine/index/check.rs`, `Index::quick`):
///
/// 1. the user exists (its dense number is in range);
/// 2. some permission is asked (the engine denies an empty one);
/// 3. the user holds every asked permission (its mask; a disabled user's mask is empty, where
///    the engine reads a `Disabled` marker instead);
/// 4. the query's account is the user's account (the floor holds one account, so this is a
///    comparison with it; the engine reads the account's id from its small accounts table);
/// 5. the store is in the user's run, which proves it exists in the account (runs name only
///    the account's stores, as the engine's do by validation), or, for a user at every store,
///    the store exists in the account (a hash-set lookup with the engine's kind of hasher,
///    where the engine looks the store up in its store table and compares its account).
///
/// What it does not do, which the engine does: verify that a key's position still holds the
/// named user (a dense number is trusted; a `UserKey` is only a hint), check that its index
/// is current (the `ready` flag), load the current snapshot (the reader's one atomic read),
/// or route users it cannot decide (several grants, a store ceiling, account-wide or
/// owner-only permissions) to a full check: on this workload every user is decided by the
/// quick path, so the engine tests for those cases without ever taking them.
#[derive(Debug, Clone)]
pub(crate) struct CompactFloor {
    /// The one account's raw key.
    pub(crate) account: u64,
    /// One record per user, by dense number.
    pub(crate) records: Vec<FloorRecord>,
    /// Every specific-stores user's stores, ascending within each user's run, runs in user
    /// order.
    pub(crate) runs: Vec<u64>,
    /// The account's stores, for users at every store.
    pub(crate) account_stores: HashSet<u64, IdBuild>,
    /// Sparse user id to dense number, for [`CompactFloor::can_by_id`].
    pub(crate) ids: HashMap<u64, u32, IdBuild>,
}

impl CompactFloor {
    /// Whether user number `user` holds `perm` at store `store` of account `account`.
    #[inline]
    pub(crate) fn can(&self, user: usize, perm: u64, account: u64, store: u64) -> bool {
        self.records.get(user).is_some_and(|r| {
            r.allows(
                perm,
                account == self.account,
                store,
                &self.runs,
                &self.account_stores,
            )
        })
    }

    /// The dense number of the user with sparse id `id`.
    #[inline]
    pub(crate) fn dense(&self, id: u64) -> Option<usize> {
        self.ids.get(&id).map(|&u| u as usize)
    }

    /// [`CompactFloor::can`] for the user with sparse id `id`: one lookup in a hash map with
    /// the engine's hasher, then the same check.
    #[inline]
    pub(crate) fn can_by_id(&self, id: u64, perm: u64, account: u64, store: u64) -> bool {
        self.dense(id)
            .is_some_and(|u| self.can(u, perm, account, store))
    }
}

/// Builds [`Mix`] hashers: the floors' id hashing.
pub(crate) type IdBuild = BuildHasherDefault<Mix>;

/// The splitmix64 finaliser, exactly as the engine hashes ids (`IdHasher` in
/// `src/model/ids.rs`, which the crate does not export).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Mix(u64);

impl Hasher for Mix {
    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// One query for the floors: dense user number, permission bits, account and store keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FloorQuery {
    /// Dense user number.
    pub(crate) user: usize,
    /// One permission bit.
    pub(crate) perm: u64,
    /// The account's raw key.
    pub(crate) account: u64,
    /// The store's raw key.
    pub(crate) store: u64,
}

/// The same query for the engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EngineQuery {
    /// The user's (sparse) id.
    pub(crate) user: UserId,
    /// One permission.
    pub(crate) perm: Perm64,
    /// The store.
    pub(crate) on: OnStore,
}

/// The same queries in both forms, in the same order.
#[derive(Debug, Clone)]
pub(crate) struct Queries {
    /// For the floor.
    pub(crate) floor: Vec<FloorQuery>,
    /// For the engine.
    pub(crate) engine: Vec<EngineQuery>,
}

/// An audit sink for memory measurements: the load's audit record (a copy of the whole batch,
/// R19) belongs in the host's audit storage, not in the engine's memory, so this hands it on
/// to nothing.
#[derive(Debug)]
pub(crate) struct Elsewhere;

impl<P> shopguard::audit::AuditSink<P> for Elsewhere {
    fn record(
        &self,
        _records: &[shopguard::audit::AuditRecord<P>],
    ) -> Result<(), shopguard::Error> {
        Ok(())
    }
}

/// `VmRSS` of this process in bytes, where `/proc` has it.
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
