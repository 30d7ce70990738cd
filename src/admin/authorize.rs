//! Turning an actor's [`Change`] into record-level mutations, or refusing it (R6–R11, R15, R17).
//!
//! Authorization happens here; the model invariants (R11 owner, R12 seats, R16 formats,
//! references) are checked afterwards by the index, on the state the change would produce.

use core::fmt;

use crate::admin::Event;
use crate::admin::change::Change;
use crate::engine::decision::DenyReason;
use crate::engine::index::{Index, name_list, same_folded};
use crate::engine::resource::OnUser;
use crate::model::access::Access;
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::permission::{Catalog, Reach};
use crate::model::role::{Level, Role};
use crate::model::user::{Grant, User};
use crate::storage::Mutation;
use crate::{Error, ErrorKind};

/// What a change becomes once authorized.
#[derive(Debug)]
pub(crate) struct Planned<P> {
    pub(crate) mutations: Vec<Mutation<P>>,
    pub(crate) events: Vec<Event>,
}

/// The actor as authorization sees it: what it holds, and where.
#[derive(Debug)]
pub(crate) struct Actor<'a, P: Catalog> {
    pub(crate) user: &'a User,
    index: &'a Index<P>,
    /// Every permission the actor's roles hold (R8). Permissions an account setting withholds
    /// still count: they are suspended for everyone, not taken from the actor.
    held: P,
    withheld: P,
}

impl<'a, P: Catalog> Actor<'a, P> {
    pub(crate) fn new(index: &'a Index<P>, id: UserId) -> Result<Self, Error> {
        let user = match index.users.get(&id) {
            Some(u) if u.is_enabled() => u,
            Some(u) => {
                return Err(Error::refused(
                    ErrorKind::NotPermitted,
                    "act",
                    format!("user `{}` is disabled", u.username()),
                ));
            }
            None => return Err(Error::not_found("user", id)),
        };
        let withheld = index
            .accounts
            .get(&user.account())
            .map_or(P::empty(), |a| a.withheld());
        let held = user
            .grants()
            .iter()
            .filter_map(|g| index.roles.get(&g.role))
            .fold(P::empty(), |acc, r| acc.union(r.permissions()));
        Ok(Actor {
            user,
            index,
            held,
            withheld,
        })
    }

    pub(crate) fn account(&self) -> AccountId {
        self.user.account()
    }

    /// The grants whose role holds `perm`, with their roles.
    fn grants_holding(&self, perm: P) -> impl Iterator<Item = (&'a Grant, &'a Role<P>)> + '_ {
        let withheld = self.withheld;
        self.user.grants().iter().filter_map(move |g| {
            let role = self.index.roles.get(&g.role)?;
            (!perm.is_empty() && role.permissions().difference(withheld).contains(perm))
                .then_some((g, role))
        })
    }

    /// The highest (smallest) level among the grants holding `perm`.
    pub(crate) fn level_for(&self, perm: P) -> Option<Level> {
        self.grants_holding(perm).map(|(_, r)| r.level()).min()
    }

    /// The level the actor administers with `perm`, or `NotPermitted`.
    fn require(&self, perm: P, action: &dyn fmt::Display, what: &str) -> Result<Level, Error> {
        self.level_for(perm).ok_or_else(|| {
            Error::refused(
                ErrorKind::NotPermitted,
                action,
                format!("you lack the permission to {what}"),
            )
        })
    }

    /// Whether every one of `perms` is held by some role of the actor.
    pub(crate) fn holds_all(&self, perms: P) -> bool {
        self.held.contains(perms)
    }

    /// R8: `perms` must be held.
    fn holds(&self, perms: P, action: &dyn fmt::Display) -> Result<(), Error> {
        let missing = perms.difference(self.held);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::refused(
                ErrorKind::Escalation,
                action,
                format!("it would grant {} which you do not hold", names(missing)),
            ))
        }
    }

    /// R7/R8 for a role the actor may assign to a user with `perm`.
    fn may_assign(&self, role: &Role<P>, perm: P, action: &dyn fmt::Display) -> Result<(), Error> {
        let mine = self.require(perm, action, "manage users")?;
        if !mine.sees(role.level()) {
            return Err(Error::refused(
                ErrorKind::Hierarchy,
                format!("assign role `{}` ({})", role.name(), role.level()),
                format!("your level is {}", mine.get()),
            ));
        }
        self.holds(role.permissions(), action)
    }

    /// R10/R11: the actor may touch `target` with `perm`: the owner is the owner's, and the
    /// read side's check of `OnUser(target)` allows it ([`Actor::manages`]).
    fn may_touch(&self, target: &User, perm: P, action: &dyn fmt::Display) -> Result<(), Error> {
        if target.account() != self.account() {
            return Err(Error::not_found("user", target.id()));
        }
        if target.is_owner() && !self.user.is_owner() {
            return Err(Error::refused(
                ErrorKind::Owner,
                action,
                "user is the account owner",
            ));
        }
        self.manages(target, perm, action)
    }

    /// R6, R10: one actor grant holding `perm` sees every role `target` holds and reaches every
    /// store its grants reach. This is the read side's own definition
    /// ([`Index::manages`]), so `check(actor, perm, OnUser(target))` and the write side never
    /// disagree; `target` may be a state not yet stored (a new user, a user as edited), which
    /// the messages speak of as what it "would" hold.
    fn manages(&self, target: &User, perm: P, action: &dyn fmt::Display) -> Result<(), Error> {
        let reason = match self.index.manages(self.user, perm, target) {
            Ok(_) => return Ok(()),
            Err(reason) => reason,
        };
        let stored = self.index.users.get(&target.id()) == Some(target);
        let who = target.username();
        let (kind, why) = match reason {
            DenyReason::AboveLevel if stored => (
                ErrorKind::Hierarchy,
                format!("`{who}` holds a role above the level you manage users at"),
            ),
            DenyReason::AboveLevel => (
                ErrorKind::Hierarchy,
                format!("`{who}` would hold a role above the level you manage users at"),
            ),
            DenyReason::OutsideScope(_) if stored => (
                ErrorKind::OutsideScope,
                format!("`{who}` has stores outside yours"),
            ),
            DenyReason::OutsideScope(_) => {
                // Name the role of a grant no single grant of the actor's reaches, if one does.
                let role = target
                    .grants()
                    .iter()
                    .find(|g| {
                        let alone = target.clone().with_grants([(*g).clone()]);
                        self.index.manages(self.user, perm, &alone).is_err()
                    })
                    .and_then(|g| self.index.roles.get(&g.role));
                let why = match role {
                    Some(r) => format!("role `{}` would reach stores outside yours", r.name()),
                    None => format!("`{who}` would reach stores outside yours"),
                };
                (ErrorKind::OutsideScope, why)
            }
            DenyReason::WrongAccount | DenyReason::UnknownTargetUser(_) => {
                return Err(Error::not_found("user", target.id()));
            }
            _ => (
                ErrorKind::NotPermitted,
                "you lack the permission to manage users".to_owned(),
            ),
        };
        Err(Error::refused(kind, action, why))
    }

    /// R8–R10 for a user's new state: every role it newly holds is assignable by the actor
    /// (R7), and no capability is gained that the actor does not have ([`Actor::no_gain`]).
    fn may_give(
        &self,
        new: &User,
        old: Option<&User>,
        perm: P,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
        for g in new.grants() {
            if old.is_some_and(|o| o.grants().contains(g)) {
                continue;
            }
            let role = match self.index.roles.get(&g.role) {
                Some(r) if r.account() == self.account() => r,
                _ => return Err(Error::not_found("role", g.role)),
            };
            if !old.is_some_and(|o| o.grants().iter().any(|og| og.role == g.role)) {
                self.may_assign(role, perm, action)?;
            }
        }
        // R10: the user as it would be is one the actor manages, by one grant.
        self.manages(new, perm, action)?;
        let roles = |id: RoleId| self.index.roles.get(&id);
        self.no_gain(&[(old, Some(new))], &roles, &roles, action)
    }

    /// R8, precisely. For every permission, each changed user's reach is a set of boxes, one
    /// per grant holding it: stores × sources × channels. Every box a user has afterwards must
    /// lie inside one box it had before or one box of the actor; a box covered only by several
    /// together is refused (fail closed). `before` and `after` resolve role ids in the state
    /// before and after the change.
    fn no_gain<'r>(
        &self,
        changed: &[(Option<&User>, Option<&User>)],
        before: &dyn Fn(RoleId) -> Option<&'r Role<P>>,
        after: &dyn Fn(RoleId) -> Option<&'r Role<P>>,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
        let mine_roles = |id: RoleId| self.index.roles.get(&id);
        for info in P::permissions() {
            let p = info.flag();
            let mine = self.boxes(Some(self.user), p, &mine_roles);
            for (old, new) in changed {
                let was = self.boxes(*old, p, before);
                for b in self.boxes(*new, p, after) {
                    let covers = |o: &Cap| b.is_within(o);
                    if b.is_nothing() || was.iter().chain(&mine).any(covers) {
                        continue;
                    }
                    // Name the first dimension that even all boxes together do not cover.
                    let all = was
                        .iter()
                        .chain(&mine)
                        .fold(Cap::nothing(), |acc, o| acc.union(o));
                    let holds_none = mine.iter().all(Cap::is_nothing);
                    let (kind, what) = if holds_none {
                        // R8: a permission the actor does not hold at all.
                        (ErrorKind::Escalation, "")
                    } else if !b.stores.is_within(&all.stores) {
                        (ErrorKind::OutsideScope, "stores")
                    } else if !b.sources.is_within(&all.sources) {
                        (ErrorKind::Escalation, "sources")
                    } else if !b.channels.is_within(&all.channels) {
                        (ErrorKind::Escalation, "sales channels")
                    } else {
                        (
                            ErrorKind::Escalation,
                            "stores, sources and sales channels taken together",
                        )
                    };
                    let reason = if holds_none {
                        format!("it would grant `{}` which you do not hold", info.name())
                    } else {
                        format!("it would give `{}` at {what} outside yours", info.name())
                    };
                    return Err(Error::refused(kind, action, reason));
                }
            }
        }
        Ok(())
    }

    /// Where `user` can use `p`: one box per grant whose role holds it. None for a disabled or
    /// absent user, or an owner-only permission of someone who is not the owner. Only
    /// permissions always account-wide reach every store here; ones widened by an account
    /// setting (entity-level billing) count as scoped, since the setting can change back.
    fn boxes<'r>(
        &self,
        user: Option<&User>,
        p: P,
        roles: &dyn Fn(RoleId) -> Option<&'r Role<P>>,
    ) -> Vec<Cap> {
        let Some(u) = user.filter(|u| u.is_enabled()) else {
            return Vec::new();
        };
        let owner_only = self
            .index
            .accounts
            .get(&u.account())
            .map_or(P::empty(), |a| a.owner_only());
        if p.intersects(owner_only) && !u.is_owner() {
            return Vec::new();
        }
        let wide = P::with_reach(Reach::AccountWide).union(owner_only);
        u.grants()
            .iter()
            .filter_map(|g| {
                let role = roles(g.role)?;
                if !role.permissions().contains(p) {
                    return None;
                }
                let c = role.ceiling();
                Some(Cap {
                    stores: if wide.contains(p) {
                        Access::All
                    } else {
                        c.stores.intersect(&g.stores)
                    },
                    sources: c.sources.intersect(u.sources()),
                    channels: c.channels.intersect(u.channels()),
                })
            })
            .collect()
    }

    /// R7/R8 for a role's new state: the actor sees its old and new level, holds every
    /// permission it adds, and no holder of the role gains a capability the actor lacks.
    fn may_define(
        &self,
        new: &Role<P>,
        old: Option<&Role<P>>,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
        let admin = P::admin();
        let mine = self.require(admin.manage_roles, action, "manage roles")?;
        if new.account() != self.account() {
            return Err(Error::refused(
                ErrorKind::WrongAccount,
                action,
                "the role belongs to another account",
            ));
        }
        for level in old.map(Role::level).into_iter().chain([new.level()]) {
            if !mine.sees(level) {
                return Err(Error::refused(
                    ErrorKind::Hierarchy,
                    action,
                    format!("the role is at {level}: your level is {}", mine.get()),
                ));
            }
        }
        // R11: nobody but the owner takes anything from a role the owner holds (a demotion).
        if let Some(old) = old {
            let owner_holds = self.index.users.values().any(|u| {
                u.is_owner()
                    && u.account() == self.account()
                    && u.grants().iter().any(|g| g.role == old.id())
            });
            let narrower = !old.permissions().difference(new.permissions()).is_empty()
                || new.level() > old.level()
                || !old.ceiling().stores.is_within(&new.ceiling().stores)
                || !old.ceiling().sources.is_within(&new.ceiling().sources)
                || !old.ceiling().channels.is_within(&new.ceiling().channels);
            if owner_holds && narrower && !self.user.is_owner() {
                return Err(Error::refused(
                    ErrorKind::Owner,
                    action,
                    "the account owner holds this role: only the owner may narrow it",
                ));
            }
        }
        let added = new
            .permissions()
            .difference(old.map_or(P::empty(), Role::permissions));
        self.holds(added, action)?;
        let holders: Vec<(Option<&User>, Option<&User>)> = self
            .index
            .account_users(self.account())
            .filter(|u| u.grants().iter().any(|g| g.role == new.id()))
            .map(|u| (Some(u), Some(u)))
            .collect();
        let before = |id: RoleId| self.index.roles.get(&id);
        let after = |id: RoleId| {
            if id == new.id() {
                Some(new)
            } else {
                self.index.roles.get(&id)
            }
        };
        self.no_gain(&holders, &before, &after, action)
    }
}

/// Where a user can use one permission, per dimension.
#[derive(Debug)]
struct Cap {
    stores: Access<StoreId>,
    sources: Access<SourceId>,
    channels: Access<ChannelId>,
}

impl Cap {
    fn is_within(&self, other: &Cap) -> bool {
        self.stores.is_within(&other.stores)
            && self.sources.is_within(&other.sources)
            && self.channels.is_within(&other.channels)
    }

    fn union(&self, other: &Cap) -> Cap {
        Cap {
            stores: self.stores.union(&other.stores),
            sources: self.sources.union(&other.sources),
            channels: self.channels.union(&other.channels),
        }
    }

    fn nothing() -> Self {
        Cap {
            stores: Access::None,
            sources: Access::None,
            channels: Access::None,
        }
    }

    fn is_nothing(&self) -> bool {
        self.stores.is_nothing() && self.sources.is_nothing() && self.channels.is_nothing()
    }
}

#[cfg(feature = "csv")]
/// R1, R9: whoever uploads users is enabled and holds a permission to create or edit users,
/// asked before any row of the file is read.
pub(crate) fn uploader<P: Catalog>(index: &Index<P>, actor: UserId) -> Result<&User, Error> {
    let a = Actor::new(index, actor)?;
    let admin = P::admin();
    if a.level_for(admin.create_users).is_none() && a.level_for(admin.edit_users).is_none() {
        return Err(Error::refused(
            ErrorKind::NotPermitted,
            "upload users",
            "you lack the permission to manage users",
        ));
    }
    Ok(a.user)
}

#[cfg(feature = "csv")]
/// Whether `actor` may edit `target` (R10, R11): what decides whether an upload row can name
/// it; a row naming any other user is answered as if it named no user (R20).
pub(crate) fn may_edit<P: Catalog>(index: &Index<P>, actor: &User, target: &User) -> bool {
    (!target.is_owner() || actor.is_owner())
        && index.manages(actor, P::admin().edit_users, target).is_ok()
}

/// Authorizes one change as `actor` against `index` and plans its mutations.
pub(crate) fn plan<P: Catalog>(
    index: &Index<P>,
    actor: UserId,
    change: &Change<P>,
) -> Result<Planned<P>, Error> {
    let a = Actor::new(index, actor)?;
    let admin = P::admin();
    let account = a.account();
    let user_of = |id: UserId| match index.users.get(&id) {
        Some(u) if u.account() == account => Ok(u),
        _ => Err(Error::not_found("user", id)),
    };
    // R20: a user the actor may neither see nor manage with `perm` is not found, so that no
    // message names it or says what it is.
    let target_of = |id: UserId, perm: P| match index.users.get(&id) {
        Some(u)
            if u.account() == account
                && (index
                    .evaluate(actor, admin.view_users, &OnUser(account, id))
                    .is_ok()
                    || index.manages(a.user, perm, u).is_ok()) =>
        {
            Ok(u)
        }
        _ => Err(Error::not_found("user", id)),
    };
    let role_of = |id: RoleId| match index.roles.get(&id) {
        Some(r) if r.account() == account => Ok(r),
        _ => Err(Error::not_found("role", id)),
    };
    let done = |mutations: Vec<Mutation<P>>| {
        Ok(Planned {
            mutations,
            events: Vec::new(),
        })
    };
    match change {
        Change::CreateRole(role) => {
            let action = format!("create role `{}`", role.name());
            if index.roles.contains_key(&role.id()) {
                return Err(Error::id_taken("role id", role.id()));
            }
            a.may_define(role, None, &action)?;
            done(vec![Mutation::PutRole(role.clone())])
        }
        Change::UpdateRole(role) => {
            let old = role_of(role.id())?;
            let action = format!("update role `{}`", old.name());
            a.may_define(role, Some(old), &action)?;
            // R14: names the role had stay resolvable.
            let mut merged = role.clone();
            for n in old
                .former_names()
                .iter()
                .map(String::as_str)
                .chain([old.name()])
            {
                if !merged.answers_to(n) {
                    merged = merged.with_former_name(n);
                }
            }
            done(vec![Mutation::PutRole(merged)])
        }
        Change::RenameRole { role, name } => {
            let old = role_of(*role)?;
            let action = format!("rename role `{}`", old.name());
            let renamed = old.clone().renamed(name.clone());
            a.may_define(&renamed, Some(old), &action)?;
            done(vec![Mutation::PutRole(renamed)])
        }
        Change::DeleteRole { role, reassign_to } => {
            let old = role_of(*role)?;
            let action = format!("delete role `{}`", old.name());
            a.may_define(old, Some(old), &action)?;
            let holders: Vec<&User> = index
                .account_users(account)
                .filter(|u| u.grants().iter().any(|g| g.role == *role))
                .collect();
            if holders.iter().any(|u| u.is_owner()) && !a.user.is_owner() {
                return Err(Error::refused(
                    ErrorKind::Owner,
                    action,
                    "the account owner holds this role: only the owner may delete it",
                ));
            }
            // R20: holders the actor may neither see nor manage are counted, never named.
            let visible = |u: &User| {
                index
                    .evaluate(actor, admin.view_users, &OnUser(account, u.id()))
                    .is_ok()
                    || index.manages(a.user, admin.edit_users, u).is_ok()
            };
            let mut mutations = Vec::new();
            match reassign_to {
                None if !holders.is_empty() => {
                    let shown = holders.iter().filter(|u| visible(u));
                    let mut names = name_list(shown.map(|u| u.username().to_owned()));
                    let hidden = holders.iter().filter(|u| !visible(u)).count();
                    let others = match hidden {
                        0 => String::new(),
                        1 => "1 user".to_owned(),
                        n => format!("{n} users"),
                    };
                    if !others.is_empty() {
                        if !names.is_empty() {
                            names.push_str(" and ");
                        }
                        names.push_str(&others);
                    }
                    return Err(Error::in_use("role", old.name(), names));
                }
                None => {}
                Some(to) => {
                    let target = role_of(*to)?;
                    if to == role {
                        return Err(Error::invalid("reassign_to", to, "must be another role"));
                    }
                    let mut moved = Vec::with_capacity(holders.len());
                    for u in &holders {
                        if !visible(u) {
                            return Err(Error::refused(
                                ErrorKind::OutsideScope,
                                action,
                                "the role is held by users you may not manage",
                            ));
                        }
                        a.may_touch(u, admin.edit_users, &action)?;
                        a.may_assign(target, admin.edit_users, &action)?;
                        let grants = u.grants().iter().map(|g| {
                            if g.role == *role {
                                Grant::new(*to, g.stores.clone())
                            } else {
                                g.clone()
                            }
                        });
                        let now = User::clone(u).with_grants(grants);
                        a.manages(&now, admin.edit_users, &action)?;
                        moved.push(now);
                    }
                    let pairs: Vec<(Option<&User>, Option<&User>)> = holders
                        .iter()
                        .zip(&moved)
                        .map(|(old, new)| (Some(*old), Some(new)))
                        .collect();
                    let roles = |id: RoleId| index.roles.get(&id);
                    a.no_gain(&pairs, &roles, &roles, &action)?;
                    mutations.extend(moved.into_iter().map(Mutation::PutUser));
                }
            }
            mutations.push(Mutation::RemoveRole(*role));
            done(mutations)
        }
        Change::CreateUser(user) => create_user(&a, index, user.clone()),
        Change::CopyUser {
            from,
            id,
            username,
            email,
        } => {
            let template = user_of(*from)?;
            // R17, R20: only a user the actor may see can be copied.
            if index
                .evaluate(actor, admin.view_users, &OnUser(account, *from))
                .is_err()
            {
                return Err(Error::not_found("user", from));
            }
            create_user(&a, index, User::copy_from(template, *id, username, email))
        }
        Change::UpdateUser(user) => {
            let old = target_of(user.id(), admin.edit_users)?;
            let action = format!("update user `{}`", old.username());
            a.may_touch(old, admin.edit_users, &action)?;
            if user.is_owner() != old.is_owner() || user.account() != old.account() {
                return Err(Error::refused(
                    ErrorKind::Owner,
                    action,
                    "ownership moves only by a transfer from the owner",
                ));
            }
            a.may_give(user, Some(old), admin.edit_users, &action)?;
            if !same_folded(user.email(), old.email()) {
                // R8: the e-mail recovers the account, so whoever sets it can take everything
                // the user holds: only an actor who holds all of it may.
                let roles = |id: RoleId| index.roles.get(&id);
                a.no_gain(&[(None, Some(user))], &roles, &roles, &action)?;
            }
            done(vec![Mutation::PutUser(user.clone())])
        }
        Change::EnableUser(id) | Change::DisableUser(id) => {
            let old = target_of(*id, admin.edit_users)?;
            let enable = matches!(change, Change::EnableUser(_));
            let action = format!(
                "{} user `{}`",
                if enable { "enable" } else { "disable" },
                old.username()
            );
            if old.is_owner() && !enable {
                return Err(Error::refused(
                    ErrorKind::Owner,
                    action,
                    "user is the account owner",
                ));
            }
            a.may_touch(old, admin.edit_users, &action)?;
            let new = old.clone().with_enabled(enable);
            // A disabled user can do nothing: enabling gives back everything its grants hold,
            // which the actor must hold too (R8).
            let roles = |id: RoleId| index.roles.get(&id);
            a.no_gain(&[(Some(old), Some(&new))], &roles, &roles, &action)?;
            done(vec![Mutation::PutUser(new)])
        }
        Change::DeleteUser(id) => {
            let old = target_of(*id, admin.delete_users)?;
            let action = format!("delete user `{}`", old.username());
            if old.is_owner() {
                return Err(Error::refused(
                    ErrorKind::Owner,
                    action,
                    "user is the account owner",
                ));
            }
            a.may_touch(old, admin.delete_users, &action)?;
            done(vec![Mutation::RemoveUser(*id)])
        }
        Change::TransferOwnership { to } => {
            let target = user_of(*to)?;
            let action = format!("transfer ownership to `{}`", target.username());
            if !a.user.is_owner() {
                return Err(Error::refused(
                    ErrorKind::NotPermitted,
                    action,
                    "only the account owner may transfer ownership",
                ));
            }
            if target.id() == a.user.id() {
                return done(Vec::new());
            }
            let (former, heir) = (
                a.user.clone().with_owner(false),
                target.clone().with_owner(true),
            );
            // Owner-only permissions move with ownership: the heir must not reach further with
            // them than the owner did (R8).
            let roles = |id: RoleId| index.roles.get(&id);
            a.no_gain(&[(Some(target), Some(&heir))], &roles, &roles, &action)?;
            Ok(Planned {
                mutations: vec![Mutation::PutUser(former), Mutation::PutUser(heir)],
                events: vec![Event::OwnershipTransferred {
                    from: a.user.id(),
                    to: *to,
                }],
            })
        }
        Change::UploadUsers { .. } => Err(Error::refused(
            ErrorKind::InvalidInput,
            "upload users",
            "an upload is made from its file, not applied as a change",
        )),
        Change::SetEntityLevelBilling(on) => {
            if !a.user.is_owner() {
                return Err(Error::refused(
                    ErrorKind::NotPermitted,
                    "change account settings",
                    "only the account owner may change account settings",
                ));
            }
            let Some(entry) = index.accounts.get(&account) else {
                return Err(Error::not_found("account", account));
            };
            done(vec![Mutation::PutAccount(
                entry.account.clone().with_entity_level_billing(*on),
            )])
        }
    }
}

fn create_user<P: Catalog>(
    a: &Actor<'_, P>,
    index: &Index<P>,
    user: User,
) -> Result<Planned<P>, Error> {
    let admin = P::admin();
    let action = format!("create user `{}`", user.username());
    a.require(admin.create_users, &action, "create users")?;
    if user.account() != a.account() {
        return Err(Error::refused(
            ErrorKind::WrongAccount,
            action,
            "the user belongs to another account",
        ));
    }
    if index.users.contains_key(&user.id()) {
        return Err(Error::id_taken("user id", user.id()));
    }
    if user.is_owner() {
        return Err(Error::refused(
            ErrorKind::Owner,
            action,
            "ownership moves only by a transfer from the owner",
        ));
    }
    a.may_give(&user, None, admin.create_users, &action)?;
    let event = Event::Invited {
        user: user.id(),
        email: user.email().to_owned(),
    };
    Ok(Planned {
        mutations: vec![Mutation::PutUser(user)],
        events: vec![event],
    })
}

/// `A | B` names of a set of flags, in backticks.
fn names<P: Catalog>(p: P) -> String {
    let list: Vec<String> = P::permissions()
        .iter()
        .filter(|i| p.contains(i.flag()))
        .map(|i| format!("`{}`", i.name()))
        .collect();
    list.join(", ")
}
