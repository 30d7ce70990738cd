//! # shopguard
//!
//! An authorization engine for retail point-of-sale (POS) and order-management (OMS) services.
//! It models retail access natively — roles with hierarchy levels, permission bitsets, store /
//! source / sales-channel scopes, the account owner, seat limits — and answers
//! `can(user, permission, resource)` from memory, without allocating or locking.
//!
//! ## A first example
//!
//! ```
//! use shopguard::catalog::pos::{self, Pos};
//! use shopguard::{
//!     Access, Account, AccountId, Decision, DenyReason, Dimension, Engine, Grant, Mutation,
//!     OnStore, Store, StoreId, User, UserId, RoleId,
//! };
//!
//! let engine = Engine::<Pos>::new();
//! let shop = AccountId::new(1);
//! let (north, south) = (StoreId::new(10), StoreId::new(11));
//! let (admin, cashier) = (RoleId::new(1), RoleId::new(3));
//! // Bootstrap skips authorization, so it is named `unchecked_`; invariants still hold.
//! engine.unchecked_apply([
//!     Mutation::PutAccount(Account::new(shop, "Corner Shop").with_seat_limit(3)),
//!     Mutation::PutStore(Store::new(north, shop, "North")),
//!     Mutation::PutStore(Store::new(south, shop, "South")),
//!     Mutation::PutRole(pos::admin(admin, shop)),
//!     Mutation::PutRole(pos::cashier(cashier, shop)),
//!     Mutation::PutUser(
//!         User::new(UserId::new(1), shop, "owner", "owner@example.com")
//!             .with_owner(true)
//!             .with_grant(Grant::new(admin, Access::All)),
//!     ),
//!     Mutation::PutUser(
//!         User::new(UserId::new(2), shop, "ana", "ana@example.com")
//!             .with_grant(Grant::new(cashier, Access::specific([north]))),
//!     ),
//! ])?;
//!
//! let ana = UserId::new(2);
//! assert!(engine.can(ana, Pos::SELL, &OnStore(shop, north)));
//! assert_eq!(
//!     engine.check(ana, Pos::SELL, &OnStore(shop, south)),
//!     Decision::Deny(DenyReason::OutsideScope(Dimension::Store)),
//! );
//! assert_eq!(
//!     engine.check(ana, Pos::VIEW_REPORTS, &OnStore(shop, north)),
//!     Decision::Deny(DenyReason::PermissionMissing),
//! );
//!
//! // In a request loop: resolve the user once, check through a per-thread reader.
//! let mut reader = engine.reader();
//! let key = engine.user_key(ana).ok_or("no such user")?;
//! assert!(reader.can(key, Pos::SELL, &OnStore(shop, north)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Concepts
//!
//! - An [`Account`] is one merchant (tenant). One [`Engine`] serves many; a check never crosses
//!   from one account into another (the resource names its account, and every store, source,
//!   channel, role and user it names must belong to it).
//! - Stores, sources and sales channels are the three scope dimensions. Access to each is
//!   [`Access::None`], [`Access::All`] (including ones created later) or [`Access::Specific`].
//! - A permission catalog is a `bitflags` type implementing [`Catalog`]: every flag has a name,
//!   an area and a description, and a [`Reach`]. Write one with [`permission_catalog!`] or use a
//!   ready one from [`catalog`].
//! - A [`Role`] has a hierarchy [`Level`] (1 = top), permissions and a scope ceiling. A [`User`]
//!   holds one or more [`Grant`]s (a role at some stores) and source and channel access. The
//!   effective scope of a grant is the role's ceiling ∩ the user's access.
//! - A [`Resource`] says which account it belongs to and where it lies on each dimension
//!   ([`Place`]). Host types (an order) implement it; built-ins cover the account, a store, a
//!   source, a channel, a role and a user ([`OnAccount`], [`OnStore`], …).
//!
//! ## Decision semantics
//!
//! Deny by default (R1). A check is allowed iff the user exists, is enabled and belongs to the
//! resource's account, everything the resource names exists in that account, and some grant's
//! role holds every asked permission with the resource inside the grant's effective scope on
//! every dimension the resource has (R2). In order, a denial is for: an unknown user, a disabled
//! user, no permission asked, an owner-only permission asked by someone else (R11), a resource
//! of another account, an unknown store / source / channel / role / user, no sources assigned
//! while the resource is source-scoped (R4), no grant holding the permission, or the resource
//! outside every holding grant's scope ([`DenyReason::OutsideScope`]) or, for a role or a user
//! holding roles, above the grant's level ([`DenyReason::AboveLevel`], R6); a resource that is
//! [`Place::Unplaced`] on a dimension (an order pending sourcing, R5; the account as a whole)
//! needs `All` there ([`DenyReason::NeedsAll`]). An order pending sourcing that names a sales
//! channel needs all sales channels too, unless its account says otherwise
//! ([`PendingSourcing`]).
//!
//! Account-wide permissions ([`Reach::AccountWide`], and [`Reach::EntityBilling`] when the
//! account bills at entity level) are not narrowed by store access (R13). They are still
//! narrowed by sources and channels.
//!
//! ## Administration
//!
//! Every change is a [`Change`] made by an actor through [`Engine::apply`] (or
//! [`Engine::apply_all`], all or nothing). The engine authorizes it first: role visibility by
//! [`Level`] (R6, R7), no privilege escalation — for every permission, each grant of a changed
//! user reaches a box of stores × sources × channels, which must lie inside one box that user or
//! the actor had before (R8) — invite rights and store-limited user managers (R9, R10), the
//! account owner (R11). Then it validates
//! the state the change produces (seat limit R12, roles in use R15, usernames, e-mails and
//! timezones R16), records the attempt with an [`AuditSink`](audit::AuditSink) (R19), stores and publishes it.
//! A refused change leaves memory and storage as they were. [`Engine::unchecked_apply_as`]
//! skips authorization, for bootstrap and migrations, keeps every invariant, and is audited
//! under the system the host names. Stores, sources and sales channels, and the plan's seat
//! limit, are changes like users and roles ([`Change`]).
//!
//! ## Storage and replicas
//!
//! Checks never touch storage. A [`storage::Storage`] backend makes every accepted batch
//! durable (with its audit records, in one transaction) before [`Engine::apply`] returns:
//! [`storage::Volatile`] (the default: nothing is kept), [`storage::MemoryStorage`], and, behind
//! features, `SqliteStorage` (one host) and `PgStorage` (several replicas). Replicas share a
//! store: every batch gets an increasing revision, writes are serialized by the store (a change
//! planned on an old state is planned again, or refused with [`ErrorKind::Conflict`] if another
//! replica wrote the same objects), an engine opened on a shared store follows it by itself
//! (below), and [`Engine::at_least`] reads one's own writes across replicas. A fleet larger
//! than one machine's memory is split by account: [`Engine::open_for`] opens a read-only
//! replica that loads, follows and answers for some accounts only.
//!
//! ### When a replica can be stale
//!
//! [`Engine::open`] on a store that other engines may write — other processes on one SQLite
//! file, replicas on one PostgreSQL schema ([`Storage::is_shared`](storage::Storage::is_shared))
//! — **follows** it: a thread of the engine's own reads what the others store and publishes
//! it, until the engine is dropped. A user disabled by one process is then denied by every
//! other one's checks, with no call:
//!
//! - on SQLite within about a millisecond of the commit (the follower polls the file's head);
//! - on PostgreSQL as soon as the commit's notification arrives;
//! - in any case within **one second**: the follower reads the store every second whatever it
//!   was told, so a lost notification or a dropped connection costs at most that — as long as
//!   the store can be read and the machine runs the follower's thread.
//!
//! Beyond that a replica is stale only while it cannot read the store (the database is down, a
//! stored batch cannot be applied): it keeps answering from the last state it read, and
//! [`Engine::follow_error`] says why; the follower keeps trying. Engines opened with
//! [`Engine::open_unfollowed`], and engines sharing a [`storage::MemoryStorage`] in one
//! process, are stale until they [`sync`](Engine::sync), [`follow`](Engine::follow) or write
//! (a write catches up first). The engine that made a write sees it at once; another replica
//! reads it with [`Engine::at_least`].
//!
//! ## Reverse queries
//!
//! [`Snapshot::scope_for`] answers "where may this user do P" per dimension, ready for a SQL
//! `WHERE` in PostgreSQL, SQLite or MySQL, the user's account always part of it
//! ([`ScopeFor::to_sql`](scope::ScopeFor::to_sql)); [`Snapshot::who_can`] answers "who may do P here" from an index
//! of grant holders; [`Snapshot::explain`] lists what every grant said. All agree with `can`.
//!
//! ## Security notes
//!
//! - [`Engine::can`] never panics and never errs: anything it cannot make sense of denies.
//! - Permissions are stored and audited by their catalog names, and decoded strictly: an
//!   unknown name, or an unknown bit in a mask an older store holds, is corruption, never
//!   ignored.
//! - Paths that skip authorization are named `unchecked_*`.
//! - A denial's reason ([`Engine::check`]) is exact, for the host's logs and admin screens.
//!   An answer sent back to the asker uses [`Engine::check_redacted`], where a user or role
//!   the asker may not see reads as none (R20): a status must not tell a hidden user from a
//!   missing one.
//! - Column names given to [`ScopeFor::to_sql`](scope::ScopeFor::to_sql) must be plain identifiers; anything else is
//!   refused, since they are pasted into SQL text. Ids travel as parameters.
//! - Ids are the host's 64-bit keys, hashed with a fast non-keyed hash. They should come from the
//!   host's database, not from a client that could pick many colliding ids.
//!
//! ## Crate features
//!
//! - `csv` (default): [`import`], CSV bulk upload and download of users in the catalog's
//!   template (R18, [`UserTemplate`]) and bulk upload of sources, with the `csv` crate.
//!   Without it the engine has no parser dependency.
//! - `sqlite`: `storage::SqliteStorage`, durable storage in an embedded SQLite file
//!   (`rusqlite`, SQLite compiled in).
//! - `postgres`: `storage::PgStorage`, durable storage shared by replicas on a PostgreSQL
//!   server (the `postgres` client).
//! - `postgres-tls`: `PgStorage::connect_tls` and `storage::PgTls`, TLS with the platform's
//!   library (`postgres-native-tls`; OpenSSL on Linux).
//! - `policy`: `shopguard::policy`, policy files and policy tests in TOML (the `toml`
//!   crate): an account diffed against and applied to an engine, expected decisions run as
//!   tests.
//! - `tokio`: `AsyncEngine`, `async` writes that run on tokio's blocking pool, for hosts on a
//!   tokio runtime (the axum integration, `shopguard-axum`, uses it).
//! - `tracing`: spans through the [`tracing`](https://docs.rs/tracing) facade, to whatever
//!   subscriber the host installs. At the info level, one span per write
//!   (`shopguard.apply`: `actor`, `account`, `changes`; `shopguard.unchecked_apply`:
//!   `system`, `mutations`), per commit (`shopguard.commit`: `base`, `attempts`,
//!   `mutations`), per CSV upload (`shopguard.upload`: `of` — `users` or `sources` —,
//!   `actor`, `account`, `bytes`, `created`, `updated`, `deleted`), per open (`shopguard.open`: `partitioned`, `records`,
//!   `following`), and per catch-up read a store reported (`shopguard.follow`: `from`; a
//!   periodic read is at the debug level). Every span records `revision`, `outcome` (`done`
//!   or the error kind's [code](ErrorKind::code)) and `duration_us`. Spans hold ids and
//!   counts only: usernames, e-mails and refusal messages (which may name users) are debug
//!   events. An engine's follower thread reports to the subscriber that was current where
//!   the engine was opened.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
pub mod catalog;
mod engine;
mod error;
#[cfg(feature = "csv")]
pub mod import;
mod model;
#[cfg(feature = "policy")]
pub mod policy;
pub mod storage;
mod trace;

/// The numbered rules (R1…R21) the code, tests and messages cite, the order in which deny
/// reasons are tried, where each rule's tests are, and the four products ("seed 000…003") the
/// model was drawn from. The same text is `RULES.md` at the repository's root.
#[doc = include_str!("../RULES.md")]
pub mod rules {}

pub use crate::admin::change::Change;
pub use crate::admin::listing::UserQuery;
#[cfg(feature = "tokio")]
pub use crate::admin::nonblocking::AsyncEngine;
pub use crate::admin::replica::Follower;
pub use crate::admin::{Applied, Event};
pub use crate::engine::decision::{Allowed, Decision, DenyReason, Dimension};
pub use crate::engine::resource::{
    OnAccount, OnChannel, OnRole, OnSource, OnStore, OnUser, Place, Resource, Subject,
};
pub use crate::engine::{Engine, Reader, SharedReader, Snapshot, UserKey, UserRef};
pub use crate::error::{Error, ErrorKind, Problem};
pub use crate::model::access::{Access, IdSet};
pub use crate::model::account::{Account, Channel, PendingSourcing, Source, Store};
pub use crate::model::ids::{AccountId, ChannelId, ObjectId, RoleId, SourceId, StoreId, UserId};
pub use crate::model::mutation::Mutation;
pub use crate::model::permission::{
    AdminPermissions, Catalog, PermissionInfo, Reach, UserTemplate, permission_names,
};
pub use crate::model::role::{Level, Role, Scope};
pub use crate::model::user::{Grant, User};

/// The README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod audit {
    //! The audit trail (R19): every attempted change, applied or refused, as [`AuditRecord`]s
    //! sent to an [`AuditSink`] and stored with the batch by durable backends.
    //!
    //! The trail a durable store keeps is queried with [`AuditQuery`]
    //! ([`Engine::query_audit`](crate::Engine::query_audit)): one account's records, filtered
    //! by actor, object, kind, outcome and time, newest first, paged by [`AuditCursor`].
    pub use crate::admin::audit::{
        AuditActor, AuditRecord, AuditSink, MemoryAudit, Object, Outcome, OutcomeKind,
    };
    pub use crate::admin::audit_query::{AuditCursor, AuditEntry, AuditPage, AuditQuery};
}

pub mod explain {
    //! Why a check said what it said: every grant considered and its verdict
    //! ([`Snapshot::explain`](crate::Snapshot::explain)).
    pub use crate::engine::explain::{Explanation, GrantExplanation, Verdict};
}

pub mod scope {
    //! Where a user may use a permission, per dimension
    //! ([`Snapshot::scope_for`](crate::Snapshot::scope_for)), and the SQL `WHERE` clause that
    //! says the same in a [`Dialect`] ([`ScopeFor::to_sql`]).
    pub use crate::engine::reverse::{Clause, Filter, ScopeFor};
    pub use crate::engine::sql::{Columns, Dialect, SqlFilter, SqlParam};
}

#[doc(hidden)]
pub mod __private {
    pub use bitflags;
    pub use serde;
}
