//! The write side: every change authorized by an actor (R6–R12, R14–R17, R19, R20).

pub(crate) mod audit;
pub(crate) mod authorize;
pub(crate) mod change;
pub(crate) mod listing;

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::admin::audit::{AuditRecord, Object, Outcome, now_unix_ms};
use crate::admin::change::Change;
use crate::engine::Engine;
use crate::engine::index::{Index, Pending};
use crate::model::ids::{AccountId, RoleId, UserId};
use crate::model::permission::Catalog;
use crate::storage::{Mutation, Storage};

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
}

/// A batch that was applied.
#[derive(Clone, PartialEq, Eq, Debug)]
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

impl<P: Catalog, S: Storage<P>> Engine<P, S> {
    /// Applies one change as `actor`: authorized first (R6–R11), then validated (R12, R15,
    /// R16), then stored, audited (R19) and published. A refused change leaves the engine and
    /// the storage exactly as before, and is audited too.
    ///
    /// # Errors
    ///
    /// The rule that refused, by [`ErrorKind`](crate::ErrorKind): `NotPermitted`, `Hierarchy`,
    /// `Escalation`, `OutsideScope`, `Owner`, `SeatLimit`, `InUse`, `InvalidInput`,
    /// `Duplicate`, `NotFound`; or `Storage` / `Audit` if a backend failed.
    pub fn apply(&self, actor: UserId, change: Change<P>) -> Result<Applied, Error> {
        self.apply_all(actor, vec![change])
    }

    /// Applies several changes as `actor`, all at once or not at all. Each change is authorized
    /// against the state the ones before it produce, so a batch can create a role and assign it,
    /// or reassign a role's users and delete it (R15).
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply), for the first change refused.
    pub fn apply_all(&self, actor: UserId, changes: Vec<Change<P>>) -> Result<Applied, Error> {
        let mut last = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load_full();
        let mut next = Index::clone(&current);
        let mut mutations = Vec::new();
        let mut events = Vec::new();
        let mut records = Vec::with_capacity(changes.len());
        let at = now_unix_ms();
        let account = current.users.get(&actor).map(|u| u.account());
        let revision = (*last).max(current.revision) + 1;
        // Each change is authorized against the state the ones before it produce; the whole
        // batch is validated once, at the end.
        let mut pending = Pending::default();
        for change in &changes {
            let step = authorize::plan(&next, actor, change).and_then(|planned| {
                let before = affected(&next, &planned.mutations);
                next.mutate(&planned.mutations, &mut pending)?;
                Ok((planned, before))
            });
            match step {
                Ok((planned, before)) => {
                    let after = affected(&next, &planned.mutations);
                    records.push(AuditRecord {
                        at_unix_ms: at,
                        actor,
                        account,
                        change: change.clone(),
                        before,
                        after,
                        outcome: Outcome::Applied { revision },
                    });
                    mutations.extend(planned.mutations);
                    events.extend(planned.events);
                }
                Err(err) => {
                    self.audit_refused(at, actor, account, &changes, &err);
                    return Err(err);
                }
            }
        }
        if let Err(err) = next.settle(&pending) {
            self.audit_refused(at, actor, account, &changes, &err);
            return Err(err);
        }
        next.revision = revision;
        // INVARIANT: the audit holds the batch before storage and readers do.
        if let Err(err) = self.audit.record(&records) {
            return Err(Error::audit(err));
        }
        // The audit now names this revision: it is never handed out again, even if storage
        // refuses the batch (a refused record then follows).
        *last = revision;
        if let Err(err) = self.storage.apply(revision, &mutations) {
            self.audit_refused(at, actor, account, &changes, &err);
            return Err(err);
        }
        self.current.store(Arc::new(next));
        Ok(Applied { revision, events })
    }

    /// Records every change of a refused batch; a failing sink is ignored here (nothing was
    /// applied, so nothing is lost).
    pub(crate) fn audit_refused(
        &self,
        at: u64,
        actor: UserId,
        account: Option<AccountId>,
        changes: &[Change<P>],
        err: &Error,
    ) {
        let records: Vec<AuditRecord<P>> = changes
            .iter()
            .map(|c| AuditRecord {
                at_unix_ms: at,
                actor,
                account,
                change: c.clone(),
                before: Vec::new(),
                after: Vec::new(),
                outcome: Outcome::refused(err),
            })
            .collect();
        let _ignored = self.audit.record(&records);
    }
}

/// The objects a batch of mutations touches, as they are in `index`.
fn affected<P: Catalog>(index: &Index<P>, mutations: &[Mutation<P>]) -> Vec<Object<P>> {
    let mut users = BTreeSet::new();
    let mut roles: BTreeSet<RoleId> = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    for m in mutations {
        match m {
            Mutation::PutUser(u) => {
                users.insert(u.id());
            }
            Mutation::RemoveUser(id) => {
                users.insert(*id);
            }
            Mutation::PutRole(r) => {
                roles.insert(r.id());
            }
            Mutation::RemoveRole(id) => {
                roles.insert(*id);
            }
            Mutation::PutAccount(a) => {
                accounts.insert(a.id());
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    out.extend(
        accounts
            .iter()
            .filter_map(|a| index.accounts.get(a))
            .map(|a| Object::Account(a.account.clone())),
    );
    out.extend(
        roles
            .iter()
            .filter_map(|r| index.roles.get(r))
            .map(|r| Object::Role(r.clone())),
    );
    out.extend(
        users
            .iter()
            .filter_map(|u| index.users.get(u))
            .map(|u| Object::User(u.clone())),
    );
    out
}
