//! The example service driven through its router (`tower::ServiceExt::oneshot`): a cashier
//! gets 403 with a JSON reason, an unknown actor 401 and never the target's 404, a seat
//! overflow 409, a bad import 422 with its line and column (the checks are in `story`).

#[path = "../examples/axum_service.rs"]
#[expect(dead_code, reason = "the example's `main` is not called here")]
mod service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pos_service_answers_every_request_of_the_story_as_expected() {
    let dir = std::env::temp_dir().join(format!("shopguard-axum-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let app = service::router(service::open(&dir).unwrap());
    let result = service::story(app).await;
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap();
}

/// The service keeps its state in SQLite: a restart (a new engine on the same file) answers
/// as the first one did after the story's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_service_keeps_the_story_writes() {
    let dir = std::env::temp_dir().join(format!("shopguard-axum-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    service::story(service::router(service::open(&dir).unwrap()))
        .await
        .unwrap();
    let again = service::open(&dir).unwrap();
    let snapshot = shopguard_axum::Guarded::engine(&again).snapshot();
    let ana = snapshot.user(shopguard::UserId::new(3)).unwrap();
    assert!(!ana.is_enabled());
    assert!(
        snapshot
            .users(shopguard::AccountId::new(1))
            .any(|u| u.username() == "eve")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// R20 through HTTP: statuses and bodies about users and roles the actor may not see.
mod hidden {
    #![expect(
        clippy::unwrap_used,
        reason = "a test fails loudly on anything unexpected"
    )]

    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::request::Parts;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use serde_json::Value;
    use shopguard::catalog::pos::{self, Pos};
    use shopguard::{
        Access, Account, AccountId, Engine, Grant, Level, Mutation, OnRole, OnUser, Role, RoleId,
        Store, StoreId, User, UserId,
    };
    use shopguard_axum::{Actor, ApiError, Guarded, Permitted, Requirement, path_param};
    use tower::ServiceExt;

    const SHOP: AccountId = AccountId::new(1);
    const NORTH: StoreId = StoreId::new(10);
    const SOUTH: StoreId = StoreId::new(11);
    /// Sees every user, at level 2.
    const VIEWER: RoleId = RoleId::new(5);
    /// Manages users and roles at level 2, where its grant reaches.
    const STAFFER: RoleId = RoleId::new(6);
    /// An actor that sees and manages users at North only.
    const NORA: u64 = 2;
    /// An actor that sees every user, and manages users at North only.
    const VERA: u64 = 3;
    const AT_NORTH: u64 = 4;
    const AT_SOUTH: u64 = 5;
    const NOBODY: u64 = 999;
    const NO_ROLE: u64 = 77;

    #[derive(Clone)]
    struct App(Arc<Engine<Pos>>);

    impl Guarded for App {
        type Catalog = Pos;
        fn engine(&self) -> &Engine<Pos> {
            &self.0
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

    /// `POST /users/{user}/disable` needs `MANAGE_USERS` on that user.
    struct Disable;

    impl Requirement<App> for Disable {
        type Resource = OnUser;
        fn permission() -> Pos {
            Pos::MANAGE_USERS
        }
        async fn resource(parts: &mut Parts, actor: &Actor, _: &App) -> Result<OnUser, ApiError> {
            Ok(OnUser(
                actor.account(),
                UserId::new(path_param(parts, "user").await?),
            ))
        }
    }

    /// `POST /roles/{role}/edit` needs `MANAGE_ROLES` on that role.
    struct EditRole;

    impl Requirement<App> for EditRole {
        type Resource = OnRole;
        fn permission() -> Pos {
            Pos::MANAGE_ROLES
        }
        async fn resource(parts: &mut Parts, actor: &Actor, _: &App) -> Result<OnRole, ApiError> {
            Ok(OnRole(
                actor.account(),
                RoleId::new(path_param(parts, "role").await?),
            ))
        }
    }

    async fn done(_: Permitted<Disable, App>) -> &'static str {
        "disabled"
    }

    async fn edited(_: Permitted<EditRole, App>) -> &'static str {
        "edited"
    }

    fn app() -> Router {
        let engine = Engine::<Pos>::new();
        let staff = |id: u64, name: &str, grants: &[(RoleId, Access<StoreId>)]| {
            grants.iter().fold(
                User::new(UserId::new(id), SHOP, name, &format!("{name}@shop.example")),
                |u, (role, stores)| u.with_grant(Grant::new(*role, stores.clone())),
            )
        };
        let north = || Access::specific([NORTH]);
        engine
            .unchecked_apply([
                Mutation::PutAccount(Account::new(SHOP, "Corner Shop")),
                Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
                Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
                Mutation::PutRole(pos::admin(RoleId::new(1), SHOP)),
                Mutation::PutRole(pos::cashier(RoleId::new(3), SHOP)),
                Mutation::PutRole(Role::new(
                    VIEWER,
                    SHOP,
                    "Viewer",
                    Level::below_top(1),
                    Pos::VIEW_USERS,
                )),
                Mutation::PutRole(Role::new(
                    STAFFER,
                    SHOP,
                    "Staffer",
                    Level::below_top(1),
                    Pos::VIEW_USERS | Pos::MANAGE_USERS | Pos::MANAGE_ROLES,
                )),
                Mutation::PutUser(
                    staff(1, "owner", &[(RoleId::new(1), Access::All)]).with_owner(true),
                ),
                Mutation::PutUser(staff(NORA, "nora", &[(STAFFER, north())])),
                Mutation::PutUser(staff(
                    VERA,
                    "vera",
                    &[(VIEWER, Access::All), (STAFFER, north())],
                )),
                Mutation::PutUser(staff(AT_NORTH, "nell", &[(RoleId::new(3), north())])),
                Mutation::PutUser(staff(
                    AT_SOUTH,
                    "sam",
                    &[(RoleId::new(3), Access::specific([SOUTH]))],
                )),
            ])
            .unwrap();
        Router::new()
            .route("/users/{user}/disable", post(done))
            .route("/roles/{role}/edit", post(edited))
            .with_state(App(Arc::new(engine)))
    }

    async fn call(app: &Router, path: &str, actor: u64) -> (StatusCode, Value) {
        let req = Request::post(path)
            .header("x-user-id", actor.to_string())
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A body with the id in it replaced, to compare the answers about two ids.
    fn without(body: &Value, id: u64) -> String {
        body.to_string()
            .replace(&format!("#{id}"), "#ID")
            .replace(&format!("\"detail\":{id}"), "\"detail\":ID")
    }

    /// R20 through HTTP: a user the actor may not see gets the answer of a user that does not
    /// exist, status and body alike; a user it sees but may not manage is 403.
    #[tokio::test]
    async fn a_hidden_user_answers_exactly_as_a_missing_one() {
        let app = app();
        let disable = |u: u64| format!("/users/{u}/disable");
        let (s, _) = call(&app, &disable(AT_NORTH), NORA).await;
        assert_eq!(s, StatusCode::OK);
        let (missing_status, missing) = call(&app, &disable(NOBODY), NORA).await;
        assert_eq!(missing_status, StatusCode::NOT_FOUND, "{missing}");
        // Nora sees North only: Sam, at South, exists but is hidden from her.
        let (hidden_status, hidden) = call(&app, &disable(AT_SOUTH), NORA).await;
        assert_eq!(hidden_status, missing_status, "{hidden}");
        assert_eq!(without(&hidden, AT_SOUTH), without(&missing, NOBODY));
        assert_eq!(hidden["reason"]["reason"], "unknown_target_user");
        // Vera sees every user: Sam is visible to her, and may not be managed: 403.
        let (s, body) = call(&app, &disable(AT_SOUTH), VERA).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["reason"]["reason"], "outside_scope");
        let (s, _) = call(&app, &disable(NOBODY), VERA).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // A cashier sees no user: every one reads as missing.
        let (s, hidden) = call(&app, &disable(NORA), AT_NORTH).await;
        let (_, missing) = call(&app, &disable(NOBODY), AT_NORTH).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{hidden}");
        assert_eq!(without(&hidden, NORA), without(&missing, NOBODY));
    }

    /// R6 through HTTP: a role above the actor's level answers as a role that does not exist.
    #[tokio::test]
    async fn a_role_above_the_actor_answers_exactly_as_a_missing_one() {
        let app = app();
        let edit = |r: u64| format!("/roles/{r}/edit");
        let (s, _) = call(&app, &edit(3), NORA).await;
        assert_eq!(s, StatusCode::OK);
        let (missing_status, missing) = call(&app, &edit(NO_ROLE), NORA).await;
        assert_eq!(missing_status, StatusCode::NOT_FOUND);
        // The admin role is at level 1, above Nora's level 2.
        let (hidden_status, hidden) = call(&app, &edit(1), NORA).await;
        assert_eq!(hidden_status, missing_status, "{hidden}");
        assert_eq!(without(&hidden, 1), without(&missing, NO_ROLE));
        // The owner sees the role: allowed.
        let (s, _) = call(&app, &edit(1), 1).await;
        assert_eq!(s, StatusCode::OK);
    }
}
