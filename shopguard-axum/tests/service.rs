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
