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
#[derive(Clone, Debug, Default)]
pub(super) struct Holders {
    /// Per store, the users holding each role there by a grant naming the store.
    pub(super) by_store: Parted<StoreId, Arc<RoleGroups>>,
    /// Per account, the users holding each role at all stores.
    pub(super) everywhere: Parted<AccountId, Arc<RoleGroups>>,
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

/// Users grouped by role, by position in the user table: a few roles per store, so a short
/// list.
pub(super) type RoleGroups = Vec<(RoleId, Vec<u32>)>;

impl Holders {
    /// Lists the user `u` at `position`.
    pub(super) fn add(&mut self, u: &User, position: u32) {
        if !u.is_enabled() {
            return;
        }
        let (everywhere, at) = placements(u);
        for role in everywhere {
            if let Some(groups) = self.everywhere.entry(u.account()) {
                group(Arc::make_mut(groups), role).push(position);
            }
        }
        for (store, role) in at {
            if let Some(groups) = self.by_store.entry(store) {
                group(Arc::make_mut(groups), role).push(position);
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
        let (everywhere, at) = placements(u);
        let edit = |groups: Option<&mut Arc<RoleGroups>>, role: RoleId| {
            if let Some(groups) = groups {
                let positions = group(Arc::make_mut(groups), role);
                match to {
                    Some(to) => positions
                        .iter_mut()
                        .filter(|p| **p == from)
                        .for_each(|p| *p = to),
                    None => positions.retain(|&p| p != from),
                }
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
        // Groups another version shares were shrunk when they were last written.
        for groups in self
            .by_store
            .unshared_values_mut()
            .chain(self.everywhere.unshared_values_mut())
            .filter_map(Arc::get_mut)
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
pub(super) fn group(groups: &mut RoleGroups, role: RoleId) -> &mut Vec<u32> {
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
