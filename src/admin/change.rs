//! Changes: what an actor asks the engine to do.

use serde::{Deserialize, Serialize};

use crate::model::ids::{RoleId, UserId};
use crate::model::role::Role;
use crate::model::user::User;

/// One administrative change. Serializable, so a host can log or replay it.
///
/// Every change is authorized as its actor first (R6–R11), then validated (R12, R15, R16),
/// then applied; see [`Engine::apply`](crate::Engine::apply).
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
    /// Replaces a user's details, grants and access. Ownership does not move this way.
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
    /// A bulk user upload as a whole (R18), as the audit records one that was refused (R19).
    /// It changes nothing by itself: [`Engine::apply`](crate::Engine::apply) refuses it with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput); uploads are made with
    /// `Engine::upload_users_csv`.
    UploadUsers {
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
        }
    }
}
