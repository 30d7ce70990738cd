//! The POS story (seed 000) as an HTTP service on SQLite: sell, reports, invite, disable,
//! import, and a list of orders filtered in SQL by `scope_for` — every route guarded by
//! shopguard through `shopguard-axum`.
//!
//! `cargo run -p shopguard-axum --example axum_service` drives the router through in-process
//! requests (`tower::ServiceExt::oneshot`), prints each answer, and exits non-zero on any
//! unexpected status or body. `… --example axum_service -- serve 127.0.0.1:3000` listens
//! instead; the actor is the `x-user-id` header (a trusted proxy's, in this story).

#![expect(
    clippy::indexing_slicing,
    reason = "indexing a serde_json::Value by key answers Null for a missing key, never panics"
)]

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use shopguard::catalog::pos::{self, Pos};
use shopguard::import::CsvLimits;
use shopguard::scope::{Columns, Dialect, SqlParam};
use shopguard::storage::SqliteStorage;
use shopguard::{
    Access, Account, AccountId, AsyncEngine, Change, Engine, Grant, Mutation, OnStore, RoleId,
    Store, StoreId, User, UserId,
};
use shopguard_axum::{Actor, ApiError, Guarded, Permitted, Requirement, path_param};
use tower::ServiceExt;

const SHOP: AccountId = AccountId::new(1);
const OTHER_SHOP: AccountId = AccountId::new(2);
const NORTH: u64 = 10;
const SOUTH: u64 = 11;
const OTHER_STORE: u64 = 20;
const ADMIN: RoleId = RoleId::new(1);
const MANAGER: RoleId = RoleId::new(2);
const CASHIER: RoleId = RoleId::new(3);
const OWNER: u64 = 1;
const MARK: u64 = 2;
const ANA: u64 = 3;

/// The router state: the engine, its async writes and the host's orders table. New users get
/// their ids from the engine's sequence (`next_ids`): this host has none of its own.
#[derive(Clone)]
pub(crate) struct App {
    engine: Arc<Engine<Pos>>,
    writes: AsyncEngine<Pos>,
    orders: Arc<Mutex<rusqlite::Connection>>,
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

/// The shop's staff and stores, and another merchant on the same service.
fn seed() -> Vec<Mutation<Pos>> {
    let staff = |id: u64, name: &str, role: RoleId, stores: Access<StoreId>| {
        User::new(
            UserId::new(id),
            SHOP,
            name,
            &format!("{name}@corner.example"),
        )
        .with_grant(Grant::new(role, stores))
    };
    vec![
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop").with_seat_limit(4)),
        Mutation::PutStore(Store::new(StoreId::new(NORTH), SHOP, "North")),
        Mutation::PutStore(Store::new(StoreId::new(SOUTH), SHOP, "South")),
        Mutation::PutRole(pos::admin(ADMIN, SHOP)),
        Mutation::PutRole(pos::manager(MANAGER, SHOP)),
        Mutation::PutRole(pos::cashier(CASHIER, SHOP)),
        Mutation::PutUser(
            staff(OWNER, "owner", ADMIN, Access::All)
                .with_owner(true)
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(staff(
            MARK,
            "mark",
            MANAGER,
            Access::specific([StoreId::new(NORTH)]),
        )),
        Mutation::PutUser(staff(
            ANA,
            "ana",
            CASHIER,
            Access::specific([StoreId::new(NORTH)]),
        )),
        Mutation::PutAccount(Account::new(OTHER_SHOP, "Other Shop")),
        Mutation::PutStore(Store::new(
            StoreId::new(OTHER_STORE),
            OTHER_SHOP,
            "Elsewhere",
        )),
        Mutation::PutRole(pos::admin(RoleId::new(4), OTHER_SHOP)),
        Mutation::PutUser(
            User::new(UserId::new(10), OTHER_SHOP, "olga", "olga@other.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(4), Access::All)),
        ),
    ]
}

/// Opens the service on a SQLite file in `dir` (seeding it when new), its orders in memory.
pub(crate) fn open(dir: &Path) -> Result<App, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let engine = Arc::new(Engine::open(SqliteStorage::open(
        dir.join("shopguard.db"),
    )?)?);
    if engine.revision() == 0 {
        engine.unchecked_apply(seed())?;
    }
    let orders = rusqlite::Connection::open_in_memory()?;
    orders.execute_batch(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, account_id INTEGER NOT NULL,
             store_id INTEGER NOT NULL);
         INSERT INTO orders (account_id, store_id) VALUES (1, 10), (1, 11), (2, 20);",
    )?;
    Ok(App {
        writes: AsyncEngine::new(Arc::clone(&engine)),
        engine,
        orders: Arc::new(Mutex::new(orders)),
    })
}

/// The routes.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/stores/{store}/sales", post(sell))
        .route("/stores/{store}/reports", get(reports))
        .route("/orders", get(orders))
        .route("/users", post(invite))
        .route("/users/{user}/disable", post(disable))
        .route("/users/import", post(import))
        .with_state(app)
}

/// The store of the path, in the actor's account: a store of another account reads as no
/// store of this one.
async fn store_of(parts: &mut Parts, actor: &Actor) -> Result<OnStore, ApiError> {
    let store: u64 = path_param(parts, "store").await?;
    Ok(OnStore(actor.account(), StoreId::new(store)))
}

/// `POST /stores/{store}/sales` needs `SELL` there.
pub(crate) struct Sell;

impl Requirement<App> for Sell {
    type Resource = OnStore;
    fn permission() -> Pos {
        Pos::SELL
    }
    async fn resource(parts: &mut Parts, actor: &Actor, _: &App) -> Result<OnStore, ApiError> {
        store_of(parts, actor).await
    }
}

/// `GET /stores/{store}/reports` needs `VIEW_REPORTS` there.
pub(crate) struct Reports;

impl Requirement<App> for Reports {
    type Resource = OnStore;
    fn permission() -> Pos {
        Pos::VIEW_REPORTS
    }
    async fn resource(parts: &mut Parts, actor: &Actor, _: &App) -> Result<OnStore, ApiError> {
        store_of(parts, actor).await
    }
}

async fn sell(State(app): State<App>, sale: Permitted<Sell, App>) -> impl IntoResponse {
    let OnStore(account, store) = *sale.resource();
    let db = app.orders.lock().unwrap_or_else(PoisonError::into_inner);
    let inserted = db.execute(
        "INSERT INTO orders (account_id, store_id) VALUES (?1, ?2)",
        [
            SqlParam::as_i64(account.get()),
            SqlParam::as_i64(store.get()),
        ],
    );
    match inserted {
        Ok(_) => (
            StatusCode::CREATED,
            Json(json!({"order": db.last_insert_rowid()})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"kind": "storage", "message": e.to_string(), "problems": []})),
        ),
    }
}

async fn reports(report: Permitted<Reports, App>) -> Json<Value> {
    let OnStore(_, store) = *report.resource();
    Json(json!({"store": store.get(), "takings": 1234}))
}

/// The orders the actor may sell at, filtered in SQL (the account is part of the filter).
async fn orders(State(app): State<App>, actor: Actor) -> Result<Json<Value>, ApiError> {
    let scope = app.engine.snapshot().scope_for(actor.id(), Pos::SELL);
    let filter = scope.to_sql(
        Dialect::Sqlite,
        &Columns::new("account_id").store("store_id"),
        1,
    )?;
    let db = app.orders.lock().unwrap_or_else(PoisonError::into_inner);
    let sql = format!(
        "SELECT id FROM orders WHERE {} ORDER BY id",
        filter.condition()
    );
    let ids: Result<Vec<i64>, rusqlite::Error> = db.prepare(&sql).and_then(|mut stmt| {
        stmt.query_map(rusqlite::params_from_iter(filter.params()), |r| r.get(0))?
            .collect()
    });
    let ids = ids.map_err(shopguard::Error::storage)?;
    Ok(Json(json!({"orders": ids})))
}

#[derive(serde::Deserialize)]
struct Invite {
    username: String,
    email: String,
    role: u64,
    stores: Vec<u64>,
}

async fn invite(
    State(app): State<App>,
    actor: Actor,
    Json(invite): Json<Invite>,
) -> Result<impl IntoResponse, ApiError> {
    let ids: Vec<UserId> = app.writes.next_ids(1).await?;
    let id = ids
        .first()
        .copied()
        .ok_or_else(|| ApiError::invalid("no id allocated"))?;
    let user =
        User::new(id, actor.account(), &invite.username, &invite.email).with_grant(Grant::new(
            RoleId::new(invite.role),
            Access::specific(invite.stores.into_iter().map(StoreId::new)),
        ));
    let applied = app
        .writes
        .apply(actor.id(), Change::CreateUser(user))
        .await?;
    Ok((StatusCode::CREATED, Json(applied)))
}

async fn disable(
    State(app): State<App>,
    actor: Actor,
    axum::extract::Path(user): axum::extract::Path<u64>,
) -> Result<Json<Value>, ApiError> {
    let applied = app
        .writes
        .apply(actor.id(), Change::DisableUser(UserId::new(user)))
        .await?;
    Ok(Json(json!({"revision": applied.revision()})))
}

async fn import(
    State(app): State<App>,
    actor: Actor,
    body: String,
) -> Result<Json<Value>, ApiError> {
    // An id for every row that could create a user, from the engine's sequence; the ones
    // not used are skipped. A file past the row limit is refused by the upload itself.
    let limits = CsvLimits::default();
    let rows = body.lines().count().min(limits.max_rows);
    let rows = u32::try_from(rows).unwrap_or(u32::MAX);
    let mut ids = app.writes.next_ids::<UserId>(rows).await?.into_iter();
    let uploaded = app
        .writes
        .upload_users_csv(
            actor.id(),
            body.into_bytes(),
            limits,
            // Never reached: a file within the limits has no more rows than that.
            move || ids.next().unwrap_or(UserId::new(u64::MAX)),
        )
        .await?;
    Ok(Json(
        json!({"created": uploaded.created(), "updated": uploaded.updated()}),
    ))
}

/// One request through the router: its status and JSON body.
async fn call(
    app: &Router,
    method: &str,
    path: &str,
    actor: Option<u64>,
    body: Option<(&str, String)>,
) -> Result<(StatusCode, Value), String> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(a) = actor {
        req = req.header("x-user-id", a.to_string());
    }
    let req = match body {
        Some((content_type, text)) => req
            .header("content-type", content_type)
            .body(Body::from(text)),
        None => req.body(Body::empty()),
    }
    .map_err(|e| e.to_string())?;
    let res = app.clone().oneshot(req).await.map_err(|e| e.to_string())?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .map_err(|e| e.to_string())?;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    println!("{method} {path} as {actor:?}: {status} {json}");
    Ok((status, json))
}

/// Fails unless `got` is `want`.
fn expect<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// The story, checked: every status and the bodies that matter.
pub(crate) async fn story(app: Router) -> Result<(), String> {
    let sale = |store: u64| format!("/stores/{store}/sales");
    // A cashier sells at her store, not at the other one: 403 with the reason.
    let (s, _) = call(&app, "POST", &sale(NORTH), Some(ANA), None).await?;
    expect("ana sells at North", s, StatusCode::CREATED)?;
    let (s, body) = call(&app, "POST", &sale(SOUTH), Some(ANA), None).await?;
    expect("ana sells at South", s, StatusCode::FORBIDDEN)?;
    expect("its kind", &body["kind"], &json!("not_permitted"))?;
    expect(
        "its reason",
        &body["reason"],
        &json!({"reason": "outside_scope", "detail": "store"}),
    )?;
    let (s, body) = call(&app, "GET", "/stores/10/reports", Some(ANA), None).await?;
    expect("ana reads reports", s, StatusCode::FORBIDDEN)?;
    expect(
        "its reason",
        &body["reason"],
        &json!({"reason": "permission_missing"}),
    )?;
    let (s, _) = call(&app, "GET", "/stores/10/reports", Some(MARK), None).await?;
    expect("mark reads North's reports", s, StatusCode::OK)?;

    // Nobody, or an unknown actor: 401 before any target is looked at.
    let (s, _) = call(&app, "POST", &sale(NORTH), None, None).await?;
    expect("no actor", s, StatusCode::UNAUTHORIZED)?;
    let (s, body) = call(&app, "POST", &sale(4040), Some(999), None).await?;
    expect(
        "an unknown actor at an unknown store",
        s,
        StatusCode::UNAUTHORIZED,
    )?;
    expect("its kind", &body["kind"], &json!("invalid_actor"))?;
    // The owner gets 404 for an unknown store and for another merchant's alike.
    let (s, _) = call(&app, "POST", &sale(4040), Some(OWNER), None).await?;
    expect("the owner at an unknown store", s, StatusCode::NOT_FOUND)?;
    let (s, _) = call(&app, "POST", &sale(OTHER_STORE), Some(OWNER), None).await?;
    expect(
        "the owner at another shop's store",
        s,
        StatusCode::NOT_FOUND,
    )?;

    // Orders, filtered in SQL: the seed's North (1) and South (2) orders, ana's sale (4);
    // never the other shop's (3).
    let (_, body) = call(&app, "GET", "/orders", Some(OWNER), None).await?;
    expect("the owner's orders", &body["orders"], &json!([1, 2, 4]))?;
    let (_, body) = call(&app, "GET", "/orders", Some(MARK), None).await?;
    expect("mark's orders", &body["orders"], &json!([1, 4]))?;

    // Invitations up to the plan's four seats, then 409.
    let invite = |name: &str| {
        Some((
            "application/json",
            json!({"username": name, "email": format!("{name}@corner.example"),
                   "role": CASHIER.get(), "stores": [NORTH]})
            .to_string(),
        ))
    };
    let (s, body) = call(&app, "POST", "/users", Some(OWNER), invite("bob")).await?;
    expect("the owner invites bob", s, StatusCode::CREATED)?;
    expect(
        "the invitation to send",
        &body["events"][0]["Invited"]["email"],
        &json!("bob@corner.example"),
    )?;
    let (s, body) = call(&app, "POST", "/users", Some(OWNER), invite("cy")).await?;
    expect("a fifth enabled user", s, StatusCode::CONFLICT)?;
    expect("its kind", &body["kind"], &json!("seat_limit"))?;
    let (s, _) = call(&app, "POST", "/users", Some(ANA), invite("dee")).await?;
    expect("a cashier invites", s, StatusCode::FORBIDDEN)?;

    // Disabled, ana can no longer act: 401, as for an unknown actor.
    let (s, _) = call(&app, "POST", "/users/3/disable", Some(OWNER), None).await?;
    expect("the owner disables ana", s, StatusCode::OK)?;
    let (s, _) = call(&app, "POST", &sale(NORTH), Some(ANA), None).await?;
    expect("disabled ana sells", s, StatusCode::UNAUTHORIZED)?;

    // Import: a bad cell is 422 with its line and column; a good file applies.
    // The POS template: a cashier is created at the stores its row names.
    let header = "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n";
    let bad = format!("{header}eve,eve@corner.example,1,Mars/Base,Cashier,North,Create\n");
    let (s, body) = call(
        &app,
        "POST",
        "/users/import",
        Some(OWNER),
        Some(("text/csv", bad)),
    )
    .await?;
    expect("a bad file", s, StatusCode::UNPROCESSABLE_ENTITY)?;
    expect(
        "its problem",
        (&body["problems"][0]["line"], &body["problems"][0]["column"]),
        (&json!(2), &json!("Timezone")),
    )?;
    let good = format!("{header}eve,eve@corner.example,1,UTC,Cashier,North,Create\n");
    let (s, body) = call(
        &app,
        "POST",
        "/users/import",
        Some(OWNER),
        Some(("text/csv", good)),
    )
    .await?;
    expect("a good file", s, StatusCode::OK)?;
    expect("users created", &body["created"], &json!(1))?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("shopguard-axum-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let app = router(open(&dir)?);
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let addr = args.get(2).map_or("127.0.0.1:3000", String::as_str);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on {addr}; the actor is the x-user-id header");
        axum::serve(listener, app).await?;
        return Ok(());
    }
    let result = story(app).await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    println!("every answer as expected");
    Ok(())
}
