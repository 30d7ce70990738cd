//! Policy files and policy tests (feature `policy`): an account kept as a TOML file beside
//! the code, diffed against and applied to an engine, and the decisions it must make written
//! as tests — what teams keep for casbin's `model.conf` and `policy.csv`, cedar's `.cedar`
//! files and their validation, or OpenFGA's and SpiceDB's model tests.
//!
//! - A [`Policy`] is one account as a file says it is: its settings, stores, sources, sales
//!   channels, roles (permissions by their catalog names, levels, ceilings, former names) and
//!   users. [`Policy::from_toml`] reads one and lists every problem with its line;
//!   [`Policy::validate`] asks the engine's rules of it; [`Policy::export`] writes an
//!   engine's account as one.
//! - [`Policy::diff`] says what applying the file would change, as a set of changes
//!   ([`PolicyDiff`]); [`Policy::apply`] applies it, as a user — every change authorized like
//!   any other — or as a system for bootstrap ([`AuditActor::System`](crate::audit::AuditActor),
//!   through [`Engine::unchecked_apply_as`](crate::Engine::unchecked_apply_as)). Applying the
//!   same file twice changes nothing the second time, and writes nothing.
//! - [`PolicyTests`] are expected decisions (user, permission, resource → allow or deny, and
//!   why), expected who-can and scope-for answers, and expected refusals of changes;
//!   [`Policy::test`] runs them and [`run_test_file`] does it from a host's `cargo test`,
//!   failing with every mismatch named.
//!
//! ```
//! use shopguard::audit::AuditActor;
//! use shopguard::catalog::pos::Pos;
//! use shopguard::policy::{Policy, PolicyTests};
//! use shopguard::Engine;
//!
//! let policy = Policy::<Pos>::from_toml(r#"
//!     catalog = "pos"
//!     [account]
//!     id = 1
//!     name = "Corner Shop"
//!     seat_limit = 3
//!     [[stores]]
//!     id = 10
//!     name = "North"
//!     [[stores]]
//!     id = 11
//!     name = "South"
//!     [[roles]]
//!     id = 1
//!     name = "Admin"
//!     level = 1
//!     permissions = "all"
//!     [[roles]]
//!     id = 3
//!     name = "Cashier"
//!     level = 3
//!     permissions = ["SELL", "OPEN_REGISTER", "CLOSE_REGISTER"]
//!     [[users]]
//!     id = 100
//!     username = "olivia"
//!     email = "olivia@corner.example"
//!     owner = true
//!     role = "Admin"
//!     stores = "all"
//!     [[users]]
//!     id = 102
//!     username = "cara"
//!     email = "cara@corner.example"
//!     role = "Cashier"
//!     stores = ["North"]
//! "#)?;
//!
//! // Bootstrap an engine from the file; the second time there is nothing to do.
//! let engine = Engine::<Pos>::new();
//! let bootstrap = AuditActor::System("bootstrap".into());
//! assert!(policy.apply(&engine, &bootstrap)?.applied().is_some());
//! assert!(policy.diff(&engine.snapshot(), &bootstrap)?.is_empty());
//!
//! let tests = PolicyTests::from_toml(r#"
//!     [[decision]]
//!     user = "cara"
//!     permission = "SELL"
//!     store = "South"
//!     expect = "deny"
//!     reason = "outside_scope:store"
//!
//!     [[who_can]]
//!     permission = "SELL"
//!     store = "North"
//!     expect = ["cara", "olivia"]
//! "#)?;
//! assert!(policy.test(&tests)?.is_success());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod diff;
mod file;
mod names;
mod suite;

pub use diff::{DiffEntry, PolicyApplied, PolicyDiff};
pub use file::{MAX_FILE_BYTES, Policy, catalog_of};
pub use names::{Names, Ref, Target};
pub use suite::{Mismatch, PolicyTests, TestReport, run_test_file};
