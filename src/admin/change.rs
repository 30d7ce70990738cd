//! Changes: what an actor asks the engine to do.

use serde::{Deserialize, Serialize};

use crate::model::account::{Channel, Source, Store};
use crate::model::ids::{ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::mutation::{Key, Mutation, ObjectKind};
use crate::model::role::Role;
use crate::model::user::User;

/// One administrative change. Serializable, so a host can log or replay it.
///
/// Every change is authorized as its actor first (R6–R11), then validated (R12, R15, R16),
/// then applied; see [`Engine::apply`](crate::Engine::apply).
///
/// Stores, sources and sales channels are managed with the catalog's
/// [`AdminPermissions`](crate::AdminPermissions) `manage_stores`, `manage_sources` and
/// `manage_channels`, asked as a check of the object (`check(actor, manage_stores,
/// OnStore(account, store))`): an actor limited to some stores renames and closes only those,
/// and only an actor holding the permission at all stores (all sources, all channels) creates
/// one, since a new object lies outside every specific set. Access `All` covers a new object
/// at once (R3). An object still referred to (a role's ceiling, a user's grants, sources or
/// channels) cannot be deleted: the refusal ([`ErrorKind::InUse`](crate::ErrorKind::InUse))
/// names the roles and users the actor may see and counts the others (R20).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
#[non_exhaustive]
pub enum Change<P> {
    /// Creates a role in the actor's account (R7, R8).
    CreateRole(Role<P>),
    /// Replaces a role's name, level, permissions and ceiling (R7, R8). A new name keeps the
    /// old one as a former name (R14).
    UpdateRole(Role<P>),
    /// Renames a role; the old name still resolves (R14).
    RenameRole {
        /// The role.
        role: RoleId,
        /// Its new name.
        name: String,
    },
    /// Deletes a role. Refused while users hold it, naming them, unless `reassign_to` names the
    /// role they get instead (R15).
    DeleteRole {
        /// The role.
        role: RoleId,
        /// The role its holders get instead, if any.
        reassign_to: Option<RoleId>,
    },
    /// Creates (invites) a user (R9). Emits [`Event::Invited`](crate::Event::Invited).
    CreateUser(User),
    /// Creates a user starting from an existing user's grants, sources, channels and timezone
    /// (R17).
    CopyUser {
        /// The user to copy from.
        from: UserId,
        /// The new user's id.
        id: UserId,
        /// The new user's username.
        username: String,
        /// The new user's e-mail.
        email: String,
    },
    /// Replaces a user's details, grants and access. Ownership does not move this way. A new
    /// username or e-mail (other than in case) needs the permission to create users as well:
    /// whether one is taken is said only to who may create users (R9, R20).
    UpdateUser(User),
    /// Enables a user (R12: counts against the seat limit).
    EnableUser(UserId),
    /// Disables a user; the user is kept and stops counting against the seat limit.
    DisableUser(UserId),
    /// Deletes a user.
    DeleteUser(UserId),
    /// Moves ownership from the actor, who must be the owner, to another enabled level-1 user
    /// (R11).
    TransferOwnership {
        /// The new owner.
        to: UserId,
    },
    /// Bills and settles the account at entity level, or per store (R13). Owner only.
    SetEntityLevelBilling(bool),
    /// Opens a store (an outlet) in the actor's account; needs `manage_stores` at all stores.
    CreateStore(Store),
    /// Renames a store; needs `manage_stores` at that store.
    UpdateStore(Store),
    /// Closes a store: deletes it. Refused while a role or user refers to it.
    DeleteStore(StoreId),
    /// Creates a source; needs `manage_sources` at all sources.
    CreateSource(Source),
    /// Changes a source's external id; needs `manage_sources` at that source, and a new
    /// external id (other than in case) needs it at every source: external ids are unique in
    /// the account, so the answer says whether one is taken, even by a source the actor does
    /// not see (R20), which only who may create sources is told.
    UpdateSource(Source),
    /// Deletes a source. Refused while a role or user refers to it.
    DeleteSource(SourceId),
    /// Creates a sales channel; needs `manage_channels` at all sales channels.
    CreateChannel(Channel),
    /// Renames a sales channel; needs `manage_channels` at that channel.
    UpdateChannel(Channel),
    /// Deletes a sales channel. Refused while a role or user refers to it.
    DeleteChannel(ChannelId),
    /// Sets the plan's limit on enabled users (R12), or removes it (`None`). Owner only, like
    /// every plan and billing setting.
    ///
    /// A limit below the enabled users is refused with
    /// [`ErrorKind::SeatLimit`](crate::ErrorKind::SeatLimit), unless `disable_excess` is set:
    /// then the newest invitations — the highest ids first: the engine keeps no invitation
    /// date, and ids are the host's keys, given in the order users are invited — are disabled
    /// until the rest fit, among the users the owner manages (R10), never the owner. If those
    /// are too few, the limit is refused with `SeatLimit`, naming no user. They are listed in
    /// [`Event::DisabledBySeatLimit`](crate::Event::DisabledBySeatLimit) and in the audit
    /// record (before and after). Disabled users are kept and can be enabled again.
    SetSeatLimit {
        /// The most enabled users the plan allows, or `None` for no limit.
        limit: Option<u32>,
        /// Disable the newest users past the limit instead of refusing.
        disable_excess: bool,
    },
    /// A batch written by [`Engine::unchecked_apply_as`](crate::Engine::unchecked_apply_as),
    /// as the audit records it (R19), under the system that wrote it. It changes nothing by
    /// itself: [`Engine::apply`](crate::Engine::apply) refuses it with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
    Unchecked {
        /// The batch, as written.
        mutations: Vec<Mutation<P>>,
    },
    /// A bulk user upload as a whole (R18), as the audit records one that was refused (R19).
    /// It changes nothing by itself: [`Engine::apply`](crate::Engine::apply) refuses it with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput); uploads are made with
    /// `Engine::upload_users_csv`.
    UploadUsers {
        /// The data rows read (below the header); 0 if the upload was refused before any was.
        rows: u64,
    },
    /// A bulk upload of sources as a whole (seed 003's *Manage sources*), as the audit records
    /// one that was refused (R19). It changes nothing by itself, like
    /// [`UploadUsers`](Self::UploadUsers); uploads are made with
    /// `Engine::upload_sources_csv`, each row a [`CreateSource`](Self::CreateSource) or
    /// [`DeleteSource`](Self::DeleteSource).
    UploadSources {
        /// The data rows read (below the header); 0 if the upload was refused before any was.
        rows: u64,
    },
}

impl<P> Change<P> {
    /// A short name of the change, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Change::CreateRole(_) => "create role",
            Change::UpdateRole(_) => "update role",
            Change::RenameRole { .. } => "rename role",
            Change::DeleteRole { .. } => "delete role",
            Change::CreateUser(_) => "create user",
            Change::CopyUser { .. } => "copy user",
            Change::UpdateUser(_) => "update user",
            Change::EnableUser(_) => "enable user",
            Change::DisableUser(_) => "disable user",
            Change::DeleteUser(_) => "delete user",
            Change::TransferOwnership { .. } => "transfer ownership",
            Change::SetEntityLevelBilling(_) => "set entity-level billing",
            Change::UploadUsers { .. } => "upload users",
            Change::UploadSources { .. } => "upload sources",
            Change::CreateStore(_) => "create store",
            Change::UpdateStore(_) => "update store",
            Change::DeleteStore(_) => "delete store",
            Change::CreateSource(_) => "create source",
            Change::UpdateSource(_) => "update source",
            Change::DeleteSource(_) => "delete source",
            Change::CreateChannel(_) => "create sales channel",
            Change::UpdateChannel(_) => "update sales channel",
            Change::DeleteChannel(_) => "delete sales channel",
            Change::SetSeatLimit { .. } => "set seat limit",
            Change::Unchecked { .. } => "unchecked write",
        }
    }
}

impl<P: Copy> Change<P> {
    /// The objects the change names by id (see
    /// [`AuditRecord::targets`](crate::audit::AuditRecord::targets)), unsorted.
    pub(crate) fn named_objects(&self) -> Vec<Key> {
        match self {
            Change::CreateRole(r) | Change::UpdateRole(r) => vec![r.id().into()],
            Change::RenameRole { role, .. } => vec![role.into()],
            Change::DeleteRole { role, reassign_to } => {
                let mut keys = vec![Key::from(role)];
                keys.extend(reassign_to.map(Key::from));
                keys
            }
            Change::CreateUser(u) | Change::UpdateUser(u) => vec![u.id().into()],
            Change::CopyUser { from, id, .. } => vec![from.into(), id.into()],
            Change::EnableUser(id) | Change::DisableUser(id) | Change::DeleteUser(id) => {
                vec![id.into()]
            }
            Change::TransferOwnership { to } => vec![to.into()],
            Change::CreateStore(x) | Change::UpdateStore(x) => vec![x.id().into()],
            Change::DeleteStore(id) => vec![id.into()],
            Change::CreateSource(x) | Change::UpdateSource(x) => vec![x.id().into()],
            Change::DeleteSource(id) => vec![id.into()],
            Change::CreateChannel(x) | Change::UpdateChannel(x) => vec![x.id().into()],
            Change::DeleteChannel(id) => vec![id.into()],
            Change::Unchecked { mutations } => mutations.iter().map(Mutation::key).collect(),
            Change::SetEntityLevelBilling(_)
            | Change::SetSeatLimit { .. }
            | Change::UploadUsers { .. }
            | Change::UploadSources { .. } => Vec::new(),
        }
    }
}

impl<P> Change<P> {
    /// Whether the change is a setting of the actor's account (plan or billing).
    pub(crate) fn is_account_setting(&self) -> bool {
        matches!(
            self,
            Change::SetEntityLevelBilling(_) | Change::SetSeatLimit { .. }
        )
    }

    /// The kind of object the change is about, if it is about one kind (an unchecked batch
    /// writes any).
    pub(crate) fn own_kind(&self) -> Option<ObjectKind> {
        Some(match self {
            Change::CreateRole(_)
            | Change::UpdateRole(_)
            | Change::RenameRole { .. }
            | Change::DeleteRole { .. } => ObjectKind::Role,
            Change::CreateUser(_)
            | Change::CopyUser { .. }
            | Change::UpdateUser(_)
            | Change::EnableUser(_)
            | Change::DisableUser(_)
            | Change::DeleteUser(_)
            | Change::TransferOwnership { .. }
            | Change::UploadUsers { .. } => ObjectKind::User,
            Change::SetEntityLevelBilling(_) | Change::SetSeatLimit { .. } => ObjectKind::Account,
            Change::CreateStore(_) | Change::UpdateStore(_) | Change::DeleteStore(_) => {
                ObjectKind::Store
            }
            Change::CreateSource(_)
            | Change::UpdateSource(_)
            | Change::DeleteSource(_)
            | Change::UploadSources { .. } => ObjectKind::Source,
            Change::CreateChannel(_) | Change::UpdateChannel(_) | Change::DeleteChannel(_) => {
                ObjectKind::Channel
            }
            Change::Unchecked { .. } => return None,
        })
    }
}
