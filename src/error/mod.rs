//! The error type.

use core::fmt;

use crate::model::ids::{AccountId, UserId};
use crate::model::mutation::Key;

mod findings;
mod problem;

pub(crate) use findings::{Findings, MAX_PROBLEMS};

pub use problem::Problem;

/// What kind of rule refused an operation. Branch on this; read details from [`Error`]'s
/// accessors and its message.
///
/// Each kind has two stable names: [`code`](Self::code) (`"outside_scope"`), its serde form,
/// for JSON bodies, logs and metrics; and [`as_str`](Self::as_str) (`"OutsideScope"`), the
/// form the audit stores and `Display` prints.
///
/// ```
/// use shopguard::ErrorKind;
///
/// assert_eq!(ErrorKind::SeatLimit.code(), "seat_limit");
/// assert_eq!(ErrorKind::SeatLimit.to_string(), "SeatLimit");
/// assert_eq!(serde_json::to_string(&ErrorKind::SeatLimit)?, r#""seat_limit""#);
/// assert_eq!(serde_json::from_str::<ErrorKind>(r#""invalid_actor""#)?, ErrorKind::InvalidActor);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Something a change or request refers to does not exist (an account, role, store, the
    /// target user…), or is one the actor may not see (R20). Never the actor itself: that is
    /// [`InvalidActor`](Self::InvalidActor).
    NotFound,
    /// Something refers to an object of another account.
    WrongAccount,
    /// A value is malformed (a username with white space, an unknown permission bit, a level 0).
    InvalidInput,
    /// A value that must be unique is taken (username, e-mail, id of another kind).
    Duplicate,
    /// An object cannot be removed while others still refer to it (R15).
    InUse,
    /// Enabled users would exceed the account's plan limit (R12).
    SeatLimit,
    /// The account-owner invariant would break (R11).
    Owner,
    /// The storage backend failed; the engine is unchanged.
    Storage,
    /// The actor lacks the permission the change needs (R9), or is not the one who may do it.
    NotPermitted,
    /// The change touches a role the actor's level cannot see or sets a level above it (R6, R7).
    Hierarchy,
    /// The change would give a permission, role or scope the actor does not hold (R8).
    Escalation,
    /// The change touches a user or store outside the actor's stores (R10).
    OutsideScope,
    /// The audit sink refused the record; nothing was applied (R19).
    Audit,
    /// Another writer (another replica, or an earlier change on this engine) changed an object
    /// this change writes after the revision it was based on; or the base is older than the
    /// batches the engine remembers; or other writers won the race for the store 16 times in a
    /// row. Nothing was applied: read the state again (show the form again) and decide again.
    Conflict,
    /// The engine has not seen the revision asked for: not by the end of the wait
    /// ([`Engine::at_least`](crate::Engine::at_least)), or not after reading the store
    /// ([`Engine::apply_based_on`](crate::Engine::apply_based_on)).
    Behind,
    /// The storage could not say whether it stored the batch (the connection dropped while
    /// committing, and the server could not be asked afterwards). The engine still shows the
    /// state before it; [`Engine::sync`](crate::Engine::sync) reads the batch if it was stored.
    OutcomeUnknown,
    /// The actor may not act at all: no user has its id, or the user is disabled (R1). A host
    /// answers as for a failed login (HTTP 401 or 403), never as for an unknown target.
    InvalidActor,
    /// The engine takes no writes: it is a partitioned replica
    /// ([`Engine::open_for`](crate::Engine::open_for)), serving some accounts only. Nothing was
    /// applied or recorded; write through an engine opened on every account.
    ReadOnly,
}

impl ErrorKind {
    /// The kind's name: a stable string, the form the audit stores
    /// ([`Outcome::Refused`](crate::audit::Outcome::Refused)) and hosts may log or match. It is the
    /// variant's name (`"OutsideScope"`), never changed once released.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "NotFound",
            ErrorKind::WrongAccount => "WrongAccount",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::Duplicate => "Duplicate",
            ErrorKind::InUse => "InUse",
            ErrorKind::SeatLimit => "SeatLimit",
            ErrorKind::Owner => "Owner",
            ErrorKind::Storage => "Storage",
            ErrorKind::NotPermitted => "NotPermitted",
            ErrorKind::Hierarchy => "Hierarchy",
            ErrorKind::Escalation => "Escalation",
            ErrorKind::OutsideScope => "OutsideScope",
            ErrorKind::Audit => "Audit",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Behind => "Behind",
            ErrorKind::OutcomeUnknown => "OutcomeUnknown",
            ErrorKind::InvalidActor => "InvalidActor",
            ErrorKind::ReadOnly => "ReadOnly",
        }
    }

    /// The kind's code: a stable `snake_case` string (`"outside_scope"`), the kind's serde
    /// form, never changed once released. For JSON bodies, logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::WrongAccount => "wrong_account",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::InUse => "in_use",
            ErrorKind::SeatLimit => "seat_limit",
            ErrorKind::Owner => "owner",
            ErrorKind::Storage => "storage",
            ErrorKind::NotPermitted => "not_permitted",
            ErrorKind::Hierarchy => "hierarchy",
            ErrorKind::Escalation => "escalation",
            ErrorKind::OutsideScope => "outside_scope",
            ErrorKind::Audit => "audit",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Behind => "behind",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::InvalidActor => "invalid_actor",
            ErrorKind::ReadOnly => "read_only",
        }
    }
}

impl fmt::Display for ErrorKind {
    /// [`ErrorKind::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error type of every fallible shopguard operation.
///
/// A failed operation applies nothing of its own, in memory or in storage. (It may have read
/// and shown what other engines stored meanwhile, and its attempt is audited. After
/// [`ErrorKind::OutcomeUnknown`] the storage may hold the batch:
/// [`Engine::sync`](crate::Engine::sync) shows it if so.)
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    /// Boxed, with the details: an `Error` stays two words, so `Result<T, Error>` stays small
    /// on every path that returns one.
    inner: Box<Inner>,
}

// INVARIANT: two words, whatever details an error carries.
const _: () = assert!(core::mem::size_of::<Error>() <= 16);

#[derive(Debug)]
struct Inner {
    detail: Detail,
    /// What the error is about, typed, for the accessors.
    facts: Facts,
}

/// The typed facts an error carries besides its message. `Debug` leaves out the other user
/// of a clash (R20).
#[derive(Default)]
struct Facts {
    key: Option<Key>,
    field: Option<&'static str>,
    account: Option<AccountId>,
    seats: Option<(usize, u32)>,
    /// For a duplicate username or e-mail: the other user holding it. Kept inside the crate:
    /// the other user may be one the actor must not learn of (R20).
    clash: Option<UserId>,
    /// Every problem of a refused batch or upload, the first [`MAX_PROBLEMS`] of them.
    problems: Vec<Problem>,
    /// Problems found beyond the ones listed.
    omitted: usize,
}

impl fmt::Debug for Facts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Facts")
            .field("key", &self.key)
            .field("field", &self.field)
            .field("account", &self.account)
            .field("seats", &self.seats)
            .field("problems", &self.problems)
            .field("omitted", &self.omitted)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
enum Detail {
    #[error(
        "unknown permission bits `{bits:#x}`: the stored mask is corrupt or from a newer catalog"
    )]
    UnknownPermissionBits { bits: u64 },
    #[error("cannot parse permissions `{text}`: {reason}")]
    PermissionText { text: String, reason: String },
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("{what} `{id}` belongs to `{found}`, not `{expected}`")]
    WrongAccount {
        what: &'static str,
        id: String,
        found: String,
        expected: String,
    },
    #[error("invalid {field} `{value}`: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("duplicate {field} `{value}` in `{scope}`")]
    Duplicate {
        field: &'static str,
        value: String,
        scope: String,
    },
    #[error("{field} `{value}` is already in use")]
    IdTaken { field: &'static str, value: String },
    #[error("cannot remove {what} `{id}`: still used by {users}")]
    InUse {
        what: &'static str,
        id: String,
        users: String,
    },
    #[error("`{account}` would have {enabled} enabled users: the plan allows {limit}")]
    SeatLimit {
        account: String,
        enabled: usize,
        limit: u32,
    },
    #[error("`{account}`: {reason}")]
    Owner {
        account: String,
        reason: &'static str,
    },
    #[error("storage failed")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("audit failed")]
    Audit(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the storage could not say whether it stored the batch")]
    OutcomeUnknown {
        /// The revision the batch would have, once the engine knows it.
        revision: Option<u64>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot {action}: {reason}")]
    Refused { action: String, reason: String },
    #[error("the store is at revision {head}, not {base}: another writer stored a batch first")]
    RevisionMoved { base: u64, head: u64 },
    #[error("`{object}` was changed by another writer in revision {revision}")]
    Conflict { object: String, revision: u64 },
    #[error(
        "cannot tell what changed since revision {based_on}: only the batches after {oldest} are remembered"
    )]
    TooOld { based_on: u64, oldest: u64 },
    #[error(
        "cannot read the batches after revision {after}: those up to revision {through} were pruned"
    )]
    Pruned { after: u64, through: u64 },
    #[error("at revision {have}, waited in vain for revision {want}")]
    Behind { have: u64, want: u64 },
    #[error("cannot write on a partitioned replica: write through an engine serving every account")]
    PartitionedReplica,
    /// The problems are the error's facts; [`Error`]'s `Display` lists them.
    #[error("cannot upload")]
    Upload,
    /// A policy or policy-test file with problems, listed as the error's facts.
    #[cfg(feature = "policy")]
    #[error("invalid {what}")]
    File { what: &'static str },
    /// A name a file or a command line gave that resolves to nothing, or to two objects.
    #[cfg(feature = "policy")]
    #[error("{message}")]
    Lookup { message: String },
    /// A file that could not be read.
    #[cfg(feature = "policy")]
    #[error("cannot read `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// `n problems: first; second; …; and m more`: at most 20 in the message.
fn list(problems: &[Problem], omitted: usize) -> String {
    let shown: Vec<String> = problems.iter().take(20).map(ToString::to_string).collect();
    let total = problems.len().saturating_add(omitted);
    let more = total.saturating_sub(shown.len());
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    let noun = if total == 1 { "problem" } else { "problems" };
    format!("{total} {noun}: {}{tail}", shown.join("; "))
}

impl Error {
    /// The rule that refused.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The field that was wrong, for [`ErrorKind::InvalidInput`] and [`ErrorKind::Duplicate`];
    /// for an [`ErrorKind::Escalation`] or [`ErrorKind::OutsideScope`] refusal, the dimension at
    /// fault (`"stores"`, `"sources"`, `"sales channels"`) where one is; for an
    /// [`ErrorKind::SeatLimit`] problem of one change, `"enabled"`. For a refused bulk upload,
    /// the first problem's: the template's column name (`"E-mail"`), as
    /// [`Problem::column`] says.
    pub fn field(&self) -> Option<&'static str> {
        if let Some(field) = self.inner.facts.field {
            return Some(field);
        }
        match &self.inner.detail {
            Detail::Upload => self.inner.facts.problems.first().and_then(Problem::field),
            #[cfg(feature = "policy")]
            Detail::File { .. } => self.inner.facts.problems.first().and_then(Problem::field),
            Detail::Invalid { field, .. }
            | Detail::Duplicate { field, .. }
            | Detail::IdTaken { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Every problem of a refused batch ([`Engine::apply_all`](crate::Engine::apply_all),
    /// [`Engine::dry_run`](crate::Engine::dry_run)) or bulk upload, the first 100 of them: for
    /// a batch, the changes authorization refused in batch order, then what validating the
    /// state the others produce found, each on the change at fault where there is one; for an
    /// upload, in file order. The error itself is the first refusal found, with the message a
    /// single refusal has (for a seat-limit excess, the batch's total, while each problem
    /// names the enabled user its change would be). Empty for an error that is not a refusal
    /// of a batch (a storage failure, a conflict).
    pub fn problems(&self) -> &[Problem] {
        &self.inner.facts.problems
    }

    /// How many problems there were beyond the ones [`Error::problems`] lists: a hostile
    /// batch's or file's problems are counted, not kept.
    pub fn problems_omitted(&self) -> usize {
        self.inner.facts.omitted
    }

    /// This error, listing `problems` (and counting `omitted` more).
    pub(crate) fn with_problems(mut self, problems: Vec<Problem>, omitted: usize) -> Self {
        self.inner.facts.problems = problems;
        self.inner.facts.omitted = omitted;
        self
    }

    /// For a duplicate username or e-mail, the other user holding it: crate-private, since
    /// the actor may not be allowed to learn of that user.
    pub(crate) fn clash(&self) -> Option<UserId> {
        self.inner.facts.clash
    }

    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "only the CSV upload refuses with problems")
    )]
    /// A refused upload, of its first problem's kind (`InvalidInput` if none is listed); each
    /// problem names its own rule ([`Problem::kind`]).
    pub(crate) fn upload(problems: Vec<Problem>, omitted: usize) -> Self {
        let kind = problems
            .first()
            .map_or(ErrorKind::InvalidInput, Problem::kind);
        Self::new(kind, Detail::Upload).with_problems(problems, omitted)
    }

    /// A policy or policy-test file (`what`) with problems, each at its line, of its first
    /// problem's kind.
    #[cfg(feature = "policy")]
    pub(crate) fn file(what: &'static str, problems: Vec<Problem>, omitted: usize) -> Self {
        let kind = problems
            .first()
            .map_or(ErrorKind::InvalidInput, Problem::kind);
        Self::new(kind, Detail::File { what }).with_problems(problems, omitted)
    }

    /// A name that resolves to nothing (`NotFound`) or to two objects (`InvalidInput`).
    #[cfg(feature = "policy")]
    pub(crate) fn lookup(kind: ErrorKind, message: String) -> Self {
        Self::new(kind, Detail::Lookup { message })
    }

    /// A file at `path` could not be read (kind [`ErrorKind::InvalidInput`]); the I/O error
    /// travels as [`source`](std::error::Error::source).
    #[cfg(feature = "policy")]
    pub(crate) fn read(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::new(
            ErrorKind::InvalidInput,
            Detail::Read {
                path: path.display().to_string(),
                source,
            },
        )
    }

    /// R1: no user has the actor's id.
    pub(crate) fn unknown_actor(id: UserId) -> Self {
        Self::refused(
            ErrorKind::InvalidActor,
            "act",
            format!("no user has id `{}`", id.get()),
        )
        .about(id)
    }

    /// R1: the actor is disabled.
    pub(crate) fn disabled_actor(username: &str) -> Self {
        Self::refused(
            ErrorKind::InvalidActor,
            "act",
            format!("user `{username}` is disabled"),
        )
    }

    /// Wraps a storage backend's error; it travels as [`std::error::Error::source`].
    pub fn storage<E: Into<Box<dyn std::error::Error + Send + Sync>>>(source: E) -> Self {
        Self::new(ErrorKind::Storage, Detail::Storage(source.into()))
    }

    /// Wraps an audit sink's error; it travels as [`std::error::Error::source`].
    pub fn audit<E: Into<Box<dyn std::error::Error + Send + Sync>>>(source: E) -> Self {
        Self::new(ErrorKind::Audit, Detail::Audit(source.into()))
    }

    /// For a [`Storage`](crate::storage::Storage) backend: whether the batch was stored cannot
    /// be known (kind [`ErrorKind::OutcomeUnknown`]); `source` says why.
    pub fn outcome_unknown<E: Into<Box<dyn std::error::Error + Send + Sync>>>(source: E) -> Self {
        Self::new(
            ErrorKind::OutcomeUnknown,
            Detail::OutcomeUnknown {
                revision: None,
                source: source.into(),
            },
        )
    }

    /// An [`ErrorKind::OutcomeUnknown`] error about the batch of `batch_revision`.
    pub(crate) fn for_revision(mut self, batch_revision: u64) -> Self {
        if let Detail::OutcomeUnknown { revision, .. } = &mut self.inner.detail {
            *revision = Some(batch_revision);
        }
        self
    }

    /// For a [`Storage`](crate::storage::Storage) backend: the batch was planned against
    /// revision `base`, but the store already holds revision `stored` (kind
    /// [`ErrorKind::Conflict`]). The engine catches up and decides again.
    pub fn revision_moved(base: u64, stored: u64) -> Self {
        Self::new(
            ErrorKind::Conflict,
            Detail::RevisionMoved { base, head: stored },
        )
    }

    /// The revision the error is about, where there is one: for [`ErrorKind::Conflict`], the
    /// other writer's batch (or, from [`revision_moved`](Self::revision_moved), the revision
    /// the store holds); for [`ErrorKind::OutcomeUnknown`] from the engine, the revision the
    /// batch would have (after [`Engine::sync`](crate::Engine::sync), the engine shows at
    /// least that revision if it was stored); for [`ErrorKind::Behind`], the revision asked
    /// for.
    pub fn revision(&self) -> Option<u64> {
        match &self.inner.detail {
            Detail::RevisionMoved { head, .. } => Some(*head),
            Detail::Conflict { revision, .. } => Some(*revision),
            Detail::OutcomeUnknown { revision, .. } => *revision,
            Detail::Behind { want, .. } => Some(*want),
            _ => None,
        }
    }

    /// Another writer changed `object` in `revision`.
    pub(crate) fn conflict(object: Key, revision: u64) -> Self {
        Self::new(
            ErrorKind::Conflict,
            Detail::Conflict {
                object: object.to_string(),
                revision,
            },
        )
        .about(object)
    }

    /// A change based on `based_on` cannot be checked for conflicts: the engine remembers
    /// the batches after `oldest` only.
    pub(crate) fn too_old(based_on: u64, oldest: u64) -> Self {
        Self::new(ErrorKind::Conflict, Detail::TooOld { based_on, oldest })
    }

    /// For a [`Storage`](crate::storage::Storage) backend: the batches after revision `after`
    /// cannot all be read, since those up to `through` were pruned
    /// ([`Storage::prune`](crate::storage::Storage::prune)); kind [`ErrorKind::Conflict`]. The
    /// engine then reloads the whole state.
    pub fn pruned(after: u64, through: u64) -> Self {
        Self::new(ErrorKind::Conflict, Detail::Pruned { after, through })
    }

    /// For an error from [`pruned`](Self::pruned): the revision up to which batches were
    /// pruned.
    pub fn pruned_through(&self) -> Option<u64> {
        match &self.inner.detail {
            Detail::Pruned { through, .. } => Some(*through),
            _ => None,
        }
    }

    /// Waiting for revision `want` timed out at `have`.
    pub(crate) fn behind(have: u64, want: u64) -> Self {
        Self::new(ErrorKind::Behind, Detail::Behind { have, want })
    }

    /// A write asked of a partitioned replica.
    pub(crate) fn partitioned_replica() -> Self {
        Self::new(ErrorKind::ReadOnly, Detail::PartitionedReplica)
    }

    /// A refused administrative change: ``cannot {action}: {reason}``.
    pub(crate) fn refused(
        kind: ErrorKind,
        action: impl fmt::Display,
        reason: impl fmt::Display,
    ) -> Self {
        Self::new(
            kind,
            Detail::Refused {
                action: action.to_string(),
                reason: reason.to_string(),
            },
        )
    }

    fn new(kind: ErrorKind, detail: Detail) -> Self {
        Self {
            kind,
            inner: Box::new(Inner {
                detail,
                facts: Facts::default(),
            }),
        }
    }

    fn about(mut self, key: impl Into<Key>) -> Self {
        self.inner.facts.key = Some(key.into());
        self
    }

    /// Names the field at fault of a refusal (for [`Error::field`]).
    pub(crate) fn on_field(mut self, field: &'static str) -> Self {
        self.inner.facts.field = Some(field);
        self
    }

    fn in_account(mut self, account: AccountId) -> Self {
        self.inner.facts.account = Some(account);
        self
    }

    /// The object the error is about, typed: the id not found ([`ErrorKind::NotFound`]), the
    /// id taken ([`ErrorKind::Duplicate`] of an id), the user whose username or e-mail is
    /// taken ([`ErrorKind::Duplicate`]), the object another writer changed
    /// ([`ErrorKind::Conflict`]), the store, source or channel still referred to
    /// ([`ErrorKind::InUse`] of a delete).
    pub fn key(&self) -> Option<Key> {
        self.inner.facts.key
    }

    /// The account whose rule refused: the seat limit ([`ErrorKind::SeatLimit`]), the owner
    /// ([`ErrorKind::Owner`]), a name taken within it ([`ErrorKind::Duplicate`]).
    pub fn account(&self) -> Option<AccountId> {
        self.inner.facts.account
    }

    /// For [`ErrorKind::SeatLimit`]: the enabled users the change would leave.
    pub fn enabled_users(&self) -> Option<usize> {
        self.inner.facts.seats.map(|(enabled, _)| enabled)
    }

    /// For [`ErrorKind::SeatLimit`]: the plan's limit on enabled users.
    pub fn seat_limit(&self) -> Option<u32> {
        self.inner.facts.seats.map(|(_, limit)| limit)
    }

    pub(crate) fn unknown_permission_bits(bits: u64) -> Self {
        Self::new(
            ErrorKind::InvalidInput,
            Detail::UnknownPermissionBits { bits },
        )
    }

    pub(crate) fn invalid_permission_text(text: &str, reason: &str) -> Self {
        Self::new(
            ErrorKind::InvalidInput,
            Detail::PermissionText {
                text: text.to_owned(),
                reason: reason.to_owned(),
            },
        )
    }

    pub(crate) fn not_found<I: Into<Key> + fmt::Display + Copy>(what: &'static str, id: I) -> Self {
        Self::new(
            ErrorKind::NotFound,
            Detail::NotFound {
                what,
                id: id.to_string(),
            },
        )
        .about(id)
    }

    pub(crate) fn wrong_account(
        what: &'static str,
        id: impl fmt::Display,
        found: impl fmt::Display,
        expected: impl fmt::Display,
    ) -> Self {
        Self::new(
            ErrorKind::WrongAccount,
            Detail::WrongAccount {
                what,
                id: id.to_string(),
                found: found.to_string(),
                expected: expected.to_string(),
            },
        )
    }

    pub(crate) fn invalid(
        field: &'static str,
        value: impl fmt::Display,
        reason: &'static str,
    ) -> Self {
        Self::new(
            ErrorKind::InvalidInput,
            Detail::Invalid {
                field,
                value: value.to_string(),
                reason,
            },
        )
    }

    /// `value` is taken in `account`, whose name is `name`.
    pub(crate) fn duplicate(
        field: &'static str,
        value: impl fmt::Display,
        account: AccountId,
        name: &str,
    ) -> Self {
        Self::new(
            ErrorKind::Duplicate,
            Detail::Duplicate {
                field,
                value: value.to_string(),
                scope: name.to_owned(),
            },
        )
        .in_account(account)
    }

    /// A username or e-mail of user `user` that user `other` holds too, in `account` (named
    /// `name`).
    pub(crate) fn user_clash(
        field: &'static str,
        value: &str,
        (account, name): (AccountId, &str),
        user: UserId,
        other: UserId,
    ) -> Self {
        let mut err = Self::duplicate(field, value, account, name).about(user);
        err.inner.facts.clash = Some(other);
        err
    }

    /// A duplicate external id, about the source `source` that holds it in the state checked.
    pub(crate) fn about_source(self, source: crate::model::ids::SourceId) -> Self {
        self.about(source)
    }

    /// For [`ErrorKind::SeatLimit`] of one change: names the field at fault.
    pub(crate) fn on_enabled(self) -> Self {
        self.on_field("enabled")
    }

    /// An id someone asked to create is taken. Ids are unique across accounts, so the message
    /// names neither the account nor anything else about the holder.
    pub(crate) fn id_taken<I: Into<Key> + fmt::Display + Copy>(field: &'static str, id: I) -> Self {
        Self::new(
            ErrorKind::Duplicate,
            Detail::IdTaken {
                field,
                value: id.to_string(),
            },
        )
        .about(id)
    }

    pub(crate) fn in_use(what: &'static str, id: impl fmt::Display, users: String) -> Self {
        Self::new(
            ErrorKind::InUse,
            Detail::InUse {
                what,
                id: id.to_string(),
                users,
            },
        )
    }

    /// A store, source or sales channel that roles or users (`by`) still refer to.
    pub(crate) fn still_used(
        what: &'static str,
        key: impl Into<Key>,
        name: impl fmt::Display,
        by: String,
    ) -> Self {
        Self::in_use(what, name, by).about(key)
    }

    /// `account`, named `name`, would have `enabled` enabled users against a plan of `limit`.
    pub(crate) fn seats_exceeded(
        account: AccountId,
        name: &str,
        enabled: usize,
        limit: u32,
    ) -> Self {
        let mut err = Self::new(
            ErrorKind::SeatLimit,
            Detail::SeatLimit {
                account: name.to_owned(),
                enabled,
                limit,
            },
        )
        .in_account(account);
        err.inner.facts.seats = Some((enabled, limit));
        err
    }

    /// This seat-limit error's account and plan, with `enabled` users instead.
    pub(crate) fn seats_at(&self, enabled: usize) -> Option<Self> {
        match (&self.inner.detail, self.inner.facts.account) {
            (Detail::SeatLimit { account, limit, .. }, Some(id)) => {
                Some(Self::seats_exceeded(id, account, enabled, *limit))
            }
            _ => None,
        }
    }

    /// R11 refused `reason` in `account`, named `name`.
    pub(crate) fn owner(account: AccountId, name: &str, reason: &'static str) -> Self {
        Self::new(
            ErrorKind::Owner,
            Detail::Owner {
                account: name.to_owned(),
                reason,
            },
        )
        .in_account(account)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = &self.inner.facts;
        if let Detail::Upload = self.inner.detail {
            return write!(f, "cannot upload: {}", list(&facts.problems, facts.omitted));
        }
        #[cfg(feature = "policy")]
        if let Detail::File { what } = self.inner.detail {
            return write!(
                f,
                "invalid {what}: {}",
                list(&facts.problems, facts.omitted)
            );
        }
        fmt::Display::fmt(&self.inner.detail, f)
    }
}

/// The form a host sends a client: `{"kind": "seat_limit", "message": "…", "problems": [...],
/// "problems_omitted": 0}`, the kind by its [code](ErrorKind::code), the problems in
/// [`Problem`]'s form. The message and problems name only what the actor may see (R20); a
/// storage or audit error's cause ([`source`](std::error::Error::source)) is left out.
///
/// ```
/// use shopguard::catalog::pos::{self, Pos};
/// use shopguard::{Account, AccountId, Change, Engine, Mutation, UserId};
///
/// let engine = Engine::<Pos>::new();
/// engine.unchecked_apply([Mutation::PutAccount(Account::new(AccountId::new(1), "Shop"))])?;
/// let err = engine.apply(UserId::new(9), Change::DisableUser(UserId::new(2))).unwrap_err();
/// let body = serde_json::to_value(&err)?;
/// assert_eq!(body["kind"], "invalid_actor");
/// assert_eq!(body["message"], "cannot act: no user has id `9`");
/// assert_eq!(body["problems"][0]["change"], 0);
/// assert_eq!(body["problems_omitted"], 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Error", 4)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("message", &self.to_string())?;
        st.serialize_field("problems", self.problems())?;
        st.serialize_field("problems_omitted", &self.problems_omitted())?;
        st.end()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.inner.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_kinds_name_is_its_variants_name() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::WrongAccount,
            ErrorKind::InvalidInput,
            ErrorKind::Duplicate,
            ErrorKind::InUse,
            ErrorKind::SeatLimit,
            ErrorKind::Owner,
            ErrorKind::Storage,
            ErrorKind::NotPermitted,
            ErrorKind::Hierarchy,
            ErrorKind::Escalation,
            ErrorKind::OutsideScope,
            ErrorKind::Audit,
            ErrorKind::Conflict,
            ErrorKind::Behind,
            ErrorKind::OutcomeUnknown,
            ErrorKind::InvalidActor,
            ErrorKind::ReadOnly,
        ] {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.code())
            );
            assert_eq!(
                serde_json::from_str::<ErrorKind>(&format!("\"{}\"", kind.code())).unwrap(),
                kind
            );
            // snake_case of the variant's name.
            let snake: String = kind
                .as_str()
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let sep = (i > 0 && c.is_ascii_uppercase()).then_some('_');
                    sep.into_iter().chain([c.to_ascii_lowercase()])
                })
                .collect();
            assert_eq!(kind.code(), snake);
            // The stored form was `Debug` before it had a name of its own: keep them equal.
            assert_eq!(kind.as_str(), format!("{kind:?}"));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }
}
