//! What the index keeps beside the records: who holds which role where (R21), and each
//! account's roles and sources by name.

use std::sync::Arc;

use super::*;
use crate::engine::parted::Parted;

/// Who holds which role where: the answer to "who may do P at store S" (R21) without looking
/// at any user, kept up to date on every write. Only enabled users are listed, by their
/// position in the user table (4 bytes each, where an id takes 8): a removal that moves a
/// record repoints it ([`Holders::repoint`]).
///
/// Each store's and account's groups are shared between versions of the index: a write copies
/// the groups of the stores and accounts its users are placed at, not every group.
///
/// Additions wait in `pending` until [`Holders::flush`] (or the next removal) merges them, each
/// group rebuilt once at its final size: a bulk load then allocates every group after the
/// records, in one piece each, instead of growing thousands of small lists between the
/// records' strings (their freed steps would hole the heap for good).
#[derive(Clone, Debug, Default)]
pub(super) struct Holders {
    /// Per store, the users holding each role there by a grant naming the store.
    pub(super) by_store: Parted<StoreId, Arc<RoleGroups>>,
    /// Per account, the users holding each role at all stores.
    pub(super) everywhere: Parted<AccountId, Arc<RoleGroups>>,
    /// Additions not merged yet; empty whenever the index is read.
    pending: Vec<(Held, RoleId, u32)>,
}

/// Where a holder is listed: at a store, or at every store of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Store(StoreId),
    Everywhere(AccountId),
}

/// Each account's roles and sources by name: lookups whose cost depends on the account and the
/// name, never on other accounts' data (an upload resolves a name per cell). Users by name
/// are the user table's own index (`engine::contacts`), by position.
#[derive(Clone, Debug, Default)]
pub(super) struct Directory {
    pub(super) accounts: Parted<AccountId, Names>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Names {
    /// Roles by folded name and former name (several only while a batch is being validated).
    pub(super) roles: HashMap<String, SmallVec<[RoleId; 1]>>,
    /// Sources by ASCII-lowercased external id.
    pub(super) sources: HashMap<String, SmallVec<[SourceId; 1]>>,
}

impl Directory {
    pub(super) fn add_role<P: Catalog>(&mut self, r: &Role<P>) {
        let Some(names) = self.accounts.entry(r.account()) else {
            return;
        };
        for n in core::iter::once(r.name()).chain(r.former_names().iter().map(String::as_str)) {
            let ids = names.roles.entry(folded(n)).or_default();
            if !ids.contains(&r.id()) {
                ids.push(r.id());
            }
        }
    }

    pub(super) fn remove_role<P: Catalog>(&mut self, r: &Role<P>) {
        let Some(names) = self.accounts.get_mut(&r.account()) else {
            return;
        };
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

    pub(super) fn add_source(&mut self, s: &Source) {
        let Some(names) = self.accounts.entry(s.account()) else {
            return;
        };
        let ids = names
            .sources
            .entry(s.external_id().to_ascii_lowercase())
            .or_default();
        if !ids.contains(&s.id()) {
            ids.push(s.id());
        }
    }

    pub(super) fn remove_source(&mut self, s: &Source) {
        let Some(names) = self.accounts.get_mut(&s.account()) else {
            return;
        };
        let key = s.external_id().to_ascii_lowercase();
        if let Some(ids) = names.sources.get_mut(&key) {
            ids.retain(|id| *id != s.id());
            if ids.is_empty() {
                names.sources.remove(&key);
            }
        }
    }
}

/// Users grouped by role, by position in the user table: each role with the length of its
/// run, and the runs one after another in one list (a few roles per store, so a short list).
#[derive(Clone, Debug, Default)]
pub(super) struct RoleGroups {
    roles: Vec<(RoleId, u32)>,
    positions: Vec<u32>,
}

impl RoleGroups {
    /// Each role with the positions of its holders.
    pub(super) fn iter(&self) -> impl Iterator<Item = (RoleId, &[u32])> + '_ {
        let mut rest = self.positions.as_slice();
        self.roles.iter().map(move |&(role, len)| {
            let (run, tail) = rest.split_at(rest.len().min(len as usize));
            rest = tail;
            (role, run)
        })
    }

    /// Replaces `from` by `to` (or drops it) in `role`'s run.
    fn replace(&mut self, role: RoleId, from: u32, to: Option<u32>) {
        let mut start = 0;
        let mut found = None;
        for (i, &(r, len)) in self.roles.iter().enumerate() {
            if r == role {
                found = Some((i, start, len));
                break;
            }
            start += len as usize;
        }
        let Some((i, start, len)) = found else {
            return;
        };
        let end = start + len as usize;
        let Some(run) = self.positions.get_mut(start..end) else {
            return;
        };
        match to {
            Some(to) => run.iter_mut().filter(|p| **p == from).for_each(|p| *p = to),
            None => {
                let kept: Vec<u32> = run.iter().copied().filter(|&p| p != from).collect();
                if kept.len() == run.len() {
                    return;
                }
                let left = u32::try_from(kept.len()).unwrap_or(u32::MAX);
                self.positions.splice(start..end, kept);
                if left == 0 {
                    self.roles.remove(i);
                } else if let Some(entry) = self.roles.get_mut(i) {
                    entry.1 = left;
                }
            }
        }
    }

    /// This group with `added` (sorted by role) merged in, built at its final size.
    fn merged(&self, added: &[(RoleId, u32)]) -> RoleGroups {
        let mut roles = Vec::with_capacity(self.roles.len() + added.len().min(64));
        let mut positions = Vec::with_capacity(self.positions.len() + added.len());
        let of = |role: RoleId| {
            let from = added.partition_point(|&(r, _)| r < role);
            let to = added.partition_point(|&(r, _)| r <= role);
            added.get(from..to).unwrap_or(&[])
        };
        for (role, run) in self.iter() {
            let more = of(role);
            positions.extend_from_slice(run);
            positions.extend(more.iter().map(|&(_, p)| p));
            roles.push((
                role,
                u32::try_from(run.len() + more.len()).unwrap_or(u32::MAX),
            ));
        }
        // Roles new to the group, in id order.
        let mut rest = added;
        while let Some(&(role, _)) = rest.first() {
            let (new, tail) = rest.split_at(rest.partition_point(|&(r, _)| r == role));
            rest = tail;
            if self.roles.iter().all(|&(r, _)| r != role) {
                positions.extend(new.iter().map(|&(_, p)| p));
                roles.push((role, u32::try_from(new.len()).unwrap_or(u32::MAX)));
            }
        }
        roles.shrink_to_fit();
        RoleGroups { roles, positions }
    }
}

impl Holders {
    /// Lists the user `u` at `position` (once [`flush`](Self::flush) merges it).
    pub(super) fn add(&mut self, u: &User, position: u32) {
        if !u.is_enabled() {
            return;
        }
        let (everywhere, at) = placements(u);
        let account = u.account();
        self.pending.extend(
            everywhere
                .into_iter()
                .map(|role| (Held::Everywhere(account), role, position)),
        );
        self.pending.extend(
            at.into_iter()
                .map(|(store, role)| (Held::Store(store), role, position)),
        );
    }

    /// Merges the pending additions, each group they touch rebuilt once.
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = core::mem::take(&mut self.pending);
        pending.sort_unstable();
        let mut rest = pending.as_slice();
        let mut added = Vec::new();
        while let Some(&(held, _, _)) = rest.first() {
            let (these, tail) = rest.split_at(rest.partition_point(|&(h, _, _)| h == held));
            rest = tail;
            added.clear();
            added.extend(these.iter().map(|&(_, role, p)| (role, p)));
            let groups = match held {
                Held::Store(store) => self.by_store.entry(store),
                Held::Everywhere(account) => self.everywhere.entry(account),
            };
            if let Some(groups) = groups {
                *groups = Arc::new(groups.merged(&added));
            }
        }
    }

    /// Unlists the user `u` at `position`.
    pub(super) fn remove(&mut self, u: &User, position: u32) {
        self.replace(u, position, None);
    }

    /// The user `u` moved from position `from` to `to`.
    pub(super) fn repoint(&mut self, u: &User, from: u32, to: u32) {
        self.replace(u, from, Some(to));
    }

    /// Replaces `from` by `to` (or drops it) in the groups the user `u` is listed in.
    fn replace(&mut self, u: &User, from: u32, to: Option<u32>) {
        if !u.is_enabled() {
            return;
        }
        // Pending additions may name `from`: merged first, they are edited like the rest.
        self.flush();
        let (everywhere, at) = placements(u);
        let edit = |groups: Option<&mut Arc<RoleGroups>>, role: RoleId| {
            if let Some(groups) = groups {
                Arc::make_mut(groups).replace(role, from, to);
            }
        };
        for role in everywhere {
            edit(self.everywhere.get_mut(&u.account()), role);
        }
        for (store, role) in at {
            edit(self.by_store.get_mut(&store), role);
        }
    }

    pub(super) fn shrink(&mut self) {
        self.flush();
        self.pending = Vec::new();
        // Groups another version shares were shrunk when they were last written.
        for groups in self
            .by_store
            .unshared_values_mut()
            .chain(self.everywhere.unshared_values_mut())
            .filter_map(Arc::get_mut)
        {
            groups.roles.shrink_to_fit();
            groups.positions.shrink_to_fit();
        }
    }
}

/// The distinct roles a user holds at all stores, and the distinct (store, role) pairs it holds
/// at named stores.
pub(super) fn placements(u: &User) -> (Vec<RoleId>, Vec<(StoreId, RoleId)>) {
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
