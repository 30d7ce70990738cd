//! # shopguard-axum
//!
//! [shopguard] in an [axum] service: an extractor that resolves the actor
//! ([`Actor`]), a guard that a route states in its signature ([`Permitted`]), and JSON error
//! responses with one status per [`ErrorKind`] ([`ApiError`]).
//!
//! The host's router state implements [`Guarded`]: which engine, and who is asking (a header,
//! a session, JWT claims: the host's authentication, turned into a [`UserId`]).
//!
//! ```
//! use std::sync::Arc;
//! use axum::http::request::Parts;
//! use axum::{Router, routing::post};
//! use shopguard::catalog::pos::Pos;
//! use shopguard::{Engine, OnStore, StoreId, UserId};
//! use shopguard_axum::{Actor, ApiError, Guarded, Permitted, Requirement};
//!
//! #[derive(Clone)]
//! struct App { engine: Arc<Engine<Pos>> }
//!
//! impl Guarded for App {
//!     type Catalog = Pos;
//!     fn engine(&self) -> &Engine<Pos> { &self.engine }
//!     // The host's authentication: here a trusted proxy's header.
//!     fn actor_id(&self, parts: &Parts) -> Option<UserId> {
//!         let id = parts.headers.get("x-user-id")?.to_str().ok()?.parse().ok()?;
//!         Some(UserId::new(id))
//!     }
//! }
//!
//! /// `POST /stores/{store}/sales` needs `SELL` at that store.
//! struct Sell;
//!
//! impl Requirement<App> for Sell {
//!     type Resource = OnStore;
//!     fn permission() -> Pos { Pos::SELL }
//!     async fn resource(parts: &mut Parts, actor: &Actor, _: &App) -> Result<OnStore, ApiError> {
//!         let store: u64 = shopguard_axum::path_param(parts, "store").await?;
//!         Ok(OnStore(actor.account(), StoreId::new(store)))
//!     }
//! }
//!
//! async fn sell(sale: Permitted<Sell, App>) -> String {
//!     format!("sold by `{}`", sale.actor().id())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/stores/{store}/sales", post(sell))
//!     .with_state(App { engine: Arc::new(Engine::new()) });
//! ```
//!
//! ## Statuses
//!
//! | [`ErrorKind`] | status |
//! | --- | --- |
//! | `InvalidActor` (unknown or disabled actor, or none) | 401 |
//! | `NotPermitted`, `Hierarchy`, `OutsideScope`, `Escalation`, `Owner` | 403 |
//! | `NotFound`, `WrongAccount` | 404 |
//! | `Conflict`, `SeatLimit`, `Duplicate`, `InUse` | 409 |
//! | `InvalidInput` | 422 |
//! | `Storage`, `Audit`, `Behind`, `OutcomeUnknown`, `ReadOnly` (a partitioned replica) | 503 |
//!
//! A denied check ([`Permitted`], [`Actor::require`]) is 403 with its reason, 404 if the
//! resource names something not in the actor's account, 401 if the actor was disabled
//! meanwhile. A user or role the actor may not see reads as none
//! ([`Engine::check_redacted`]): 404 with the body a missing one gets, never 403, so that a
//! status cannot tell an actor which users exist. The body is always `{"kind", "message", "problems"}`, plus `"reason"` for a denied
//! check: the kind by its [code](ErrorKind::code), the problems in [`shopguard::Problem`]'s
//! form. An unknown actor is 401 before any target is looked at, so it never learns which
//! targets exist.

#![forbid(unsafe_code)]

/// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use core::fmt;
use core::marker::PhantomData;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shopguard::{
    AccountId, Catalog, Decision, DenyReason, Engine, Error, ErrorKind, UserId, UserKey,
};

/// The host's router state, as the extractors see it.
pub trait Guarded: Clone + Send + Sync + 'static {
    /// The permission catalog.
    type Catalog: Catalog;

    /// The engine that decides.
    fn engine(&self) -> &Engine<Self::Catalog>;

    /// Who is asking, from the request: the host's authentication (a header set by a trusted
    /// proxy, a session, verified JWT claims). `None` when the request says nobody; the
    /// extractor then answers 401. It **must not** trust anything the client could forge.
    fn actor_id(&self, parts: &Parts) -> Option<UserId>;
}

/// The actor of a request: an enabled user of the engine. Extracting it answers 401 when the
/// request names nobody, a user that does not exist, or a disabled one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    key: UserKey,
    account: AccountId,
}

impl Actor {
    /// The user.
    pub fn id(&self) -> UserId {
        self.key.id()
    }

    /// The user's [`UserKey`], resolved when the actor was extracted: checks by key skip the
    /// lookup by id.
    pub fn key(&self) -> UserKey {
        self.key
    }

    /// The user's account.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The guard, inside a handler: the actor may use `permission` on `resource`.
    ///
    /// The check is [`Engine::check_redacted`]: a user or role the actor may not see is
    /// answered as no user or role (404), so the answer never tells a hidden one from a
    /// missing one.
    ///
    /// # Errors
    ///
    /// An [`ApiError`] for the denial: 403 with its reason, 404 if the resource names something
    /// not in the actor's account (or a user or role it may not see), 401 if the actor was
    /// disabled or removed meanwhile.
    pub fn require<P: Catalog, R: shopguard::Resource + ?Sized>(
        &self,
        engine: &Engine<P>,
        permission: P,
        resource: &R,
    ) -> Result<(), ApiError> {
        match engine.check_redacted(self.key, permission, resource) {
            Decision::Allow(_) => Ok(()),
            Decision::Deny(reason) => Err(ApiError::denied(reason)),
        }
    }
}

impl<S: Guarded> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Some(id) = state.actor_id(parts) else {
            return Err(ApiError::no_actor());
        };
        // One lookup; the guard's check then goes by key.
        match state.engine().active_user(id) {
            Some((key, account)) => Ok(Actor { key, account }),
            None => Err(ApiError::denied(DenyReason::UnknownUser)),
        }
    }
}

/// What a route needs: one permission on one resource, the resource read from the request
/// (its path, for instance with [`path_param`]) and the actor.
pub trait Requirement<S: Guarded>: Send + Sync + 'static {
    /// The resource the permission is asked on.
    type Resource: shopguard::Resource + Send + Sync;

    /// The permission.
    fn permission() -> S::Catalog;

    /// The resource this request is about.
    ///
    /// # Errors
    ///
    /// An [`ApiError`] to answer with, if the request does not name a resource (a malformed
    /// path: 422).
    fn resource(
        parts: &mut Parts,
        actor: &Actor,
        state: &S,
    ) -> impl Future<Output = Result<Self::Resource, ApiError>> + Send;
}

/// A request allowed by the [`Requirement`] `G`: extracting it resolves the actor, reads the
/// resource and checks the permission before the handler runs; a route that takes it cannot
/// run without it.
pub struct Permitted<G: Requirement<S>, S: Guarded> {
    actor: Actor,
    resource: G::Resource,
    _state: PhantomData<fn() -> S>,
}

impl<G: Requirement<S>, S: Guarded> Permitted<G, S> {
    /// The actor.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The resource the permission was checked on.
    pub fn resource(&self) -> &G::Resource {
        &self.resource
    }
}

impl<G: Requirement<S>, S: Guarded> fmt::Debug for Permitted<G, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permitted")
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl<G: Requirement<S>, S: Guarded> FromRequestParts<S> for Permitted<G, S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let actor = Actor::from_request_parts(parts, state).await?;
        let resource = G::resource(parts, &actor, state).await?;
        actor.require(state.engine(), G::permission(), &resource)?;
        Ok(Permitted {
            actor,
            resource,
            _state: PhantomData,
        })
    }
}

/// One named parameter of the route's path (`{store}`), parsed.
///
/// # Errors
///
/// 422 if the route has no such parameter or it does not parse.
pub async fn path_param<T: std::str::FromStr>(
    parts: &mut Parts,
    name: &str,
) -> Result<T, ApiError> {
    let bad = || ApiError::invalid(format!("path parameter `{name}` is missing or malformed"));
    // The router's own parameters, percent-decoded, not copied into strings.
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| bad())?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(bad)
}

/// The HTTP status for an error kind (the table in the crate docs); 500 for a kind this
/// release does not know.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidActor => StatusCode::UNAUTHORIZED,
        ErrorKind::NotPermitted
        | ErrorKind::Hierarchy
        | ErrorKind::OutsideScope
        | ErrorKind::Escalation
        | ErrorKind::Owner => StatusCode::FORBIDDEN,
        ErrorKind::NotFound | ErrorKind::WrongAccount => StatusCode::NOT_FOUND,
        ErrorKind::Conflict | ErrorKind::SeatLimit | ErrorKind::Duplicate | ErrorKind::InUse => {
            StatusCode::CONFLICT
        }
        ErrorKind::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        // A partitioned replica takes no writes: this server cannot serve the request, another
        // (the writer) can.
        ErrorKind::Storage
        | ErrorKind::Audit
        | ErrorKind::Behind
        | ErrorKind::OutcomeUnknown
        | ErrorKind::ReadOnly => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as an HTTP response: a refused write ([`shopguard::Error`], converted with `?`),
/// a denied check, or a request without an actor.
#[derive(Debug)]
pub struct ApiError(Repr);

#[derive(Debug)]
enum Repr {
    Refused(Error),
    Denied(DenyReason),
    Other { kind: ErrorKind, message: String },
}

impl ApiError {
    /// A denied check, by its reason.
    pub fn denied(reason: DenyReason) -> Self {
        ApiError(Repr::Denied(reason))
    }

    /// A malformed request (422).
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError(Repr::Other {
            kind: ErrorKind::InvalidInput,
            message: message.into(),
        })
    }

    fn no_actor() -> Self {
        ApiError(Repr::Other {
            kind: ErrorKind::InvalidActor,
            message: "the request does not say who is asking".to_owned(),
        })
    }

    /// The kind: the refused write's, or the one a denial answers as.
    pub fn kind(&self) -> ErrorKind {
        match &self.0 {
            Repr::Refused(e) => e.kind(),
            Repr::Denied(r) => denial_kind(*r),
            Repr::Other { kind, .. } => *kind,
        }
    }

    /// The HTTP status ([`status`] of the [`kind`](Self::kind)).
    pub fn status(&self) -> StatusCode {
        status(self.kind())
    }

    /// The JSON body: `{"kind", "message", "problems"}`, and `"reason"` for a denied check.
    pub fn body(&self) -> Value {
        match &self.0 {
            Repr::Refused(e) => json!({
                "kind": e.kind(),
                "message": e.to_string(),
                "problems": e.problems(),
                "problems_omitted": e.problems_omitted(),
            }),
            // The same answer for an unknown and a disabled actor, without a reason.
            Repr::Denied(r) if denial_kind(*r) == ErrorKind::InvalidActor => json!({
                "kind": ErrorKind::InvalidActor,
                "message": "the actor may not act",
                "problems": [],
            }),
            Repr::Denied(r) => json!({
                "kind": denial_kind(*r),
                "message": format!("denied: {r}"),
                "problems": [],
                "reason": r,
            }),
            Repr::Other { kind, message } => json!({
                "kind": kind,
                "message": message,
                "problems": [],
            }),
        }
    }
}

/// The kind a denied check answers as.
fn denial_kind(reason: DenyReason) -> ErrorKind {
    match reason {
        DenyReason::UnknownUser | DenyReason::UserDisabled => ErrorKind::InvalidActor,
        DenyReason::WrongAccount
        | DenyReason::UnknownStore(_)
        | DenyReason::UnknownSource(_)
        | DenyReason::UnknownChannel(_)
        | DenyReason::UnknownRole(_)
        | DenyReason::UnknownTargetUser(_) => ErrorKind::NotFound,
        _ => ErrorKind::NotPermitted,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(Repr::Refused(e))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Refused(e) => fmt::Display::fmt(e, f),
            Repr::Denied(r) => write!(f, "denied: {r}"),
            Repr::Other { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Repr::Refused(e) => Some(e),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_the_status_of_the_issue() {
        let cases = [
            (ErrorKind::InvalidActor, 401),
            (ErrorKind::NotPermitted, 403),
            (ErrorKind::Hierarchy, 403),
            (ErrorKind::OutsideScope, 403),
            (ErrorKind::Escalation, 403),
            (ErrorKind::Owner, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::WrongAccount, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::SeatLimit, 409),
            (ErrorKind::Duplicate, 409),
            (ErrorKind::InUse, 409),
            (ErrorKind::InvalidInput, 422),
            (ErrorKind::Storage, 503),
            (ErrorKind::Audit, 503),
            (ErrorKind::Behind, 503),
            (ErrorKind::OutcomeUnknown, 503),
            (ErrorKind::ReadOnly, 503),
        ];
        for (kind, code) in cases {
            assert_eq!(status(kind).as_u16(), code, "{kind}");
        }
    }

    #[test]
    fn a_denial_for_an_unknown_or_disabled_actor_says_the_same_and_no_reason() {
        let unknown = ApiError::denied(DenyReason::UnknownUser);
        let disabled = ApiError::denied(DenyReason::UserDisabled);
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.body(), disabled.body());
        assert_eq!(unknown.body().get("reason"), None);
        let outside = ApiError::denied(DenyReason::OutsideScope(shopguard::Dimension::Store));
        assert_eq!(outside.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            outside.body(),
            json!({
                "kind": "not_permitted",
                "message": "denied: outside the user's store scope",
                "problems": [],
                "reason": {"reason": "outside_scope", "detail": "store"},
            })
        );
    }
}
