//! Turning an actor's [`Change`] into record-level mutations, or refusing it (R6–R11, R15, R17).
//!
//! Authorization happens here; the model invariants (R11 owner, R12 seats, R16 formats,
//! references) are checked afterwards by the index, on the state the change would produce.

use crate::admin::Event;
use crate::admin::actor::Actor;
use crate::admin::change::Change;
use crate::engine::decision::Dimension;
use crate::engine::index::{Index, name_list, same_folded};
use crate::engine::resource::{OnChannel, OnSource, OnStore, OnUser, Place, Resource};
use crate::model::access::Access;
use crate::model::account::{Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::mutation::{Key, Mutation};
use crate::model::permission::Catalog;
use crate::model::role::Role;
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
/// R1: whoever uploads sources is enabled and holds the permission to manage sources at some
/// source, asked before any row of the file is read; each row is then authorized as its own
/// change (creating needs the permission at every source).
pub(crate) fn source_uploader<P: Catalog>(index: &Index<P>, actor: UserId) -> Result<(), Error> {
    let a = Actor::new(index, actor)?;
    let (perm, what) = Source::permission::<P>();
    a.require(perm, &"upload sources", what).map(|_| ())
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
            // The permission and level first: whether an id is taken (of any account) is
            // said only to who may create this role.
            a.may_define(role, None, &action)?;
            if index.has_role(role.id()) {
                return Err(Error::id_taken("role id", role.id()));
            }
            done(vec![Mutation::PutRole(role.clone())])
        }
        Change::UpdateRole(role) => {
            let old = role_of(role.id())?;
            let action = format!("update role `{}`", old.name());
            a.may_define(role, Some(old), &action)?;
            done(vec![Mutation::PutRole(keep_former_names(role, old))])
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
            // R9, R20 (batch rule 4): whether a username or e-mail is taken is said only to
            // who may create users, as creating one would tell it; choosing a new one for an
            // existing user asks the same question, so it needs the same permission.
            for (field, new, was) in [
                ("username", user.username(), old.username()),
                ("e-mail", user.email(), old.email()),
            ] {
                if !same_folded(new, was) && a.level_for(admin.create_users).is_none() {
                    return Err(Error::refused(
                        ErrorKind::NotPermitted,
                        action,
                        format!("a new {field} needs the permission to create users"),
                    )
                    .on_field(field));
                }
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
        Change::CreateStore(x) => create(&a, index, x),
        Change::UpdateStore(x) => update(&a, index, x),
        Change::DeleteStore(id) => delete::<P, Store>(&a, index, *id),
        Change::CreateSource(x) => create(&a, index, x),
        Change::UpdateSource(x) => update(&a, index, x),
        Change::DeleteSource(id) => delete::<P, Source>(&a, index, *id),
        Change::CreateChannel(x) => create(&a, index, x),
        Change::UpdateChannel(x) => update(&a, index, x),
        Change::DeleteChannel(id) => delete::<P, Channel>(&a, index, *id),
        Change::SetSeatLimit {
            limit,
            disable_excess,
        } => set_seat_limit(&a, index, *limit, *disable_excess),
        Change::Unchecked { .. } => Err(Error::refused(
            ErrorKind::InvalidInput,
            "apply an unchecked write",
            "it is written with `unchecked_apply_as`, not applied as a change",
        )),
        Change::UploadUsers { .. } | Change::UploadSources { .. } => Err(Error::refused(
            ErrorKind::InvalidInput,
            change.name(),
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

/// R12: the plan's seat limit, owner only. Past the enabled users, refused by validation
/// unless `disable_excess`: then the newest users (highest ids) the owner manages (R10) are
/// disabled, never the owner.
fn set_seat_limit<P: Catalog>(
    a: &Actor<'_, P>,
    index: &Index<P>,
    limit: Option<u32>,
    disable_excess: bool,
) -> Result<Planned<P>, Error> {
    if !a.user.is_owner() {
        return Err(Error::refused(
            ErrorKind::NotPermitted,
            "set the seat limit",
            "only the account owner may change the plan",
        ));
    }
    let account = a.account();
    let Some(entry) = index.account_entry(account) else {
        return Err(Error::not_found("account", account));
    };
    let plan = match limit {
        Some(n) => entry.account.clone().with_seat_limit(n),
        None => entry.account.clone().without_seat_limit(),
    };
    let mut mutations = vec![Mutation::PutAccount(plan)];
    let mut events = Vec::new();
    if let (Some(n), true) = (limit, disable_excess) {
        let enabled: Vec<&User> = index
            .account_users(account)
            .filter(|u| u.is_enabled())
            .collect();
        let excess = enabled.len().saturating_sub(n as usize);
        // Newest invitation first: the engine keeps no invitation date, and ids are the
        // host's keys, given in the order users are invited, so the highest id is the newest.
        // Only users the owner manages (R10) are disabled, never the owner (R11); if those
        // are too few, validation refuses the limit, counting the rest but naming none (R20).
        let edit = P::admin().edit_users;
        let disabled: Vec<&User> = enabled
            .iter()
            .rev()
            .filter(|u| !u.is_owner() && index.manages(a.user, edit, u).is_ok())
            .take(excess)
            .copied()
            .collect();
        if !disabled.is_empty() {
            events.push(Event::DisabledBySeatLimit {
                users: disabled.iter().map(|u| u.id()).collect(),
            });
            mutations.extend(
                disabled
                    .into_iter()
                    .map(|u| Mutation::PutUser(u.clone().with_enabled(false))),
            );
        }
    }
    Ok(Planned { mutations, events })
}

/// What the changes of a store, source or sales channel share (issue 17): one definition of
/// who may create, edit and delete each, whatever the dimension.
trait ScopeObject: Clone + Sized + 'static {
    type Id: Copy + Ord + core::fmt::Display + Into<Key>;
    /// What it is called in messages.
    const WHAT: &'static str;
    /// Its id, as a refusal names it.
    const ID_FIELD: &'static str;
    /// The field its label is, if the label is unique in the account (R20: then choosing a
    /// new one says whether it is taken).
    const UNIQUE_LABEL: Option<&'static str>;
    /// The dimension it lies on.
    const DIMENSION: Dimension;
    /// The built-in resource a check of it is about.
    type At: Resource;
    fn at(account: AccountId, id: Self::Id) -> Self::At;
    fn id(&self) -> Self::Id;
    fn account(&self) -> AccountId;
    /// Its name in messages: a store's or channel's name, a source's external id.
    fn label(&self) -> &str;
    /// The catalog's permission that manages it, and its wording.
    fn permission<P: Catalog>() -> (P, &'static str);
    fn find<P: Catalog>(index: &Index<P>, id: Self::Id) -> Option<&Self>;
    /// What the actor sees of its dimension (R20).
    fn reach<P: Catalog>(a: &Actor<'_, P>) -> Access<Self::Id>;
    fn put<P>(self) -> Mutation<P>;
    fn remove<P>(id: Self::Id) -> Mutation<P>;
    /// A role's ceiling on its dimension.
    fn ceiling<P: Catalog>(role: &Role<P>) -> &Access<Self::Id>;
    /// Whether a user's access on its dimension names `id`.
    fn named_by(user: &User, id: Self::Id) -> bool;
}

impl ScopeObject for Store {
    type Id = StoreId;
    const WHAT: &'static str = "store";
    const ID_FIELD: &'static str = "store id";
    const UNIQUE_LABEL: Option<&'static str> = None;
    const DIMENSION: Dimension = Dimension::Store;
    type At = OnStore;
    fn at(account: AccountId, id: StoreId) -> OnStore {
        OnStore(account, id)
    }
    fn id(&self) -> StoreId {
        self.id()
    }
    fn account(&self) -> AccountId {
        self.account()
    }
    fn label(&self) -> &str {
        self.name()
    }
    fn permission<P: Catalog>() -> (P, &'static str) {
        (P::admin().manage_stores, "manage stores")
    }
    fn find<P: Catalog>(index: &Index<P>, id: StoreId) -> Option<&Self> {
        index.store(id)
    }
    fn reach<P: Catalog>(a: &Actor<'_, P>) -> Access<StoreId> {
        a.store_reach()
    }
    fn put<P>(self) -> Mutation<P> {
        Mutation::PutStore(self)
    }
    fn remove<P>(id: StoreId) -> Mutation<P> {
        Mutation::RemoveStore(id)
    }
    fn ceiling<P: Catalog>(role: &Role<P>) -> &Access<StoreId> {
        &role.ceiling().stores
    }
    fn named_by(user: &User, id: StoreId) -> bool {
        user.grants().iter().any(|g| names(&g.stores, id))
    }
}

impl ScopeObject for Source {
    type Id = SourceId;
    const WHAT: &'static str = "source";
    const ID_FIELD: &'static str = "source id";
    const UNIQUE_LABEL: Option<&'static str> = Some("source external id");
    const DIMENSION: Dimension = Dimension::Source;
    type At = OnSource;
    fn at(account: AccountId, id: SourceId) -> OnSource {
        OnSource(account, id)
    }
    fn id(&self) -> SourceId {
        self.id()
    }
    fn account(&self) -> AccountId {
        self.account()
    }
    fn label(&self) -> &str {
        self.external_id()
    }
    fn permission<P: Catalog>() -> (P, &'static str) {
        (P::admin().manage_sources, "manage sources")
    }
    fn find<P: Catalog>(index: &Index<P>, id: SourceId) -> Option<&Self> {
        index.source(id)
    }
    fn reach<P: Catalog>(a: &Actor<'_, P>) -> Access<SourceId> {
        a.source_reach()
    }
    fn put<P>(self) -> Mutation<P> {
        Mutation::PutSource(self)
    }
    fn remove<P>(id: SourceId) -> Mutation<P> {
        Mutation::RemoveSource(id)
    }
    fn ceiling<P: Catalog>(role: &Role<P>) -> &Access<SourceId> {
        &role.ceiling().sources
    }
    fn named_by(user: &User, id: SourceId) -> bool {
        names(user.sources(), id)
    }
}

impl ScopeObject for Channel {
    type Id = ChannelId;
    const WHAT: &'static str = "sales channel";
    const ID_FIELD: &'static str = "sales channel id";
    const UNIQUE_LABEL: Option<&'static str> = None;
    const DIMENSION: Dimension = Dimension::Channel;
    type At = OnChannel;
    fn at(account: AccountId, id: ChannelId) -> OnChannel {
        OnChannel(account, id)
    }
    fn id(&self) -> ChannelId {
        self.id()
    }
    fn account(&self) -> AccountId {
        self.account()
    }
    fn label(&self) -> &str {
        self.name()
    }
    fn permission<P: Catalog>() -> (P, &'static str) {
        (P::admin().manage_channels, "manage sales channels")
    }
    fn find<P: Catalog>(index: &Index<P>, id: ChannelId) -> Option<&Self> {
        index.channel(id)
    }
    fn reach<P: Catalog>(a: &Actor<'_, P>) -> Access<ChannelId> {
        a.channel_reach()
    }
    fn put<P>(self) -> Mutation<P> {
        Mutation::PutChannel(self)
    }
    fn remove<P>(id: ChannelId) -> Mutation<P> {
        Mutation::RemoveChannel(id)
    }
    fn ceiling<P: Catalog>(role: &Role<P>) -> &Access<ChannelId> {
        &role.ceiling().channels
    }
    fn named_by(user: &User, id: ChannelId) -> bool {
        names(user.channels(), id)
    }
}

/// Whether `access` names `id` explicitly (a specific set holding it).
fn names<T: Ord + Copy>(access: &Access<T>, id: T) -> bool {
    matches!(access, Access::Specific(set) if set.contains(id))
}

/// Creates a store, source or channel: the permission at the whole dimension first (a new
/// object lies outside every specific set, R3; and whether an id is taken is told only to who
/// may create, R20), then an object of the actor's account with a free id.
fn create<P: Catalog, T: ScopeObject>(
    a: &Actor<'_, P>,
    index: &Index<P>,
    new: &T,
) -> Result<Planned<P>, Error> {
    let action = format!("create {} `{}`", T::WHAT, new.label());
    let (perm, what) = T::permission::<P>();
    let whole = Whole(a.account(), T::DIMENSION);
    a.may_manage_at(perm, what, &whole, &action)?;
    in_account(a, new, &action)?;
    if T::find(index, new.id()).is_some() {
        return Err(Error::id_taken(T::ID_FIELD, new.id()));
    }
    Ok(Planned {
        mutations: vec![new.clone().put()],
        events: Vec::new(),
    })
}

/// A new state of an object belongs to the actor's account; one of another account is refused,
/// naming neither.
fn in_account<P: Catalog, T: ScopeObject>(
    a: &Actor<'_, P>,
    new: &T,
    action: &str,
) -> Result<(), Error> {
    if new.account() == a.account() {
        return Ok(());
    }
    Err(Error::refused(
        ErrorKind::WrongAccount,
        action,
        format!("the {} belongs to another account", T::WHAT),
    ))
}

/// An object of the actor's account that it may see (R20); any other is not found.
fn existing<'i, P: Catalog, T: ScopeObject>(
    a: &Actor<'_, P>,
    index: &'i Index<P>,
    id: T::Id,
) -> Result<&'i T, Error> {
    match T::find(index, id) {
        Some(x) if x.account() == a.account() && T::reach(a).contains(id) => Ok(x),
        _ => Err(Error::not_found(T::WHAT, id)),
    }
}

/// Edits a store, source or channel the actor sees and manages at (R2: a store-limited actor
/// only its own), within its account.
fn update<P: Catalog, T: ScopeObject>(
    a: &Actor<'_, P>,
    index: &Index<P>,
    new: &T,
) -> Result<Planned<P>, Error> {
    let old: &T = existing(a, index, new.id())?;
    let action = format!("update {} `{}`", T::WHAT, old.label());
    in_account(a, new, &action)?;
    let (perm, what) = T::permission::<P>();
    a.may_manage_at(perm, what, &T::at(a.account(), old.id()), &action)?;
    // R20: a label unique in the account (a source's external id) is checked against objects
    // the actor may not see; whether one is taken is said only to who may create such an
    // object (the permission at the whole dimension), as creating one would tell it.
    if let Some(field) = T::UNIQUE_LABEL
        && !old.label().eq_ignore_ascii_case(new.label())
        && a.may_manage_at(perm, what, &Whole(a.account(), T::DIMENSION), &action)
            .is_err()
    {
        return Err(Error::refused(
            ErrorKind::OutsideScope,
            action,
            format!(
                "a new {field} needs the permission to {what} at every {}",
                T::WHAT
            ),
        )
        .on_field(field));
    }
    Ok(Planned {
        mutations: vec![new.clone().put()],
        events: Vec::new(),
    })
}

/// Deletes a store, source or channel the actor sees and manages at, if no role's ceiling and
/// no user's access names it. The refusal names the roles the actor sees (R6) and the users it
/// may see or manage, and counts the others (R20).
fn delete<P: Catalog, T: ScopeObject>(
    a: &Actor<'_, P>,
    index: &Index<P>,
    id: T::Id,
) -> Result<Planned<P>, Error> {
    let old: &T = existing(a, index, id)?;
    let action = format!("delete {} `{}`", T::WHAT, old.label());
    let (perm, what) = T::permission::<P>();
    a.may_manage_at(perm, what, &T::at(a.account(), id), &action)?;
    let account = a.account();
    let mut roles: Vec<&Role<P>> = index
        .account_roles(account)
        .filter(|r| names(T::ceiling(r), id))
        .collect();
    roles.sort_unstable_by_key(|r| r.id());
    let users: Vec<&User> = index
        .account_users(account)
        .filter(|u| T::named_by(u, id))
        .collect();
    if roles.is_empty() && users.is_empty() {
        return Ok(Planned {
            mutations: vec![T::remove(id)],
            events: Vec::new(),
        });
    }
    let admin = P::admin();
    let level = a.level_for(admin.manage_roles);
    let (shown_roles, hidden_roles): (Vec<&Role<P>>, Vec<&Role<P>>) = roles
        .into_iter()
        .partition(|r| level.is_some_and(|l| l.sees(r.level())));
    let (shown_users, hidden_users): (Vec<&User>, Vec<&User>) = users
        .into_iter()
        .partition(|u| a.sees_or_manages(u, admin.edit_users));
    let mut parts = Vec::new();
    let mut named = |noun: &str, names: Vec<String>| match names.len() {
        0 => {}
        1 => parts.push(format!("{noun} {}", name_list(names.into_iter()))),
        _ => parts.push(format!("{noun}s {}", name_list(names.into_iter()))),
    };
    named(
        "role",
        shown_roles.iter().map(|r| r.name().to_owned()).collect(),
    );
    named(
        "user",
        shown_users
            .iter()
            .map(|u| u.username().to_owned())
            .collect(),
    );
    let mut counted = |noun: &str, n: usize| match n {
        0 => {}
        1 => parts.push(format!("1 {noun}")),
        n => parts.push(format!("{n} {noun}s")),
    };
    counted("other role", hidden_roles.len());
    counted("other user", hidden_users.len());
    let by = match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.concat(),
    };
    Err(Error::still_used(T::WHAT, id, old.label(), by))
}

/// A whole dimension of an account, as creating a store, source or channel is checked: only
/// access to all of it reaches it (R2, R3).
struct Whole(AccountId, Dimension);

impl Resource for Whole {
    fn account(&self) -> AccountId {
        self.0
    }
    fn store(&self) -> Place<StoreId> {
        self.place(Dimension::Store)
    }
    fn source(&self) -> Place<SourceId> {
        self.place(Dimension::Source)
    }
    fn channel(&self) -> Place<ChannelId> {
        self.place(Dimension::Channel)
    }
}

impl Whole {
    fn place<T>(&self, d: Dimension) -> Place<T> {
        if self.1 == d {
            Place::Unplaced
        } else {
            Place::Unscoped
        }
    }
}

/// `role` replacing `old` (the same role), with every name `old` had or answered to kept as a
/// former name (R14): the one rule of an update, whoever writes it.
pub(crate) fn keep_former_names<P: Copy>(role: &Role<P>, old: &Role<P>) -> Role<P> {
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
    merged
}
