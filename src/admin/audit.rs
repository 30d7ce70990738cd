//! Audit (R19): every attempted change, who, when, what, before → after, and the outcome.

use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::admin::change::Change;
use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, UserId};
use crate::model::mutation::{Key, ObjectKind};
use crate::model::role::Role;
use crate::model::user::User;

/// One object as it was before or after a change.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
#[non_exhaustive]
pub enum Object<P> {
    /// An account's settings.
    Account(Account),
    /// A role.
    Role(Role<P>),
    /// A user.
    User(User),
    /// A store.
    Store(Store),
    /// A source.
    Source(Source),
    /// A sales channel.
    Channel(Channel),
}

impl<P: Copy> Object<P> {
    /// The object's kind and id.
    ///
    /// ```
    /// use shopguard::audit::Object;
    /// use shopguard::catalog::pos::Pos;
    /// use shopguard::storage::{Key, ObjectKind};
    /// use shopguard::{AccountId, Store, StoreId};
    ///
    /// let store = Object::<Pos>::Store(Store::new(StoreId::new(10), AccountId::new(1), "North"));
    /// assert_eq!(store.key(), Key { kind: ObjectKind::Store, id: 10 });
    /// ```
    pub fn key(&self) -> Key {
        match self {
            Object::Account(x) => x.id().into(),
            Object::Role(x) => x.id().into(),
            Object::User(x) => x.id().into(),
            Object::Store(x) => x.id().into(),
            Object::Source(x) => x.id().into(),
            Object::Channel(x) => x.id().into(),
        }
    }
}

/// How an attempted change ended.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Outcome {
    /// Applied as this revision (for the sink: about to be; see [`AuditSink`]).
    Applied {
        /// The engine revision that holds the change.
        revision: u64,
    },
    /// Handed to storage, which could not say whether it stored it (the connection dropped
    /// while committing): [`Engine::sync`](crate::Engine::sync) shows it if it was. The
    /// storage's own audit holds the batch's records if and only if the batch was stored.
    Unknown {
        /// The revision the batch would have.
        revision: u64,
    },
    /// Refused; nothing was applied.
    Refused {
        /// The rule that refused, by name ([`ErrorKind::as_str`](crate::ErrorKind::as_str)).
        kind: String,
        /// The error message.
        message: String,
    },
}

impl Outcome {
    pub(crate) fn refused(err: &Error) -> Self {
        Outcome::Refused {
            kind: err.kind().as_str().to_owned(),
            message: err.to_string(),
        }
    }

    /// Whether the change was applied.
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }

    /// Applied, refused or unknown, without the details: what an audit query filters on.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Applied { .. } => OutcomeKind::Applied,
            Outcome::Unknown { .. } => OutcomeKind::Unknown,
            Outcome::Refused { .. } => OutcomeKind::Refused,
        }
    }
}

/// The kinds of [`Outcome`], for filtering the audit trail
/// ([`AuditQuery::outcome`](crate::audit::AuditQuery::outcome)). The storage's own audit holds
/// `Applied` and `Refused` records only; `Unknown` reaches the [`AuditSink`] alone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutcomeKind {
    /// [`Outcome::Applied`].
    Applied,
    /// [`Outcome::Refused`].
    Refused,
    /// [`Outcome::Unknown`].
    Unknown,
}

impl OutcomeKind {
    /// A stable number for a storage column. A storage format: never renumbered.
    pub(crate) fn code(self) -> u8 {
        match self {
            OutcomeKind::Applied => 0,
            OutcomeKind::Refused => 1,
            OutcomeKind::Unknown => 2,
        }
    }
}

/// Who attempted a change: a user of the engine, or a system the host named for a write that
/// skips authorization ([`Engine::unchecked_apply_as`](crate::Engine::unchecked_apply_as):
/// a bootstrap, a migration, a support tool).
///
/// Stored as the user's id (a number) or the system's name (a string), so records stored
/// before systems were recorded read back unchanged.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum AuditActor {
    /// A user, authorized as such.
    User(UserId),
    /// A system, named by the host; nothing was authorized.
    System(String),
}

impl AuditActor {
    /// The user, if a user acted.
    pub fn user(&self) -> Option<UserId> {
        match self {
            AuditActor::User(id) => Some(*id),
            AuditActor::System(_) => None,
        }
    }

    /// The system's name, if a system acted.
    pub fn system(&self) -> Option<&str> {
        match self {
            AuditActor::User(_) => None,
            AuditActor::System(name) => Some(name),
        }
    }
}

impl From<UserId> for AuditActor {
    fn from(id: UserId) -> Self {
        AuditActor::User(id)
    }
}

/// The record of one attempted change: enough for PCI DSS 10.2 (user, type of event, date and
/// time, success or failure, origin, affected data).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
#[non_exhaustive]
pub struct AuditRecord<P> {
    /// Milliseconds since the Unix epoch, from the system clock.
    pub at_unix_ms: u64,
    /// Who attempted the change: a user, or the system that wrote an unchecked batch.
    pub actor: AuditActor,
    /// The actor's account, if the actor exists; for an unchecked batch, the one account its
    /// mutations write, if they write one.
    pub account: Option<AccountId>,
    /// The change as asked; for an unchecked batch, [`Change::Unchecked`] with the batch.
    pub change: Change<P>,
    /// The objects it touched, before (empty for a refused change that never got that far,
    /// and for objects that did not exist).
    pub before: Vec<Object<P>>,
    /// The same objects after (absent ones were removed). Empty for an unchecked batch, whose
    /// change holds what was written: a bulk load is not kept twice.
    pub after: Vec<Object<P>>,
    /// Applied or refused, and why.
    pub outcome: Outcome,
}

impl<P: Copy> AuditRecord<P> {
    /// The objects the record is about, in [`Key`] order, each once: those the change names
    /// (the role, user, store, source or channel it creates, edits or deletes; both users of a
    /// copy; both roles of a deletion that reassigns; the account of a plan or billing
    /// setting; every object an unchecked batch writes) and those it touched (`before` and
    /// `after`). An audit query's [`target`](crate::audit::AuditQuery::target) filter keeps the
    /// records whose targets include its object.
    ///
    /// ```
    /// use shopguard::audit::{AuditActor, AuditRecord};
    /// use shopguard::catalog::pos::Pos;
    /// use shopguard::storage::{Key, MemoryStorage, Storage};
    /// use shopguard::{Account, AccountId, Engine, Mutation, UserId};
    ///
    /// let store = std::sync::Arc::new(MemoryStorage::<Pos>::new());
    /// let engine = Engine::open(store.clone())?;
    /// engine.unchecked_apply([Mutation::PutAccount(Account::new(AccountId::new(1), "Shop"))])?;
    /// let record: AuditRecord<Pos> = store.audit_records()?.remove(0);
    /// assert_eq!(record.targets(), [Key::from(AccountId::new(1))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn targets(&self) -> Vec<Key> {
        let mut keys = self.change.named_objects();
        if self.change.is_account_setting() {
            keys.extend(self.account.map(Key::from));
        }
        keys.extend(self.before.iter().chain(&self.after).map(Object::key));
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Whether the record is about an object of `kind`: the change's own kind (a role change
    /// is about a role, an upload about users, a plan or billing setting about the account)
    /// or the kind of one of its [`targets`](Self::targets). An audit query's
    /// [`kind`](crate::audit::AuditQuery::kind) filter keeps these records.
    pub fn concerns(&self, kind: ObjectKind) -> bool {
        self.kinds() & kind_bit(kind) != 0
    }

    /// [`concerns`](Self::concerns) for every kind, as a bit set (bit [`ObjectKind::code`]).
    pub(crate) fn kinds(&self) -> u8 {
        self.kinds_of(&self.targets())
    }

    /// [`kinds`](Self::kinds), given the record's [`targets`](Self::targets).
    pub(crate) fn kinds_of(&self, targets: &[Key]) -> u8 {
        let own = self.change.own_kind().map_or(0, kind_bit);
        targets
            .iter()
            .fold(own, |bits, key| bits | kind_bit(key.kind))
    }
}

/// The bit of `kind` in a set of kinds.
pub(crate) fn kind_bit(kind: ObjectKind) -> u8 {
    1 << kind.code()
}

pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where audit records go.
///
/// # Contract
///
/// - `record` **must** be durable before it returns `Ok`. The engine records an applied batch
///   before it stores and publishes it; if `record` fails, the batch is refused with
///   [`ErrorKind::Audit`](crate::ErrorKind::Audit) and nothing is applied.
/// - Refused changes are recorded too; a failure to record one is ignored (the change was
///   refused anyway).
///
/// The sink is called before storage, so it sees attempts, in order: a batch is first recorded
/// as [`Outcome::Applied`] with the revision it is about to be stored as. If the store then
/// refuses it, records of the same changes follow with [`Outcome::Refused`] — after losing a
/// race to another replica, possibly followed by the retry's `Applied` with a new revision — or
/// with [`Outcome::Unknown`] if the store could not say. The storage's own audit (written in
/// the batch's transaction) holds final outcomes only.
pub trait AuditSink<P>: Send + Sync + std::fmt::Debug {
    /// Records a batch of records, all or nothing.
    ///
    /// # Errors
    ///
    /// Any error: the engine refuses the batch with [`ErrorKind::Audit`](crate::ErrorKind::Audit).
    fn record(&self, records: &[AuditRecord<P>]) -> Result<(), Error>;
}

/// Keeps every record in memory: the default sink, and the one tests read.
///
/// `Debug` prints how many records it holds, not the records (they hold users' e-mails).
pub struct MemoryAudit<P> {
    records: Mutex<Vec<AuditRecord<P>>>,
}

impl<P> std::fmt::Debug for MemoryAudit<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.records.lock().map_or(0, |r| r.len());
        f.debug_struct("MemoryAudit").field("records", &n).finish()
    }
}

impl<P> MemoryAudit<P> {
    /// An empty log.
    pub fn new() -> Self {
        MemoryAudit {
            records: Mutex::new(Vec::new()),
        }
    }
}

impl<P> Default for MemoryAudit<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Clone> MemoryAudit<P> {
    /// A copy of every record so far, oldest first.
    pub fn records(&self) -> Vec<AuditRecord<P>> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<P: Clone + Send + std::fmt::Debug> AuditSink<P> for MemoryAudit<P> {
    fn record(&self, records: &[AuditRecord<P>]) -> Result<(), Error> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(records);
        Ok(())
    }
}
