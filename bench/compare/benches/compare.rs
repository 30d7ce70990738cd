//! shopguard side by side with casbin and cedar-policy (issue #6), on the workload of
//! `benches/check.rs`: one account, 1,000 stores, 20 roles over a 64-permission catalog, each
//! user one role at one to five stores (one in ten at every store), queries about half allowed.
//!
//! Environment:
//! - `COMPARE_USERS=n` keeps only the first `n` users of the 100,000-user world (queries are drawn
//!   from those users only); default 100,000.
//! - `COMPARE_ONLY=floor|floor_compact|shopguard|casbin|cedar|none` loads only that engine,
//!   answers a few queries, prints the process's peak RSS (`VmHWM`) and exits without timing
//!   anything.
//! - `COMPARE_SKIP=casbin,cedar` leaves those peers out of a timing run.
//!
//! Every engine must agree with the floor on every one of [`AGREE`] queries (and on the answer
//! after each update) before anything is timed; a disagreement is an error.
//!
//! Two floors: `floor_compact` ([`CompactFloor`]: a 16-byte record per user, one shared list of
//! store runs, the account and store existence checked as the engine checks them), the one the
//! keyed row is compared with; and `floor_vec_per_user`, the former floor (each user's stores in
//! a heap `Vec` of its own; no account or store-existence check), called `floor` in earlier
//! results.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use casbin::prelude::{CoreApi, DefaultModel, Enforcer, MgmtApi, StringAdapter};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
use criterion::Criterion;
use shopguard::{Access, Grant, Mutation, OnStore, StoreId, User};

#[path = "../../../benches/workload/mod.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "the shared workload module serves several benches; this one uses part of it"
)]
mod workload;

use workload::{CompactFloor, Floor, Perm64, World};

type Res<T> = Result<T, Box<dyn Error>>;

/// Queries every engine must answer exactly as the floor does before anything is timed.
const AGREE: usize = 10_000;
/// Single checks timed one by one for the p99.
const P99_CHECKS: usize = 10_000;
/// Queries cycled through by the criterion benchmarks (a power of two).
const BENCH_QUERIES: usize = 4096;
/// Seeds of the query streams.
const AGREE_SEED: u64 = 0x0c4e_c4ed_0000_0002;
const P99_SEED: u64 = 0x0c4e_c4ed_0000_0003;
const BENCH_SEED: u64 = 0x0c4e_c4ed_0000_0001;

// ---------------------------------------------------------------------------------------------
// The world, possibly cut to its first `n` users.

fn world(users: usize) -> World {
    let mut w = World::generate();
    w.user_role.truncate(users);
    w.user_all.truncate(users);
    w.user_stores.truncate(users);
    w
}

/// One query in every engine's form.
struct Q {
    user: usize,
    perm_bit: u32,
    store: u64,
    sg: workload::EngineQuery,
    cb: (String, String, String),
    cd: (EntityUid, EntityUid, EntityUid),
}

struct Names {
    user_type: EntityTypeName,
    role_type: EntityTypeName,
    store_type: EntityTypeName,
    actions: Vec<EntityUid>,
}

impl Names {
    fn new() -> Res<Self> {
        let action_type = EntityTypeName::from_str("Action")?;
        let actions = (0..64)
            .map(|b| uid(&action_type, &format!("P{b}")))
            .collect::<Res<Vec<_>>>()?;
        Ok(Names {
            user_type: EntityTypeName::from_str("User")?,
            role_type: EntityTypeName::from_str("Role")?,
            store_type: EntityTypeName::from_str("Store")?,
            actions,
        })
    }
    fn user(&self, u: usize) -> Res<EntityUid> {
        uid(&self.user_type, &workload::user_id(u).get().to_string())
    }
    fn role(&self, r: usize) -> Res<EntityUid> {
        uid(&self.role_type, &format!("r{r}"))
    }
    fn store(&self, key: u64) -> Res<EntityUid> {
        uid(&self.store_type, &key.to_string())
    }
    fn action(&self, bit: u32) -> Res<EntityUid> {
        self.actions
            .get(bit as usize)
            .cloned()
            .ok_or_else(|| format!("no action {bit}").into())
    }
}

fn uid(t: &EntityTypeName, id: &str) -> Res<EntityUid> {
    Ok(EntityUid::from_type_name_and_id(
        t.clone(),
        EntityId::from_str(id)?,
    ))
}

fn cb_user(u: usize) -> String {
    format!("u{}", workload::user_id(u).get())
}
fn cb_store(key: u64) -> String {
    format!("s{key}")
}

fn queries(w: &World, n: usize, seed: u64, names: &Names) -> Res<Vec<Q>> {
    let qs = w.queries(n, seed);
    qs.floor
        .iter()
        .zip(qs.engine)
        .map(|(f, e)| {
            let bit = f.perm.trailing_zeros();
            Ok(Q {
                user: f.user,
                perm_bit: bit,
                store: f.store,
                sg: e,
                cb: (cb_user(f.user), cb_store(f.store), format!("P{bit}")),
                cd: (
                    names.user(f.user)?,
                    names.action(bit)?,
                    names.store(f.store)?,
                ),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The engines.

fn load_shopguard(w: &World) -> Res<shopguard::Engine<Perm64>> {
    let engine = shopguard::Engine::<Perm64>::new();
    engine.unchecked_apply(w.mutations())?;
    Ok(engine)
}

fn cf_can(f: &CompactFloor, q: &Q) -> bool {
    f.can(q.user, 1 << q.perm_bit, q.sg.on.0.get(), q.store)
}

fn sg_can(e: &shopguard::Engine<Perm64>, q: &Q) -> bool {
    e.can(q.sg.user, q.sg.perm, &q.sg.on)
}

/// Each query's user as a `UserKey`, resolved once (as a host does when a session starts).
fn sg_keys(e: &shopguard::Engine<Perm64>, qs: &[Q]) -> Res<Vec<shopguard::UserKey>> {
    qs.iter()
        .map(|q| {
            e.user_key(q.sg.user)
                .ok_or_else(|| "a query's user has no key".into())
        })
        .collect()
}

/// RBAC with domains, a store being a domain. An all-stores grant links the user to its role in
/// the domain `*`; the matcher asks for a link in the request's store or in `*`. The action test
/// comes first so that `g` is evaluated only for the policies of the requested permission.
const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && (g(r.sub, p.sub, r.dom) || g(r.sub, p.sub, "*"))
"#;

/// `COMPARE_CASBIN_PAD=1`: also link every specific-stores user to an empty role `none` in the
/// domain `*`. Same answers; it only spares casbin-rs a linear scan of the `*` domain's graph
/// when the user has no node there (see `DefaultRoleManager::has_link`).
fn casbin_pad() -> bool {
    std::env::var("COMPARE_CASBIN_PAD").is_ok_and(|v| v == "1")
}

fn casbin_rules(u: usize, role: usize, all: bool, stores: &[u64], pad: bool, out: &mut String) {
    for rule in casbin_grouping(u, role, all, stores, pad) {
        out.push_str("g, ");
        out.push_str(&rule.join(", "));
        out.push('\n');
    }
}

fn casbin_grouping(
    u: usize,
    role: usize,
    all: bool,
    stores: &[u64],
    pad: bool,
) -> Vec<Vec<String>> {
    if all {
        vec![vec![cb_user(u), format!("role{role}"), "*".to_owned()]]
    } else {
        let mut rules: Vec<Vec<String>> = stores
            .iter()
            .map(|&s| vec![cb_user(u), format!("role{role}"), cb_store(s)])
            .collect();
        if pad {
            rules.push(vec![cb_user(u), "none".to_owned(), "*".to_owned()]);
        }
        rules
    }
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().build()?)
}

fn load_casbin(w: &World, rt: &tokio::runtime::Runtime) -> Res<Enforcer> {
    use std::fmt::Write;
    let mut text = String::new();
    for (r, &bits) in w.role_bits.iter().enumerate() {
        for b in 0..64 {
            if bits & (1 << b) != 0 {
                let _ = writeln!(text, "p, role{r}, P{b}");
            }
        }
    }
    let pad = casbin_pad();
    for u in 0..w.user_role.len() {
        casbin_rules(
            u,
            w.user_role[u],
            w.user_all[u],
            &w.user_stores[u],
            pad,
            &mut text,
        );
    }
    let mut e = rt.block_on(async {
        let m = DefaultModel::from_str(CASBIN_MODEL).await?;
        Enforcer::new(m, StringAdapter::new(text)).await
    })?;
    // The string adapter cannot store changes: updates go to the in-memory model only.
    e.enable_auto_save(false);
    Ok(e)
}

fn cb_can(e: &Enforcer, q: &Q) -> Res<bool> {
    Ok(e.enforce((q.cb.0.as_str(), q.cb.1.as_str(), q.cb.2.as_str()))?)
}

fn cedar_policies(w: &World) -> Res<PolicySet> {
    let mut text = String::new();
    for (r, &bits) in w.role_bits.iter().enumerate() {
        let actions: Vec<String> = (0..64)
            .filter(|b| bits & (1u64 << b) != 0)
            .map(|b| format!("Action::\"P{b}\""))
            .collect();
        text.push_str(&format!(
            "permit(principal in Role::\"r{r}\", action in [{}], resource is Store)\n  \
             when {{ principal.allStores || principal.stores.contains(resource) }};\n",
            actions.join(", ")
        ));
    }
    Ok(PolicySet::from_str(&text)?)
}

fn cedar_user(names: &Names, u: usize, role: usize, all: bool, stores: &[u64]) -> Res<Entity> {
    let set = stores
        .iter()
        .map(|&s| Ok(RestrictedExpression::new_entity_uid(names.store(s)?)))
        .collect::<Res<Vec<_>>>()?;
    let attrs = HashMap::from([
        ("allStores".to_owned(), RestrictedExpression::new_bool(all)),
        ("stores".to_owned(), RestrictedExpression::new_set(set)),
    ]);
    Ok(Entity::new(
        names.user(u)?,
        attrs,
        HashSet::from([names.role(role)?]),
    )?)
}

struct Cedar {
    authorizer: Authorizer,
    policies: PolicySet,
    entities: Entities,
}

fn load_cedar(w: &World, names: &Names) -> Res<Cedar> {
    let policies = cedar_policies(w)?;
    let mut all = Vec::with_capacity(w.user_role.len() + workload::STORES + workload::ROLES);
    for r in 0..w.role_bits.len() {
        all.push(Entity::new_no_attrs(names.role(r)?, HashSet::new()));
    }
    for s in 0..workload::STORES {
        all.push(Entity::new_no_attrs(
            names.store(workload::store_key(s))?,
            HashSet::new(),
        ));
    }
    for u in 0..w.user_role.len() {
        all.push(cedar_user(
            names,
            u,
            w.user_role[u],
            w.user_all[u],
            &w.user_stores[u],
        )?);
    }
    let entities = Entities::from_entities(all, None)?;
    Ok(Cedar {
        authorizer: Authorizer::new(),
        policies,
        entities,
    })
}

fn cd_can(c: &Cedar, q: &Q) -> Res<bool> {
    let req = Request::new(
        q.cd.0.clone(),
        q.cd.1.clone(),
        q.cd.2.clone(),
        Context::empty(),
        None,
    )?;
    let resp = c.authorizer.is_authorized(&req, &c.policies, &c.entities);
    Ok(resp.decision() == Decision::Allow)
}

// ---------------------------------------------------------------------------------------------
// Measurements outside criterion.

fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn timed<T>(label: &str, f: impl FnOnce() -> Res<T>) -> Res<T> {
    let t = Instant::now();
    let v = f()?;
    eprintln!("setup {label}: {:.3?}", t.elapsed());
    Ok(v)
}

/// The p50 and p99 of `qs` checked one at a time (each check timed alone with `Instant`).
fn percentiles(qs: &[Q], mut check: impl FnMut(&Q) -> Res<bool>) -> Res<(Duration, Duration)> {
    let mut times = Vec::with_capacity(qs.len());
    for q in qs {
        let t = Instant::now();
        black_box(check(black_box(q))?);
        times.push(t.elapsed());
    }
    times.sort_unstable();
    let at = |p: usize| {
        times
            .get((times.len() * p / 100).min(times.len() - 1))
            .copied()
    };
    Ok((at(50).unwrap_or_default(), at(99).unwrap_or_default()))
}

fn agree(label: &str, qs: &[Q], floor: &Floor, mut check: impl FnMut(&Q) -> Res<bool>) -> Res<()> {
    let t = Instant::now();
    let mut allowed = 0usize;
    for (i, q) in qs.iter().enumerate() {
        let want = floor.can(q.user, 1u64 << q.perm_bit, q.store);
        let got = check(q)?;
        if want != got {
            return Err(format!(
                "{label} disagrees with the floor on query {i}: floor {want}, {label} {got} \
                 (user {}, P{}, store {})",
                q.user, q.perm_bit, q.store
            )
            .into());
        }
        allowed += usize::from(got);
    }
    eprintln!(
        "agreement {label}: {} queries, {allowed} allowed, all equal to the floor ({:.2?})",
        qs.len(),
        t.elapsed()
    );
    Ok(())
}

/// A user with specific stores whose grant is flipped back and forth by the update test: the
/// alternative grant is another role at other stores, and the probe query is allowed by exactly
/// one of the two grants.
struct Flip {
    user: usize,
    grants: [(usize, Vec<u64>); 2],
    probe_bit: u32,
    probe_store: u64,
}

fn flip(w: &World) -> Res<Flip> {
    for u in 1..w.user_role.len() {
        if w.user_all[u] {
            continue;
        }
        let r0 = w.user_role[u];
        let r1 = (r0 + 1) % w.role_bits.len();
        let only_new = w.role_bits[r1] & !w.role_bits[r0];
        let s0 = w.user_stores[u].clone();
        let s1: Vec<u64> = (0..workload::STORES)
            .map(workload::store_key)
            .filter(|s| !s0.contains(s))
            .take(3)
            .collect();
        if only_new != 0
            && let Some(&probe_store) = s1.first()
        {
            return Ok(Flip {
                user: u,
                grants: [(r0, s0), (r1, s1)],
                probe_bit: only_new.trailing_zeros(),
                probe_store,
            });
        }
    }
    Err("no user to flip".into())
}

fn probe(f: &Flip, names: &Names) -> Res<Q> {
    let perm = Perm64::from_bits_retain(1u64 << f.probe_bit);
    Ok(Q {
        user: f.user,
        perm_bit: f.probe_bit,
        store: f.probe_store,
        sg: workload::EngineQuery {
            user: workload::user_id(f.user),
            perm,
            on: OnStore(workload::ACCOUNT, StoreId::new(f.probe_store)),
        },
        cb: (
            cb_user(f.user),
            cb_store(f.probe_store),
            format!("P{}", f.probe_bit),
        ),
        cd: (
            names.user(f.user)?,
            names.action(f.probe_bit)?,
            names.store(f.probe_store)?,
        ),
    })
}

/// Median time of `rounds` updates, each flipping the user to the other grant and checking the
/// probe until it gives the new answer (it must on the first check).
fn update_median(
    label: &str,
    rounds: usize,
    f: &Flip,
    p: &Q,
    mut update: impl FnMut(usize, &(usize, Vec<u64>)) -> Res<()>,
    mut check: impl FnMut(&Q) -> Res<bool>,
) -> Res<Duration> {
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let next = (i + 1) % 2;
        let want = next == 1;
        let t = Instant::now();
        update(next, &f.grants[next])?;
        let got = check(p)?;
        times.push(t.elapsed());
        if got != want {
            return Err(
                format!("{label}: after update {i}, probe gives {got}, want {want}").into(),
            );
        }
    }
    times.sort_unstable();
    let med = times.get(times.len() / 2).copied().unwrap_or_default();
    eprintln!("update {label}: median {med:.3?} over {rounds} updates (update + next check)");
    Ok(med)
}

fn sg_user(u: usize, role: usize, stores: &[u64]) -> User {
    User::new(
        workload::user_id(u),
        workload::ACCOUNT,
        &format!("user{u}"),
        &format!("user{u}@example.com"),
    )
    .with_grant(Grant::new(
        workload::role_id(role),
        Access::specific(stores.iter().map(|&s| StoreId::new(s))),
    ))
}

// ---------------------------------------------------------------------------------------------

fn env_users() -> Res<usize> {
    match std::env::var("COMPARE_USERS") {
        Ok(v) => Ok(v.parse()?),
        Err(_) => Ok(workload::USERS),
    }
}

/// `COMPARE_ONLY=engine`: load that engine alone and print the peak RSS.
fn memory_only(which: &str, users: usize) -> Res<()> {
    let w = world(users);
    let names = Names::new()?;
    let qs = queries(&w, 1000, AGREE_SEED, &names)?;
    let floor = w.floor();
    let before = peak_rss();
    let t = Instant::now();
    let mut allowed = 0usize;
    match which {
        "none" => {}
        "floor" => {
            let fl = w.floor();
            allowed = qs
                .iter()
                .filter(|q| fl.can(q.user, 1 << q.perm_bit, q.store))
                .count();
        }
        "floor_compact" => {
            let fl = w.compact_floor();
            allowed = qs.iter().filter(|q| cf_can(&fl, q)).count();
        }
        "shopguard" => {
            let e = load_shopguard(&w)?;
            allowed = qs.iter().filter(|q| sg_can(&e, q)).count();
        }
        "casbin" => {
            let rt = runtime()?;
            let e = load_casbin(&w, &rt)?;
            for q in &qs {
                allowed += usize::from(cb_can(&e, q)?);
            }
        }
        "cedar" => {
            let c = load_cedar(&w, &names)?;
            for q in &qs {
                allowed += usize::from(cd_can(&c, q)?);
            }
        }
        other => return Err(format!("COMPARE_ONLY={other}: unknown engine").into()),
    }
    let expect = qs
        .iter()
        .filter(|q| floor.can(q.user, 1 << q.perm_bit, q.store))
        .count();
    if which != "none" && allowed != expect {
        return Err(format!("{which}: {allowed} allowed of 1000, floor {expect}").into());
    }
    println!(
        "memory {which} ({users} users): load+1000 checks {:.2?}; before load: {before}; after: {}",
        t.elapsed(),
        peak_rss()
    );
    Ok(())
}

fn main() -> Res<()> {
    let users = env_users()?;
    if let Ok(which) = std::env::var("COMPARE_ONLY") {
        return memory_only(&which, users);
    }
    let skip = std::env::var("COMPARE_SKIP").unwrap_or_default();
    let with_casbin = !skip.contains("casbin");
    let with_cedar = !skip.contains("cedar");

    let w = world(users);
    let names = Names::new()?;
    eprintln!("world: {users} users; casbin padding {}", casbin_pad());

    let floor = timed("floor", || Ok(w.floor()))?;
    let compact = timed("compact floor", || Ok(w.compact_floor()))?;
    let sg = timed("shopguard", || load_shopguard(&w))?;
    let rt = runtime()?;
    let mut cb = if with_casbin {
        Some(timed("casbin", || load_casbin(&w, &rt))?)
    } else {
        None
    };
    let mut cd = if with_cedar {
        Some(timed("cedar", || load_cedar(&w, &names))?)
    } else {
        None
    };

    // Agreement with the floor, before anything is timed.
    let agree_qs = queries(&w, AGREE, AGREE_SEED, &names)?;
    agree("compact floor", &agree_qs, &floor, |q| {
        Ok(cf_can(&compact, q))
    })?;
    agree("shopguard", &agree_qs, &floor, |q| Ok(sg_can(&sg, q)))?;
    {
        // The key and reader path must agree as well.
        let keys = sg_keys(&sg, &agree_qs)?;
        let mut reader = sg.reader();
        let mut n = 0usize;
        agree("shopguard (key)", &agree_qs, &floor, |q| {
            let k = keys.get(n).copied().ok_or("no key")?;
            n += 1;
            Ok(reader.can(k, q.sg.perm, &q.sg.on))
        })?;
    }
    if let Some(e) = &cb {
        agree("casbin", &agree_qs, &floor, |q| cb_can(e, q))?;
    }
    if let Some(c) = &cd {
        agree("cedar", &agree_qs, &floor, |q| cd_can(c, q))?;
    }
    drop(agree_qs);

    // p50 / p99 of single checks, each timed alone.
    let p_qs = queries(&w, P99_CHECKS, P99_SEED, &names)?;
    let report = |label: &str, (p50, p99): (Duration, Duration)| {
        eprintln!("single checks {label}: p50 {p50:.2?}, p99 {p99:.2?} ({P99_CHECKS} checks)");
    };
    // The cost of the timing itself: `Instant::now` twice around nothing.
    report(
        "(timer only)",
        percentiles(&p_qs, |q| Ok(black_box(q).user == usize::MAX))?,
    );
    report(
        "floor (Vec per user)",
        percentiles(&p_qs, |q| Ok(floor.can(q.user, 1 << q.perm_bit, q.store)))?,
    );
    report(
        "floor (compact)",
        percentiles(&p_qs, |q| Ok(cf_can(&compact, q)))?,
    );
    report("shopguard", percentiles(&p_qs, |q| Ok(sg_can(&sg, q)))?);
    {
        // The keyed form through a reader, keys resolved before timing.
        let keys = sg_keys(&sg, &p_qs)?;
        let mut reader = sg.reader();
        let mut n = 0usize;
        report(
            "shopguard (key)",
            percentiles(&p_qs, |q| {
                let k = keys.get(n).copied().ok_or("no key")?;
                n += 1;
                Ok(reader.can(k, q.sg.perm, &q.sg.on))
            })?,
        );
    }
    if let Some(e) = &cb {
        report("casbin", percentiles(&p_qs, |q| cb_can(e, q))?);
    }
    if let Some(c) = &cd {
        report("cedar", percentiles(&p_qs, |q| cd_can(c, q))?);
    }
    drop(p_qs);

    // Update one user's grant until the next check sees it.
    let f = flip(&w)?;
    let p = probe(&f, &names)?;
    update_median(
        "shopguard",
        1000,
        &f,
        &p,
        |_, (role, stores)| {
            sg.unchecked_apply([Mutation::PutUser(sg_user(f.user, *role, stores))])?;
            Ok(())
        },
        |q| Ok(sg_can(&sg, q)),
    )?;
    if let Some(e) = cb.as_mut() {
        let e = std::cell::RefCell::new(e);
        update_median(
            "casbin",
            200,
            &f,
            &p,
            |_, (role, stores)| {
                let mut e = e.borrow_mut();
                rt.block_on(async {
                    e.remove_filtered_grouping_policy(0, vec![cb_user(f.user)])
                        .await?;
                    e.add_grouping_policies(casbin_grouping(
                        f.user,
                        *role,
                        false,
                        stores,
                        casbin_pad(),
                    ))
                    .await
                })?;
                Ok(())
            },
            |q| cb_can(&e.borrow(), q),
        )?;
    }
    if let Some(c) = cd.as_mut() {
        let c = std::cell::RefCell::new(c);
        update_median(
            "cedar",
            20,
            &f,
            &p,
            |_, (role, stores)| {
                let mut c = c.borrow_mut();
                let user = cedar_user(&names, f.user, *role, false, stores)?;
                let old = std::mem::replace(&mut c.entities, Entities::empty());
                c.entities = old.upsert_entities([user], None)?;
                Ok(())
            },
            |q| cd_can(&c.borrow(), q),
        )?;
    }

    // Criterion: one check per iteration, cycling through a pre-generated query array.
    let qs = queries(&w, BENCH_QUERIES, BENCH_SEED, &names)?;
    let keys = sg_keys(&sg, &qs)?;
    drop(w);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group(format!("compare_{users}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mask = BENCH_QUERIES - 1;
    group.bench_function("floor_compact", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let q = &qs[i & mask];
            i = i.wrapping_add(1);
            cf_can(&compact, q)
        });
    });
    group.bench_function("floor_vec_per_user", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let q = &qs[i & mask];
            i = i.wrapping_add(1);
            floor.can(q.user, 1 << q.perm_bit, q.store)
        });
    });
    group.bench_function("shopguard", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let q = &qs[i & mask];
            i = i.wrapping_add(1);
            sg_can(&sg, q)
        });
    });
    // The fast form: a reader per thread, the user as a key resolved once.
    group.bench_function("shopguard_key", |b| {
        let mut reader = sg.reader();
        let mut i = 0usize;
        b.iter(|| {
            let q = &qs[i & mask];
            let k = keys[i & mask];
            i = i.wrapping_add(1);
            reader.can(k, q.sg.perm, &q.sg.on)
        });
    });
    if let Some(e) = &cb {
        group.bench_function("casbin", |b| {
            let mut i = 0usize;
            b.iter(|| {
                let q = &qs[i & mask];
                i = i.wrapping_add(1);
                cb_can(e, q).unwrap_or(false)
            });
        });
    }
    if let Some(c) = &cd {
        group.bench_function("cedar", |b| {
            let mut i = 0usize;
            b.iter(|| {
                let q = &qs[i & mask];
                i = i.wrapping_add(1);
                cd_can(c, q).unwrap_or(false)
            });
        });
    }
    group.finish();
    c.final_summary();
    Ok(())
}
