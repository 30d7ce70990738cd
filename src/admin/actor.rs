//! The actor as authorization sees it (R6–R11): what it holds and where, whom it manages (the
//! read side's own definition), what it may assign or define, and R8's "no capability gained"
//! test over stores × sources × channels.

use core::fmt;

use crate::engine::decision::DenyReason;
use crate::engine::index::Index;
use crate::engine::resource::{OnUser, Resource};
use crate::model::access::Access;
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::permission::{Catalog, Reach};
use crate::model::role::{Level, Role, Scope};
use crate::model::user::{Grant, User};
use crate::{Error, ErrorKind};

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
        let user = match index.user(id) {
            Some(u) if u.is_enabled() => u,
            Some(u) => return Err(Error::disabled_actor(u.username())),
            None => return Err(Error::unknown_actor(id)),
        };
        let withheld = index
            .account_entry(user.account())
            .map_or(P::empty(), |a| a.withheld());
        let held = user
            .grants()
            .iter()
            .filter_map(|g| index.role(g.role))
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

    /// R20: whether the actor may see `target` (the view-users check) or manage it with
    /// `perm`. A user it may do neither with is answered as no user, named nowhere.
    pub(crate) fn sees_or_manages(&self, target: &User, perm: P) -> bool {
        target.account() == self.account()
            && (self
                .index
                .evaluate(
                    self.user.id(),
                    P::admin().view_users,
                    &OnUser(self.account(), target.id()),
                )
                .is_ok()
                || self.index.manages(self.user, perm, target).is_ok())
    }

    /// The stores the actor may see (R20): those its grants reach after their roles'
    /// ceilings, or every store if a role of its holds the catalog's store directory
    /// permission ([`AdminPermissions::view_stores`](crate::AdminPermissions::view_stores)).
    /// Listings and the write side's "is this store one the actor knows of" both ask here.
    pub(crate) fn store_reach(&self) -> Access<StoreId> {
        let directory = P::admin().view_stores;
        self.reach(|role, g| {
            let held = role.permissions().difference(self.withheld);
            if !directory.is_empty() && held.contains(directory) {
                Access::All
            } else {
                role.ceiling().stores.intersect(&g.stores)
            }
        })
    }

    /// The sources the actor may see (R20): its source access after each role's ceiling.
    pub(crate) fn source_reach(&self) -> Access<SourceId> {
        self.reach(|role, _| role.ceiling().sources.intersect(self.user.sources()))
    }

    /// The sales channels the actor may see (R20): its channel access after each role's
    /// ceiling.
    pub(crate) fn channel_reach(&self) -> Access<ChannelId> {
        self.reach(|role, _| role.ceiling().channels.intersect(self.user.channels()))
    }

    /// The union over the actor's grants whose role holds anything of what `one` says.
    fn reach<T: Ord + Copy>(&self, one: impl Fn(&Role<P>, &Grant) -> Access<T>) -> Access<T> {
        let mut reach = Access::None;
        for g in self.user.grants() {
            let Some(role) = self.index.role(g.role) else {
                continue;
            };
            if role.permissions().difference(self.withheld).is_empty() {
                continue;
            }
            reach = reach.union(&one(role, g));
        }
        reach
    }

    /// The actor may use `perm` on `resource` (a store, source or channel, or a whole
    /// dimension to create one in), by the read side's own check (R2, R3): an actor limited to
    /// some stores manages only those.
    pub(crate) fn may_manage_at<R: Resource>(
        &self,
        perm: P,
        what: &str,
        resource: &R,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
        self.require(perm, action, what)?;
        let reason = match self.index.evaluate(self.user.id(), perm, resource) {
            Ok(_) => return Ok(()),
            Err(reason) => reason,
        };
        let (kind, why) = match reason {
            DenyReason::NeedsAll(d) => (
                ErrorKind::OutsideScope,
                format!("it needs the permission to {what} at every {d}"),
            ),
            DenyReason::OutsideScope(d) => {
                (ErrorKind::OutsideScope, format!("the {d} is outside yours"))
            }
            DenyReason::NoSources => (ErrorKind::OutsideScope, "you have no sources".to_owned()),
            _ => (
                ErrorKind::NotPermitted,
                format!("you lack the permission to {what}"),
            ),
        };
        Err(Error::refused(kind, action, why))
    }

    /// The grants whose role holds `perm`, with their roles.
    pub(crate) fn grants_holding(
        &self,
        perm: P,
    ) -> impl Iterator<Item = (&'a Grant, &'a Role<P>)> + '_ {
        let withheld = self.withheld;
        self.user.grants().iter().filter_map(move |g| {
            let role = self.index.role(g.role)?;
            (!perm.is_empty() && role.permissions().difference(withheld).contains(perm))
                .then_some((g, role))
        })
    }

    /// The highest (smallest) level among the grants holding `perm`.
    pub(crate) fn level_for(&self, perm: P) -> Option<Level> {
        self.grants_holding(perm).map(|(_, r)| r.level()).min()
    }

    /// The level the actor administers with `perm`, or `NotPermitted`.
    pub(crate) fn require(
        &self,
        perm: P,
        action: &dyn fmt::Display,
        what: &str,
    ) -> Result<Level, Error> {
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
    pub(crate) fn holds(&self, perms: P, action: &dyn fmt::Display) -> Result<(), Error> {
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
    pub(crate) fn may_assign(
        &self,
        role: &Role<P>,
        perm: P,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
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
    pub(crate) fn may_touch(
        &self,
        target: &User,
        perm: P,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
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
    pub(crate) fn manages(
        &self,
        target: &User,
        perm: P,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
        let reason = match self.index.manages(self.user, perm, target) {
            Ok(_) => return Ok(()),
            Err(reason) => reason,
        };
        let stored = self.index.user(target.id()) == Some(target);
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
                    .and_then(|g| self.index.role(g.role));
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
    pub(crate) fn may_give(
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
            let role = match self.index.role(g.role) {
                Some(r) if r.account() == self.account() => r,
                _ => return Err(Error::not_found("role", g.role)),
            };
            if !old.is_some_and(|o| o.grants().iter().any(|og| og.role == g.role)) {
                self.may_assign(role, perm, action)?;
            }
        }
        // R10: the user as it would be is one the actor manages, by one grant.
        self.manages(new, perm, action)?;
        let roles = |id: RoleId| self.index.role(id);
        self.no_gain(&[(old, Some(new))], &roles, &roles, action)
    }

    /// R8, precisely. For every permission, each changed user's reach is a set of boxes, one
    /// per grant holding it: stores × sources × channels. Every box a user has afterwards must
    /// lie inside one box it had before or one box of the actor; a box covered only by several
    /// together is refused (fail closed). `before` and `after` resolve role ids in the state
    /// before and after the change.
    pub(crate) fn no_gain<'r>(
        &self,
        changed: &[(Option<&User>, Option<&User>)],
        before: &dyn Fn(RoleId) -> Option<&'r Role<P>>,
        after: &dyn Fn(RoleId) -> Option<&'r Role<P>>,
        action: &dyn fmt::Display,
    ) -> Result<(), Error> {
        let mine_roles = |id: RoleId| self.index.role(id);
        for info in P::permissions() {
            let p = info.flag();
            let mine = self.boxes(Some(self.user), p, &mine_roles);
            for (old, new) in changed {
                let was = self.boxes(*old, p, before);
                for b in self.boxes(*new, p, after) {
                    let covers = |o: &Scope| b.is_within(o);
                    if b.is_nothing() || was.iter().chain(&mine).any(covers) {
                        continue;
                    }
                    // Name the first dimension that even all boxes together do not cover.
                    let all = was
                        .iter()
                        .chain(&mine)
                        .fold(Scope::nothing(), |acc, o| acc.union(o));
                    let holds_none = mine.iter().all(Scope::is_nothing);
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
                    let err = Error::refused(kind, action, reason);
                    // The dimension is the field at fault, for callers that point at it (a CSV
                    // upload names the column).
                    return Err(match what {
                        "stores" | "sources" | "sales channels" => err.on_field(what),
                        _ => err,
                    });
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
    ) -> Vec<Scope> {
        let Some(u) = user.filter(|u| u.is_enabled()) else {
            return Vec::new();
        };
        let owner_only = self
            .index
            .account_entry(u.account())
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
                let mut scope =
                    Scope::effective(role.ceiling(), &g.stores, u.sources(), u.channels());
                // Account-wide permissions are narrowed by no store, the ceiling's included (R13).
                if wide.contains(p) {
                    scope.stores = Access::All;
                }
                Some(scope)
            })
            .collect()
    }

    /// R7/R8 for a role's new state: the actor sees its old and new level, holds every
    /// permission it adds, and no holder of the role gains a capability the actor lacks.
    pub(crate) fn may_define(
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
            let owner_holds = self
                .index
                .users_in(self.account())
                .any(|u| u.is_owner() && u.grants().iter().any(|g| g.role == old.id()));
            let narrower = !old.permissions().difference(new.permissions()).is_empty()
                || new.level() > old.level()
                || !old.ceiling().is_within(new.ceiling());
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
        let before = |id: RoleId| self.index.role(id);
        let after = |id: RoleId| {
            if id == new.id() {
                Some(new)
            } else {
                self.index.role(id)
            }
        };
        self.no_gain(&holders, &before, &after, action)
    }
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
