//! The check pipeline (R1–R6, R10, R13): the quick path for the common store check, then the
//! full check — the user and the permission, the resource, each grant — and `manages`, the one
//! definition of "may manage a user" the write side shares.

use super::*;

impl<P: Catalog> Index<P> {
    /// The whole of a check. `Ok` names the allowing grant; `Err` the reason for denial.
    ///
    /// Reasons are tried in a fixed order: first about the user and the permission
    /// ([`Index::prepare`]), then about the resource ([`Index::locate`]), then each grant.
    #[inline(always)]
    pub(crate) fn evaluate<U: Sealed, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Result<Allowed, DenyReason> {
        let Some(found) = self.users.found(user) else {
            return Err(DenyReason::UnknownUser);
        };
        match self.quick::<true, R>(found, permission, resource) {
            // The quick path allows only by the user's one grant.
            Some(Ok(())) => match self.users.role_of(found) {
                Some(role) => Ok(Allowed { grant: 0, role }),
                None => self.evaluate_full(found.position, permission, resource),
            },
            Some(Err(reason)) => Err(reason),
            None => self.evaluate_full(found.position, permission, resource),
        }
    }

    /// [`Index::evaluate`] for what the quick path leaves: kept out of line, so that the
    /// quick path inlines into the caller's loop.
    #[inline(never)]
    fn evaluate_full<R: Resource + ?Sized>(
        &self,
        position: usize,
        permission: P,
        resource: &R,
    ) -> Result<Allowed, DenyReason> {
        let Some(u) = self.users.at(position) else {
            return Err(DenyReason::UnknownUser);
        };
        let asker = self.prepare_found(u, permission)?;
        self.evaluate_prepared::<true, R>(&asker, resource)
    }

    /// `evaluate(..).is_ok()`, without the work that only names a denial's reason.
    #[inline(always)]
    pub(crate) fn allows<U: Sealed, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> bool {
        match self.users.found(user) {
            Some(found) => self.allows_found(found, permission, resource),
            None => false,
        }
    }

    /// [`Index::allows`] for a user found in the user table.
    #[inline(always)]
    pub(crate) fn allows_found<R: Resource + ?Sized>(
        &self,
        found: Found<'_, P>,
        permission: P,
        resource: &R,
    ) -> bool {
        if let Some(decided) = self.quick::<false, R>(found, permission, resource) {
            return decided.is_ok();
        }
        self.allows_full(found.position, permission, resource)
    }

    /// [`Index::allows_at`] for what the quick path leaves, out of line (see
    /// [`Index::evaluate_full`]).
    #[inline(never)]
    fn allows_full<R: Resource + ?Sized>(
        &self,
        position: usize,
        permission: P,
        resource: &R,
    ) -> bool {
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
    pub(super) fn quick<const REASON: bool, R: Resource + ?Sized>(
        &self,
        found: Found<'_, P>,
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
        let hot = self.users.hot_of(found)?;
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
        let exists = || self.store_accounts.get(&store) == Some(&account);
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
            Quick::AtStores => self.users.stores_of(found, hot).contains(store),
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
    pub(super) fn decide<const REASON: bool>(
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
                GrantOutcome::Denies(r) => {
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
    pub(super) fn store_exists(&self, at: &Located<'_>) -> bool {
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
        // R5: a resource pending sourcing needs all sales channels too, unless the account
        // asks for the narrower rule. Its channel was checked to exist above.
        let channel = match (at.source, at.channel) {
            (Place::Unplaced, Place::At(_))
                if asker.acct.account.pending_sourcing()
                    == PendingSourcing::AllSourcesAndChannels =>
            {
                Place::Unplaced
            }
            (_, channel) => channel,
        };
        Ok(Located {
            target,
            target_level,
            channel,
            ..at
        })
    }

    /// R10 and R6 for a user as the resource: every store the target's grants reach (after
    /// their roles' ceilings) lies inside this grant's scope, and, unless it is the asker, every
    /// role the target holds is visible from this grant's level.
    pub(super) fn reaches_user(
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
            Err(r) => GrantOutcome::Denies(r),
        }
    }
}

/// Whether the resource's place on one dimension lies inside the ceiling and the access.
#[inline]
pub(super) fn within<T: Ord + Copy>(
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
