//! `explain`: every grant considered, and what each said.

use core::fmt;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::engine::decision::{Decision, DenyReason};
use crate::model::ids::RoleId;
use crate::model::permission::Catalog;

/// Why a check came out as it did, for an admin screen ("why can't Maria refund here?").
///
/// Its [`decision`](Self::decision) always equals [`Engine::check`](crate::Engine::check) for the
/// same question.
///
/// It serializes as `{"decision": …, "grants": [{"grant": 0, "role": 3, "role_name":
/// "Cashier", "verdict": …}]}`, the decision as [`Decision`]'s form and each verdict as
/// [`Verdict`]'s, permissions by their catalog names.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(bound(serialize = "P: Catalog"))]
pub struct Explanation<P> {
    pub(crate) decision: Decision,
    pub(crate) grants: Vec<GrantExplanation<P>>,
}

impl<P: Copy> Explanation<P> {
    /// The decision, as [`Engine::check`](crate::Engine::check) gives it.
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// Every grant of the user, in order, with what it said. Empty when the check was decided
    /// before any grant was looked at (unknown or disabled user, another account, an unknown
    /// store, no sources, …): [`decision`](Self::decision) then names the reason.
    pub fn grants(&self) -> &[GrantExplanation<P>] {
        &self.grants
    }
}

/// One line per grant, naming its role (its id only if the role does not exist) and the
/// permissions it lacks by their catalog names:
///
/// ```text
/// deny: outside the user's store scope
///   grant 0 (`Cashier`): role lacks `REFUND`
///   grant 1 (`Manager`): outside the user's store scope
/// ```
impl<P: Catalog> fmt::Display for Explanation<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.decision)?;
        for g in &self.grants {
            write!(f, "\n  grant {} (`", g.grant)?;
            match &g.role_name {
                Some(name) => f.write_str(name)?,
                None => write!(f, "{}", g.role)?,
            }
            write!(f, "`): {}", g.verdict)?;
        }
        Ok(())
    }
}

/// What one grant said.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(bound(serialize = "P: Catalog"))]
pub struct GrantExplanation<P> {
    pub(crate) grant: usize,
    pub(crate) role: RoleId,
    pub(crate) role_name: Option<String>,
    pub(crate) verdict: Verdict<P>,
}

impl<P: Copy> GrantExplanation<P> {
    /// The grant's position in the user's grants.
    pub fn grant(&self) -> usize {
        self.grant
    }

    /// The grant's role.
    pub fn role(&self) -> RoleId {
        self.role
    }

    /// The role's display name, if the role exists.
    pub fn role_name(&self) -> Option<&str> {
        self.role_name.as_deref()
    }

    /// What the grant said.
    pub fn verdict(&self) -> Verdict<P> {
        self.verdict
    }
}

/// What one grant said about a check.
///
/// It serializes as `{"verdict": "allows"}`, `{"verdict": "role_missing"}`,
/// `{"verdict": "permission_missing", "permissions": ["REFUND"]}` (catalog names) or
/// `{"verdict": "denies", "denial": {"reason": "outside_scope", "detail": "store"}}`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Verdict<P> {
    /// This grant allows it.
    Allows,
    /// The grant's role does not exist (cannot happen in a validated engine; denies).
    RoleMissing,
    /// The role lacks these of the asked permissions (withheld ones included, R13).
    PermissionMissing(P),
    /// The role holds the permission, but this grant denies for the reason given: the
    /// resource lies outside its scope ([`DenyReason::OutsideScope`], or
    /// [`DenyReason::NeedsAll`], naming the dimension) or above its level
    /// ([`DenyReason::AboveLevel`]).
    Denies(DenyReason),
}

impl<P: Catalog> fmt::Display for Verdict<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allows => f.write_str("allows"),
            Verdict::RoleMissing => f.write_str("role does not exist"),
            Verdict::PermissionMissing(p) => {
                f.write_str("role lacks ")?;
                match p.names() {
                    Ok(names) => {
                        for (n, name) in names.iter().enumerate() {
                            let sep = if n == 0 { "" } else { ", " };
                            write!(f, "{sep}`{name}`")?;
                        }
                        Ok(())
                    }
                    // A bit the catalog does not name (never from the engine): the mask.
                    Err(_) => write!(f, "{p:?}"),
                }
            }
            Verdict::Denies(r) => write!(f, "{r}"),
        }
    }
}

impl<P: Catalog> Serialize for Verdict<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Verdict::Allows => tag_only(s, "allows"),
            Verdict::RoleMissing => tag_only(s, "role_missing"),
            Verdict::PermissionMissing(p) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("verdict", "permission_missing")?;
                m.serialize_entry("permissions", &Names(*p))?;
                m.end()
            }
            Verdict::Denies(r) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("verdict", "denies")?;
                m.serialize_entry("denial", r)?;
                m.end()
            }
        }
    }
}

fn tag_only<S: Serializer>(s: S, verdict: &'static str) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_struct("Verdict", 1)?;
    m.serialize_field("verdict", verdict)?;
    m.end()
}

/// Permissions serialized by their catalog names.
struct Names<P>(P);

impl<P: Catalog> Serialize for Names<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::model::permission::permission_names::serialize(&self.0, s)
    }
}
