//! Turning an actor's [`Change`] into record-level mutations, or refusing it (R6–R11, R15, R17).
//!
//! Authorization happens here; the model invariants (R11 owner, R12 seats, R16 formats,
//! references) are checked afterwards by the index, on the state the change would produce.

use crate::admin::Event;
use crate::admin::actor::Actor;
use crate::admin::change::Change;
use crate::engine::index::{Index, name_list, same_folded};
use crate::engine::resource::OnUser;
use crate::model::ids::{RoleId, UserId};
use crate::model::mutation::Mutation;
use crate::model::permission::Catalog;
use crate::model::user::{Grant, User};
use crate::{Error, ErrorKind};

/// What a change becomes once authorized.
#[derive(Debug)]
pub(crate) struct Planned<P> {
    pub(crate) mutations: Vec<Mutation<P>>,
    pub(crate) events: Vec<Event>,
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
    let user_of = |id: UserId| match index.user(id) {
        Some(u) if u.account() == account => Ok(u),
        _ => Err(Error::not_found("user", id)),
    };
    // R20: a user the actor may neither see nor manage with `perm` is not found, so that no
    // message names it or says what it is.
    let target_of = |id: UserId, perm: P| match index.user(id) {
        Some(u) if a.sees_or_manages(u, perm) => Ok(u),
        _ => Err(Error::not_found("user", id)),
    };
    let role_of = |id: RoleId| match index.role(id) {
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
            if index.has_role(role.id()) {
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
            let visible = |u: &User| a.sees_or_manages(u, admin.edit_users);
            let mut mutations = Vec::new();
            match reassign_to {
                None if !holders.is_empty() => {
                    let (shown, hidden): (Vec<&User>, Vec<&User>) =
                        holders.iter().partition(|u| visible(u));
                    let mut parts = Vec::new();
                    if !shown.is_empty() {
                        parts.push(name_list(shown.iter().map(|u| u.username().to_owned())));
                    }
                    match hidden.len() {
                        0 => {}
                        1 => parts.push("1 user".to_owned()),
                        n => parts.push(format!("{n} users")),
                    }
                    return Err(Error::in_use("role", old.name(), parts.join(" and ")));
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
                    let roles = |id: RoleId| index.role(id);
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
                return Err(Error::not_found("user", *from));
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
                // the user holds: only an actor who holds all of it may. A disabled user's
                // grants count too: they are the user's the day someone enables it.
                let holder = user.clone().with_enabled(true);
                let roles = |id: RoleId| index.role(id);
                a.no_gain(&[(None, Some(&holder))], &roles, &roles, &action)?;
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
            let roles = |id: RoleId| index.role(id);
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
            // Who asks comes first, before the target is looked up: an answer about the target
            // (its name, whether it exists) goes only to the owner, and only for a user the
            // owner may see or manage (R20).
            if !a.user.is_owner() {
                return Err(Error::refused(
                    ErrorKind::NotPermitted,
                    "transfer ownership",
                    "only the account owner may transfer ownership",
                ));
            }
            if *to == a.user.id() {
                return done(Vec::new());
            }
            let target = target_of(*to, admin.edit_users)?;
            let action = format!("transfer ownership to `{}`", target.username());
            let (former, heir) = (
                a.user.clone().with_owner(false),
                target.clone().with_owner(true),
            );
            // Owner-only permissions move with ownership: the heir must not reach further with
            // them than the owner did (R8).
            let roles = |id: RoleId| index.role(id);
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
            let Some(entry) = index.account_entry(account) else {
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
    if index.has_user(user.id()) {
        return Err(Error::id_taken("user id", user.id()));
    }
    if user.is_owner() {
        return Err(Error::refused(
            ErrorKind::Owner,
            action,
            "ownership moves only by a transfer from the owner",
        ));
    }
    // R8: the creator sets the e-mail, so a user created disabled is judged as enabled: else
    // a wide user could be parked, e-mail and all, for someone else to enable.
    if user.is_enabled() {
        a.may_give(&user, None, admin.create_users, &action)?;
    } else {
        let holder = user.clone().with_enabled(true);
        a.may_give(&holder, None, admin.create_users, &action)?;
    }
    let event = Event::Invited {
        user: user.id(),
        email: user.email().to_owned(),
    };
    Ok(Planned {
        mutations: vec![Mutation::PutUser(user)],
        events: vec![event],
    })
}
