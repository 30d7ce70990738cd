//! What applying a policy file would change: a set of changes, each shown readably, planned
//! and applied by the engine — as an actor, authorized like any change, or as a system that
//! skips authorization (bootstrap).

use core::fmt;
use std::collections::{BTreeSet, HashMap};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::file::Policy;
use crate::admin::Applied;
use crate::admin::audit::AuditActor;
use crate::admin::authorize::keep_former_names;
use crate::admin::change::Change;
use crate::engine::index::Index;
use crate::engine::{Engine, Snapshot};
use crate::model::access::Access;
use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::mutation::{Key, Mutation, ObjectKind};
use crate::model::permission::Catalog;
use crate::model::role::Role;
use crate::model::user::{Grant, User};
use crate::{Error, ErrorKind, Problem};

/// What an actor sees of one account: everything, for a system; for a user, what the
/// listings show it (R6, R20).
pub(crate) struct View<'a, P> {
    pub(crate) account: Account,
    pub(crate) stores: Vec<&'a Store>,
    pub(crate) sources: Vec<&'a Source>,
    pub(crate) channels: Vec<&'a Channel>,
    pub(crate) roles: Vec<&'a Role<P>>,
    pub(crate) users: Vec<&'a User>,
}

impl<'a, P: Catalog> View<'a, P> {
    /// `account` in `snapshot` as `by` sees it; `None` if the account does not exist (for a
    /// system; a user is always of an account).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidActor`] for an unknown or disabled user;
    /// [`ErrorKind::WrongAccount`] for a user of another account.
    pub(crate) fn of(
        snapshot: &'a Snapshot<P>,
        account: AccountId,
        by: &AuditActor,
    ) -> Result<Option<Self>, Error> {
        match by {
            AuditActor::User(actor) => {
                let Some(me) = snapshot.user(*actor) else {
                    return Err(Error::unknown_actor(*actor));
                };
                if !me.is_enabled() {
                    return Err(Error::disabled_actor(me.username()));
                }
                let Some(acc) = snapshot
                    .account(account)
                    .filter(|_| me.account() == account)
                else {
                    return Err(Error::refused(
                        ErrorKind::WrongAccount,
                        format!("act as `{}`", me.username()),
                        "the user is not of the file's account",
                    ));
                };
                Ok(Some(View {
                    account: acc.clone(),
                    stores: snapshot.visible_stores(*actor),
                    sources: snapshot.visible_sources(*actor),
                    channels: snapshot.visible_channels(*actor),
                    roles: snapshot.visible_roles(*actor),
                    users: snapshot.visible_users(*actor),
                }))
            }
            AuditActor::System(_) => Ok(snapshot.account(account).map(|acc| View {
                account: acc.clone(),
                stores: snapshot.stores(account).collect(),
                sources: snapshot.sources(account).collect(),
                channels: snapshot.channels(account).collect(),
                roles: snapshot.roles(account).collect(),
                users: snapshot.users(account).collect(),
            })),
        }
    }
}

/// One thing to change, before and after.
#[derive(Clone, PartialEq, Debug)]
enum Step<P> {
    CreateAccount(Account),
    /// The account's name or pending-sourcing rule: no change of an actor sets them.
    SetAccount(Account, Account),
    /// Entity-level billing as the account (after) has it.
    SetBilling(Account),
    /// The seat limit before, and the account after.
    SetSeatLimit(Option<u32>, Account),
    CreateStore(Store),
    UpdateStore(Store, Store),
    DeleteStore(Store),
    CreateSource(Source),
    UpdateSource(Source, Source),
    DeleteSource(Source),
    CreateChannel(Channel),
    UpdateChannel(Channel, Channel),
    DeleteChannel(Channel),
    CreateRole(Role<P>),
    UpdateRole(Role<P>, Role<P>),
    DeleteRole(Role<P>),
    CreateUser(User),
    UpdateUser(User, User),
    EnableUser(User),
    DisableUser(User),
    DeleteUser(User),
    TransferOwnership(Option<User>, User),
    /// The file names no owner where the account has one: only a system writes that (and the
    /// engine refuses it while the account has users, R11).
    ClearOwner(User),
}

/// One entry of a [`PolicyDiff`]: one change, what it is about, and what it changes.
///
/// It displays as one line, `+` for what is created, `-` for what is deleted, `~` for the
/// rest: ``~ update role `Cashier` (#3): permissions +VIEW_REPORTS``. It serializes as
/// `{"action": "update role", "object": "role", "id": 3, "name": "Cashier", "details":
/// ["permissions +VIEW_REPORTS"], "line": 30, "actor_may_apply": true}`.
#[derive(Clone, PartialEq)]
pub struct DiffEntry<P> {
    step: Step<P>,
    details: Vec<String>,
    line: Option<u64>,
}

impl<P: Copy> fmt::Debug for DiffEntry<P> {
    /// The entry's line of text: no user's e-mail beyond what the line says.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiffEntry")
            .field("action", &self.action())
            .field("key", &self.key())
            .finish()
    }
}

impl<P: Copy> DiffEntry<P> {
    /// What is done, in words: `"create store"`, `"update role"`, `"disable user"`,
    /// `"transfer ownership"`, `"set seat limit"`, …
    pub fn action(&self) -> &'static str {
        match &self.step {
            Step::CreateAccount(_) => "create account",
            Step::SetAccount(..) => "update account",
            Step::SetBilling(_) => "set entity-level billing",
            Step::SetSeatLimit(..) => "set seat limit",
            Step::CreateStore(_) => "create store",
            Step::UpdateStore(..) => "update store",
            Step::DeleteStore(_) => "delete store",
            Step::CreateSource(_) => "create source",
            Step::UpdateSource(..) => "update source",
            Step::DeleteSource(_) => "delete source",
            Step::CreateChannel(_) => "create sales channel",
            Step::UpdateChannel(..) => "update sales channel",
            Step::DeleteChannel(_) => "delete sales channel",
            Step::CreateRole(_) => "create role",
            Step::UpdateRole(..) => "update role",
            Step::DeleteRole(_) => "delete role",
            Step::CreateUser(_) => "create user",
            Step::UpdateUser(..) => "update user",
            Step::EnableUser(_) => "enable user",
            Step::DisableUser(_) => "disable user",
            Step::DeleteUser(_) => "delete user",
            Step::TransferOwnership(..) => "transfer ownership",
            Step::ClearOwner(_) => "remove the owner",
        }
    }

    /// The object the entry is about: for ownership, the new owner; for account settings,
    /// the account.
    pub fn key(&self) -> Key {
        match &self.step {
            Step::CreateAccount(a)
            | Step::SetAccount(_, a)
            | Step::SetBilling(a)
            | Step::SetSeatLimit(_, a) => a.id().into(),
            Step::CreateStore(x) | Step::UpdateStore(_, x) | Step::DeleteStore(x) => x.id().into(),
            Step::CreateSource(x) | Step::UpdateSource(_, x) | Step::DeleteSource(x) => {
                x.id().into()
            }
            Step::CreateChannel(x) | Step::UpdateChannel(_, x) | Step::DeleteChannel(x) => {
                x.id().into()
            }
            Step::CreateRole(x) | Step::UpdateRole(_, x) | Step::DeleteRole(x) => x.id().into(),
            Step::CreateUser(x)
            | Step::UpdateUser(_, x)
            | Step::EnableUser(x)
            | Step::DisableUser(x)
            | Step::DeleteUser(x)
            | Step::TransferOwnership(_, x)
            | Step::ClearOwner(x) => x.id().into(),
        }
    }

    /// The object's name: a store's, channel's, role's or account's name, a source's external
    /// id, a user's username.
    pub fn name(&self) -> &str {
        match &self.step {
            Step::CreateAccount(a)
            | Step::SetAccount(_, a)
            | Step::SetBilling(a)
            | Step::SetSeatLimit(_, a) => a.name(),
            Step::CreateStore(x) | Step::UpdateStore(_, x) | Step::DeleteStore(x) => x.name(),
            Step::CreateSource(x) | Step::UpdateSource(_, x) | Step::DeleteSource(x) => {
                x.external_id()
            }
            Step::CreateChannel(x) | Step::UpdateChannel(_, x) | Step::DeleteChannel(x) => x.name(),
            Step::CreateRole(x) | Step::UpdateRole(_, x) | Step::DeleteRole(x) => x.name(),
            Step::CreateUser(x)
            | Step::UpdateUser(_, x)
            | Step::EnableUser(x)
            | Step::DisableUser(x)
            | Step::DeleteUser(x)
            | Step::TransferOwnership(_, x)
            | Step::ClearOwner(x) => x.username(),
        }
    }

    /// What changes, one field a line: `level 3 → 2`, `permissions +VIEW_REPORTS -SELL`.
    pub fn details(&self) -> &[String] {
        &self.details
    }

    /// The line of the policy file describing the object, for what the file creates or
    /// updates.
    pub fn line(&self) -> Option<u64> {
        self.line
    }

    /// Whether an actor may ask for this change at all: the account's creation, its name and
    /// its pending-sourcing rule are written only by a system
    /// ([`Engine::unchecked_apply_as`]).
    pub fn actor_may_apply(&self) -> bool {
        !matches!(
            self.step,
            Step::CreateAccount(_) | Step::SetAccount(..) | Step::ClearOwner(_)
        )
    }

    fn sign(&self) -> char {
        match &self.step {
            Step::CreateAccount(_)
            | Step::CreateStore(_)
            | Step::CreateSource(_)
            | Step::CreateChannel(_)
            | Step::CreateRole(_)
            | Step::CreateUser(_) => '+',
            Step::DeleteStore(_)
            | Step::DeleteSource(_)
            | Step::DeleteChannel(_)
            | Step::DeleteRole(_)
            | Step::DeleteUser(_) => '-',
            _ => '~',
        }
    }
}

impl<P: Copy> DiffEntry<P> {
    /// The change an actor asks for, as [`Engine::apply_all`] takes it; `None` for what only
    /// a system writes ([`actor_may_apply`](Self::actor_may_apply)).
    pub fn change(&self) -> Option<Change<P>> {
        Some(match &self.step {
            Step::CreateAccount(_) | Step::SetAccount(..) | Step::ClearOwner(_) => return None,
            Step::SetBilling(a) => Change::SetEntityLevelBilling(a.entity_level_billing()),
            Step::SetSeatLimit(_, a) => Change::SetSeatLimit {
                limit: a.seat_limit(),
                disable_excess: false,
            },
            Step::CreateStore(x) => Change::CreateStore(x.clone()),
            Step::UpdateStore(_, x) => Change::UpdateStore(x.clone()),
            Step::DeleteStore(x) => Change::DeleteStore(x.id()),
            Step::CreateSource(x) => Change::CreateSource(x.clone()),
            Step::UpdateSource(_, x) => Change::UpdateSource(x.clone()),
            Step::DeleteSource(x) => Change::DeleteSource(x.id()),
            Step::CreateChannel(x) => Change::CreateChannel(x.clone()),
            Step::UpdateChannel(_, x) => Change::UpdateChannel(x.clone()),
            Step::DeleteChannel(x) => Change::DeleteChannel(x.id()),
            Step::CreateRole(x) => Change::CreateRole(x.clone()),
            Step::UpdateRole(_, x) => Change::UpdateRole(x.clone()),
            Step::DeleteRole(x) => Change::DeleteRole {
                role: x.id(),
                reassign_to: None,
            },
            // Ownership moves by a transfer of its own.
            Step::CreateUser(x) => Change::CreateUser(x.clone().with_owner(false)),
            // Disabling comes before (freeing seats, R12) and enabling after: the update keeps
            // the user disabled if either says so.
            Step::UpdateUser(old, x) => Change::UpdateUser(
                x.clone()
                    .with_owner(old.is_owner())
                    .with_enabled(old.is_enabled() && x.is_enabled()),
            ),
            Step::EnableUser(x) => Change::EnableUser(x.id()),
            Step::DisableUser(x) => Change::DisableUser(x.id()),
            Step::DeleteUser(x) => Change::DeleteUser(x.id()),
            Step::TransferOwnership(_, x) => Change::TransferOwnership { to: x.id() },
        })
    }
}

impl<P: Copy> fmt::Display for DiffEntry<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.sign(), self.action())?;
        let key = self.key();
        if !self.name().is_empty() {
            write!(f, " `{}` (#{})", self.name(), key.id)?;
        }
        if !self.details.is_empty() {
            write!(f, ": {}", self.details.join("; "))?;
        }
        Ok(())
    }
}

impl<P: Copy> Serialize for DiffEntry<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let key = self.key();
        let mut st = s.serialize_struct("DiffEntry", 7)?;
        st.serialize_field("action", self.action())?;
        st.serialize_field("object", &key.kind.to_string())?;
        st.serialize_field("id", &key.id)?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("details", &self.details)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("actor_may_apply", &self.actor_may_apply())?;
        st.end()
    }
}

/// What applying a [`Policy`] to an engine would change, as `by` sees the account: a set of
/// changes in the order they are applied, each a [`DiffEntry`].
///
/// As a user, the diff is of what the user sees (R6, R20): objects it may not see are
/// neither compared nor touched, and a file describing one is planned as creating it, which
/// the engine refuses as it would any such change. As a system, the diff is of the whole
/// account. Former names (R14) are kept: a role's names in the engine stay resolvable, so a
/// file need not list them, and one it lists is added.
///
/// It displays as one line per entry, and serializes as `{"account": 1, "base": 7, "entries":
/// [...]}`.
#[derive(Clone)]
pub struct PolicyDiff<P> {
    account: AccountId,
    by: AuditActor,
    base: u64,
    entries: Vec<DiffEntry<P>>,
    mutations: Vec<Mutation<P>>,
}

impl<P> fmt::Debug for PolicyDiff<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyDiff")
            .field("account", &self.account)
            .field("base", &self.base)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl<P: Copy> fmt::Display for PolicyDiff<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("nothing to change");
        }
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl<P: Copy> Serialize for PolicyDiff<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PolicyDiff", 3)?;
        st.serialize_field("account", &self.account)?;
        st.serialize_field("base", &self.base)?;
        st.serialize_field("entries", &self.entries)?;
        st.end()
    }
}

impl<P: Catalog> PolicyDiff<P> {
    /// The account the diff is of.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// Who the diff was computed for.
    pub fn by(&self) -> &AuditActor {
        &self.by
    }

    /// The revision of the snapshot the diff was computed on: applying it is refused with
    /// [`ErrorKind::Conflict`] if an object it writes changed since.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Whether the engine already holds what the policy says.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in the order their changes are applied.
    pub fn entries(&self) -> &[DiffEntry<P>] {
        &self.entries
    }

    /// The entry a problem of a refusal is about ([`Problem::change`] is its position).
    pub fn entry_of(&self, problem: &Problem) -> Option<&DiffEntry<P>> {
        problem.change().and_then(|i| self.entries.get(i))
    }

    /// The changes an actor asks for, one per entry, in order: the batch
    /// [`Engine::apply_all`] takes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotPermitted`] if an entry is one only a system writes (creating the
    /// account, its name or pending-sourcing rule), listing each in [`Error::problems`].
    pub fn changes(&self) -> Result<Vec<Change<P>>, Error> {
        let mut changes = Vec::with_capacity(self.entries.len());
        let mut problems = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            match e.change() {
                Some(c) => changes.push(c),
                None => problems.push(Problem::of(
                    Some(i),
                    &Error::refused(
                        ErrorKind::NotPermitted,
                        e.action(),
                        "no user may: apply the file as a system (bootstrap)",
                    ),
                )),
            }
        }
        match problems.first() {
            None => Ok(changes),
            Some(first) => Err(Error::refused(
                ErrorKind::NotPermitted,
                "apply the policy as a user",
                first.reason(),
            )
            .with_problems(problems, 0)),
        }
    }

    /// The record-level writes a system makes ([`Engine::unchecked_apply_as`]): every object
    /// the diff touches, put as the file says or removed.
    pub fn mutations(&self) -> &[Mutation<P>] {
        &self.mutations
    }

    /// Plans the diff on `engine` as it would be applied now, changing nothing: as a user,
    /// [`Engine::dry_run`] of [`changes`](Self::changes); as a system, the engine's
    /// validation of [`mutations`](Self::mutations). `Ok` is the revision applying would
    /// give if nothing were written first.
    ///
    /// # Errors
    ///
    /// The first problem, listing every one in [`Error::problems`], each on its entry
    /// ([`entry_of`](Self::entry_of)).
    pub fn dry_run(&self, engine: &Engine<P>) -> Result<u64, Error> {
        match &self.by {
            AuditActor::User(actor) => engine
                .dry_run(*actor, &self.changes()?)
                .map(|a| a.revision()),
            AuditActor::System(_) => {
                let current = engine.snapshot();
                let mut next = Index::clone(current.index());
                let mut pending = crate::engine::index::Pending::default();
                let found = match next.mutate(&self.mutations, &mut pending) {
                    Ok(()) => next.settle_all(&pending).into_parts(),
                    Err(e) => (vec![(e.key(), e)], 0),
                };
                match self.placed(found.0, found.1) {
                    None => Ok(current.revision().saturating_add(1)),
                    Some(err) => Err(err),
                }
            }
        }
    }

    /// Errors found validating the mutations, each put on the entry of its object; `None` if
    /// there are none.
    fn placed(&self, found: Vec<(Option<Key>, Error)>, omitted: usize) -> Option<Error> {
        let entry_of: HashMap<Key, usize> = self
            .entries
            .iter()
            .enumerate()
            .rev()
            .map(|(i, e)| (e.key(), i))
            .collect();
        let problems: Vec<Problem> = found
            .iter()
            .map(|(key, err)| Problem::of(key.and_then(|k| entry_of.get(&k).copied()), err))
            .collect();
        let (_, first) = found.into_iter().next()?;
        Some(first.with_problems(problems, omitted))
    }
}

/// What [`Policy::apply`] did.
#[derive(Clone, Debug)]
pub struct PolicyApplied<P> {
    diff: PolicyDiff<P>,
    applied: Option<Applied>,
}

impl<P> PolicyApplied<P> {
    /// The diff that was applied (empty if the engine already held the policy).
    pub fn diff(&self) -> &PolicyDiff<P> {
        &self.diff
    }

    /// The batch as applied: its revision and the events the host must act on (invitations
    /// to send). `None` if there was nothing to change: nothing was written or audited.
    pub fn applied(&self) -> Option<&Applied> {
        self.applied.as_ref()
    }
}

impl<P: Catalog> Policy<P> {
    /// What applying the policy to `snapshot` as `by` would change (see [`PolicyDiff`]).
    ///
    /// # Errors
    ///
    /// For a user: [`ErrorKind::InvalidActor`] if it is unknown or disabled,
    /// [`ErrorKind::WrongAccount`] if it is not of the policy's account.
    pub fn diff(&self, snapshot: &Snapshot<P>, by: &AuditActor) -> Result<PolicyDiff<P>, Error> {
        let view = View::of(snapshot, self.account.id(), by)?;
        let names = NameBook::new(self, view.as_ref());
        let mut plan = Planner {
            policy: self,
            actor: by.user(),
            steps: Vec::new(),
        };
        plan.compare(view.as_ref());
        let entries: Vec<DiffEntry<P>> = plan
            .steps
            .into_iter()
            .map(|step| {
                let details = names.details(&step);
                let key = DiffEntry {
                    step: step.clone(),
                    details: Vec::new(),
                    line: None,
                }
                .key();
                let writes = !matches!(
                    step,
                    Step::DeleteStore(_)
                        | Step::DeleteSource(_)
                        | Step::DeleteChannel(_)
                        | Step::DeleteRole(_)
                        | Step::DeleteUser(_)
                );
                let line = if writes { self.line_of(key) } else { None };
                DiffEntry {
                    step,
                    details,
                    line,
                }
            })
            .collect();
        let mutations = bootstrap_batch(self, view.as_ref(), &entries);
        Ok(PolicyDiff {
            account: self.account.id(),
            by: by.clone(),
            base: snapshot.revision(),
            entries,
            mutations,
        })
    }

    /// Brings `engine` to what the policy says, as `by`: a user's changes are authorized
    /// like any change ([`Engine::apply_based_on`] on the diff's snapshot, so that an object
    /// changed meanwhile is a conflict, never overwritten); a system's are written with
    /// [`Engine::unchecked_apply_as`] under its name. Idempotent: when the engine already
    /// holds the policy nothing is written or audited, and
    /// [`PolicyApplied::applied`] is `None`.
    ///
    /// ```
    /// use shopguard::audit::AuditActor;
    /// use shopguard::catalog::pos::Pos;
    /// use shopguard::policy::Policy;
    /// use shopguard::{Engine, UserId};
    ///
    /// let text = r#"
    ///     [account]
    ///     id = 1
    ///     name = "Corner Shop"
    ///     [[stores]]
    ///     id = 10
    ///     name = "North"
    ///     [[roles]]
    ///     id = 1
    ///     name = "Admin"
    ///     level = 1
    ///     permissions = "all"
    ///     [[users]]
    ///     id = 100
    ///     username = "olivia"
    ///     email = "olivia@corner.example"
    ///     owner = true
    ///     role = "Admin"
    ///     stores = "all"
    /// "#;
    /// let engine = Engine::<Pos>::new();
    /// let bootstrap = AuditActor::System("policy bootstrap".into());
    /// let first = Policy::<Pos>::from_toml(text)?.apply(&engine, &bootstrap)?;
    /// assert_eq!(first.diff().entries().len(), 4); // the account, a store, a role, a user
    /// // Again: nothing to change, nothing written.
    /// let again = Policy::<Pos>::from_toml(text)?.apply(&engine, &bootstrap)?;
    /// assert!(again.applied().is_none() && again.diff().is_empty());
    ///
    /// // As the owner: a new store is a change like any other.
    /// let more = text.replace("[[roles]]", "[[stores]]\nid = 11\nname = \"South\"\n[[roles]]");
    /// let olivia = AuditActor::User(UserId::new(100));
    /// let applied = Policy::<Pos>::from_toml(&more)?.apply(&engine, &olivia)?;
    /// assert_eq!(applied.diff().to_string(), "+ create store `South` (#11)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`diff`](Self::diff); then as [`Engine::apply_based_on`] for a user (the rule that
    /// refused, with every problem on its entry, [`PolicyDiff::entry_of`]) or
    /// [`Engine::unchecked_apply_as`] for a system (every broken rule on its entry).
    /// [`ErrorKind::NotPermitted`] if a user's diff holds a change only a system makes.
    pub fn apply(&self, engine: &Engine<P>, by: &AuditActor) -> Result<PolicyApplied<P>, Error> {
        let snapshot = engine.snapshot();
        let diff = self.diff(&snapshot, by)?;
        if diff.is_empty() {
            return Ok(PolicyApplied {
                diff,
                applied: None,
            });
        }
        let applied = match by {
            AuditActor::User(actor) => {
                let changes = diff.changes()?;
                engine.apply_based_on(*actor, diff.base(), changes)?
            }
            AuditActor::System(system) => {
                // The engine's first refusal names one rule; the dry run places every one on
                // its entry.
                diff.dry_run(engine)?;
                let revision = engine.unchecked_apply_as(system, diff.mutations().to_vec())?;
                Applied {
                    revision,
                    events: Vec::new(),
                }
            }
        };
        Ok(PolicyApplied {
            diff,
            applied: Some(applied),
        })
    }

    /// The policy as the engine holds it for `account`, as `by` sees it: what a policy file
    /// of the account says now. Exported as a user, it holds only what the user may see.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] if there is no such account; for a user, as
    /// [`diff`](Self::diff).
    pub fn export(
        snapshot: &Snapshot<P>,
        account: AccountId,
        by: &AuditActor,
        catalog: Option<&str>,
    ) -> Result<Self, Error> {
        let view =
            View::of(snapshot, account, by)?.ok_or_else(|| Error::not_found("account", account))?;
        Ok(Policy::from_view(&view, catalog.map(str::to_owned)))
    }

    /// Checks the policy against the engine's rules (R11 owner, R12 seats, R14, R16 names,
    /// references) by loading it into an empty engine, changing nothing else. The problems
    /// are listed with the line of the object at fault.
    ///
    /// # Errors
    ///
    /// The first broken rule, listing every one in [`Error::problems`] with its line.
    pub fn validate(&self) -> Result<(), Error> {
        let mut index = Index::<P>::empty();
        let mut pending = crate::engine::index::Pending::default();
        let problems_of = |found: Vec<(Option<Key>, Error)>, omitted| {
            let problems: Vec<Problem> = found
                .iter()
                .map(|(key, err)| {
                    let line = key.and_then(|k| self.line_of(k)).unwrap_or(0);
                    Problem::in_policy(line, err.field(), err.kind(), err.to_string())
                })
                .collect();
            Error::file("policy", problems, omitted)
        };
        if let Err(err) = index.mutate(&self.mutations(), &mut pending) {
            return Err(problems_of(vec![(err.key(), err)], 0));
        }
        let (found, omitted) = index.settle_all(&pending).into_parts();
        if found.is_empty() {
            Ok(())
        } else {
            Err(problems_of(found, omitted))
        }
    }
}

/// The names of the objects of a diff, from the file and the engine, for its details.
struct NameBook {
    stores: HashMap<StoreId, String>,
    sources: HashMap<SourceId, String>,
    channels: HashMap<ChannelId, String>,
    roles: HashMap<RoleId, String>,
}

impl NameBook {
    fn new<P: Catalog>(policy: &Policy<P>, view: Option<&View<'_, P>>) -> Self {
        let mut book = NameBook {
            stores: HashMap::new(),
            sources: HashMap::new(),
            channels: HashMap::new(),
            roles: HashMap::new(),
        };
        if let Some(v) = view {
            for s in &v.stores {
                book.stores.insert(s.id(), s.name().to_owned());
            }
            for s in &v.sources {
                book.sources.insert(s.id(), s.external_id().to_owned());
            }
            for c in &v.channels {
                book.channels.insert(c.id(), c.name().to_owned());
            }
            for r in &v.roles {
                book.roles.insert(r.id(), r.name().to_owned());
            }
        }
        for s in &policy.stores {
            book.stores.insert(s.id(), s.name().to_owned());
        }
        for s in &policy.sources {
            book.sources.insert(s.id(), s.external_id().to_owned());
        }
        for c in &policy.channels {
            book.channels.insert(c.id(), c.name().to_owned());
        }
        for r in &policy.roles {
            book.roles.insert(r.id(), r.name().to_owned());
        }
        book
    }

    fn access<T: Ord + Copy + core::hash::Hash>(
        map: &HashMap<T, String>,
        access: &Access<T>,
        id: fn(T) -> u64,
    ) -> String {
        match access {
            Access::All => "all".to_owned(),
            Access::None => "none".to_owned(),
            Access::Specific(set) => {
                let names: Vec<String> = set
                    .iter()
                    .map(|x| {
                        map.get(&x)
                            .cloned()
                            .unwrap_or_else(|| format!("#{}", id(x)))
                    })
                    .collect();
                format!("[{}]", names.join(", "))
            }
        }
    }

    fn stores(&self, a: &Access<StoreId>) -> String {
        Self::access(&self.stores, a, StoreId::get)
    }

    fn sources(&self, a: &Access<SourceId>) -> String {
        Self::access(&self.sources, a, SourceId::get)
    }

    fn channels(&self, a: &Access<ChannelId>) -> String {
        Self::access(&self.channels, a, ChannelId::get)
    }

    fn grants(&self, grants: &[Grant]) -> String {
        if grants.is_empty() {
            return "none".to_owned();
        }
        let parts: Vec<String> = grants
            .iter()
            .map(|g| {
                let role = self
                    .roles
                    .get(&g.role)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", g.role.get()));
                format!("`{role}` at {}", self.stores(&g.stores))
            })
            .collect();
        parts.join(", ")
    }

    fn details<P: Catalog>(&self, step: &Step<P>) -> Vec<String> {
        let mut out = Vec::new();
        let mut field = |name: &str, before: String, after: String| {
            if before != after {
                out.push(format!("{name} {before} → {after}"));
            }
        };
        match step {
            Step::SetAccount(old, new) => {
                field("name", quoted(old.name()), quoted(new.name()));
                field(
                    "pending sourcing",
                    format!("{:?}", old.pending_sourcing()),
                    format!("{:?}", new.pending_sourcing()),
                );
            }
            Step::SetBilling(a) => out.push(if a.entity_level_billing() {
                "billed and settled at entity level".to_owned()
            } else {
                "billed and settled per store".to_owned()
            }),
            Step::SetSeatLimit(old, new) => {
                field("seat limit", limit(*old), limit(new.seat_limit()));
            }
            Step::UpdateStore(old, new) => field("name", quoted(old.name()), quoted(new.name())),
            Step::UpdateSource(old, new) => field(
                "external id",
                quoted(old.external_id()),
                quoted(new.external_id()),
            ),
            Step::UpdateChannel(old, new) => {
                field("name", quoted(old.name()), quoted(new.name()));
            }
            Step::UpdateRole(old, new) => {
                field("name", quoted(old.name()), quoted(new.name()));
                field(
                    "level",
                    old.level().get().to_string(),
                    new.level().get().to_string(),
                );
                let (gained, lost) = (
                    new.permissions().difference(old.permissions()),
                    old.permissions().difference(new.permissions()),
                );
                if !gained.is_empty() || !lost.is_empty() {
                    let mut parts = Vec::new();
                    parts.extend(
                        gained
                            .names()
                            .unwrap_or_default()
                            .iter()
                            .map(|n| format!("+{n}")),
                    );
                    parts.extend(
                        lost.names()
                            .unwrap_or_default()
                            .iter()
                            .map(|n| format!("-{n}")),
                    );
                    out.push(format!("permissions {}", parts.join(" ")));
                }
                let (o, n) = (old.ceiling(), new.ceiling());
                let mut field = |name: &str, before: String, after: String| {
                    if before != after {
                        out.push(format!("{name} {before} → {after}"));
                    }
                };
                field("stores", self.stores(&o.stores), self.stores(&n.stores));
                field(
                    "sources",
                    self.sources(&o.sources),
                    self.sources(&n.sources),
                );
                field(
                    "channels",
                    self.channels(&o.channels),
                    self.channels(&n.channels),
                );
                let added: Vec<String> = new
                    .former_names()
                    .iter()
                    .filter(|f| !old.answers_to(f))
                    .map(|f| quoted(f))
                    .collect();
                if !added.is_empty() {
                    out.push(format!("former names +{}", added.join(" +")));
                }
            }
            Step::UpdateUser(old, new) => {
                field("username", quoted(old.username()), quoted(new.username()));
                field("e-mail", quoted(old.email()), quoted(new.email()));
                field(
                    "timezone",
                    old.timezone().to_owned(),
                    new.timezone().to_owned(),
                );
                field(
                    "grants",
                    self.grants(old.grants()),
                    self.grants(new.grants()),
                );
                field(
                    "sources",
                    self.sources(old.sources()),
                    self.sources(new.sources()),
                );
                field(
                    "channels",
                    self.channels(old.channels()),
                    self.channels(new.channels()),
                );
            }
            Step::TransferOwnership(Some(from), _) => {
                out.push(format!("from `{}`", from.username()));
            }
            Step::CreateUser(u) => {
                out.push(format!("grants {}", self.grants(u.grants())));
                if !u.is_enabled() {
                    out.push("disabled".to_owned());
                }
            }
            Step::CreateRole(r) => {
                out.push(format!("level {}", r.level().get()));
            }
            _ => {}
        }
        out
    }
}

fn quoted(text: &str) -> String {
    format!("`{text}`")
}

fn limit(l: Option<u32>) -> String {
    l.map_or_else(|| "none".to_owned(), |n| n.to_string())
}

/// Builds the steps of a diff, in the order an actor's changes must come.
struct Planner<'p, P> {
    policy: &'p Policy<P>,
    /// The user applying the diff, whose own deletion comes last.
    actor: Option<UserId>,
    steps: Vec<Step<P>>,
}

/// Whether role `now` (in the engine) already is `file`: the same but for former names the
/// engine keeps (R14).
fn same_role<P: Catalog>(now: &Role<P>, file: &Role<P>) -> bool {
    now.name() == file.name()
        && now.level() == file.level()
        && now.permissions() == file.permissions()
        && now.ceiling() == file.ceiling()
        && file.former_names().iter().all(|f| now.answers_to(f))
}

/// Whether user `now` (in the engine) already is `file`, its enabled and owner flags aside.
fn same_user(now: &User, file: &User) -> bool {
    now.username() == file.username()
        && now.email() == file.email()
        && now.timezone() == file.timezone()
        && now.grants() == file.grants()
        && now.sources() == file.sources()
        && now.channels() == file.channels()
}

impl<P: Catalog> Planner<'_, P> {
    fn compare(&mut self, view: Option<&View<'_, P>>) {
        let policy = self.policy;
        let want = &policy.account;
        let Some(view) = view else {
            // A new account: only a system creates it, with everything in it.
            self.steps.push(Step::CreateAccount(want.clone()));
            self.steps
                .extend(policy.stores.iter().cloned().map(Step::CreateStore));
            self.steps
                .extend(policy.sources.iter().cloned().map(Step::CreateSource));
            self.steps
                .extend(policy.channels.iter().cloned().map(Step::CreateChannel));
            self.steps
                .extend(policy.roles.iter().cloned().map(Step::CreateRole));
            self.steps
                .extend(policy.users.iter().cloned().map(Step::CreateUser));
            return;
        };
        let have = &view.account;
        if have.name() != want.name() || have.pending_sourcing() != want.pending_sourcing() {
            let renamed =
                Account::new(have.id(), want.name()).with_pending_sourcing(want.pending_sourcing());
            let renamed = match have.seat_limit() {
                Some(n) => renamed.with_seat_limit(n),
                None => renamed,
            }
            .with_entity_level_billing(have.entity_level_billing());
            self.steps.push(Step::SetAccount(have.clone(), renamed));
        }
        if have.entity_level_billing() != want.entity_level_billing() {
            self.steps.push(Step::SetBilling(
                have.clone()
                    .with_entity_level_billing(want.entity_level_billing()),
            ));
        }
        let lowers = match (have.seat_limit(), want.seat_limit()) {
            (a, b) if a == b => None,
            (_, None) => Some(false),
            (None, Some(_)) => Some(true),
            (Some(a), Some(b)) => Some(b < a),
        };
        let with_limit = |a: &Account| match want.seat_limit() {
            Some(n) => a.clone().with_seat_limit(n),
            None => a.clone().without_seat_limit(),
        };
        if lowers == Some(false) {
            self.steps
                .push(Step::SetSeatLimit(have.seat_limit(), with_limit(have)));
        }

        // Stores, sources, channels: created and renamed first, deleted last.
        let mut deletes = Vec::new();
        diff_objects(
            &view.stores,
            &policy.stores,
            Store::id,
            |a, b| a.name() == b.name(),
            &mut self.steps,
            &mut deletes,
            Step::CreateStore,
            Step::UpdateStore,
            Step::DeleteStore,
        );
        diff_objects(
            &view.sources,
            &policy.sources,
            Source::id,
            |a, b| a.external_id() == b.external_id(),
            &mut self.steps,
            &mut deletes,
            Step::CreateSource,
            Step::UpdateSource,
            Step::DeleteSource,
        );
        diff_objects(
            &view.channels,
            &policy.channels,
            Channel::id,
            |a, b| a.name() == b.name(),
            &mut self.steps,
            &mut deletes,
            Step::CreateChannel,
            Step::UpdateChannel,
            Step::DeleteChannel,
        );
        let mut role_deletes = Vec::new();
        diff_objects(
            &view.roles,
            &policy.roles,
            Role::id,
            same_role,
            &mut self.steps,
            &mut role_deletes,
            Step::CreateRole,
            Step::UpdateRole,
            Step::DeleteRole,
        );

        // Users: deleting and disabling first frees seats (R12) for the users created and
        // enabled after.
        let wanted: HashMap<UserId, &User> = policy.users.iter().map(|u| (u.id(), u)).collect();
        let current: HashMap<UserId, &User> = view.users.iter().map(|u| (u.id(), *u)).collect();
        let mut last = Vec::new();
        for u in &view.users {
            if !wanted.contains_key(&u.id()) {
                // An actor deleting itself does so last: nothing after could be its change.
                if Some(u.id()) == self.actor {
                    last.push(Step::DeleteUser((*u).clone()));
                } else {
                    self.steps.push(Step::DeleteUser((*u).clone()));
                }
            }
        }
        for u in &policy.users {
            if let Some(now) = current.get(&u.id())
                && now.is_enabled()
                && !u.is_enabled()
            {
                self.steps.push(Step::DisableUser(u.clone()));
            }
        }
        for u in &policy.users {
            match current.get(&u.id()) {
                None => self.steps.push(Step::CreateUser(u.clone())),
                Some(now) => {
                    if !same_user(now, u) {
                        self.steps.push(Step::UpdateUser((*now).clone(), u.clone()));
                    }
                }
            }
        }
        for u in &policy.users {
            if let Some(now) = current.get(&u.id())
                && !now.is_enabled()
                && u.is_enabled()
            {
                self.steps.push(Step::EnableUser(u.clone()));
            }
        }
        let owner_now = view.users.iter().find(|u| u.is_owner());
        let owner_wanted = policy.users.iter().find(|u| u.is_owner());
        let ownership = match (owner_now, owner_wanted) {
            (Some(now), Some(want)) if now.id() == want.id() => None,
            // A user who may not see the owner says nothing of ownership: every account with
            // users has one (R11), and whether the file names it is not that user's to learn.
            (None, _) if self.actor.is_some() => None,
            (now, Some(want)) => Some(Step::TransferOwnership(
                now.map(|u| (*u).clone()),
                want.clone(),
            )),
            (Some(now), None) => Some(Step::ClearOwner((*now).clone())),
            (None, None) => None,
        };
        self.steps.extend(ownership);
        self.steps.append(&mut role_deletes);
        self.steps.append(&mut deletes);
        self.steps.append(&mut last);
        if lowers == Some(true) {
            self.steps
                .push(Step::SetSeatLimit(have.seat_limit(), with_limit(have)));
        }
    }
}

/// Steps for one kind of object: creations and updates to `steps`, deletions (in reverse
/// kind order, children first) to the front of `deletes`.
#[expect(clippy::too_many_arguments, reason = "one call per kind of object")]
fn diff_objects<T: Clone, I: Eq + core::hash::Hash + Copy, P>(
    now: &[&T],
    file: &[T],
    id: fn(&T) -> I,
    same: impl Fn(&T, &T) -> bool,
    steps: &mut Vec<Step<P>>,
    deletes: &mut Vec<Step<P>>,
    create: fn(T) -> Step<P>,
    update: fn(T, T) -> Step<P>,
    delete: fn(T) -> Step<P>,
) {
    let current: HashMap<I, &T> = now.iter().map(|x| (id(x), *x)).collect();
    let in_file: std::collections::HashSet<I> = file.iter().map(id).collect();
    for x in file {
        match current.get(&id(x)) {
            None => steps.push(create(x.clone())),
            Some(old) if !same(old, x) => steps.push(update((*old).clone(), x.clone())),
            Some(_) => {}
        }
    }
    let gone: Vec<Step<P>> = now
        .iter()
        .filter(|x| !in_file.contains(&id(x)))
        .map(|x| delete((*x).clone()))
        .collect();
    // Channels are deleted before sources, sources before stores: the later kinds first.
    deletes.splice(0..0, gone);
}

/// The record-level batch a system writes for `entries`: every object they touch, put as the
/// file says (a role keeping its former names, R14) or removed; parents put first, children
/// removed first.
fn bootstrap_batch<P: Catalog>(
    policy: &Policy<P>,
    view: Option<&View<'_, P>>,
    entries: &[DiffEntry<P>],
) -> Vec<Mutation<P>> {
    let mut touched: BTreeSet<Key> = entries.iter().map(DiffEntry::key).collect();
    // The owner a transfer takes ownership from is written too.
    for e in entries {
        if let Step::TransferOwnership(Some(from), _) = &e.step {
            touched.insert(from.id().into());
        }
    }
    let stores: HashMap<u64, &Store> = policy.stores.iter().map(|x| (x.id().get(), x)).collect();
    let sources: HashMap<u64, &Source> = policy.sources.iter().map(|x| (x.id().get(), x)).collect();
    let channels: HashMap<u64, &Channel> =
        policy.channels.iter().map(|x| (x.id().get(), x)).collect();
    let roles: HashMap<u64, &Role<P>> = policy.roles.iter().map(|x| (x.id().get(), x)).collect();
    let users: HashMap<u64, &User> = policy.users.iter().map(|x| (x.id().get(), x)).collect();
    let held: HashMap<u64, &Role<P>> = view
        .map(|v| v.roles.iter().map(|r| (r.id().get(), *r)).collect())
        .unwrap_or_default();
    let mut puts = Vec::new();
    let mut removes = Vec::new();
    for key in touched {
        match key.kind {
            ObjectKind::Account => puts.push(Mutation::PutAccount(policy.account.clone())),
            ObjectKind::Store => match stores.get(&key.id) {
                Some(s) => puts.push(Mutation::PutStore((*s).clone())),
                None => removes.push(Mutation::RemoveStore(StoreId::new(key.id))),
            },
            ObjectKind::Source => match sources.get(&key.id) {
                Some(s) => puts.push(Mutation::PutSource((*s).clone())),
                None => removes.push(Mutation::RemoveSource(SourceId::new(key.id))),
            },
            ObjectKind::Channel => match channels.get(&key.id) {
                Some(c) => puts.push(Mutation::PutChannel((*c).clone())),
                None => removes.push(Mutation::RemoveChannel(ChannelId::new(key.id))),
            },
            ObjectKind::Role => match roles.get(&key.id) {
                Some(r) => {
                    let role = held
                        .get(&key.id)
                        .map_or_else(|| (*r).clone(), |old| keep_former_names(r, old));
                    puts.push(Mutation::PutRole(role));
                }
                None => removes.push(Mutation::RemoveRole(RoleId::new(key.id))),
            },
            ObjectKind::User => match users.get(&key.id) {
                Some(u) => puts.push(Mutation::PutUser((*u).clone())),
                None => removes.push(Mutation::RemoveUser(UserId::new(key.id))),
            },
        }
    }
    // Keys sort parents first; removals go children first.
    removes.reverse();
    puts.extend(removes);
    puts
}
