//! Issue 19: a reference model of the write side (R6–R12, R15–R17, R20, the owner and seats);
//! issue 17 added the plan's seat limit and opening, renaming and closing stores.
//!
//! Random accounts (roles at levels 1–3 with random permissions and store, source and channel
//! ceilings; users with one to three grants at random stores, random source and channel access,
//! some disabled; an owner; a seat limit close to the enabled count) and random steps: one
//! change, or a batch of two or three through [`Engine::apply_all`], by a random actor (the
//! owner, any user, a disabled or unknown one). For every step the engine's verdict must equal
//! the model's, both ways: accepted by both, with the model's new account equal to the
//! engine's snapshot (users and roles as plain data); or refused by both with the same
//! [`ErrorKind`], the engine left exactly as it was. Accepted steps carry on from the new state,
//! so a case walks through deleted roles, transferred ownership and disabled actors.
//!
//! The model below is written from the rule text (`RULES.md`) with plain maps and sets, a few
//! lines per rule, and shares no code with the engine. Where several rules refuse one change,
//! the model tries them in the engine's order; each place where that order is a choice says
//! why it is a reasonable reading of the rules. Two choices concern a whole batch:
//!
//! - each change is authorized (R6–R11, R15, R17, R20) on the state the changes before it
//!   produce, and the first refused one refuses the batch;
//! - the invariants of the account (R11 one enabled level-1 owner, R12 seats, R16 formats and
//!   uniqueness) are checked once, on the state the whole batch produces. A batch is atomic:
//!   no one ever observes the states in between, so "never exceed the plan" holds if the end
//!   state is within it (disable one user and enable another, at the limit, is accepted in
//!   either order).
//!
//! A model that agrees because nothing is ever accepted proves nothing: the test counts
//! accepted and refused steps per change type and fails unless each side is well exercised.
//!
//! Where the model and the engine disagree and the rules side with the model, the engine has a
//! defect: [`known_defect`] lists each, and excludes exactly that sub-case (counted, and
//! bounded) so that the rest of the comparison runs. When one is fixed, its arm there fails
//! to match and the step is compared like any other.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use shopguard::{
    Access, Account, AccountId, Change, Channel, ChannelId, Engine, ErrorKind, Grant, Level,
    Mutation, Role, RoleId, Source, SourceId, Store, StoreId, User, UserId, permission_catalog,
};

permission_catalog! {
    /// Each administrative act has its own permission, so that the model must pick the right
    /// one for every change.
    pub(crate) struct W {
        SELL = 0, "Register", Scoped, "sell";
        REFUND = 1, "Register", Scoped, "refund";
        STAFF = 2, "Team", AccountWide, "see every member of staff";
        CREATE = 3, "Team", Scoped, "create users";
        EDIT = 4, "Team", Scoped, "amend, enable and disable users";
        DELETE = 5, "Team", Scoped, "delete users";
        ROLES = 6, "Team", Scoped, "manage roles";
        SIGN = 7, "Documents", OwnerOnly, "sign documents";
        OUTLETS = 8, "Settings", Scoped, "open, rename and close stores";
    }
    admin {
        view_users: STAFF,
        create_users: CREATE,
        edit_users: EDIT,
        delete_users: DELETE,
        manage_roles: ROLES,
        manage_stores: OUTLETS,
    }
}

// The catalog's bits, as the model sees them.
const BITS: u64 = 9;
const STAFF: u64 = 1 << 2;
const CREATE: u64 = 1 << 3;
const EDIT: u64 = 1 << 4;
const DELETE: u64 = 1 << 5;
const ROLES: u64 = 1 << 6;
const SIGN: u64 = 1 << 7;
const OUTLETS: u64 = 1 << 8;
/// Permissions store access does not narrow: account-wide (R13) and owner-only (R11) ones.
const WIDE: u64 = STAFF | SIGN;

const ACCT: AccountId = AccountId::new(1);
/// The stores users and roles start with; store 4 exists too, named by nobody at first.
const STORES: [u64; 3] = [1, 2, 3];
const SOURCES: [u64; 2] = [10, 11];
const CHANNELS: [u64; 2] = [20, 21];
const OWNER: u64 = 100;
const MISSING: u64 = 999;

// ---------------------------------------------------------------------------------------------
// The account as plain data.

/// Access on one dimension: nothing, everything, or these ids.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Acc {
    None,
    All,
    Some(BTreeSet<u64>),
}

impl Acc {
    fn is_nothing(&self) -> bool {
        match self {
            Acc::None => true,
            Acc::All => false,
            Acc::Some(s) => s.is_empty(),
        }
    }
    /// What both cover.
    fn meet(&self, other: &Acc) -> Acc {
        match (self, other) {
            (Acc::None, _) | (_, Acc::None) => Acc::None,
            (Acc::All, x) | (x, Acc::All) => x.clone(),
            (Acc::Some(a), Acc::Some(b)) => Acc::Some(a.intersection(b).copied().collect()),
        }
    }
    /// What either covers.
    fn join(&self, other: &Acc) -> Acc {
        match (self, other) {
            (Acc::All, _) | (_, Acc::All) => Acc::All,
            (Acc::None, x) | (x, Acc::None) => x.clone(),
            (Acc::Some(a), Acc::Some(b)) => Acc::Some(a.union(b).copied().collect()),
        }
    }
    /// Whether `id` is covered.
    fn has(&self, id: u64) -> bool {
        match self {
            Acc::None => false,
            Acc::All => true,
            Acc::Some(s) => s.contains(&id),
        }
    }
    /// Whether `id` is named explicitly (a specific set holding it).
    fn names(&self, id: u64) -> bool {
        matches!(self, Acc::Some(s) if s.contains(&id))
    }
    /// Every id `self` covers, `other` covers.
    fn inside(&self, other: &Acc) -> bool {
        match (self, other) {
            (_, Acc::All) => true,
            (Acc::All, _) => false,
            (Acc::None, _) => true,
            (Acc::Some(a), Acc::None) => a.is_empty(),
            (Acc::Some(a), Acc::Some(b)) => a.is_subset(b),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct MRole {
    name: String,
    level: u8,
    perms: u64,
    stores: Acc,
    sources: Acc,
    channels: Acc,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct MUser {
    username: String,
    email: String,
    timezone: String,
    enabled: bool,
    owner: bool,
    /// (role, stores) in the user's order.
    grants: Vec<(u64, Acc)>,
    sources: Acc,
    channels: Acc,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct World {
    /// The plan's limit on enabled users, if any (R12).
    seats: Option<usize>,
    /// Stores by id, with their names.
    stores: BTreeMap<u64, String>,
    roles: BTreeMap<u64, MRole>,
    users: BTreeMap<u64, MUser>,
}

impl World {
    fn store_ids(&self) -> Vec<u64> {
        self.stores.keys().copied().collect()
    }
}

#[derive(Clone, Debug)]
enum MChange {
    CreateUser(u64, MUser),
    UpdateUser(u64, MUser),
    EnableUser(u64),
    DisableUser(u64),
    DeleteUser(u64),
    CopyUser {
        from: u64,
        id: u64,
        username: String,
        email: String,
    },
    CreateRole(u64, MRole),
    UpdateRole(u64, MRole),
    DeleteRole {
        role: u64,
        reassign_to: Option<u64>,
    },
    TransferOwnership {
        to: u64,
    },
    SetSeatLimit {
        limit: Option<usize>,
        disable_excess: bool,
    },
    CreateStore(u64, String),
    UpdateStore(u64, String),
    DeleteStore(u64),
}

impl MChange {
    fn name(&self) -> &'static str {
        match self {
            MChange::CreateUser(..) => "create user",
            MChange::UpdateUser(..) => "update user",
            MChange::EnableUser(_) => "enable user",
            MChange::DisableUser(_) => "disable user",
            MChange::DeleteUser(_) => "delete user",
            MChange::CopyUser { .. } => "copy user",
            MChange::CreateRole(..) => "create role",
            MChange::UpdateRole(..) => "update role",
            MChange::DeleteRole {
                reassign_to: None, ..
            } => "delete role",
            MChange::DeleteRole { .. } => "delete role, reassigning",
            MChange::TransferOwnership { .. } => "transfer ownership",
            MChange::SetSeatLimit {
                disable_excess: false,
                ..
            } => "set seat limit",
            MChange::SetSeatLimit { .. } => "set seat limit, disabling",
            MChange::CreateStore(..) => "create store",
            MChange::UpdateStore(..) => "rename store",
            MChange::DeleteStore(_) => "delete store",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reference model.

/// A refusal: the kind the engine must report, and the rule, for the tally.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Refusal {
    kind: ErrorKind,
    rule: &'static str,
}

const R20_TRANSFER: &str = "R20 transfer to an unseen user";
const R16_FORMAT: &str = "R16 username or e-mail";
const R10_EMAIL_DISABLED: &str = "R10 e-mail of a disabled user";

fn no<T>(kind: ErrorKind, rule: &'static str) -> Result<T, Refusal> {
    Err(Refusal { kind, rule })
}

/// R6: level 1 sees level 1 and every lower level; level k > 1 sees only numbers above k.
fn sees(actor_level: u8, level: u8) -> bool {
    actor_level == 1 || level > actor_level
}

/// Where a user can use one permission through one grant: stores × sources × channels.
#[derive(Clone, Debug)]
struct Reach {
    stores: Acc,
    sources: Acc,
    channels: Acc,
}

impl Reach {
    fn inside(&self, o: &Reach) -> bool {
        self.stores.inside(&o.stores)
            && self.sources.inside(&o.sources)
            && self.channels.inside(&o.channels)
    }
    fn is_nothing(&self) -> bool {
        self.stores.is_nothing() && self.sources.is_nothing() && self.channels.is_nothing()
    }
}

/// R2 per grant: a disabled user reaches nothing; an owner-only permission only the owner
/// (R11); the effective scope is the role's ceiling ∩ the user's access, on stores only for
/// permissions store access narrows (R13).
fn reach(user: Option<&MUser>, roles: &BTreeMap<u64, MRole>, p: u64) -> Vec<Reach> {
    let Some(u) = user.filter(|u| u.enabled) else {
        return Vec::new();
    };
    if p & SIGN != 0 && !u.owner {
        return Vec::new();
    }
    u.grants
        .iter()
        .filter_map(|(r, stores)| {
            let role = roles.get(r).filter(|role| role.perms & p == p)?;
            Some(Reach {
                stores: if p & WIDE != 0 {
                    Acc::All
                } else {
                    role.stores.meet(stores)
                },
                sources: role.sources.meet(&u.sources),
                channels: role.channels.meet(&u.channels),
            })
        })
        .collect()
}

fn username_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The generator only makes `local@domain.tld` addresses or plainly broken ones.
fn email_ok(s: &str) -> bool {
    let clean = !s.chars().any(|c| c.is_whitespace() || c.is_control());
    match s.split_once('@') {
        Some((local, domain)) => {
            clean && !local.is_empty() && !domain.contains('@') && domain.contains('.')
        }
        None => false,
    }
}

fn role_name_ok(s: &str) -> bool {
    !s.trim().is_empty() && s.trim() == s && !s.chars().any(char::is_control)
}

/// The acting user, as the rules see it.
struct Actor<'w> {
    w: &'w World,
    id: u64,
    me: &'w MUser,
}

impl<'w> Actor<'w> {
    /// R1: an unknown user acts as no one (nothing found); a disabled one may do nothing.
    fn new(w: &'w World, id: u64) -> Result<Self, Refusal> {
        match w.users.get(&id) {
            None => no(ErrorKind::InvalidActor, "R1 unknown actor"),
            Some(me) if !me.enabled => no(ErrorKind::InvalidActor, "R1 disabled actor"),
            Some(me) => Ok(Actor { w, id, me }),
        }
    }

    /// The actor's grants whose role holds `p`, with their roles.
    fn holding(&self, p: u64) -> Vec<(&'w Acc, &'w MRole)> {
        self.me
            .grants
            .iter()
            .filter_map(|(r, stores)| {
                let role = self.w.roles.get(r).filter(|role| role.perms & p == p)?;
                Some((stores, role))
            })
            .collect()
    }

    /// R9 (and R6 for roles): the actor's level for `p`, the best among the grants holding it;
    /// without such a grant the change is not permitted.
    fn level(&self, p: u64) -> Result<u8, Refusal> {
        match self.holding(p).iter().map(|(_, r)| r.level).min() {
            Some(level) => Ok(level),
            None => no(ErrorKind::NotPermitted, "R9 lacks the permission"),
        }
    }

    /// R8: every permission some role of the actor holds.
    fn held(&self) -> u64 {
        self.me
            .grants
            .iter()
            .filter_map(|(r, _)| self.w.roles.get(r))
            .fold(0, |acc, r| acc | r.perms)
    }

    /// R20, R17: seeing users is account-wide here, so it needs nothing but the permission.
    fn sees_staff(&self) -> bool {
        !self.holding(STAFF).is_empty()
    }

    /// R10: ONE grant holding `p` reaches every store the target's grants reach (after their
    /// roles' ceilings) and, unless the target is the actor, sees every role it holds (R6).
    /// Refused for the first grant holding `p` that fails (stores before levels, as in the
    /// check's documented order of reasons); not permitted if no grant holds `p`.
    fn manages(&self, p: u64, id: u64, target: &MUser) -> Result<(), Refusal> {
        let mut first = None;
        for (stores, role) in self.holding(p) {
            let target_roles = || {
                target
                    .grants
                    .iter()
                    .filter_map(|(tr, ts)| Some((self.w.roles.get(tr)?, ts)))
            };
            let in_stores = target_roles().all(|(tr, ts)| {
                let reached = tr.stores.meet(ts);
                reached.inside(&role.stores) && reached.inside(stores)
            });
            let in_levels =
                id == self.id || target_roles().all(|(tr, _)| sees(role.level, tr.level));
            match (in_stores, in_levels) {
                (true, true) => return Ok(()),
                (false, _) => first.get_or_insert(Refusal {
                    kind: ErrorKind::OutsideScope,
                    rule: "R10 target's stores",
                }),
                (true, false) => first.get_or_insert(Refusal {
                    kind: ErrorKind::Hierarchy,
                    rule: "R10/R6 target's roles",
                }),
            };
        }
        Err(first.unwrap_or(Refusal {
            kind: ErrorKind::NotPermitted,
            rule: "R9/R10 lacks the permission",
        }))
    }

    /// R20: the stores the actor sees are those its grants reach (role ceiling ∩ grant), for
    /// every grant whose role holds anything at all.
    fn sees_store(&self, s: u64) -> bool {
        self.me.grants.iter().any(|(r, stores)| {
            self.w
                .roles
                .get(r)
                .is_some_and(|role| role.perms != 0 && role.stores.meet(stores).has(s))
        })
    }

    /// Issue 17, R2: the manage-stores permission at store `s` (`None`: at every store, to
    /// open one). Not permitted without it anywhere; outside the actor's stores otherwise.
    fn manages_store(&self, s: Option<u64>) -> Result<(), Refusal> {
        self.level(OUTLETS)?;
        let reached = self.holding(OUTLETS).iter().any(|(stores, role)| match s {
            Some(s) => role.stores.has(s) && stores.has(s),
            None => role.stores == Acc::All && **stores == Acc::All,
        });
        if reached {
            Ok(())
        } else {
            no(ErrorKind::OutsideScope, "R2 store outside the actor's")
        }
    }

    /// R20: a user the actor may neither see nor manage with `p` is no user.
    fn target(&self, id: u64, p: u64) -> Result<&'w MUser, Refusal> {
        match self.w.users.get(&id) {
            Some(u) if self.sees_staff() || self.manages(p, id, u).is_ok() => Ok(u),
            _ => no(ErrorKind::NotFound, "R20 unknown or unseen user"),
        }
    }

    /// R8 no escalation, in a simple sufficient form: for every permission, every reach a
    /// changed user has afterwards lies inside one reach it had before or one of the actor's.
    /// Refused as `Escalation` ("never grants a permission it does not hold", "never gives a
    /// scope wider than its own"), except that stores beyond everything the actor and the user
    /// held are `OutsideScope` (R10: stores outside the actor's). Permissions are tried in bit
    /// order, users and grants in their order: the first uncovered reach names the kind.
    fn no_gain(
        &self,
        changed: &[(Option<&MUser>, Option<&MUser>)],
        before: &BTreeMap<u64, MRole>,
        after: &BTreeMap<u64, MRole>,
    ) -> Result<(), Refusal> {
        for bit in 0..BITS {
            let p = 1 << bit;
            let mine = reach(Some(self.me), &self.w.roles, p);
            for (old, new) in changed {
                let had = reach(*old, before, p);
                for r in reach(*new, after, p) {
                    if r.is_nothing() || had.iter().chain(&mine).any(|o| r.inside(o)) {
                        continue;
                    }
                    if mine.iter().all(Reach::is_nothing) {
                        return no(ErrorKind::Escalation, "R8 permission the actor lacks");
                    }
                    let stores = had
                        .iter()
                        .chain(&mine)
                        .fold(Acc::None, |acc, o| acc.join(&o.stores));
                    return if r.stores.inside(&stores) {
                        no(ErrorKind::Escalation, "R8 wider scope")
                    } else {
                        no(ErrorKind::OutsideScope, "R8 stores outside the actor's")
                    };
                }
            }
        }
        Ok(())
    }

    /// R7, R8: a role is assigned only by an actor whose level for `p` sees it and who holds
    /// every permission it holds.
    fn may_assign(&self, role: &MRole, p: u64) -> Result<(), Refusal> {
        let level = self.level(p)?;
        if !sees(level, role.level) {
            return no(ErrorKind::Hierarchy, "R7 assigns a role it cannot see");
        }
        if role.perms & !self.held() != 0 {
            return no(ErrorKind::Escalation, "R8 role holds what the actor lacks");
        }
        Ok(())
    }

    /// R7–R10 for a user's new state: every grant of a role it did not hold is an assignment
    /// (R7, R8; a grant already held, or its role held at other stores, is not); the user as
    /// it would be is one the actor manages (R10); and nobody gains (R8).
    fn may_give(&self, id: u64, new: &MUser, old: Option<&MUser>, p: u64) -> Result<(), Refusal> {
        for g in &new.grants {
            if old.is_some_and(|o| o.grants.contains(g)) {
                continue;
            }
            let Some(role) = self.w.roles.get(&g.0) else {
                return no(ErrorKind::NotFound, "R1 unknown role");
            };
            if !old.is_some_and(|o| o.grants.iter().any(|og| og.0 == g.0)) {
                self.may_assign(role, p)?;
            }
        }
        self.manages(p, id, new)?;
        self.no_gain(&[(old, Some(new))], &self.w.roles, &self.w.roles)
    }

    /// R6–R8, R11 for a role's new state: the manage-roles permission; the actor sees the old
    /// and the new level; only the owner narrows a role the owner holds (a demotion); every
    /// permission added is held; no holder gains.
    fn may_define(&self, id: u64, new: &MRole, old: Option<&MRole>) -> Result<(), Refusal> {
        let level = self.level(ROLES)?;
        if old.into_iter().chain([new]).any(|r| !sees(level, r.level)) {
            return no(ErrorKind::Hierarchy, "R7 role level");
        }
        let holders: Vec<&MUser> = self
            .w
            .users
            .values()
            .filter(|u| u.grants.iter().any(|g| g.0 == id))
            .collect();
        if let Some(old) = old {
            let narrower = old.perms & !new.perms != 0
                || new.level > old.level
                || !old.stores.inside(&new.stores)
                || !old.sources.inside(&new.sources)
                || !old.channels.inside(&new.channels);
            if narrower && !self.me.owner && holders.iter().any(|u| u.owner) {
                return no(ErrorKind::Owner, "R11 narrows the owner's role");
            }
        }
        if new.perms & !old.map_or(0, |o| o.perms) & !self.held() != 0 {
            return no(
                ErrorKind::Escalation,
                "R8 adds a permission the actor lacks",
            );
        }
        let mut after = self.w.roles.clone();
        after.insert(id, new.clone());
        let pairs: Vec<_> = holders.iter().map(|u| (Some(*u), Some(*u))).collect();
        self.no_gain(&pairs, &self.w.roles, &after)
    }

    /// R9, R16 (ids), R11, then R7–R10 for the new user. The permission comes before the id
    /// here: creating users is what R9 asks a permission for before anything else.
    fn create_user(&self, next: &mut World, id: u64, user: MUser) -> Result<(), Refusal> {
        self.level(CREATE)?;
        if self.w.users.contains_key(&id) {
            return no(ErrorKind::Duplicate, "R16 user id taken");
        }
        if user.owner {
            return no(ErrorKind::Owner, "R11 ownership only by transfer");
        }
        // R8: the creator sets the e-mail, so a user created disabled counts as enabled: its
        // grants are whoever holds the e-mail's the day someone enables it.
        let holder = MUser {
            enabled: true,
            ..user.clone()
        };
        self.may_give(id, &holder, None, CREATE)?;
        next.users.insert(id, user);
        Ok(())
    }
}

/// One change, authorized on `w`; the state it produces (not yet validated).
///
/// The order of refusals carries the documented order of deny reasons of a check over to
/// writes: the actor first (R1), then what the change names (unknown ids, R20's unseen users),
/// then the actor's permission and level (R9, R6, R7), then the target's stores and roles
/// (R10), then gains (R8). The owner's refusals (R11) come as soon as the target is known.
fn plan(w: &World, actor: u64, change: &MChange) -> Result<World, Refusal> {
    let a = Actor::new(w, actor)?;
    let mut next = w.clone();
    match change {
        MChange::CreateUser(id, user) => a.create_user(&mut next, *id, user.clone())?,
        MChange::CopyUser {
            from,
            id,
            username,
            email,
        } => {
            // R17, R20: only a user the actor may see is copied; any other is no user.
            let Some(template) = w.users.get(from).filter(|_| a.sees_staff()) else {
                return no(ErrorKind::NotFound, "R17 copy of an unseen user");
            };
            let copy = MUser {
                username: username.clone(),
                email: email.clone(),
                enabled: true,
                owner: false,
                ..template.clone()
            };
            a.create_user(&mut next, *id, copy)?;
        }
        MChange::UpdateUser(id, user) => {
            let old = a.target(*id, EDIT)?;
            // R11: the owner is the owner's to edit; R10 for the user as it is.
            if old.owner && !a.me.owner {
                return no(ErrorKind::Owner, "R11 edits the owner");
            }
            a.manages(EDIT, *id, old)?;
            if user.owner != old.owner {
                return no(ErrorKind::Owner, "R11 ownership only by transfer");
            }
            // R9, R20 (batch rule 4): whether a username or e-mail is taken is said only to
            // who may create users; a new one (not just in other case) asks just that.
            let renamed = user.username.to_lowercase() != old.username.to_lowercase()
                || user.email.to_lowercase() != old.email.to_lowercase();
            if renamed && a.level(CREATE).is_err() {
                return no(
                    ErrorKind::NotPermitted,
                    "R9/R20 a new name needs create users",
                );
            }
            a.may_give(*id, user, Some(old), EDIT)?;
            // R10/R8: the e-mail recovers the account; setting it needs everything the user
            // holds. A disabled user still holds its grants (R15 counts it among a role's
            // holders), and whoever has its e-mail has them the day someone enables it: its
            // grants count as if it were enabled.
            if !user.email.eq_ignore_ascii_case(&old.email) {
                let holder = MUser {
                    enabled: true,
                    ..user.clone()
                };
                a.no_gain(&[(None, Some(&holder))], &w.roles, &w.roles)
                    .map_err(|r| match user.enabled {
                        true => r,
                        false => Refusal {
                            rule: R10_EMAIL_DISABLED,
                            ..r
                        },
                    })?;
            }
            next.users.insert(*id, user.clone());
        }
        MChange::EnableUser(id) | MChange::DisableUser(id) => {
            let enable = matches!(change, MChange::EnableUser(_));
            let old = a.target(*id, EDIT)?;
            // R11: nobody, the owner included, disables the owner, and only the owner edits
            // it; the first holds whoever acts, so it comes first.
            if old.owner && !enable {
                return no(ErrorKind::Owner, "R11 disables the owner");
            }
            if old.owner && !a.me.owner {
                return no(ErrorKind::Owner, "R11 edits the owner");
            }
            a.manages(EDIT, *id, old)?;
            // R8: a disabled user can do nothing, an enabled one all its grants hold.
            let new = MUser {
                enabled: enable,
                ..old.clone()
            };
            a.no_gain(&[(Some(old), Some(&new))], &w.roles, &w.roles)?;
            next.users.insert(*id, new);
        }
        MChange::DeleteUser(id) => {
            let old = a.target(*id, DELETE)?;
            if old.owner {
                return no(ErrorKind::Owner, "R11 deletes the owner");
            }
            a.manages(DELETE, *id, old)?;
            next.users.remove(id);
        }
        MChange::TransferOwnership { to } => {
            // R11: ownership moves only by the owner's transfer. Who asks is judged first, so a
            // refusal to anyone else says nothing about the heir.
            if !a.me.owner {
                return no(ErrorKind::NotPermitted, "R11 only the owner transfers");
            }
            // R20: the heir is a user the owner may see or manage (itself included); any other
            // reads as no user.
            let Some(heir) = w.users.get(to) else {
                return no(ErrorKind::NotFound, "R1 unknown user");
            };
            if *to != actor && !a.sees_staff() && a.manages(EDIT, *to, heir).is_err() {
                return no(ErrorKind::NotFound, R20_TRANSFER);
            }
            if *to != actor {
                // R8: owner-only permissions move with ownership; the heir may not reach
                // further with them than the owner did.
                let crowned = MUser {
                    owner: true,
                    ..heir.clone()
                };
                a.no_gain(&[(Some(heir), Some(&crowned))], &w.roles, &w.roles)?;
                next.users.insert(*to, crowned);
                if let Some(me) = next.users.get_mut(&actor) {
                    me.owner = false;
                }
            }
        }
        MChange::CreateRole(id, role) => {
            // R6, R7 before the id (R20): whether an id is taken is said only to who may
            // create the role, as creating it would tell it (R16: ids are the host's and
            // unique; the refusal names nothing but the id asked for).
            a.may_define(*id, role, None)?;
            if w.roles.contains_key(id) {
                return no(ErrorKind::Duplicate, "R16 role id taken");
            }
            next.roles.insert(*id, role.clone());
        }
        MChange::UpdateRole(id, role) => {
            let Some(old) = w.roles.get(id) else {
                return no(ErrorKind::NotFound, "R1 unknown role");
            };
            a.may_define(*id, role, Some(old))?;
            next.roles.insert(*id, role.clone());
        }
        MChange::DeleteRole { role, reassign_to } => {
            let Some(old) = w.roles.get(role) else {
                return no(ErrorKind::NotFound, "R1 unknown role");
            };
            // R6, R7: deleting is editing: the manage-roles permission at a level that sees it.
            a.may_define(*role, old, Some(old))?;
            let holders: Vec<(u64, &MUser)> = w
                .users
                .iter()
                .filter(|(_, u)| u.grants.iter().any(|g| g.0 == *role))
                .map(|(id, u)| (*id, u))
                .collect();
            // R11: a role the owner holds is the owner's to delete.
            if !a.me.owner && holders.iter().any(|(_, u)| u.owner) {
                return no(ErrorKind::Owner, "R11 deletes the owner's role");
            }
            match reassign_to {
                None if !holders.is_empty() => return no(ErrorKind::InUse, "R15 role in use"),
                None => {}
                Some(to) => {
                    let Some(new_role) = w.roles.get(to) else {
                        return no(ErrorKind::NotFound, "R1 unknown role");
                    };
                    if to == role {
                        return no(ErrorKind::InvalidInput, "R15 reassigned to itself");
                    }
                    // R15 with R10, R7, R8: moving the holders is editing each of them.
                    let mut moved = Vec::new();
                    for (id, u) in &holders {
                        if a.target(*id, EDIT).is_err() {
                            return no(ErrorKind::OutsideScope, "R15/R20 holders unseen");
                        }
                        a.manages(EDIT, *id, u)?;
                        a.may_assign(new_role, EDIT)?;
                        let now = MUser {
                            grants: u
                                .grants
                                .iter()
                                .map(|(r, s)| (if r == role { *to } else { *r }, s.clone()))
                                .collect(),
                            ..(*u).clone()
                        };
                        a.manages(EDIT, *id, &now)?;
                        moved.push((*id, now));
                    }
                    let pairs: Vec<_> = holders
                        .iter()
                        .zip(&moved)
                        .map(|((_, old), (_, new))| (Some(*old), Some(new)))
                        .collect();
                    a.no_gain(&pairs, &w.roles, &w.roles)?;
                    next.users.extend(moved);
                }
            }
            next.roles.remove(role);
        }
        MChange::SetSeatLimit {
            limit,
            disable_excess,
        } => {
            // R12, seed 000: the plan is the owner's.
            if !a.me.owner {
                return no(ErrorKind::NotPermitted, "R12 only the owner sets the plan");
            }
            next.seats = *limit;
            if let (Some(n), true) = (limit, disable_excess) {
                // The newest invitations (highest ids) enabled past the limit, among the users
                // the owner manages (R10), never the owner (R11).
                let enabled = w.users.values().filter(|u| u.enabled).count();
                let newest: Vec<u64> = w
                    .users
                    .iter()
                    .rev()
                    .filter(|(id, u)| u.enabled && !u.owner && a.manages(EDIT, **id, u).is_ok())
                    .map(|(id, _)| *id)
                    .take(enabled.saturating_sub(*n))
                    .collect();
                for id in newest {
                    if let Some(u) = next.users.get_mut(&id) {
                        u.enabled = false;
                    }
                }
            }
        }
        MChange::CreateStore(id, name) => {
            // Opening a store needs the permission at every store: a new one lies outside
            // every specific set (R3). The permission before the id (R20): an id taken is
            // said only to who may open stores.
            a.manages_store(None)?;
            if w.stores.contains_key(id) {
                return no(ErrorKind::Duplicate, "R16 store id taken");
            }
            next.stores.insert(*id, name.clone());
        }
        MChange::UpdateStore(id, name) => {
            if !w.stores.contains_key(id) || !a.sees_store(*id) {
                return no(ErrorKind::NotFound, "R20 unknown or unseen store");
            }
            a.manages_store(Some(*id))?;
            next.stores.insert(*id, name.clone());
        }
        MChange::DeleteStore(id) => {
            if !w.stores.contains_key(id) || !a.sees_store(*id) {
                return no(ErrorKind::NotFound, "R20 unknown or unseen store");
            }
            a.manages_store(Some(*id))?;
            // Like R15 for roles: a store a role's ceiling or a user's grant names stays.
            let named = w.roles.values().any(|r| r.stores.names(*id))
                || w.users
                    .values()
                    .any(|u| u.grants.iter().any(|(_, s)| s.names(*id)));
            if named {
                return no(ErrorKind::InUse, "store in use");
            }
            next.stores.remove(id);
        }
    }
    Ok(next)
}

/// The account's invariants, on the state a whole batch produces: R16 (role names, then
/// users' formats, then uniqueness ignoring case), R11 (exactly one owner, enabled, holding a
/// level-1 role), R12 (enabled users within the plan). The rules give no order among them:
/// formats before uniqueness (a malformed value is wrong before it is compared) and owner before
/// seats are the engine's order (for formats and uniqueness, only when the batch changes no
/// role: see [`known_defect`], 4).
fn invariants(w: &World) -> Result<(), Refusal> {
    // Store names first: names people read (R16).
    if w.stores.values().any(|n| !role_name_ok(n)) {
        return no(ErrorKind::InvalidInput, "R16 store name");
    }
    let mut names = BTreeSet::new();
    for r in w.roles.values() {
        if !role_name_ok(&r.name) {
            return no(ErrorKind::InvalidInput, "R16 role name");
        }
        if !names.insert(r.name.to_lowercase()) {
            return no(ErrorKind::Duplicate, "R16 role name taken");
        }
    }
    if w.users
        .values()
        .any(|u| !username_ok(&u.username) || !email_ok(&u.email))
    {
        return no(ErrorKind::InvalidInput, R16_FORMAT);
    }
    let (mut usernames, mut emails) = (BTreeSet::new(), BTreeSet::new());
    for u in w.users.values() {
        if !usernames.insert(u.username.to_lowercase()) || !emails.insert(u.email.to_lowercase()) {
            return no(ErrorKind::Duplicate, "R16 username or e-mail taken");
        }
    }
    let owners: Vec<&MUser> = w.users.values().filter(|u| u.owner).collect();
    let top = |u: &MUser| {
        u.grants
            .iter()
            .any(|g| w.roles.get(&g.0).is_some_and(|r| r.level == 1))
    };
    match owners.as_slice() {
        [o] if o.enabled && top(o) => {}
        _ => return no(ErrorKind::Owner, "R11 one enabled level-1 owner"),
    }
    if w.seats
        .is_some_and(|n| w.users.values().filter(|u| u.enabled).count() > n)
    {
        return no(ErrorKind::SeatLimit, "R12 seats");
    }
    Ok(())
}

/// Every change authorized on the state the ones before it produce: the state after them all,
/// or the first refused change's index, the state it was judged on, and why.
fn plan_all(w: &World, actor: u64, changes: &[MChange]) -> Result<World, (usize, World, Refusal)> {
    let mut next = w.clone();
    for (i, c) in changes.iter().enumerate() {
        next = plan(&next, actor, c).map_err(|r| (i, next.clone(), r))?;
    }
    Ok(next)
}

/// A step: the first refused change refuses it all; then the invariants of the result.
fn model(w: &World, actor: u64, changes: &[MChange]) -> Result<World, Refusal> {
    let next = plan_all(w, actor, changes).map_err(|(_, _, r)| r)?;
    invariants(&next)?;
    Ok(next)
}

// ---------------------------------------------------------------------------------------------
// Generation: a tape of random numbers read into a world and steps.

struct Tape<'a>(std::slice::Iter<'a, u32>);

impl Tape<'_> {
    fn pick(&mut self, n: usize) -> usize {
        self.0.next().map_or(0, |x| *x as usize % n.max(1))
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) < percent
    }
    fn access(&mut self, ids: &[u64]) -> Acc {
        match self.pick(20) {
            0..=2 => Acc::None,
            3..=9 => Acc::All,
            _ => Acc::Some(ids.iter().copied().filter(|_| self.chance(50)).collect()),
        }
    }
    /// A ceiling: often none at all.
    fn ceiling(&mut self, ids: &[u64], all: usize) -> Acc {
        if self.chance(all) {
            Acc::All
        } else {
            self.access(ids)
        }
    }
    fn perms(&mut self) -> u64 {
        let odds = [50, 50, 50, 60, 60, 60, 60, 15, 40];
        (0..BITS).fold(0, |acc, bit| {
            if self.chance(odds[bit as usize]) {
                acc | 1 << bit
            } else {
                acc
            }
        })
    }
    fn one_of<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        items.get(self.pick(items.len())).copied()
    }
}

fn world(t: &mut Tape<'_>) -> World {
    let mut roles = BTreeMap::new();
    roles.insert(
        1,
        MRole {
            name: "r1".into(),
            level: 1,
            perms: (1 << BITS) - 1,
            stores: Acc::All,
            sources: Acc::All,
            channels: Acc::All,
        },
    );
    for id in 2..=2 + t.pick(4) as u64 {
        let role = MRole {
            name: format!("r{id}"),
            level: 1 + t.pick(3) as u8,
            perms: t.perms(),
            stores: t.ceiling(&STORES, 40),
            sources: t.ceiling(&SOURCES, 70),
            channels: t.ceiling(&CHANNELS, 70),
        };
        roles.insert(id, role);
    }
    let ids: Vec<u64> = roles.keys().copied().collect();
    let mut users = BTreeMap::new();
    // A quarter of owners hold the top role at some stores only: lowering the seat limit then
    // disables only the users that owner manages (R10).
    let top_stores = if t.chance(25) {
        t.access(&STORES)
    } else {
        Acc::All
    };
    let mut owner_grants = vec![(1, top_stores)];
    if t.chance(20) {
        owner_grants.push((t.one_of(&ids).unwrap_or(1), t.access(&STORES)));
    }
    users.insert(
        OWNER,
        MUser {
            username: format!("u{OWNER}"),
            email: format!("u{OWNER}@x.example"),
            timezone: "UTC".into(),
            enabled: true,
            owner: true,
            grants: owner_grants,
            sources: t.ceiling(&SOURCES, 80),
            channels: t.ceiling(&CHANNELS, 80),
        },
    );
    for id in 101..=101 + t.pick(5) as u64 {
        let grants = (0..1 + t.pick(3))
            .map(|_| {
                // Mostly the random roles; now and then the owner's, which holds everything.
                let role = if t.chance(8) {
                    1
                } else {
                    2 + t.pick(ids.len() - 1) as u64
                };
                (role, t.access(&STORES))
            })
            .collect();
        let user = MUser {
            username: format!("u{id}"),
            email: format!("u{id}@x.example"),
            timezone: if t.chance(30) {
                "Europe/Madrid".into()
            } else {
                "UTC".into()
            },
            enabled: t.chance(85),
            owner: false,
            grants,
            sources: t.access(&SOURCES),
            channels: t.access(&CHANNELS),
        };
        users.insert(id, user);
    }
    let enabled = users.values().filter(|u| u.enabled).count();
    World {
        seats: Some(enabled + t.pick(3)),
        stores: (1..=4).map(|s| (s, format!("s{s}"))).collect(),
        roles,
        users,
    }
}

fn grant(t: &mut Tape<'_>, w: &World) -> (u64, Acc) {
    let ids: Vec<u64> = w.roles.keys().copied().collect();
    let role = if t.chance(4) {
        MISSING
    } else {
        t.one_of(&ids).unwrap_or(MISSING)
    };
    (role, t.access(&w.store_ids()))
}

/// A username for user `id`: mostly new, sometimes another user's (in other case), sometimes
/// malformed (R16).
fn username(t: &mut Tape<'_>, w: &World, id: u64) -> String {
    let taken: Vec<&MUser> = w.users.values().collect();
    match t.pick(20) {
        0 => format!("n {id}"),
        1 => String::new(),
        2 | 3 => taken
            .get(t.pick(taken.len()))
            .map_or_else(|| format!("n{id}"), |u| u.username.to_uppercase()),
        _ => format!("n{id}"),
    }
}

/// An e-mail for user `id`, the same way.
fn email(t: &mut Tape<'_>, w: &World, id: u64) -> String {
    let taken: Vec<&MUser> = w.users.values().collect();
    match t.pick(20) {
        0 => format!("n{id}.x.example"),
        1 => format!("n {id}@x.example"),
        2 | 3 => taken
            .get(t.pick(taken.len()))
            .map_or_else(|| format!("n{id}@x.example"), |u| u.email.to_uppercase()),
        _ => format!("n{id}@x.example"),
    }
}

fn role_name(t: &mut Tape<'_>, w: &World, id: u64) -> String {
    let taken: Vec<&MRole> = w.roles.values().collect();
    match t.pick(20) {
        0 => format!(" r{id}"),
        1 | 2 => taken
            .get(t.pick(taken.len()))
            .map_or_else(|| format!("r{id}"), |r| r.name.to_uppercase()),
        _ => format!("r{id}"),
    }
}

/// Some user, or now and then one that does not exist.
fn some_user(t: &mut Tape<'_>, w: &World) -> u64 {
    let ids: Vec<u64> = w.users.keys().copied().collect();
    if t.chance(4) {
        MISSING
    } else {
        t.one_of(&ids).unwrap_or(MISSING)
    }
}

fn some_role(t: &mut Tape<'_>, w: &World) -> u64 {
    let ids: Vec<u64> = w.roles.keys().copied().collect();
    if t.chance(4) {
        MISSING
    } else {
        t.one_of(&ids).unwrap_or(MISSING)
    }
}

fn change(t: &mut Tape<'_>, w: &World, kind: usize, fresh: &mut u64) -> MChange {
    *fresh += 1;
    let new_user = 500 + *fresh;
    let new_role = 600 + *fresh;
    match kind {
        0 => {
            // Now and then an id that is taken.
            let id = if t.chance(5) {
                some_user(t, w)
            } else {
                new_user
            };
            let user = MUser {
                username: username(t, w, id),
                email: email(t, w, id),
                timezone: "UTC".into(),
                enabled: t.chance(85),
                owner: t.chance(3),
                grants: (0..1 + t.pick(2)).map(|_| grant(t, w)).collect(),
                sources: t.access(&SOURCES),
                channels: t.access(&CHANNELS),
            };
            MChange::CreateUser(id, user)
        }
        1 => {
            let id = some_user(t, w);
            let mut user = w.users.get(&id).cloned().unwrap_or_else(|| MUser {
                username: format!("n{id}"),
                email: format!("n{id}@x.example"),
                timezone: "UTC".into(),
                enabled: true,
                owner: false,
                grants: Vec::new(),
                sources: Acc::None,
                channels: Acc::None,
            });
            for _ in 0..1 + t.pick(2) {
                match t.pick(12) {
                    0 => user.grants = (0..1 + t.pick(2)).map(|_| grant(t, w)).collect(),
                    1 | 2 => {
                        let i = t.pick(user.grants.len());
                        let stores = t.access(&w.store_ids());
                        match user.grants.get_mut(i) {
                            Some(g) => g.1 = stores,
                            None => user.grants.push(grant(t, w)),
                        }
                    }
                    3 => user.grants.push(grant(t, w)),
                    4 => {
                        if !user.grants.is_empty() {
                            let i = t.pick(user.grants.len());
                            user.grants.remove(i);
                        }
                    }
                    5 => user.sources = t.access(&SOURCES),
                    6 => user.channels = t.access(&CHANNELS),
                    7 => user.enabled = !user.enabled,
                    8 => user.email = email(t, w, id),
                    9 => user.email = user.email.to_uppercase(),
                    10 => user.username = username(t, w, id),
                    _ => {
                        if t.chance(25) {
                            user.owner = !user.owner;
                        } else {
                            user.timezone = "Asia/Tokyo".into();
                        }
                    }
                }
            }
            MChange::UpdateUser(id, user)
        }
        2 => MChange::EnableUser(some_user(t, w)),
        3 => MChange::DisableUser(some_user(t, w)),
        4 => MChange::DeleteUser(some_user(t, w)),
        5 => MChange::CopyUser {
            from: some_user(t, w),
            id: new_user,
            username: username(t, w, new_user),
            email: email(t, w, new_user),
        },
        6 => {
            let id = if t.chance(5) {
                some_role(t, w)
            } else {
                new_role
            };
            let role = MRole {
                name: role_name(t, w, id),
                level: 1 + t.pick(3) as u8,
                perms: t.perms(),
                stores: t.ceiling(&w.store_ids(), 40),
                sources: t.ceiling(&SOURCES, 70),
                channels: t.ceiling(&CHANNELS, 70),
            };
            MChange::CreateRole(id, role)
        }
        7 => {
            let id = some_role(t, w);
            // The name stays: renaming (R14) is not modelled.
            let mut role = w.roles.get(&id).cloned().unwrap_or_else(|| MRole {
                name: format!("r{id}"),
                level: 3,
                perms: 0,
                stores: Acc::All,
                sources: Acc::All,
                channels: Acc::All,
            });
            // Lowering a role to the bottom level is where R7's "the old level too" bites: an
            // actor at level 2 sees the new level and not the old one.
            if t.chance(25) {
                role.level = 3;
            }
            for _ in 0..1 + t.pick(2) {
                match t.pick(6) {
                    0 => role.level = 1 + t.pick(3) as u8,
                    1 | 2 => role.perms ^= 1 << t.pick(BITS as usize),
                    3 => role.stores = t.ceiling(&w.store_ids(), 40),
                    4 => role.sources = t.ceiling(&SOURCES, 50),
                    _ => role.channels = t.ceiling(&CHANNELS, 50),
                }
            }
            MChange::UpdateRole(id, role)
        }
        8 => MChange::DeleteRole {
            role: some_role(t, w),
            reassign_to: None,
        },
        9 => MChange::DeleteRole {
            role: some_role(t, w),
            reassign_to: Some(some_role(t, w)),
        },
        10 => MChange::TransferOwnership {
            to: some_user(t, w),
        },
        11 | 12 => {
            let enabled = w.users.values().filter(|u| u.enabled).count();
            MChange::SetSeatLimit {
                limit: (!t.chance(10)).then(|| (enabled + t.pick(4)).saturating_sub(2)),
                disable_excess: kind == 12,
            }
        }
        13 => {
            let id = if t.chance(5) {
                some_store(t, w)
            } else {
                700 + *fresh
            };
            MChange::CreateStore(id, store_name(t, id))
        }
        14 => {
            let id = some_store(t, w);
            MChange::UpdateStore(id, store_name(t, id))
        }
        _ => MChange::DeleteStore(some_store(t, w)),
    }
}

/// Some store, or now and then one that does not exist.
fn some_store(t: &mut Tape<'_>, w: &World) -> u64 {
    if t.chance(4) {
        MISSING
    } else {
        t.one_of(&w.store_ids()).unwrap_or(MISSING)
    }
}

/// A store name: now and then one with white space at an end (R16).
fn store_name(t: &mut Tape<'_>, id: u64) -> String {
    if t.chance(5) {
        format!("s{id} ")
    } else {
        format!("s{id}-{}", t.pick(10))
    }
}

const KINDS: usize = 16;

/// An actor and one change, or two or three; each generated on the state the ones before it
/// would produce, if the model lets them.
fn step(t: &mut Tape<'_>, w: &World, fresh: &mut u64) -> (u64, Vec<MChange>) {
    let size = if t.chance(25) { 2 + t.pick(2) } else { 1 };
    let kinds: Vec<usize> = (0..size).map(|_| t.pick(KINDS)).collect();
    let owner = w
        .users
        .iter()
        .find(|(_, u)| u.owner)
        .map_or(OWNER, |(id, _)| *id);
    // The owner acts often, and most often when the change is the owner's to make.
    let owner_odds = if [10, 11, 12].iter().any(|k| kinds.contains(k)) {
        60
    } else {
        30
    };
    let actor = if t.chance(owner_odds) {
        owner
    } else {
        some_user(t, w)
    };
    let mut state = w.clone();
    let mut changes = Vec::new();
    for kind in kinds {
        let c = change(t, &state, kind, fresh);
        if let Ok(next) = plan(&state, actor, &c) {
            state = next;
        }
        changes.push(c);
    }
    (actor, changes)
}

// ---------------------------------------------------------------------------------------------
// The engine's side: the same world and changes as engine values, and its state read back.

fn access<I: Ord + Copy>(a: &Acc, id: fn(u64) -> I) -> Access<I> {
    match a {
        Acc::None => Access::None,
        Acc::All => Access::All,
        Acc::Some(s) => Access::specific(s.iter().map(|&x| id(x))),
    }
}

fn plain<I: Ord + Copy>(a: &Access<I>, raw: fn(I) -> u64) -> Acc {
    match a {
        Access::None => Acc::None,
        Access::All => Acc::All,
        Access::Specific(s) => Acc::Some(s.iter().map(raw).collect()),
    }
}

fn engine_user(id: u64, u: &MUser) -> User {
    User::new(UserId::new(id), ACCT, &u.username, &u.email)
        .with_timezone(&u.timezone)
        .unwrap()
        .with_enabled(u.enabled)
        .with_owner(u.owner)
        .with_grants(
            u.grants
                .iter()
                .map(|(r, s)| Grant::new(RoleId::new(*r), access(s, StoreId::new))),
        )
        .with_sources(access(&u.sources, SourceId::new))
        .with_channels(access(&u.channels, ChannelId::new))
}

fn engine_role(id: u64, r: &MRole) -> Role<W> {
    Role::new(
        RoleId::new(id),
        ACCT,
        r.name.clone(),
        Level::new(r.level).unwrap(),
        W::from_bits(r.perms).unwrap(),
    )
    .with_store_ceiling(access(&r.stores, StoreId::new))
    .with_source_ceiling(access(&r.sources, SourceId::new))
    .with_channel_ceiling(access(&r.channels, ChannelId::new))
}

fn engine_change(c: &MChange) -> Change<W> {
    match c {
        MChange::CreateUser(id, u) => Change::CreateUser(engine_user(*id, u)),
        MChange::UpdateUser(id, u) => Change::UpdateUser(engine_user(*id, u)),
        MChange::EnableUser(id) => Change::EnableUser(UserId::new(*id)),
        MChange::DisableUser(id) => Change::DisableUser(UserId::new(*id)),
        MChange::DeleteUser(id) => Change::DeleteUser(UserId::new(*id)),
        MChange::CopyUser {
            from,
            id,
            username,
            email,
        } => Change::CopyUser {
            from: UserId::new(*from),
            id: UserId::new(*id),
            username: username.clone(),
            email: email.clone(),
        },
        MChange::CreateRole(id, r) => Change::CreateRole(engine_role(*id, r)),
        MChange::UpdateRole(id, r) => Change::UpdateRole(engine_role(*id, r)),
        MChange::DeleteRole { role, reassign_to } => Change::DeleteRole {
            role: RoleId::new(*role),
            reassign_to: reassign_to.map(RoleId::new),
        },
        MChange::TransferOwnership { to } => Change::TransferOwnership {
            to: UserId::new(*to),
        },
        MChange::SetSeatLimit {
            limit,
            disable_excess,
        } => Change::SetSeatLimit {
            limit: limit.map(|n| u32::try_from(n).unwrap()),
            disable_excess: *disable_excess,
        },
        MChange::CreateStore(id, name) => {
            Change::CreateStore(Store::new(StoreId::new(*id), ACCT, name.clone()))
        }
        MChange::UpdateStore(id, name) => {
            Change::UpdateStore(Store::new(StoreId::new(*id), ACCT, name.clone()))
        }
        MChange::DeleteStore(id) => Change::DeleteStore(StoreId::new(*id)),
    }
}

fn load(w: &World) -> Engine<W> {
    let account = Account::new(ACCT, "Shop");
    let mut batch = vec![Mutation::PutAccount(match w.seats {
        Some(n) => account.with_seat_limit(u32::try_from(n).unwrap()),
        None => account,
    })];
    for (s, name) in &w.stores {
        batch.push(Mutation::PutStore(Store::new(
            StoreId::new(*s),
            ACCT,
            name.clone(),
        )));
    }
    for s in SOURCES {
        batch.push(Mutation::PutSource(Source::new(
            SourceId::new(s),
            ACCT,
            format!("src{s}"),
        )));
    }
    for c in CHANNELS {
        batch.push(Mutation::PutChannel(Channel::new(
            ChannelId::new(c),
            ACCT,
            format!("c{c}"),
        )));
    }
    batch.extend(
        w.roles
            .iter()
            .map(|(id, r)| Mutation::PutRole(engine_role(*id, r))),
    );
    batch.extend(
        w.users
            .iter()
            .map(|(id, u)| Mutation::PutUser(engine_user(*id, u))),
    );
    let e = Engine::new();
    e.unchecked_apply(batch).unwrap();
    e
}

/// The engine's account as plain data.
fn read(e: &Engine<W>) -> World {
    let s = e.snapshot();
    let seats = s.account(ACCT).and_then(Account::seat_limit);
    let stores = s
        .stores(ACCT)
        .map(|x| (x.id().get(), x.name().to_owned()))
        .collect();
    let roles = s
        .roles(ACCT)
        .map(|r| {
            // The model never renames, so no role gains a former name (R14).
            assert!(r.former_names().is_empty(), "{r:?}");
            let c = r.ceiling();
            let role = MRole {
                name: r.name().to_owned(),
                level: r.level().get(),
                perms: r.permissions().bits(),
                stores: plain(&c.stores, StoreId::get),
                sources: plain(&c.sources, SourceId::get),
                channels: plain(&c.channels, ChannelId::get),
            };
            (r.id().get(), role)
        })
        .collect();
    let users = s
        .users(ACCT)
        .map(|u| {
            let user = MUser {
                username: u.username().to_owned(),
                email: u.email().to_owned(),
                timezone: u.timezone().to_owned(),
                enabled: u.is_enabled(),
                owner: u.is_owner(),
                grants: u
                    .grants()
                    .iter()
                    .map(|g| (g.role.get(), plain(&g.stores, StoreId::get)))
                    .collect(),
                sources: plain(u.sources(), SourceId::get),
                channels: plain(u.channels(), ChannelId::get),
            };
            (u.id().get(), user)
        })
        .collect();
    World {
        seats: seats.map(|n| n as usize),
        stores,
        roles,
        users,
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison.

/// Accepted and refused steps per change type ("batch" for several), and refusals per rule.
#[derive(Default)]
struct Tally {
    steps: RefCell<BTreeMap<&'static str, (usize, usize)>>,
    rules: RefCell<BTreeMap<(&'static str, String), usize>>,
    /// Steps excluded as a known engine defect ([`known_defect`]).
    defects: RefCell<BTreeMap<&'static str, usize>>,
}

impl Tally {
    fn count(&self, what: &'static str, refusal: Option<Refusal>) {
        let mut steps = self.steps.borrow_mut();
        let entry = steps.entry(what).or_default();
        match refusal {
            None => entry.0 += 1,
            Some(r) => {
                entry.1 += 1;
                let key = (r.rule, format!("{:?}", r.kind));
                *self.rules.borrow_mut().entry(key).or_default() += 1;
            }
        }
    }

    fn defect(&self, what: &'static str) {
        *self.defects.borrow_mut().entry(what).or_default() += 1;
    }

    fn summary(&self) -> String {
        let mut out = String::from("accepted / refused per step type:\n");
        for (what, (yes, no)) in self.steps.borrow().iter() {
            let _ = writeln!(out, "  {what:<26} {yes:>6} {no:>6}");
        }
        out += "refusals per rule:\n";
        for ((rule, kind), n) in self.rules.borrow().iter() {
            let _ = writeln!(out, "  {rule:<38} {kind:<13} {n:>6}");
        }
        out += "excluded as known engine defects:\n";
        for (what, n) in self.defects.borrow().iter() {
            let _ = writeln!(out, "  {what:<66} {n:>6}");
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Engine defects the model found (issue 19). Each is excluded here as narrowly as it can be
// described, counted, and reported; the rest of the comparison runs on.

/// The engine departs from the rules here, not the model:
///
/// Defects 1–3 the model found (a transfer naming a user the actor could not see, the owner
/// transferring to one, and a disabled user's e-mail changed whatever it held) are fixed; their
/// regression tests are in `security.rs`.
///
/// 4. R16, an inconsistency of order (no rule is broken): a batch whose end state has both a
///    malformed username or e-mail and a duplicate is refused `InvalidInput` (the model's
///    order: a malformed value is wrong before it is compared), unless the batch also changes
///    a role: then `Duplicate` if the duplicate is met first in user-id order. The same users
///    give different kinds depending on whether a role changed alongside; the rules give no
///    order, so the model keeps one.
fn known_defect(
    w: &World,
    actor: u64,
    changes: &[MChange],
    engine: Option<ErrorKind>,
) -> Option<&'static str> {
    match plan_all(w, actor, changes) {
        Ok(end) if engine == Some(ErrorKind::Duplicate) => {
            // A role, a store or the account changed: the whole account is validated.
            let role_changed = changes.iter().any(|c| {
                matches!(
                    c,
                    MChange::CreateRole(..)
                        | MChange::UpdateRole(..)
                        | MChange::DeleteRole { .. }
                        | MChange::SetSeatLimit { .. }
                        | MChange::CreateStore(..)
                        | MChange::UpdateStore(..)
                        | MChange::DeleteStore(_)
                )
            });
            let mut seen = (BTreeSet::new(), BTreeSet::new());
            let duplicate = end.users.values().any(|u| {
                !seen.0.insert(u.username.to_lowercase()) || !seen.1.insert(u.email.to_lowercase())
            });
            let malformed = invariants(&end).is_err_and(|r| r.rule == R16_FORMAT);
            (role_changed && duplicate && malformed)
                .then_some("4 R16: a duplicate before a malformed value when a role changed too")
        }
        _ => None,
    }
}

fn check_case(tape: &[u32], tally: &Tally) -> Result<(), TestCaseError> {
    let mut t = Tape(tape.iter());
    let mut w = world(&mut t);
    let e = load(&w);
    prop_assert_eq!(&read(&e), &w, "the world does not load as generated");
    let mut fresh = 0;
    for _ in 0..10 {
        let (actor, changes) = step(&mut t, &w, &mut fresh);
        let want = model(&w, actor, &changes);
        let revision = e.revision();
        let got = e.apply_all(
            UserId::new(actor),
            changes.iter().map(engine_change).collect(),
        );
        let what = match changes.as_slice() {
            [one] => one.name(),
            _ => "batch",
        };
        let context = || format!("actor u{actor}, changes {changes:#?}\nworld {w:#?}");
        let agree = match (&want, &got) {
            (Ok(_), Ok(_)) => true,
            (Err(r), Err(err)) => r.kind == err.kind(),
            _ => false,
        };
        if !agree {
            let engine = got.as_ref().err().map(shopguard::Error::kind);
            if let Some(defect) = known_defect(&w, actor, &changes, engine) {
                tally.defect(defect);
                if got.is_ok() {
                    // The states have parted: this case ends here.
                    return Ok(());
                }
                prop_assert_eq!(&read(&e), &w, "a refused step changed the engine");
                continue;
            }
        }
        match (want, got) {
            (Ok(next), Ok(_)) => {
                prop_assert_eq!(&read(&e), &next, "accepted; states differ: {}", context());
                tally.count(what, None);
                w = next;
            }
            (Err(r), Err(err)) => {
                prop_assert_eq!(
                    err.kind(),
                    r.kind,
                    "both refuse; the model by {} ({:?}), the engine: {}\n{}",
                    r.rule,
                    r.kind,
                    err,
                    context()
                );
                prop_assert_eq!(e.revision(), revision);
                prop_assert_eq!(&read(&e), &w, "a refused step changed the engine");
                tally.count(what, Some(r));
            }
            (Ok(_), Err(err)) => prop_assert!(
                false,
                "the model accepts, the engine refuses ({:?}): {}\n{}",
                err.kind(),
                err,
                context()
            ),
            (Err(r), Ok(_)) => prop_assert!(
                false,
                "the engine accepts, the model refuses by {} ({:?})\n{}",
                r.rule,
                r.kind,
                context()
            ),
        }
    }
    Ok(())
}

#[test]
fn write_side_matches_the_reference_model() {
    let mut config = ProptestConfig::with_cases(1000);
    // Regressions are not written into the source tree; a failure prints the whole case.
    config.failure_persistence = None;
    let mut runner = TestRunner::new(config);
    let tally = Tally::default();
    let tapes = prop::collection::vec(any::<u32>(), 1200);
    if let Err(failure) = runner.run(&tapes, |tape| check_case(&tape, &tally)) {
        panic!("{failure}\n{}", tally.summary());
    }
    let summary = tally.summary();
    println!("{summary}");
    // Not vacuous: every type of step is both accepted and refused often enough to matter.
    for (what, (yes, no)) in tally.steps.borrow().iter() {
        let all = (yes + no) as f64;
        assert!(
            *yes as f64 / all > 0.05,
            "{what} rarely accepted\n{summary}"
        );
        assert!(*no as f64 / all > 0.05, "{what} rarely refused\n{summary}");
    }
    assert_eq!(tally.steps.borrow().len(), KINDS + 1, "{summary}");
    // The exclusions stay exclusions: a few steps in a hundred at most.
    let steps: usize = tally.steps.borrow().values().map(|(y, n)| y + n).sum();
    let excluded: usize = tally.defects.borrow().values().sum();
    assert!(
        excluded * 50 < steps,
        "{excluded} steps excluded\n{summary}"
    );
}
