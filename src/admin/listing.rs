//! Listings and search (R20): what an actor may see.

use crate::admin::actor::Actor;
use crate::engine::Snapshot;
use crate::engine::index::Index;
use crate::engine::resource::OnUser;
use crate::model::account::{Channel, Source, Store};
use crate::model::ids::{RoleId, UserId};
use crate::model::permission::Catalog;
use crate::model::role::Role;
use crate::model::user::User;

/// A search over the users an actor may see. Every field set must match.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    username: Option<String>,
    email: Option<String>,
    role: Option<RoleId>,
    enabled: Option<bool>,
}

impl UserQuery {
    /// Every visible user.
    pub fn new() -> Self {
        Self::default()
    }

    /// Usernames containing `text`, ignoring case.
    #[must_use]
    pub fn username(mut self, text: &str) -> Self {
        self.username = Some(text.to_lowercase());
        self
    }

    /// E-mails containing `text`, ignoring case.
    #[must_use]
    pub fn email(mut self, text: &str) -> Self {
        self.email = Some(text.to_lowercase());
        self
    }

    /// Users holding `role`.
    #[must_use]
    pub fn role(mut self, role: RoleId) -> Self {
        self.role = Some(role);
        self
    }

    /// Enabled (active) or disabled users.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    fn matches(&self, u: &User) -> bool {
        self.username
            .as_ref()
            .is_none_or(|t| u.username().to_lowercase().contains(t.as_str()))
            && self
                .email
                .as_ref()
                .is_none_or(|t| u.email().to_lowercase().contains(t.as_str()))
            && self
                .role
                .is_none_or(|r| u.grants().iter().any(|g| g.role == r))
            && self.enabled.is_none_or(|e| u.is_enabled() == e)
    }
}

impl<P: Catalog> Snapshot<P> {
    /// The users `actor` may see: with the view-users permission, those inside the actor's
    /// stores (R10), or every user of the account where that permission is account-wide.
    pub fn visible_users(&self, actor: UserId) -> Vec<&User> {
        self.search_users(actor, &UserQuery::new())
    }

    /// Whether `actor` may see the user `target`: whether [`visible_users`](Self::visible_users)
    /// lists it (R20). `false` for a user of another account or no user.
    pub fn sees_user(&self, actor: UserId, target: UserId) -> bool {
        sees_user(self.index(), actor, target)
    }

    /// Whether `actor` may see the role `role`: whether [`visible_roles`](Self::visible_roles)
    /// lists it (R6). `false` for a role of another account or no role.
    pub fn sees_role(&self, actor: UserId, role: RoleId) -> bool {
        sees_role(self.index(), actor, role)
    }

    /// The visible users matching `query` (R20), by ascending id.
    pub fn search_users(&self, actor: UserId, query: &UserQuery) -> Vec<&User> {
        let index: &Index<P> = self.index();
        let Some(a) = index.user(actor) else {
            return Vec::new();
        };
        let account = a.account();
        index
            .account_users(account)
            .filter(|u| query.matches(u))
            .filter(|u| sees_user(index, actor, u.id()))
            .collect()
    }

    /// The roles `actor` may see (R6): none without the manage-roles permission; at level 1,
    /// level 1 and below; at level k > 1, only levels below k.
    pub fn visible_roles(&self, actor: UserId) -> Vec<&Role<P>> {
        let index = self.index();
        let Ok(a) = Actor::new(index, actor) else {
            return Vec::new();
        };
        let Some(mine) = a.level_for(P::admin().manage_roles) else {
            return Vec::new();
        };
        index
            .account_roles(a.account())
            .filter(|r| mine.sees(r.level()))
            .collect()
    }

    /// The stores `actor` may see (R20): those its grants reach, after their roles' ceilings; or
    /// every store of the account if a role of its holds the catalog's store-directory
    /// permission ([`AdminPermissions::view_stores`](crate::AdminPermissions::view_stores): a
    /// payments manager sees every store's name).
    pub fn visible_stores(&self, actor: UserId) -> Vec<&Store> {
        let index = self.index();
        let Ok(a) = Actor::new(index, actor) else {
            return Vec::new();
        };
        let reach = a.store_reach();
        index
            .account_stores(a.account())
            .filter(|s| reach.contains(s.id()))
            .collect()
    }

    /// The sources `actor` may see (R20), by ascending id: those its source access reaches,
    /// after the ceilings of its roles. A user with source access `None` sees none (R4).
    ///
    /// ```
    /// # use shopguard::catalog::oms::{self, Oms};
    /// # use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId, Source, SourceId, User, UserId};
    /// # let engine = Engine::<Oms>::new();
    /// # let shop = AccountId::new(1);
    /// let (warehouse, store) = (SourceId::new(20), SourceId::new(21));
    /// engine.unchecked_apply([
    ///     Mutation::PutAccount(Account::new(shop, "Acme")),
    ///     Mutation::PutSource(Source::new(warehouse, shop, "WAREHOUSE")),
    ///     Mutation::PutSource(Source::new(store, shop, "test-store")),
    ///     Mutation::PutRole(oms::administrator(RoleId::new(1), shop)),
    ///     Mutation::PutRole(oms::store_assistant(RoleId::new(3), shop)),
    ///     Mutation::PutUser(User::new(UserId::new(1), shop, "owner", "owner@acme.example")
    ///         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))
    ///         .with_sources(Access::All)),
    ///     Mutation::PutUser(User::new(UserId::new(2), shop, "assistant", "a@acme.example")
    ///         .with_grant(Grant::new(RoleId::new(3), Access::All))
    ///         .with_sources(Access::specific([store]))),
    /// ])?;
    /// let snapshot = engine.snapshot();
    /// let seen = |u| snapshot.visible_sources(UserId::new(u)).iter().map(|s| s.id()).collect::<Vec<_>>();
    /// assert_eq!(seen(1), [warehouse, store]);
    /// assert_eq!(seen(2), [store]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn visible_sources(&self, actor: UserId) -> Vec<&Source> {
        let index = self.index();
        let Ok(a) = Actor::new(index, actor) else {
            return Vec::new();
        };
        let reach = a.source_reach();
        let mut out: Vec<&Source> = index
            .account_sources(a.account())
            .filter(|s| reach.contains(s.id()))
            .collect();
        out.sort_unstable_by_key(|s| s.id());
        out
    }

    /// The sales channels `actor` may see (R20), by ascending id: those its channel access
    /// reaches, after the ceilings of its roles.
    pub fn visible_channels(&self, actor: UserId) -> Vec<&Channel> {
        let index = self.index();
        let Ok(a) = Actor::new(index, actor) else {
            return Vec::new();
        };
        let reach = a.channel_reach();
        let mut out: Vec<&Channel> = index
            .account_channels(a.account())
            .filter(|c| reach.contains(c.id()))
            .collect();
        out.sort_unstable_by_key(|c| c.id());
        out
    }

    /// The roles `actor` may offer when inviting or creating a user (R9): visible from the level
    /// of its grants that create users, and holding nothing the actor does not hold (R8).
    /// Empty for an actor that cannot create users.
    pub fn assignable_roles(&self, actor: UserId) -> Vec<&Role<P>> {
        let index = self.index();
        let Ok(a) = Actor::new(index, actor) else {
            return Vec::new();
        };
        let Some(mine) = a.level_for(P::admin().create_users) else {
            return Vec::new();
        };
        index
            .account_roles(a.account())
            .filter(|r| mine.sees(r.level()) && a.holds_all(r.permissions()))
            .collect()
    }
}

/// R20: the one definition of "`actor` may see the user `target`": the view-users check on
/// it ([`AdminPermissions::view_users`](crate::AdminPermissions::view_users)).
pub(crate) fn sees_user<P: Catalog>(index: &Index<P>, actor: UserId, target: UserId) -> bool {
    index.user(actor).is_some_and(|a| {
        index
            .evaluate(actor, P::admin().view_users, &OnUser(a.account(), target))
            .is_ok()
    })
}

/// R6: the one definition of "`actor` may see the role `role`": a role of its account at a
/// level its grants holding the manage-roles permission see.
pub(crate) fn sees_role<P: Catalog>(index: &Index<P>, actor: UserId, role: RoleId) -> bool {
    let Ok(a) = Actor::new(index, actor) else {
        return false;
    };
    let Some(mine) = a.level_for(P::admin().manage_roles) else {
        return false;
    };
    index
        .role(role)
        .is_some_and(|r| r.account() == a.account() && mine.sees(r.level()))
}
