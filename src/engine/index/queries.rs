//! Reverse queries (R21) and explanations: where a user may use a permission, who may use it
//! on a resource, and every grant's verdict on a check.

use super::*;
use crate::engine::key::UserKey;

impl<P: Catalog> Index<P> {
    /// Where `user` may use `permission` (R21): one clause per grant holding it.
    pub(crate) fn scope_for(&self, user: UserId, permission: P) -> ScopeFor {
        let found = self.users.get(&user);
        let account = found.map(User::account);
        let no_sources = found.is_some_and(|u| u.is_enabled() && u.sources().is_nothing());
        let Ok(asker) = self.prepare(user, permission) else {
            return ScopeFor {
                account,
                clauses: SmallVec::new(),
                no_sources,
                pending_needs_all_channels: true,
            };
        };
        let u = asker.user;
        let mut out = ScopeFor {
            account,
            clauses: SmallVec::new(),
            no_sources,
            pending_needs_all_channels: asker.acct.account.pending_sourcing()
                == crate::model::account::PendingSourcing::AllSourcesAndChannels,
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
            let scope = Scope::effective(role.ceiling(), &g.stores, u.sources(), u.channels());
            let clause = Clause {
                stores: if asker.account_wide {
                    Filter::Everything
                } else {
                    Filter::from_access(scope.stores)
                },
                sources: if no_sources {
                    Filter::Nothing
                } else {
                    Filter::from_access(scope.sources)
                },
                channels: Filter::from_access(scope.channels),
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
                let at = self.holders.by_store.get(&s).into_iter();
                let everywhere = self.holders.everywhere.get(&account).into_iter();
                let groups = at.chain(everywhere).flat_map(|g| g.iter());
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
                        .filter(|&(role, _)| {
                            self.roles.get(&role).is_some_and(|r| {
                                r.permissions()
                                    .difference(acct.withheld)
                                    .contains(permission)
                                    && r.ceiling().stores.contains(s)
                            })
                        })
                        .flat_map(|(_, users)| users.iter().copied())
                        .filter_map(|p| self.users.id_at(p))
                        .collect()
                } else {
                    groups
                        .flat_map(|(_, users)| users.iter().copied())
                        .filter_map(|p| Some(UserKey::new(self.users.id_at(p)?, p)))
                        .filter(|&u| self.allows(u, permission, resource))
                        .map(|u| u.id())
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
                GrantOutcome::Denies(r) => {
                    scope_failure.get_or_insert(r);
                    Verdict::Denies(r)
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
}
