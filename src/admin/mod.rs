//! The write side: every change authorized by an actor (R6–R12, R14–R17, R19, R20).

pub(crate) mod actor;
pub(crate) mod allocate;
pub(crate) mod audit;
pub(crate) mod audit_query;
pub(crate) mod authorize;
pub(crate) mod change;
pub(crate) mod commit;
pub(crate) mod listing;
#[cfg(feature = "tokio")]
pub(crate) mod nonblocking;
pub(crate) mod plan;
pub(crate) mod replica;
mod trail;
pub(crate) mod writer;

use std::sync::PoisonError;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::admin::audit::now_unix_ms;
use crate::admin::change::Change;
use crate::admin::commit::{Staged, Write};
use crate::admin::plan::Options;
use crate::engine::Engine;
use crate::engine::index::Index;
use crate::model::ids::{AccountId, UserId};
use crate::model::permission::Catalog;
use crate::trace::Traced;

/// Something the host must act on after a change: the library sends no e-mail itself.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Event {
    /// A user was created and needs a password link sent to `email`.
    Invited {
        /// The new user.
        user: UserId,
        /// Where to send the link.
        email: String,
    },
    /// Ownership moved (R11).
    OwnershipTransferred {
        /// The former owner.
        from: UserId,
        /// The new owner.
        to: UserId,
    },
    /// A lowered seat limit disabled these users, newest (highest id) first
    /// ([`Change::SetSeatLimit`] with `disable_excess`).
    DisabledBySeatLimit {
        /// The users disabled.
        users: Vec<UserId>,
    },
}

/// A batch that was applied. Serializes as `{"revision": 7, "events": [...]}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Applied {
    pub(crate) revision: u64,
    pub(crate) events: Vec<Event>,
}

impl Applied {
    /// The engine revision that holds the batch.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// What the host must act on (invitations to send, …).
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

impl<P: Catalog> Engine<P> {
    /// Applies one change as `actor`: authorized first (R6–R11), then validated (R12, R15,
    /// R16), then stored, audited (R19) and published. A refused change leaves the engine and
    /// the storage exactly as before, and is audited too.
    ///
    /// # Errors
    ///
    /// The rule that refused, by [`ErrorKind`](crate::ErrorKind): `InvalidActor` if the actor
    /// is unknown or disabled; `NotPermitted`, `Hierarchy`, `Escalation`, `OutsideScope`,
    /// `Owner`, `SeatLimit`, `InUse`, `InvalidInput`, `Duplicate`, `NotFound` (a target that
    /// does not exist or the actor may not see); `Storage` / `Audit` if a backend failed; `Conflict` if
    /// another engine sharing the storage changed one of the same objects meanwhile (see
    /// below); `OutcomeUnknown` if the storage could not say whether it stored the change.
    ///
    /// # Replicas
    ///
    /// When several engines share one storage, the storage serializes their writes. If
    /// another engine stored a batch first, this one reads it, and plans the change again on
    /// the new state — so the seat limit (R12), the single owner (R11) and every authorization
    /// rule are checked against the latest state, whichever engine made the other change.
    /// If a batch stored since this call began wrote an object this change writes, the change
    /// is refused with `Conflict` instead of overwriting it.
    ///
    /// That covers races, not stale forms: a change built from what an admin saw earlier
    /// (an edit form) is based on that earlier revision, and must be submitted with
    /// [`apply_based_on`](Self::apply_based_on) to be refused if the object changed since.
    ///
    /// # Blocking
    ///
    /// With a durable backend this waits for the database. From async code (tokio), call it
    /// inside `tokio::task::spawn_blocking`, as with any blocking I/O.
    pub fn apply(&self, actor: UserId, change: Change<P>) -> Result<Applied, Error> {
        self.apply_all(actor, vec![change])
    }

    /// Applies several changes as `actor`, all at once or not at all. Each change is authorized
    /// against the state the ones before it produce, so a batch can create a role and assign it,
    /// or reassign a role's users and delete it (R15).
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply). A refused batch is planned to the end all the same, so that
    /// [`Error::problems`] lists every problem, each on the change at fault
    /// ([`Problem::change`](crate::Problem::change)); the error is the first of them.
    pub fn apply_all(&self, actor: UserId, changes: Vec<Change<P>>) -> Result<Applied, Error> {
        self.write(actor, None, changes)
    }

    /// Like [`apply_all`](Self::apply_all), for changes an actor prepared on the state of
    /// revision `based_on` (the [`Snapshot::revision`](crate::Snapshot::revision) an edit form
    /// was filled from): refused with `Conflict` if any object the changes write was changed
    /// after that revision — by this engine or another replica — instead of overwriting that
    /// change. Without it, the engine's own revision at the call is the base.
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply); `Conflict` as said above, or if `based_on` is older than the
    /// batches the engine remembers (the last 1,024, naming at most 16,384 objects in all; a
    /// bulk load starts afresh); `Behind` if `based_on` is a revision this engine
    /// cannot read yet.
    pub fn apply_based_on(
        &self,
        actor: UserId,
        based_on: u64,
        changes: Vec<Change<P>>,
    ) -> Result<Applied, Error> {
        self.write(actor, Some(based_on), changes)
    }

    /// Plans `changes` as `actor` exactly as [`apply_all`](Self::apply_all) would on the
    /// current state — every authorization rule, then the account's invariants — and changes
    /// nothing: no storage, no audit, nothing published. `Ok` is what applying now would give:
    /// the events, and the revision the batch would get if nothing else were written first.
    /// A refusal lists every problem of the batch ([`Error::problems`]), for a form that shows
    /// them all at once.
    ///
    /// ```
    /// # use shopguard::catalog::pos::{self, Pos};
    /// # use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId, User, UserId};
    /// use shopguard::{Change, ErrorKind};
    /// # let engine = Engine::<Pos>::new();
    /// # let shop = AccountId::new(1);
    /// # engine.unchecked_apply([
    /// #     Mutation::PutAccount(Account::new(shop, "Corner Shop").with_seat_limit(1)),
    /// #     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
    /// #     Mutation::PutUser(User::new(UserId::new(1), shop, "owner", "owner@example.com")
    /// #         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))),
    /// # ])?;
    /// let ana = User::new(UserId::new(2), shop, "ana", "ana@example.com")
    ///     .with_grant(Grant::new(RoleId::new(1), Access::All));
    /// let bo = User::new(UserId::new(3), shop, "bo", "not an address")
    ///     .with_grant(Grant::new(RoleId::new(1), Access::All)).with_enabled(false);
    /// // The plan has one seat, taken by the owner, and bo's e-mail is malformed: the dry run
    /// // says both, each on its change, and changes nothing.
    /// let err = engine
    ///     .dry_run(UserId::new(1), &[Change::CreateUser(ana), Change::CreateUser(bo)])
    ///     .unwrap_err();
    /// let problems: Vec<_> = err.problems().iter().map(|p| (p.change(), p.kind())).collect();
    /// assert_eq!(
    ///     problems,
    ///     [(Some(1), ErrorKind::InvalidInput), (Some(0), ErrorKind::SeatLimit)],
    /// );
    /// assert!(engine.snapshot().user(UserId::new(2)).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`apply_all`](Self::apply_all), but never `Storage`, `Audit`, `Conflict` or
    /// `OutcomeUnknown`.
    pub fn dry_run(&self, actor: UserId, changes: &[Change<P>]) -> Result<Applied, Error> {
        // A partitioned replica cannot check the rules that reach past its accounts.
        if self.core.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        let current = self.core.current.load_full();
        let revision = current.revision().saturating_add(1);
        let staged = plan::stage(
            &current,
            actor,
            changes,
            now_unix_ms(),
            revision,
            Options::default(),
        )?;
        Ok(Applied {
            revision,
            events: staged.events,
        })
    }

    fn write(
        &self,
        actor: UserId,
        based_on: Option<u64>,
        changes: Vec<Change<P>>,
    ) -> Result<Applied, Error> {
        let write = ActorWrite {
            engine: self,
            actor,
            changes: &changes,
            at: now_unix_ms(),
        };
        let account = write.account(&self.core.current.load());
        let traced = Traced::apply(actor, account, changes.len());
        for change in &changes {
            traced.detail(&Described(change));
        }
        let result = traced.in_scope(|| self.write_based_on(based_on, &write));
        traced.finish(&result, Applied::revision);
        result
    }

    /// Commits `write` as the one writer, refused if an object it writes was changed after
    /// revision `based_on` (by default, the engine's revision now).
    pub(crate) fn write_based_on(
        &self,
        based_on: Option<u64>,
        write: &dyn Write<P>,
    ) -> Result<Applied, Error> {
        if self.core.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        let mut w = self
            .core
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A form filled on a replica that is ahead of this one: read up to it first.
        if let Some(revision) = based_on
            && revision > self.core.current.load().revision()
        {
            let caught_up = self
                .core
                .catch_up(&mut w)
                .map(|_| self.core.current.load().revision());
            if caught_up.as_ref().map_or(true, |have| *have < revision) {
                let have = self.core.current.load().revision();
                let err = caught_up
                    .err()
                    .unwrap_or_else(|| Error::behind(have, revision));
                write.refused(&err);
                return Err(err);
            }
        }
        // What was written after the base: remembered batches now, and whatever other engines
        // store while this write waits for its turn.
        let prior = match w.since(based_on.unwrap_or_else(|| self.core.current.load().revision())) {
            Ok(prior) => prior,
            Err(err) => {
                write.refused(&err);
                return Err(err);
            }
        };
        self.commit_write(&mut w, prior, write)
    }

    /// Records every change of a refused batch, in the sink and in storage; a failure is
    /// ignored here (nothing was applied, so nothing is lost).
    pub(crate) fn audit_refused(
        &self,
        at: u64,
        actor: UserId,
        account: Option<AccountId>,
        changes: &[Change<P>],
        err: &Error,
    ) {
        // A partitioned replica writes nothing to the storage it shares, refusals included.
        if self.core.partition.is_some() {
            return;
        }
        let records = plan::refused_records(at, actor, account, changes, err);
        let _ignored = self.audit.record(&records);
        let _ignored = self.core.storage.record_refused(&records);
    }
}

/// A batch of changes by an actor, as the commit pipeline stages and audits it.
struct ActorWrite<'a, P: Catalog> {
    engine: &'a Engine<P>,
    actor: UserId,
    changes: &'a [Change<P>],
    at: u64,
}

impl<P: Catalog> ActorWrite<'_, P> {
    /// The actor's account in `index`, if the actor exists.
    fn account(&self, index: &Index<P>) -> Option<AccountId> {
        index.user(self.actor).map(|u| u.account())
    }
}

impl<P: Catalog> Write<P> for ActorWrite<'_, P> {
    fn stage(&self, current: &Index<P>, revision: u64) -> Result<Staged<'_, P>, Error> {
        plan::stage(
            current,
            self.actor,
            self.changes,
            self.at,
            revision,
            Options::default(),
        )
    }

    fn refused(&self, err: &Error) {
        let account = self.account(&self.engine.core.current.load());
        self.engine
            .audit_refused(self.at, self.actor, account, self.changes, err);
    }

    fn retried(&self, err: &Error) {
        let account = self.account(&self.engine.core.current.load());
        let refused = plan::refused_records(self.at, self.actor, account, self.changes, err);
        let _ignored = self.engine.audit.record(&refused);
    }
}

/// A change as a debug event shows it: its name, and the username and e-mail of a user it
/// writes (for debugging only: never above the debug level).
struct Described<'a, P>(&'a Change<P>);

impl<P> core::fmt::Display for Described<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = self.0.name();
        match self.0 {
            Change::CreateUser(u) | Change::UpdateUser(u) => {
                write!(f, "{name} `{}` <{}>", u.username(), u.email())
            }
            _ => f.write_str(name),
        }
    }
}
