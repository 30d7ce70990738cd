//! Decisions and their reasons.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::model::ids::{ChannelId, RoleId, SourceId, StoreId, UserId};

/// A scope dimension. Its serde form is `"store"`, `"source"` or `"channel"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Stores.
    Store,
    /// Sources.
    Source,
    /// Sales channels.
    Channel,
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dimension::Store => "store",
            Dimension::Source => "source",
            Dimension::Channel => "sales channel",
        })
    }
}

/// The outcome of a check: allow or deny, and why. Never an error: anything unexpected denies.
///
/// It serializes (for a host's JSON) as `{"decision": "allow", "grant": 0, "role": 3}` or
/// `{"decision": "deny", "reason": "outside_scope", "detail": "store"}` (the reason's form,
/// see [`DenyReason`]). It does not deserialize: an `Allow` comes only from the engine.
///
/// ```
/// use shopguard::{Decision, DenyReason, Dimension};
///
/// let denied = Decision::Deny(DenyReason::OutsideScope(Dimension::Store));
/// assert_eq!(
///     serde_json::to_string(&denied)?,
///     r#"{"decision":"deny","reason":"outside_scope","detail":"store"}"#,
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Allowed by the grant named.
    Allow(Allowed),
    /// Denied for the reason named.
    Deny(DenyReason),
}

impl Decision {
    /// Whether this is [`Decision::Allow`].
    #[inline]
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The reason, when denied.
    pub fn deny_reason(&self) -> Option<DenyReason> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(r) => Some(*r),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow(a) => write!(f, "allow: {a}"),
            Decision::Deny(r) => write!(f, "deny: {r}"),
        }
    }
}

/// Which grant allowed a check. Serializes as `{"grant": 0, "role": 3}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Allowed {
    pub(crate) grant: usize,
    pub(crate) role: RoleId,
}

#[cfg(feature = "testing")]
#[doc(hidden)]
impl Allowed {
    /// Names the grant at `grant` in the user's grants, of role `role` (for comparing decisions).
    pub fn new(grant: usize, role: RoleId) -> Self {
        Allowed { grant, role }
    }
}

impl Allowed {
    /// The position of the grant in the user's [`grants`](crate::User::grants).
    pub fn grant(&self) -> usize {
        self.grant
    }

    /// The grant's role: what an admin screen names as the reason of an allowed check.
    pub fn role(&self) -> RoleId {
        self.role
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "grant {} (`{}`)", self.grant, self.role)
    }
}

/// Why a check was denied.
///
/// Its serde form names the reason in `snake_case`, with the id or dimension it carries as
/// `detail`: `{"reason": "no_sources"}`, `{"reason": "unknown_store", "detail": 10}`,
/// `{"reason": "needs_all", "detail": "source"}`.
///
/// ```
/// use shopguard::{DenyReason, StoreId};
///
/// let json = serde_json::to_string(&DenyReason::UnknownStore(StoreId::new(10)))?;
/// assert_eq!(json, r#"{"reason":"unknown_store","detail":10}"#);
/// assert_eq!(serde_json::from_str::<DenyReason>(&json)?, DenyReason::UnknownStore(StoreId::new(10)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// The user does not exist (R1).
    UnknownUser,
    /// The resource belongs to another account than the user.
    WrongAccount,
    /// The user is disabled (R1).
    UserDisabled,
    /// The check asked for no permission at all.
    NoPermissionAsked,
    /// The resource names a store that is not in the account (R1).
    UnknownStore(StoreId),
    /// The resource names a source that is not in the account (R1).
    UnknownSource(SourceId),
    /// The resource names a sales channel that is not in the account (R1).
    UnknownChannel(ChannelId),
    /// The resource names a role that is not in the account (R1).
    UnknownRole(RoleId),
    /// The resource names a user that is not in the account (R1).
    UnknownTargetUser(UserId),
    /// The user has source access `None` and the resource is source-scoped (R4). Hosts show
    /// an error page here rather than an empty list.
    NoSources,
    /// Only the account owner holds this permission (R11).
    OwnerOnly,
    /// No grant's role holds the permission (R2).
    PermissionMissing,
    /// A grant holds the permission, but the resource lies outside its scope on this dimension
    /// (R2, R3).
    OutsideScope(Dimension),
    /// The resource is a role, or a user holding a role, at a level the grant's role does not see
    /// (R6).
    AboveLevel,
    /// The resource is not placed on this dimension (an order pending sourcing, the account as a
    /// whole), and only `All` access reaches it (R5).
    NeedsAll(Dimension),
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::UnknownUser => f.write_str("unknown user"),
            DenyReason::WrongAccount => f.write_str("resource belongs to another account"),
            DenyReason::UserDisabled => f.write_str("user is disabled"),
            DenyReason::NoPermissionAsked => f.write_str("no permission asked"),
            DenyReason::UnknownStore(id) => write!(f, "unknown store `{id}`"),
            DenyReason::UnknownSource(id) => write!(f, "unknown source `{id}`"),
            DenyReason::UnknownChannel(id) => write!(f, "unknown sales channel `{id}`"),
            DenyReason::UnknownRole(id) => write!(f, "unknown role `{id}`"),
            DenyReason::UnknownTargetUser(id) => write!(f, "unknown user `{id}`"),
            DenyReason::NoSources => f.write_str("user has no sources assigned"),
            DenyReason::OwnerOnly => f.write_str("only the account owner may do this"),
            DenyReason::PermissionMissing => {
                f.write_str("no role of the user holds the permission")
            }
            DenyReason::OutsideScope(d) => write!(f, "outside the user's {d} scope"),
            DenyReason::NeedsAll(d) => write!(f, "needs access to all {d}s"),
            DenyReason::AboveLevel => f.write_str("the role is above the user's level"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by mutation testing: the reason and the allowing grant's text were only ever
    /// read through other code that did not look at them.
    #[test]
    fn a_decision_gives_its_reason_and_prints_its_grant() {
        let role = RoleId::new(3);
        let allow = Decision::Allow(Allowed { grant: 1, role });
        let deny = Decision::Deny(DenyReason::UserDisabled);
        assert_eq!(allow.deny_reason(), None);
        assert_eq!(deny.deny_reason(), Some(DenyReason::UserDisabled));
        assert_eq!(allow.to_string(), format!("allow: grant 1 (`{role}`)"));
        assert_eq!(
            deny.to_string(),
            format!("deny: {}", DenyReason::UserDisabled)
        );
    }
}
