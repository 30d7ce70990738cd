//! The engine's immutable index: one snapshot of every account, answered from memory.
//!
//! A write clones the index, applies a batch to the clone, validates the accounts it touched, and
//! publishes the clone. Readers keep whatever snapshot they loaded, so they never wait on a
//! writer. Everything a check needs that can be computed at write time (the per-account masks of
//! account-wide, owner-only and withheld permissions) is computed here, never on `can`.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::Error;
use smallvec::SmallVec;

use crate::engine::decision::{Allowed, Decision, DenyReason, Dimension};
use crate::engine::explain::{Explanation, GrantExplanation, Verdict};
use crate::engine::key::Sealed;
use crate::engine::resource::{Place, Resource, Subject};
use crate::engine::reverse::{Clause, Filter, ScopeFor};
use crate::engine::users::{Quick, UserTable};
use crate::model::access::{Access, contains_sorted};
use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, IdHash, IdMap, RoleId, SourceId, StoreId, UserId};
use crate::model::permission::{Catalog, Reach};
use crate::model::role::Role;
pub(crate) use crate::model::text::{folded, same_folded};
use crate::model::user::{Grant, User};
use crate::storage::Mutation;

#[derive(Clone, Debug)]
pub(crate) struct AccountEntry<P> {
    pub(crate) account: Account,
    /// Permissions not narrowed by store access in this account (R13, R11).
    account_wide: P,
    /// Permissions only the owner holds (R11).
    owner_only: P,
    /// Permissions no role holds in this account (store billing under entity billing, R13).
    withheld: P,
}

impl<P: Catalog> AccountEntry<P> {
    /// Permissions no role holds in this account.
    pub(crate) fn withheld(&self) -> P {
        self.withheld
    }

    /// Permissions only the owner holds.
    pub(crate) fn owner_only(&self) -> P {
        self.owner_only
    }

    fn new(account: Account) -> Self {
        let entity = account.entity_level_billing();
        let mut account_wide =
            P::with_reach(Reach::AccountWide).union(P::with_reach(Reach::OwnerOnly));
        let mut withheld = P::empty();
        if entity {
            account_wide = account_wide.union(P::with_reach(Reach::EntityBilling));
            withheld = P::with_reach(Reach::StoreBilling);
        }
        AccountEntry {
            account,
            account_wide,
            owner_only: P::with_reach(Reach::OwnerOnly),
            withheld,
        }
    }
}

/// A user and a permission that passed every resource-independent rule.
#[derive(Debug)]
pub(crate) struct Asker<'a, P> {
    pub(crate) user: &'a User,
    pub(crate) acct: &'a AccountEntry<P>,
    pub(crate) permission: P,
    /// Every asked permission skips store access (R13).
    pub(crate) account_wide: bool,
}

/// A resource whose ids all exist in the asker's account.
#[derive(Debug)]
pub(crate) struct Located<'a> {
    account: AccountId,
    store: Place<StoreId>,
    source: Place<SourceId>,
    channel: Place<ChannelId>,
    target: Option<&'a User>,
    /// The level of the role the resource is, if it is one.
    target_level: Option<crate::Level>,
}

/// What one grant says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GrantOutcome<P> {
    Allows { role: RoleId, store_proven: bool },
    RoleMissing,
    PermissionMissing(P),
    Outside(DenyReason),
}

/// `Debug` prints the revision and counts: a stray log line must not write every tenant's staff
/// list (usernames, e-mails) to the logs.
#[derive(Clone)]
pub(crate) struct Index<P> {
    pub(crate) revision: u64,
    pub(crate) accounts: IdMap<AccountId, AccountEntry<P>>,
    pub(crate) stores: IdMap<StoreId, Store>,
    pub(crate) sources: IdMap<SourceId, Source>,
    pub(crate) channels: IdMap<ChannelId, Channel>,
    pub(crate) roles: IdMap<RoleId, Role<P>>,
    pub(crate) users: UserTable<P>,
    holders: Holders,
    directory: Directory,
}

impl<P: Catalog> core::fmt::Debug for Index<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Index")
            .field("revision", &self.revision)
            .field("accounts", &self.accounts.len())
            .field("stores", &self.stores.len())
            .field("sources", &self.sources.len())
            .field("channels", &self.channels.len())
            .field("roles", &self.roles.len())
            .field("users", &self.users.len())
            .finish()
    }
}

/// Who holds which role where: the answer to "who may do P at store S" (R21) without looking
/// at any user, kept up to date on every write. Only enabled users are listed.
#[derive(Clone, Debug, Default)]
struct Holders {
    /// Per store, the users holding each role there by a grant naming the store.
    by_store: HashMap<StoreId, RoleGroups, IdHash>,
    /// Per account, the users holding each role at all stores.
    everywhere: HashMap<AccountId, RoleGroups, IdHash>,
}

/// Each account's users, and its roles and sources by name: lookups whose cost depends on the
/// account and the name, never on other accounts' data (an upload resolves a name per cell).
#[derive(Clone, Debug, Default)]
struct Directory {
    accounts: HashMap<AccountId, Names, IdHash>,
}

#[derive(Clone, Debug, Default)]
struct Names {
    /// The account's users, by id.
    users: BTreeSet<UserId>,
    /// Roles by folded name and former name (several only while a batch is being validated).
    roles: HashMap<String, SmallVec<[RoleId; 1]>>,
    /// Sources by ASCII-lowercased external id.
    sources: HashMap<String, SmallVec<[SourceId; 1]>>,
}

impl Directory {
    fn names(&mut self, account: AccountId) -> &mut Names {
        self.accounts.entry(account).or_default()
    }

    fn add_role<P: Catalog>(&mut self, r: &Role<P>) {
        let names = self.names(r.account());
        for n in core::iter::once(r.name()).chain(r.former_names().iter().map(String::as_str)) {
            let ids = names.roles.entry(folded(n)).or_default();
            if !ids.contains(&r.id()) {
                ids.push(r.id());
            }
        }
    }

    fn remove_role<P: Catalog>(&mut self, r: &Role<P>) {
        let names = self.names(r.account());
        for n in core::iter::once(r.name()).chain(r.former_names().iter().map(String::as_str)) {
            let key = folded(n);
            if let Some(ids) = names.roles.get_mut(&key) {
                ids.retain(|id| *id != r.id());
                if ids.is_empty() {
                    names.roles.remove(&key);
                }
            }
        }
    }

    fn add_source(&mut self, s: &Source) {
        let ids = self
            .names(s.account())
            .sources
            .entry(s.external_id().to_ascii_lowercase())
            .or_default();
        if !ids.contains(&s.id()) {
            ids.push(s.id());
        }
    }

    fn remove_source(&mut self, s: &Source) {
        let names = self.names(s.account());
        let key = s.external_id().to_ascii_lowercase();
        if let Some(ids) = names.sources.get_mut(&key) {
            ids.retain(|id| *id != s.id());
            if ids.is_empty() {
                names.sources.remove(&key);
            }
        }
    }
}

/// Users grouped by role: a few roles per store, so a short list.
type RoleGroups = Vec<(RoleId, Vec<UserId>)>;

impl Holders {
    fn add(&mut self, u: &User) {
        if !u.is_enabled() {
            return;
        }
        let (everywhere, at) = placements(u);
        for role in everywhere {
            group(self.everywhere.entry(u.account()).or_default(), role).push(u.id());
        }
        for (store, role) in at {
            group(self.by_store.entry(store).or_default(), role).push(u.id());
        }
    }

    fn remove(&mut self, u: &User) {
        let (everywhere, at) = placements(u);
        let id = u.id();
        let drop_from = |groups: Option<&mut RoleGroups>, role: RoleId| {
            if let Some(groups) = groups {
                group(groups, role).retain(|&x| x != id);
            }
        };
        for role in everywhere {
            drop_from(self.everywhere.get_mut(&u.account()), role);
        }
        for (store, role) in at {
            drop_from(self.by_store.get_mut(&store), role);
        }
    }

    fn shrink(&mut self) {
        for groups in self
            .by_store
            .values_mut()
            .chain(self.everywhere.values_mut())
        {
            groups.retain(|(_, users)| !users.is_empty());
            for (_, users) in groups.iter_mut() {
                users.shrink_to_fit();
            }
            groups.shrink_to_fit();
        }
    }
}

/// The users of `role` in `groups`, added empty if absent.
#[expect(
    clippy::indexing_slicing,
    reason = "the position was just found or pushed, so it is in bounds"
)]
fn group(groups: &mut RoleGroups, role: RoleId) -> &mut Vec<UserId> {
    let i = match groups.iter().position(|(r, _)| *r == role) {
        Some(i) => i,
        None => {
            groups.push((role, Vec::new()));
            groups.len() - 1
        }
    };
    &mut groups[i].1
}

/// The distinct roles a user holds at all stores, and the distinct (store, role) pairs it holds
/// at named stores.
fn placements(u: &User) -> (Vec<RoleId>, Vec<(StoreId, RoleId)>) {
    let mut everywhere = Vec::new();
    let mut at = Vec::new();
    for g in u.grants() {
        match &g.stores {
            Access::All => everywhere.push(g.role),
            Access::Specific(set) => at.extend(set.iter().map(|s| (s, g.role))),
            Access::None => {}
        }
    }
    everywhere.sort_unstable();
    everywhere.dedup();
    at.sort_unstable();
    at.dedup();
    (everywhere, at)
}

impl<P: Catalog> Index<P> {
    pub(crate) fn empty() -> Self {
        Index {
            revision: 0,
            accounts: IdMap::default(),
            stores: IdMap::default(),
            sources: IdMap::default(),
            channels: IdMap::default(),
            roles: IdMap::default(),
            users: UserTable::default(),
            holders: Holders::default(),
            directory: Directory::default(),
        }
    }

    /// The users of one account, by id: the account's own list, whatever other accounts hold.
    pub(crate) fn account_users(&self, account: AccountId) -> impl Iterator<Item = &User> {
        self.directory
            .accounts
            .get(&account)
            .into_iter()
            .flat_map(|n| n.users.iter())
            .filter_map(|id| self.users.get(id))
    }

    /// The role of `account` named `name` now or formerly (case ignored, R14).
    pub(crate) fn role_named(&self, account: AccountId, name: &str) -> Option<&Role<P>> {
        let ids = self
            .directory
            .accounts
            .get(&account)?
            .roles
            .get(&folded(name))?;
        ids.iter()
            .filter_map(|id| self.roles.get(id))
            .find(|r| r.account() == account && r.answers_to(name))
    }

    /// The source of `account` with external id `external_id` (ASCII case ignored).
    pub(crate) fn source_named(&self, account: AccountId, external_id: &str) -> Option<&Source> {
        let names = self.directory.accounts.get(&account)?;
        let ids = names.sources.get(&external_id.to_ascii_lowercase())?;
        ids.iter()
            .filter_map(|id| self.sources.get(id))
            .find(|s| s.account() == account)
    }

    /// The whole of a check. `Ok` names the allowing grant; `Err` the reason for denial.
    ///
    /// Reasons are tried in a fixed order: first about the user and the permission
    /// ([`Index::prepare`]), then about the resource ([`Index::locate`]), then each grant.
    #[inline]
    pub(crate) fn evaluate<U: Sealed, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Result<Allowed, DenyReason> {
        let Some(position) = self.users.position(user) else {
            return Err(DenyReason::UnknownUser);
        };
        let Some(u) = self.users.at(position) else {
            return Err(DenyReason::UnknownUser);
        };
        match self.quick::<true, R>(position, permission, resource) {
            // The quick path allows only by the user's one grant.
            Some(Ok(())) => {
                if let Some(g) = u.grants().first() {
                    return Ok(Allowed {
                        grant: 0,
                        role: g.role,
                    });
                }
            }
            Some(Err(reason)) => return Err(reason),
            None => {}
        }
        let asker = self.prepare_found(u, permission)?;
        self.evaluate_prepared::<true, R>(&asker, resource)
    }

    /// `evaluate(..).is_ok()`, without the work that only names a denial's reason.
    #[inline]
    pub(crate) fn allows<U: Sealed, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> bool {
        match self.users.position(user) {
            Some(position) => self.allows_at(position, permission, resource),
            None => false,
        }
    }

    /// [`Index::allows`] for the user at a position of the user table.
    #[inline(always)]
    pub(crate) fn allows_at<R: Resource + ?Sized>(
        &self,
        position: usize,
        permission: P,
        resource: &R,
    ) -> bool {
        if let Some(decided) = self.quick::<false, R>(position, permission, resource) {
            return decided.is_ok();
        }
        self.users.at(position).is_some_and(|u| {
            self.prepare_found(u, permission)
                .is_ok_and(|asker| self.evaluate_prepared::<false, R>(&asker, resource).is_ok())
        })
    }

    /// The common check decided from the user's [`Hot`](crate::engine::users::Hot) entry:
    /// a store of the user's account, asked by a user with one grant whose role has no store
    /// ceiling, for permissions decided by store access. `None` for anything else, which the
    /// full check decides. Where it decides, it gives the full check's decision (`Ok`: allowed
    /// by the user's one grant); with `REASON` false, only allow or deny is: a denial's reason
    /// may be less specific (`PermissionMissing` for an unknown store).
    #[inline(always)]
    fn quick<const REASON: bool, R: Resource + ?Sized>(
        &self,
        position: usize,
        permission: P,
        resource: &R,
    ) -> Option<Result<(), DenyReason>> {
        let Place::At(store) = resource.store() else {
            return None;
        };
        if !matches!(resource.source(), Place::Unscoped)
            || !matches!(resource.channel(), Place::Unscoped)
            || !matches!(resource.subject(), Subject::None)
        {
            return None;
        }
        let hot = self.users.hot(position)?;
        let deny = |reason: DenyReason| Some(Err(reason));
        let quick = hot.quick();
        match quick {
            Quick::Slow => return None,
            // R1: a disabled user is denied everything.
            Quick::Disabled => return deny(DenyReason::UserDisabled),
            Quick::AtStores | Quick::Everywhere => {}
        }
        let (&account, entry) = self.accounts.get_index(hot.account() as usize)?;
        // The full check's order: the permission asked, the resource's account, then the store
        // (an unknown store outranks what the grant says).
        if permission.is_empty() {
            return deny(DenyReason::NoPermissionAsked);
        }
        let held = hot.mask.contains(permission);
        if !held && permission.intersects(entry.account_wide) {
            // Account-wide and owner-only permissions (R11, R13) are not in the mask: the full
            // check decides them.
            return None;
        }
        if resource.account() != account {
            return deny(DenyReason::WrongAccount);
        }
        let exists = || {
            self.stores
                .get(&store)
                .is_some_and(|s| s.account() == account)
        };
        if !held {
            // Not held (withheld permissions are not held either).
            return deny(if !REASON || exists() {
                DenyReason::PermissionMissing
            } else {
                DenyReason::UnknownStore(store)
            });
        }
        let allowed = match quick {
            // INVARIANT: a specific set names only stores of the account (validated on
            // write), so membership proves the store exists.
            Quick::AtStores => contains_sorted(self.users.stores_of(position, hot), store),
            Quick::Everywhere => exists(),
            Quick::Slow | Quick::Disabled => return None,
        };
        if !allowed {
            return deny(match (REASON, quick) {
                (false, _) => DenyReason::PermissionMissing,
                (true, Quick::AtStores) if exists() => DenyReason::OutsideScope(Dimension::Store),
                (true, _) => DenyReason::UnknownStore(store),
            });
        }
        Some(Ok(()))
    }

    /// A check for an already prepared user and permission (batch checks prepare once).
    /// With `REASON` false, a denial's reason may be less specific (an unknown store reported
    /// as out of scope); allow or deny is the same.
    #[inline(always)]
    pub(crate) fn evaluate_prepared<const REASON: bool, R: Resource + ?Sized>(
        &self,
        asker: &Asker<'_, P>,
        resource: &R,
    ) -> Result<Allowed, DenyReason> {
        let at = self.locate(asker, resource)?;
        self.decide::<REASON>(asker, &at)
    }

    /// Whether `actor` may use `permission` on `target`, a user's state that need not be in the
    /// index (a user about to be created, or a user as a change would leave it): the check of
    /// [`OnUser`](crate::OnUser) (R6, R10), and the one definition of "may manage" that the
    /// write side uses too. The target's roles are looked up in this index.
    ///
    /// One addition, for a permission a catalog makes account-wide: the check of `OnUser` then
    /// skips stores and levels (seeing every member of staff, R13), but managing a user never
    /// skips levels — some grant holding the permission must see every role the target holds
    /// (R6, R7). None of the four shipped catalogs has an account-wide user-changing
    /// permission.
    pub(crate) fn manages(
        &self,
        actor: &User,
        permission: P,
        target: &User,
    ) -> Result<Allowed, DenyReason> {
        let asker = self.prepare_found(actor, permission)?;
        let account = actor.account();
        if target.account() != account {
            return Err(DenyReason::WrongAccount);
        }
        let at = Located {
            account,
            store: Place::Unscoped,
            source: Place::Unscoped,
            channel: Place::Unscoped,
            target: Some(target),
            target_level: None,
        };
        let allowed = self.decide::<true>(&asker, &at)?;
        if asker.account_wide && target.id() != actor.id() {
            let sees_all = |g: &Grant| {
                self.roles.get(&g.role).is_some_and(|r| {
                    r.permissions()
                        .difference(asker.acct.withheld)
                        .contains(permission)
                        && target.grants().iter().all(|tg| {
                            self.roles
                                .get(&tg.role)
                                .is_none_or(|tr| r.level().sees(tr.level()))
                        })
                })
            };
            if !actor.grants().iter().any(sees_all) {
                return Err(DenyReason::AboveLevel);
            }
        }
        Ok(allowed)
    }

    /// The grants' verdict on a located resource: the first grant that allows it, or the first
    /// grant's reason for not allowing it.
    #[inline(always)]
    fn decide<const REASON: bool>(
        &self,
        asker: &Asker<'_, P>,
        at: &Located<'_>,
    ) -> Result<Allowed, DenyReason> {
        let mut scope_failure = None;
        for (i, g) in asker.user.grants().iter().enumerate() {
            match self.grant_outcome(asker, at, g, self.roles.get(&g.role)) {
                GrantOutcome::Allows { role, store_proven } => {
                    // An allowing grant at all stores does not prove the store exists.
                    if !store_proven && !self.store_exists(at) {
                        break;
                    }
                    return Ok(Allowed { grant: i, role });
                }
                GrantOutcome::Outside(r) => {
                    scope_failure.get_or_insert(r);
                }
                GrantOutcome::RoleMissing | GrantOutcome::PermissionMissing(_) => {}
            }
        }
        if let (true, Place::At(s)) = (REASON, at.store)
            && !self.store_exists(at)
        {
            return Err(DenyReason::UnknownStore(s));
        }
        Err(scope_failure.unwrap_or(DenyReason::PermissionMissing))
    }

    /// Whether the located resource's store exists in the asker's account (true if it names no
    /// store).
    fn store_exists(&self, at: &Located<'_>) -> bool {
        match at.store {
            Place::At(s) => self
                .stores
                .get(&s)
                .is_some_and(|x| x.account() == at.account),
            Place::Unscoped | Place::Unplaced => true,
        }
    }

    /// Everything about the user and the permission, independent of the resource: unknown or
    /// disabled user (R1), nothing asked, owner-only permission asked by someone else (R11).
    #[inline]
    pub(crate) fn prepare<U: Sealed>(
        &self,
        user: U,
        permission: P,
    ) -> Result<Asker<'_, P>, DenyReason> {
        let Some(u) = self.users.find(user) else {
            return Err(DenyReason::UnknownUser);
        };
        self.prepare_found(u, permission)
    }

    /// [`Index::prepare`] for a user already found.
    #[inline]
    pub(crate) fn prepare_found<'s>(
        &'s self,
        u: &'s User,
        permission: P,
    ) -> Result<Asker<'s, P>, DenyReason> {
        // INVARIANT: a user's account exists (validated on every write). The accounts table is
        // small and stays in cache.
        let Some(acct) = self.accounts.get(&u.account()) else {
            return Err(DenyReason::UnknownUser);
        };
        if !u.is_enabled() {
            return Err(DenyReason::UserDisabled);
        }
        if permission.is_empty() {
            return Err(DenyReason::NoPermissionAsked);
        }
        if permission.intersects(acct.owner_only) && !u.is_owner() {
            return Err(DenyReason::OwnerOnly);
        }
        Ok(Asker {
            user: u,
            acct,
            permission,
            account_wide: acct.account_wide.contains(permission),
        })
    }

    /// Everything about the resource: same account, every id it names exists there (R1), and
    /// a source-scoped resource needs some source access (R4).
    #[inline]
    pub(crate) fn locate<'s, R: Resource + ?Sized>(
        &'s self,
        asker: &Asker<'s, P>,
        resource: &R,
    ) -> Result<Located<'s>, DenyReason> {
        let account = asker.user.account();
        if resource.account() != account {
            return Err(DenyReason::WrongAccount);
        }
        let at = Located {
            account,
            store: resource.store(),
            source: resource.source(),
            channel: resource.channel(),
            target: None,
            target_level: None,
        };
        // The store's existence is checked lazily (a grant naming it proves it); but an unknown
        // store outranks every reason below, so it is checked before any of them is returned.
        let outrank = |r: DenyReason| match at.store {
            Place::At(s) if !self.store_exists(&at) => DenyReason::UnknownStore(s),
            _ => r,
        };
        if let Place::At(s) = at.source
            && self.sources.get(&s).is_none_or(|x| x.account() != account)
        {
            return Err(outrank(DenyReason::UnknownSource(s)));
        }
        if let Place::At(c) = at.channel
            && self.channels.get(&c).is_none_or(|x| x.account() != account)
        {
            return Err(outrank(DenyReason::UnknownChannel(c)));
        }
        let (target, target_level) = match resource.subject() {
            Subject::None => (None, None),
            Subject::Role(r) => match self.roles.get(&r) {
                Some(x) if x.account() == account => (None, Some(x.level())),
                _ => return Err(outrank(DenyReason::UnknownRole(r))),
            },
            Subject::User(t) => match self.users.get(&t) {
                Some(x) if x.account() == account => (Some(x), None),
                _ => return Err(outrank(DenyReason::UnknownTargetUser(t))),
            },
        };
        if !matches!(at.source, Place::Unscoped) && asker.user.sources().is_nothing() {
            return Err(outrank(DenyReason::NoSources));
        }
        Ok(Located {
            target,
            target_level,
            ..at
        })
    }

    /// R10 and R6 for a user as the resource: every store the target's grants reach (after
    /// their roles' ceilings) lies inside this grant's scope, and, unless it is the asker, every
    /// role the target holds is visible from this grant's level.
    fn reaches_user(
        &self,
        role: &Role<P>,
        g: &Grant,
        target: &User,
        asker: UserId,
    ) -> Result<(), DenyReason> {
        let ceiling = &role.ceiling().stores;
        let target_roles = || {
            target
                .grants()
                .iter()
                .map(|tg| (tg, self.roles.get(&tg.role)))
        };
        let inside = target_roles().all(|(tg, tr)| {
            tr.is_none_or(|r| {
                let theirs = &r.ceiling().stores;
                theirs.meet_is_within(&tg.stores, ceiling)
                    && theirs.meet_is_within(&tg.stores, &g.stores)
            })
        });
        if !inside {
            return Err(DenyReason::OutsideScope(Dimension::Store));
        }
        let visible = target.id() == asker
            || target_roles().all(|(_, tr)| tr.is_none_or(|r| role.level().sees(r.level())));
        if visible {
            Ok(())
        } else {
            Err(DenyReason::AboveLevel)
        }
    }

    /// What one grant says about a located resource (R2, R3, R5, R10, R13).
    #[inline(always)]
    pub(crate) fn grant_outcome(
        &self,
        asker: &Asker<'_, P>,
        at: &Located<'_>,
        g: &Grant,
        role: Option<&Role<P>>,
    ) -> GrantOutcome<P> {
        let Some(role) = role else {
            return GrantOutcome::RoleMissing;
        };
        let held = role.permissions().difference(asker.acct.withheld);
        if !held.contains(asker.permission) {
            return GrantOutcome::PermissionMissing(asker.permission.difference(held));
        }
        let ceiling = role.ceiling();
        let u = asker.user;
        let outcome = if asker.account_wide {
            Ok(())
        } else {
            within(at.store, &ceiling.stores, &g.stores, Dimension::Store)
                .and_then(|()| match at.target {
                    Some(t) => self.reaches_user(role, g, t, u.id()),
                    None => Ok(()),
                })
                .and_then(|()| match at.target_level {
                    // R6: a role is reachable only from a level that sees it.
                    Some(level) if !role.level().sees(level) => Err(DenyReason::AboveLevel),
                    _ => Ok(()),
                })
        }
        .and_then(|()| within(at.source, &ceiling.sources, u.sources(), Dimension::Source))
        .and_then(|()| {
            within(
                at.channel,
                &ceiling.channels,
                u.channels(),
                Dimension::Channel,
            )
        });
        match outcome {
            Ok(()) => GrantOutcome::Allows {
                role: role.id(),
                // INVARIANT: specific sets name only stores of the account (validated on write),
                // so membership in one proves the store exists.
                store_proven: !matches!(at.store, Place::At(_))
                    || (!asker.account_wide
                        && (matches!(ceiling.stores, Access::Specific(_))
                            || matches!(g.stores, Access::Specific(_)))),
            },
            Err(r) => GrantOutcome::Outside(r),
        }
    }

    /// Where `user` may use `permission` (R21): one clause per grant holding it.
    pub(crate) fn scope_for(&self, user: UserId, permission: P) -> ScopeFor {
        let no_sources = self
            .users
            .get(&user)
            .is_some_and(|u| u.is_enabled() && u.sources().is_nothing());
        let Ok(asker) = self.prepare(user, permission) else {
            return ScopeFor {
                clauses: SmallVec::new(),
                no_sources,
            };
        };
        let u = asker.user;
        let mut out = ScopeFor {
            clauses: SmallVec::new(),
            no_sources,
        };
        for g in u.grants() {
            let Some(role) = self.roles.get(&g.role) else {
                continue;
            };
            if !role
                .permissions()
                .difference(asker.acct.withheld)
                .contains(permission)
            {
                continue;
            }
            let ceiling = role.ceiling();
            let clause = Clause {
                stores: if asker.account_wide {
                    Filter::Everything
                } else {
                    Filter::from_access(ceiling.stores.intersect(&g.stores))
                },
                sources: if no_sources {
                    Filter::Nothing
                } else {
                    Filter::from_access(ceiling.sources.intersect(u.sources()))
                },
                channels: Filter::from_access(ceiling.channels.intersect(u.channels())),
            };
            if !out.clauses.contains(&clause) {
                out.clauses.push(clause);
            }
        }
        out
    }

    /// The users who may use `permission` on `resource` (R21), in ascending id order.
    pub(crate) fn who_can<R: Resource + ?Sized>(&self, permission: P, resource: &R) -> Vec<UserId> {
        let account = resource.account();
        let Some(acct) = self.accounts.get(&account) else {
            return Vec::new();
        };
        let wide = acct.account_wide.contains(permission);
        let store = resource.store();
        let mut out: Vec<UserId> = match store {
            Place::At(s) if !wide => {
                let none: &[(RoleId, Vec<UserId>)] = &[];
                let at = self.holders.by_store.get(&s).map_or(none, Vec::as_slice);
                let everywhere = self
                    .holders
                    .everywhere
                    .get(&account)
                    .map_or(none, Vec::as_slice);
                let groups = at.iter().chain(everywhere);
                let store_only = matches!(resource.source(), Place::Unscoped)
                    && matches!(resource.channel(), Place::Unscoped)
                    && matches!(resource.subject(), Subject::None);
                let plain = !permission.is_empty()
                    && !permission.intersects(acct.owner_only)
                    && self.stores.get(&s).is_some_and(|x| x.account() == account);
                if store_only && plain {
                    // Everything `can` asks of these users, the role answers: they are enabled,
                    // of this account, and hold the role at this store (R2).
                    groups
                        .filter(|(role, _)| {
                            self.roles.get(role).is_some_and(|r| {
                                r.permissions()
                                    .difference(acct.withheld)
                                    .contains(permission)
                                    && r.ceiling().stores.contains(s)
                            })
                        })
                        .flat_map(|(_, users)| users.iter().copied())
                        .collect()
                } else {
                    groups
                        .flat_map(|(_, users)| users.iter().copied())
                        .filter(|&u| self.allows(u, permission, resource))
                        .collect()
                }
            }
            // Anything else may be answered by any user of the account.
            _ => self
                .users
                .values()
                .filter(|u| u.account() == account)
                .map(User::id)
                .filter(|&u| self.allows(u, permission, resource))
                .collect(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every grant considered, and what each said; the decision equals `evaluate`'s.
    pub(crate) fn explain<R: Resource + ?Sized>(
        &self,
        user: UserId,
        permission: P,
        resource: &R,
    ) -> Explanation<P> {
        let early = |r| Explanation {
            decision: Decision::Deny(r),
            grants: Vec::new(),
        };
        let asker = match self.prepare(user, permission) {
            Ok(a) => a,
            Err(r) => return early(r),
        };
        let at = match self.locate(&asker, resource) {
            Ok(at) => at,
            Err(r) => return early(r),
        };
        if let Place::At(s) = at.store
            && !self.store_exists(&at)
        {
            return early(DenyReason::UnknownStore(s));
        }
        let mut decision = None;
        let mut scope_failure = None;
        let mut grants = Vec::new();
        for (i, g) in asker.user.grants().iter().enumerate() {
            let verdict = match self.grant_outcome(&asker, &at, g, self.roles.get(&g.role)) {
                GrantOutcome::Allows { role, .. } => {
                    decision.get_or_insert(Decision::Allow(Allowed { grant: i, role }));
                    Verdict::Allows
                }
                GrantOutcome::RoleMissing => Verdict::RoleMissing,
                GrantOutcome::PermissionMissing(p) => Verdict::PermissionMissing(p),
                GrantOutcome::Outside(r) => {
                    scope_failure.get_or_insert(r);
                    Verdict::OutOfScope(r)
                }
            };
            grants.push(GrantExplanation {
                grant: i,
                role: g.role,
                role_name: self.roles.get(&g.role).map(|r| r.name().to_owned()),
                verdict,
            });
        }
        let decision = decision.unwrap_or(Decision::Deny(
            scope_failure.unwrap_or(DenyReason::PermissionMissing),
        ));
        Explanation { decision, grants }
    }

    /// Applies a batch to this (cloned) index and validates the accounts it touched.
    pub(crate) fn apply(&mut self, batch: &[Mutation<P>]) -> Result<(), Error> {
        let mut pending = Pending::default();
        self.mutate(batch, &mut pending)?;
        self.settle(&pending)
    }

    /// Applies a batch without validating it; [`Index::settle`] validates everything the
    /// pending batches touched, once. Errors here are only about ids that do not exist or move
    /// between accounts.
    pub(crate) fn mutate(
        &mut self,
        batch: &[Mutation<P>],
        pending: &mut Pending,
    ) -> Result<(), Error> {
        // Until `settle`, the quick path is off: a role or account changed here changes what
        // the users' entries should say.
        self.users.invalidate();
        let added = batch
            .iter()
            .filter(|m| matches!(m, Mutation::PutUser(u) if !self.users.contains_key(&u.id())))
            .count();
        if added > 64 {
            self.users.reserve(added);
        }
        let Pending {
            touched,
            removed,
            changed_users,
            structural,
        } = pending;
        for m in batch {
            match m {
                Mutation::PutUser(u) => {
                    changed_users.entry(u.account()).or_default().insert(u.id());
                }
                Mutation::RemoveUser(_) => {}
                _ => *structural = true,
            }
            match m {
                Mutation::PutAccount(a) => {
                    touched.insert(a.id());
                    self.accounts.insert(a.id(), AccountEntry::new(a.clone()));
                }
                Mutation::RemoveAccount(id) => {
                    if self.accounts.shift_remove(id).is_none() {
                        return Err(Error::not_found("account", id));
                    }
                    touched.insert(*id);
                    removed.accounts.insert(*id);
                }
                Mutation::PutStore(x) => {
                    keep_account(
                        "store",
                        x.id(),
                        self.stores.get(&x.id()).map(Store::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    self.stores.insert(x.id(), x.clone());
                }
                Mutation::RemoveStore(id) => {
                    let x = self
                        .stores
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("store", id))?;
                    touched.insert(x.account());
                    removed.stores.insert(*id);
                }
                Mutation::PutSource(x) => {
                    keep_account(
                        "source",
                        x.id(),
                        self.sources.get(&x.id()).map(Source::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    if let Some(old) = self.sources.insert(x.id(), x.clone()) {
                        self.directory.remove_source(&old);
                    }
                    self.directory.add_source(x);
                }
                Mutation::RemoveSource(id) => {
                    let x = self
                        .sources
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("source", id))?;
                    touched.insert(x.account());
                    self.directory.remove_source(&x);
                    removed.sources.insert(*id);
                }
                Mutation::PutChannel(x) => {
                    keep_account(
                        "sales channel",
                        x.id(),
                        self.channels.get(&x.id()).map(Channel::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    self.channels.insert(x.id(), x.clone());
                }
                Mutation::RemoveChannel(id) => {
                    let x = self
                        .channels
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("sales channel", id))?;
                    touched.insert(x.account());
                    removed.channels.insert(*id);
                }
                Mutation::PutRole(x) => {
                    keep_account(
                        "role",
                        x.id(),
                        self.roles.get(&x.id()).map(Role::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    if let Some(old) = self.roles.insert(x.id(), x.clone()) {
                        self.directory.remove_role(&old);
                    }
                    self.directory.add_role(x);
                }
                Mutation::RemoveRole(id) => {
                    let x = self
                        .roles
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("role", id))?;
                    touched.insert(x.account());
                    self.directory.remove_role(&x);
                    removed.roles.insert(*id);
                }
                Mutation::PutUser(x) => {
                    keep_account(
                        "user",
                        x.id(),
                        self.users.get(&x.id()).map(User::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    let u = x.clone();
                    if let Some(old) = self.users.get(&u.id()) {
                        self.holders.remove(old);
                    }
                    self.holders.add(&u);
                    self.directory.names(u.account()).users.insert(u.id());
                    self.users.insert(u)?;
                }
                Mutation::RemoveUser(id) => {
                    let x = self
                        .users
                        .remove(id)
                        .ok_or_else(|| Error::not_found("user", id))?;
                    self.holders.remove(&x);
                    touched.insert(x.account());
                    self.directory.names(x.account()).users.remove(&x.id());
                }
            }
        }
        Ok(())
    }

    /// Validates every account the pending batches touched, then releases spare capacity.
    pub(crate) fn settle(&mut self, pending: &Pending) -> Result<(), Error> {
        for account in &pending.touched {
            let none = BTreeSet::new();
            let users = pending.changed_users.get(account).unwrap_or(&none);
            if pending.structural || users.len() > INCREMENTAL {
                self.validate(*account, &pending.removed)?;
            } else {
                self.validate_users(*account, users)?;
            }
        }
        self.shrink();
        self.refresh_quick();
        Ok(())
    }

    /// Recomputes every user's quick-path entry from the accounts and roles as they are now.
    fn refresh_quick(&mut self) {
        let Index {
            users,
            accounts,
            roles,
            ..
        } = self;
        users.refresh(|u| quick_of(accounts, roles, u));
    }

    /// Checks every invariant of one account's final state.
    fn validate(&self, account: AccountId, removed: &Removed) -> Result<(), Error> {
        let Some(entry) = self.accounts.get(&account) else {
            // A removed account must be empty.
            let left = self.account_users(account).map(|u| u.username().to_owned());
            let names = name_list(left);
            if !names.is_empty()
                || self.roles.values().any(|r| r.account() == account)
                || self.stores.values().any(|s| s.account() == account)
                || self.sources.values().any(|s| s.account() == account)
                || self.channels.values().any(|s| s.account() == account)
            {
                return if removed.accounts.contains(&account) {
                    Err(Error::in_use(
                        "account",
                        account,
                        if names.is_empty() {
                            "its roles, stores, sources or channels".into()
                        } else {
                            names
                        },
                    ))
                } else {
                    Err(Error::not_found("account", account))
                };
            }
            return Ok(());
        };

        // Store and channel names: what a person reads and a download writes (R18).
        for x in self.stores.values().filter(|x| x.account() == account) {
            validate_name("store name", x.name())?;
        }
        for x in self.channels.values().filter(|x| x.account() == account) {
            validate_name("sales channel name", x.name())?;
        }

        // Sources: external ids unique per account (they are how imports name sources).
        let mut external = HashSet::new();
        for s in self.sources.values().filter(|s| s.account() == account) {
            validate_name("source external id", s.external_id())?;
            if s.external_id().contains(',') {
                return Err(Error::invalid(
                    "source external id",
                    s.external_id(),
                    "must not contain a comma: the upload template lists sources comma separated",
                ));
            }
            if s.external_id().is_empty() || s.external_id().chars().any(char::is_whitespace) {
                return Err(Error::invalid(
                    "source external id",
                    s.external_id(),
                    "must be non-empty without white space",
                ));
            }
            if !external.insert(s.external_id().to_ascii_lowercase()) {
                return Err(Error::duplicate(
                    "source external id",
                    s.external_id(),
                    account,
                ));
            }
        }

        // Roles: references inside the account; names (and former names) unambiguous (R14).
        let mut role_names = HashMap::new();
        for r in self.roles.values().filter(|r| r.account() == account) {
            for name in
                core::iter::once(r.name()).chain(r.former_names().iter().map(String::as_str))
            {
                validate_name("role name", name)?;
            }
            let ceiling = r.ceiling();
            self.check_refs(
                account,
                &ceiling.stores,
                &ceiling.sources,
                &ceiling.channels,
                removed,
                || format!("role `{}`", r.name()),
            )?;
            // A mask built with `from_bits_retain` could carry bits of a future catalog.
            P::from_stored_bits(r.permissions().bits())?;
            for name in
                core::iter::once(r.name()).chain(r.former_names().iter().map(String::as_str))
            {
                if let Some(other) = role_names.insert(folded(name), r.id())
                    && other != r.id()
                {
                    return Err(Error::duplicate("role name", name, account));
                }
            }
        }

        // Users: valid, unique, references inside the account; owner and seat invariants.
        let mut usernames = HashSet::new();
        let mut emails = HashSet::new();
        let mut owners = Vec::new();
        let mut enabled = 0usize;
        let mut any_user = false;
        // By id, so that which of two clashing users an error names does not depend on hashing.
        for u in self.account_users(account) {
            any_user = true;
            self.check_user(account, u, removed)?;
            if !usernames.insert(folded(u.username())) {
                return Err(Error::duplicate("username", u.username(), account));
            }
            if !emails.insert(folded(u.email())) {
                return Err(Error::duplicate("e-mail", u.email(), account));
            }
            if u.is_enabled() {
                enabled += 1;
            }
            if u.is_owner() {
                owners.push(u);
            }
        }
        self.check_account(entry, any_user, enabled, &owners)
    }

    /// A few changed users of an account whose roles, stores, sources and channels did not
    /// change: each is checked alone, and against the others only for clashes, without
    /// allocating per user (a write to a large account stays cheap).
    fn validate_users(&self, account: AccountId, changed: &BTreeSet<UserId>) -> Result<(), Error> {
        let Some(entry) = self.accounts.get(&account) else {
            return Err(Error::not_found("account", account));
        };
        let none = Removed::default();
        let mut owners = Vec::new();
        let mut enabled = 0usize;
        let mut any_user = false;
        let fresh: Vec<&User> = changed.iter().filter_map(|id| self.users.get(id)).collect();
        for u in fresh.iter().copied() {
            self.check_user(account, u, &none)?;
        }
        for u in self.account_users(account) {
            any_user = true;
            for c in fresh.iter().copied().filter(|c| c.id() != u.id()) {
                if same_folded(c.username(), u.username()) {
                    return Err(Error::duplicate("username", c.username(), account));
                }
                if same_folded(c.email(), u.email()) {
                    return Err(Error::duplicate("e-mail", c.email(), account));
                }
            }
            if u.is_enabled() {
                enabled += 1;
            }
            if u.is_owner() {
                owners.push(u);
            }
        }
        self.check_account(entry, any_user, enabled, &owners)
    }

    /// One user's own rules: username and e-mail formats (R16), references inside the account.
    fn check_user(&self, account: AccountId, u: &User, removed: &Removed) -> Result<(), Error> {
        validate_username(u.username())?;
        validate_email(u.email())?;
        let what = || format!("user `{}`", u.username());
        for g in u.grants() {
            match self.roles.get(&g.role) {
                Some(r) if r.account() == account => {}
                // Another account's role is not found: ids are global, and naming the account
                // that holds one would tell one tenant about another.
                Some(_) => return Err(Error::not_found("role", g.role)),
                None if removed.roles.contains(&g.role) => {
                    return Err(Error::in_use("role", g.role, format!("`{}`", u.username())));
                }
                None => return Err(Error::not_found("role", g.role)),
            }
            self.check_refs(
                account,
                &g.stores,
                &Access::None,
                &Access::None,
                removed,
                what,
            )?;
        }
        self.check_refs(
            account,
            &Access::None,
            u.sources(),
            u.channels(),
            removed,
            what,
        )
    }

    /// R11 and R12 for an account, from its users' counts.
    fn check_account(
        &self,
        entry: &AccountEntry<P>,
        any_user: bool,
        enabled: usize,
        owners: &[&User],
    ) -> Result<(), Error> {
        let account = entry.account.id();
        if any_user {
            // R11: exactly one owner, enabled, holding a top-level role.
            match owners {
                [] => {
                    return Err(Error::owner(
                        account,
                        "an account with users must have an owner",
                    ));
                }
                [o] => {
                    if !o.is_enabled() {
                        return Err(Error::owner(
                            account,
                            "the account owner cannot be disabled",
                        ));
                    }
                    let top = o
                        .grants()
                        .iter()
                        .any(|g| self.roles.get(&g.role).is_some_and(|r| r.level().is_top()));
                    if !top {
                        return Err(Error::owner(
                            account,
                            "the account owner must hold a level-1 role",
                        ));
                    }
                }
                _ => return Err(Error::owner(account, "an account has exactly one owner")),
            }
        }
        if let Some(limit) = entry.account.seat_limit()
            && enabled > limit as usize
        {
            return Err(Error::seat_limit(account, enabled, limit));
        }
        Ok(())
    }

    fn check_refs(
        &self,
        account: AccountId,
        stores: &Access<StoreId>,
        sources: &Access<SourceId>,
        channels: &Access<ChannelId>,
        removed: &Removed,
        who: impl Fn() -> String,
    ) -> Result<(), Error> {
        if let Access::Specific(set) = stores {
            for id in set.iter() {
                check_ref(
                    "store",
                    id,
                    self.stores.get(&id).map(Store::account),
                    account,
                    removed.stores.contains(&id),
                    &who,
                )?;
            }
        }
        if let Access::Specific(set) = sources {
            for id in set.iter() {
                check_ref(
                    "source",
                    id,
                    self.sources.get(&id).map(Source::account),
                    account,
                    removed.sources.contains(&id),
                    &who,
                )?;
            }
        }
        if let Access::Specific(set) = channels {
            for id in set.iter() {
                check_ref(
                    "sales channel",
                    id,
                    self.channels.get(&id).map(Channel::account),
                    account,
                    removed.channels.contains(&id),
                    &who,
                )?;
            }
        }
        Ok(())
    }

    /// Releases spare capacity after a bulk load.
    pub(crate) fn shrink(&mut self) {
        self.users.shrink_to_fit();
        self.roles.shrink_to_fit();
        self.stores.shrink_to_fit();
        self.sources.shrink_to_fit();
        self.channels.shrink_to_fit();
        self.accounts.shrink_to_fit();
        self.holders.shrink();
    }
}

/// What batches applied with [`Index::mutate`] touched, for [`Index::settle`].
#[derive(Debug, Default)]
pub(crate) struct Pending {
    touched: BTreeSet<AccountId>,
    removed: Removed,
    /// Accounts where only a few users changed are validated for those users alone.
    changed_users: HashMap<AccountId, BTreeSet<UserId>, IdHash>,
    structural: bool,
}

#[derive(Debug, Default)]
struct Removed {
    accounts: HashSet<AccountId>,
    stores: HashSet<StoreId>,
    sources: HashSet<SourceId>,
    channels: HashSet<ChannelId>,
    roles: HashSet<RoleId>,
}

/// A user's quick-path entry: the mask of its one grant, its account's position, and how far
/// the quick path decides (see [`Index::quick`]).
fn quick_of<P: Catalog>(
    accounts: &IdMap<AccountId, AccountEntry<P>>,
    roles: &IdMap<RoleId, Role<P>>,
    u: &User,
) -> (P, u32, Quick) {
    let slow = (P::empty(), u32::MAX, Quick::Slow);
    let Some((position, _, acct)) = accounts.get_full(&u.account()) else {
        return slow;
    };
    let Ok(account) = u32::try_from(position) else {
        return slow;
    };
    if !u.is_enabled() {
        return (P::empty(), account, Quick::Disabled);
    }
    let [g] = u.grants() else {
        return slow;
    };
    let Some(role) = roles.get(&g.role).filter(|r| r.account() == u.account()) else {
        return slow;
    };
    if !role.ceiling().stores.is_all() {
        return slow;
    }
    let mask = role
        .permissions()
        .difference(acct.withheld)
        .difference(acct.account_wide);
    let quick = if g.stores.is_all() {
        Quick::Everywhere
    } else {
        Quick::AtStores
    };
    (mask, account, quick)
}

/// Whether the resource's place on one dimension lies inside the ceiling and the access.
#[inline]
fn within<T: Ord + Copy>(
    place: Place<T>,
    ceiling: &Access<T>,
    access: &Access<T>,
    dim: Dimension,
) -> Result<(), DenyReason> {
    match place {
        Place::Unscoped => Ok(()),
        Place::At(id) if ceiling.contains(id) && access.contains(id) => Ok(()),
        Place::At(_) => Err(DenyReason::OutsideScope(dim)),
        Place::Unplaced if ceiling.is_all() && access.is_all() => Ok(()),
        Place::Unplaced => Err(DenyReason::NeedsAll(dim)),
    }
}

fn keep_account<I: core::fmt::Display>(
    what: &'static str,
    id: I,
    existing: Option<AccountId>,
    new: AccountId,
) -> Result<(), Error> {
    match existing {
        Some(old) if old != new => Err(Error::wrong_account(what, id, new, old)),
        _ => Ok(()),
    }
}

fn check_ref<I: core::fmt::Display>(
    what: &'static str,
    id: I,
    found: Option<AccountId>,
    account: AccountId,
    was_removed: bool,
    who: &impl Fn() -> String,
) -> Result<(), Error> {
    match found {
        Some(a) if a == account => Ok(()),
        // Another account's object is not found, as in any check (R1): no tenant learns of
        // another.
        Some(_) => Err(Error::not_found(what, id)),
        None if was_removed => Err(Error::in_use(what, id, who())),
        None => Err(Error::not_found(what, id)),
    }
}

pub(crate) fn name_list<I: Iterator<Item = String>>(names: I) -> String {
    let all: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    all.join(", ")
}

/// How many changed users of one account are validated one by one rather than by a full pass.
const INCREMENTAL: usize = 32;

/// A name people read and a CSV file carries: non-empty, no white space at either end (a
/// padded name would not survive a download and upload, which trim cells), no control
/// characters (a tab or carriage return can start a spreadsheet formula).
pub(crate) fn validate_name(field: &'static str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, name, "must not be empty"));
    }
    if name.trim() != name {
        return Err(Error::invalid(
            field,
            name,
            "must not start or end with white space",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            name,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// R16: non-empty, no white space or control characters.
pub(crate) fn validate_username(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid("username", name, "must not be empty"));
    }
    if name.len() > 255 {
        return Err(Error::invalid(
            "username",
            name,
            "must be at most 255 bytes",
        ));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            "username",
            name,
            "must not contain white space",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "username",
            name,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// R16: a valid e-mail address.
pub(crate) fn validate_email(email: &str) -> Result<(), Error> {
    // The crate accepts display forms such as `Name <a@b>`; a stored address is the bare form.
    let bare = !email.contains(['<', '>', ' '])
        && email.contains('@')
        && email.trim() == email
        && !email.chars().any(char::is_control);
    if bare && email_address::EmailAddress::is_valid(email) {
        Ok(())
    } else {
        Err(Error::invalid(
            "e-mail",
            email,
            "must be a valid address such as `name@example.com`",
        ))
    }
}
