//! What the guard costs an HTTP request: one server, two routes answering the same bytes, one
//! behind `Permitted` (actor extraction, path parameter, `check`) and one not.
//!
//! 1. Over HTTP: a keep-alive HTTP/1.1 client on loopback sends them in alternating rounds and
//!    prints requests per second for each, and their difference as a share of a request.
//! 2. In process: the same router called directly (`tower::ServiceExt::oneshot`, no socket),
//!    in alternating rounds: the difference between the two routes is the guard's own cost,
//!    measured without the network's noise, and printed as a share of the HTTP request of 1.
//!
//! `cargo run --release -p shopguard-axum --example guard_cost [requests per round] [rounds]`
//! (20,000 and 7 by default; BENCHMARKS.md). Run it on a quiet machine: the two routes are
//! timed in turn, so a busy machine moves one against the other.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use shopguard::catalog::pos::{self, Pos};
use shopguard::{
    Access, Account, AccountId, Engine, Grant, Mutation, OnStore, RoleId, Store, StoreId, User,
    UserId,
};
use shopguard_axum::{Actor, ApiError, Guarded, Permitted, Requirement, path_param};
use tower::ServiceExt;

#[derive(Clone)]
struct App {
    engine: Arc<Engine<Pos>>,
}

impl Guarded for App {
    type Catalog = Pos;
    fn engine(&self) -> &Engine<Pos> {
        &self.engine
    }
    fn actor_id(&self, parts: &Parts) -> Option<UserId> {
        let id = parts
            .headers
            .get("x-user-id")?
            .to_str()
            .ok()?
            .parse()
            .ok()?;
        Some(UserId::new(id))
    }
}

struct Sell;

impl Requirement<App> for Sell {
    type Resource = OnStore;
    fn permission() -> Pos {
        Pos::SELL
    }
    async fn resource(parts: &mut Parts, actor: &Actor, _: &App) -> Result<OnStore, ApiError> {
        Ok(OnStore(
            actor.account(),
            StoreId::new(path_param(parts, "store").await?),
        ))
    }
}

async fn guarded(_: Permitted<Sell, App>) -> &'static str {
    "ok"
}

async fn open(axum::extract::Path(_store): axum::extract::Path<u64>) -> &'static str {
    "ok"
}

/// Sends `n` requests for `path` on one keep-alive connection; returns requests per second.
fn drive(stream: &mut TcpStream, path: &str, n: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\nx-user-id: 3\r\n\r\n");
    let mut reader = BufReader::new(stream.try_clone()?);
    let start = Instant::now();
    for _ in 0..n {
        stream.write_all(request.as_bytes())?;
        let (mut length, mut line) = (0usize, String::new());
        reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            return Err(format!("{path}: {line}").into());
        }
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
    }
    Ok(f64::from(n) / start.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shop = AccountId::new(1);
    let engine = Engine::<Pos>::new();
    engine.unchecked_apply([
        Mutation::PutAccount(Account::new(shop, "Corner Shop")),
        Mutation::PutStore(Store::new(StoreId::new(10), shop, "North")),
        Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
        Mutation::PutRole(pos::cashier(RoleId::new(3), shop)),
        Mutation::PutUser(
            User::new(UserId::new(1), shop, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
        Mutation::PutUser(
            User::new(UserId::new(3), shop, "ana", "ana@shop.example").with_grant(Grant::new(
                RoleId::new(3),
                Access::specific([StoreId::new(10)]),
            )),
        ),
    ])?;
    let app: Router = Router::new()
        .route("/guarded/{store}", get(guarded))
        .route("/open/{store}", get(open))
        .with_state(App {
            engine: Arc::new(engine),
        });
    let served = app.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    rt.spawn(async move { axum::serve(listener, served).await });

    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(20_000).max(1);
    let rounds = args.get(1).copied().unwrap_or(7).max(1);
    let warm = n.min(2_000);

    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    drive(&mut stream, "/open/10", warm)?;
    drive(&mut stream, "/guarded/10", warm)?;
    let (mut open_rates, mut guarded_rates) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        open_rates.push(drive(&mut stream, "/open/10", n)?);
        guarded_rates.push(drive(&mut stream, "/guarded/10", n)?);
    }
    let (o, g) = (median(&mut open_rates), median(&mut guarded_rates));
    let request = 1e6 / o;
    println!("1. over HTTP, medians of {rounds} rounds of {n} requests:");
    println!("   without the guard: {o:.0} requests/s, {request:.2} µs a request");
    println!(
        "   with the guard:    {g:.0} requests/s, {:.2} µs a request",
        1e6 / g
    );
    println!(
        "   difference: {:.3} µs, {:.2} % of a request",
        1e6 / g - request,
        (1e6 / g - request) / request * 100.0
    );

    // The router itself, no socket: what the guard adds to the work of a request.
    let (mut open_ns, mut guarded_ns) = (Vec::new(), Vec::new());
    rt.block_on(async {
        in_process(&app, "/open/10", warm).await?;
        in_process(&app, "/guarded/10", warm).await?;
        for _ in 0..rounds {
            open_ns.push(in_process(&app, "/open/10", n).await?);
            guarded_ns.push(in_process(&app, "/guarded/10", n).await?);
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    let (o, g) = (median(&mut open_ns), median(&mut guarded_ns));
    let guard = (g - o) / 1e3;
    println!("2. in process (the router called directly), medians of {rounds} rounds of {n}:");
    println!("   without the guard: {o:.0} ns a call; with the guard: {g:.0} ns");
    println!(
        "   the guard: {guard:.3} µs, {:.2} % of the HTTP request of 1 ({request:.2} µs)",
        guard / request * 100.0
    );
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Calls the router `n` times for `path`, in process; returns nanoseconds per call.
async fn in_process(app: &Router, path: &str, n: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    for _ in 0..n {
        let req = Request::get(path)
            .header("x-user-id", "3")
            .body(Body::empty())?;
        let res = app.clone().oneshot(req).await?;
        if res.status() != StatusCode::OK {
            return Err(format!("{path}: {}", res.status()).into());
        }
    }
    Ok(start.elapsed().as_nanos() as f64 / f64::from(n))
}
