//! Applying record-level mutations to a cloned index, and settling (validating) what they
//! touched: the index's side of a write.

use std::sync::Arc;

use super::*;
use crate::engine::users::at_u32;
use crate::error::Findings;
use crate::model::mutation::Key;

impl<P: Catalog> Index<P> {
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
            changed_sources,
            structural,
        } = pending;
        // The users the batch writes, gathered before any record is copied: a set's nodes
        // allocated between the records' strings would leave the heap holed once freed.
        for m in batch {
            if let Mutation::PutUser(u) = m {
                changed_users.entry(u.account()).or_default().insert(u.id());
            }
        }
        for m in batch {
            if !m.is_remove() {
                let key = m.key();
                if let Some(top) = self.highest.get_mut(usize::from(key.kind.code())) {
                    *top = (*top).max(key.id);
                }
            }
            match m {
                Mutation::PutUser(_) | Mutation::RemoveUser(_) => {}
                Mutation::PutSource(x) => {
                    changed_sources.insert(x.id());
                    *structural = true;
                }
                _ => *structural = true,
            }
            match m {
                Mutation::PutAccount(a) => {
                    touched.insert(a.id());
                    Arc::make_mut(&mut self.accounts).insert(a.id(), AccountEntry::new(a.clone()));
                }
                Mutation::RemoveAccount(id) => {
                    if !self.accounts.contains_key(id) {
                        return Err(Error::not_found("account", id));
                    }
                    let x = Arc::make_mut(&mut self.accounts)
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("account", id))?;
                    touched.insert(*id);
                    removed.accounts.insert(*id);
                    removed
                        .names
                        .insert((*id).into(), x.account.name().to_owned());
                }
                Mutation::PutStore(x) => {
                    keep_account(
                        &self.accounts,
                        "store",
                        x.name(),
                        self.stores.get(&x.id()).map(Store::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    Arc::make_mut(&mut self.stores).insert(x.id(), x.clone());
                    Arc::make_mut(&mut self.store_accounts).insert(x.id(), x.account());
                }
                Mutation::RemoveStore(id) => {
                    if !self.stores.contains_key(id) {
                        return Err(Error::not_found("store", id));
                    }
                    let x = Arc::make_mut(&mut self.stores)
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("store", id))?;
                    Arc::make_mut(&mut self.store_accounts).remove(id);
                    touched.insert(x.account());
                    removed.stores.insert(*id);
                    removed.names.insert((*id).into(), x.name().to_owned());
                }
                Mutation::PutSource(x) => {
                    keep_account(
                        &self.accounts,
                        "source",
                        x.external_id(),
                        self.sources.get(&x.id()).map(Source::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    if let Some(old) = Arc::make_mut(&mut self.sources).insert(x.id(), x.clone()) {
                        self.directory.remove_source(&old);
                    }
                    self.directory.add_source(x);
                }
                Mutation::RemoveSource(id) => {
                    if !self.sources.contains_key(id) {
                        return Err(Error::not_found("source", id));
                    }
                    let x = Arc::make_mut(&mut self.sources)
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("source", id))?;
                    touched.insert(x.account());
                    self.directory.remove_source(&x);
                    removed.sources.insert(*id);
                    removed
                        .names
                        .insert((*id).into(), x.external_id().to_owned());
                }
                Mutation::PutChannel(x) => {
                    keep_account(
                        &self.accounts,
                        "sales channel",
                        x.name(),
                        self.channels.get(&x.id()).map(Channel::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    Arc::make_mut(&mut self.channels).insert(x.id(), x.clone());
                }
                Mutation::RemoveChannel(id) => {
                    if !self.channels.contains_key(id) {
                        return Err(Error::not_found("sales channel", id));
                    }
                    let x = Arc::make_mut(&mut self.channels)
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("sales channel", id))?;
                    touched.insert(x.account());
                    removed.channels.insert(*id);
                    removed.names.insert((*id).into(), x.name().to_owned());
                }
                Mutation::PutRole(x) => {
                    keep_account(
                        &self.accounts,
                        "role",
                        x.name(),
                        self.roles.get(&x.id()).map(Role::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    if let Some(old) = Arc::make_mut(&mut self.roles).insert(x.id(), x.clone()) {
                        self.directory.remove_role(&old);
                    }
                    self.directory.add_role(x);
                }
                Mutation::RemoveRole(id) => {
                    if !self.roles.contains_key(id) {
                        return Err(Error::not_found("role", id));
                    }
                    let x = Arc::make_mut(&mut self.roles)
                        .shift_remove(id)
                        .ok_or_else(|| Error::not_found("role", id))?;
                    touched.insert(x.account());
                    self.directory.remove_role(&x);
                    removed.roles.insert(*id);
                    removed.names.insert((*id).into(), x.name().to_owned());
                }
                Mutation::PutUser(x) => {
                    keep_account(
                        &self.accounts,
                        "user",
                        x.username(),
                        self.users.get(&x.id()).map(User::account),
                        x.account(),
                    )?;
                    touched.insert(x.account());
                    // The holders list enabled users by grant: an update that keeps both
                    // leaves them (and the groups another version shares) alone.
                    let old = self.users.get(&x.id());
                    let placed_alike = old.is_some_and(|o| {
                        o.is_enabled() == x.is_enabled() && o.grants() == x.grants()
                    });
                    if !placed_alike
                        && let Some(p) = self.users.position(x.id())
                        && let Some(old) = self.users.at(p)
                    {
                        self.holders.remove(old, at_u32(p));
                    }
                    self.users.insert(x.clone())?;
                    if !placed_alike
                        && let Some(p) = self.users.position(x.id())
                        && let Some(new) = self.users.at(p)
                    {
                        self.holders.add(new, at_u32(p));
                    }
                }
                Mutation::RemoveUser(id) => {
                    let (x, p) = self
                        .users
                        .remove_at(id)
                        .ok_or_else(|| Error::not_found("user", id))?;
                    self.holders.remove(&x, at_u32(p));
                    // The last record moved into the freed position, if it was not the last.
                    if let Some(moved) = self.users.at(p) {
                        let from = at_u32(self.users.len());
                        self.holders.repoint(moved, from, at_u32(p));
                    }
                    touched.insert(x.account());
                }
            }
        }
        self.holders.flush();
        Ok(())
    }

    /// Validates every account the pending batches touched, then releases spare capacity.
    ///
    /// # Errors
    ///
    /// The first broken rule, listing every one found ([`Error::problems`]).
    pub(crate) fn settle(&mut self, pending: &Pending) -> Result<(), Error> {
        let found = self.settle_all(pending);
        found.into_result()
    }

    /// [`settle`](Self::settle), handing back every broken rule found; the index is ready for
    /// readers only if none was.
    pub(crate) fn settle_all(&mut self, pending: &Pending) -> Findings {
        let mut found = Findings::default();
        let none = BTreeSet::new();
        let changed = |account: &AccountId| pending.changed_users.get(account).unwrap_or(&none);
        let whole =
            |account: &AccountId| pending.structural || changed(account).len() > INCREMENTAL;
        let members = self.members(pending.touched.iter().copied().filter(whole));
        for account in &pending.touched {
            match members.get(account) {
                Some(m) => {
                    let changed = Changed {
                        users: changed(account),
                        sources: &pending.changed_sources,
                    };
                    self.validate(*account, m, &pending.removed, &changed, &mut found)
                }
                None => self.validate_users(*account, changed(account), &mut found),
            }
        }
        drop(members);
        if found.is_empty() {
            // Spare capacity is what a bulk load leaves; a small batch leaves little, and
            // looking costs a pass over every chunk.
            let changed: usize = pending.changed_users.values().map(BTreeSet::len).sum();
            if pending.structural || changed > INCREMENTAL {
                self.shrink();
            }
            // Roles and accounts are what the entries read besides the users themselves.
            self.refresh_quick(pending.structural);
        }
        found
    }

    /// Brings the users' quick-path entries up to date with the accounts and roles as they
    /// are now: all of them if roles or accounts changed (`everything`), else the changed
    /// users' alone.
    pub(super) fn refresh_quick(&mut self, everything: bool) {
        let Index {
            users,
            accounts,
            roles,
            ..
        } = self;
        users.refresh(|u| quick_of(accounts, roles, u), everything);
    }

    /// Releases spare capacity after a bulk load.
    pub(crate) fn shrink(&mut self) {
        self.users.shrink_to_fit();
        if let Some(m) = Arc::get_mut(&mut self.roles) {
            m.shrink_to_fit();
        }
        if let Some(m) = Arc::get_mut(&mut self.stores) {
            m.shrink_to_fit();
        }
        if let Some(m) = Arc::get_mut(&mut self.store_accounts) {
            m.shrink_to_fit();
        }
        if let Some(m) = Arc::get_mut(&mut self.sources) {
            m.shrink_to_fit();
        }
        if let Some(m) = Arc::get_mut(&mut self.channels) {
            m.shrink_to_fit();
        }
        if let Some(m) = Arc::get_mut(&mut self.accounts) {
            m.shrink_to_fit();
        }
        self.holders.shrink();
    }
}

/// What batches applied with [`Index::mutate`] touched, for [`Index::settle`].
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(super) touched: BTreeSet<AccountId>,
    pub(super) removed: Removed,
    /// Accounts where only a few users changed are validated for those users alone.
    pub(super) changed_users: HashMap<AccountId, BTreeSet<UserId>, IdHash>,
    /// Sources written: a clash of external ids is put on the one the batch changed (R20).
    pub(super) changed_sources: BTreeSet<SourceId>,
    pub(super) structural: bool,
}

/// What a batch wrote, as validation blames a clash of unique values: on the object the batch
/// changed, never on one it left alone (which the actor may not see, R20).
#[derive(Debug)]
pub(super) struct Changed<'a> {
    pub(super) users: &'a BTreeSet<UserId>,
    pub(super) sources: &'a BTreeSet<SourceId>,
}

#[derive(Debug, Default)]
pub(super) struct Removed {
    pub(super) accounts: HashSet<AccountId>,
    pub(super) stores: HashSet<StoreId>,
    pub(super) sources: HashSet<SourceId>,
    pub(super) channels: HashSet<ChannelId>,
    pub(super) roles: HashSet<RoleId>,
    /// The names the removed objects had, for messages about what still refers to them: the
    /// batch that removed one named it, so its writer knew it.
    pub(super) names: HashMap<Key, String>,
}

impl Removed {
    /// The name a removed object had, or its id if it had none here.
    pub(super) fn label(&self, key: impl Into<Key> + core::fmt::Display + Copy) -> String {
        self.names
            .get(&key.into())
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }
}

/// A user's quick-path entry: the mask of its one grant, its account's position, and how far
/// the quick path decides (see [`Index::quick`]).
pub(super) fn quick_of<P: Catalog>(
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

pub(super) fn keep_account<P>(
    accounts: &IdMap<AccountId, AccountEntry<P>>,
    what: &'static str,
    name: &str,
    existing: Option<AccountId>,
    new: AccountId,
) -> Result<(), Error> {
    let label = |id: AccountId| {
        accounts
            .get(&id)
            .map_or_else(|| id.to_string(), |a| a.account.name().to_owned())
    };
    match existing {
        Some(old) if old != new => Err(Error::wrong_account(what, name, label(new), label(old))),
        _ => Ok(()),
    }
}
