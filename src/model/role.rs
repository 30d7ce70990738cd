//! Roles: a named permission set with a hierarchy level and an optional scope ceiling.

use crate::model::text::same_folded;
use core::fmt;
use core::num::NonZeroU8;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::access::Access;
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId};

/// A hierarchy level: 1 is the top; a larger number is a lower level (seed 003).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Level(NonZeroU8);

impl Level {
    /// Level 1, the top (administrators).
    pub const TOP: Level = Level(NonZeroU8::MIN);

    /// A level from its number.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for 0: levels start at 1.
    pub fn new(n: u8) -> Result<Self, Error> {
        NonZeroU8::new(n)
            .map(Level)
            .ok_or_else(|| Error::invalid("level", n, "levels start at 1"))
    }

    /// The level `steps` below the top: `below_top(0)` is level 1, `below_top(2)` level 3.
    pub const fn below_top(steps: u8) -> Self {
        Level(NonZeroU8::MIN.saturating_add(steps))
    }

    /// The level's number.
    pub fn get(self) -> u8 {
        self.0.get()
    }

    /// Whether a holder of this level sees a role at `other` (R6): level 1 sees every level,
    /// level 1 included; any other level sees only the levels below it.
    ///
    /// ```
    /// use shopguard::Level;
    /// let (one, two, three) = (Level::TOP, Level::below_top(1), Level::below_top(2));
    /// assert!(one.sees(one) && one.sees(three));
    /// assert!(two.sees(three) && !two.sees(two) && !two.sees(one));
    /// ```
    pub fn sees(self, other: Level) -> bool {
        self.is_top() || other > self
    }

    /// Whether this is level 1.
    pub fn is_top(self) -> bool {
        self == Self::TOP
    }
}

impl TryFrom<u8> for Level {
    type Error = Error;
    fn try_from(n: u8) -> Result<Self, Error> {
        Level::new(n)
    }
}

impl From<Level> for u8 {
    fn from(l: Level) -> u8 {
        l.get()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {}", self.0)
    }
}

/// Access on each of the three scope dimensions.
///
/// On a [`Role`] it is a ceiling: a user of the role never reaches further than this, whatever the
/// user's own access says. The effective scope of a grant is the ceiling ∩ the user's access.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Scope {
    /// Stores (outlets).
    pub stores: Access<StoreId>,
    /// Sources stock ships from.
    pub sources: Access<SourceId>,
    /// Sales channels.
    pub channels: Access<ChannelId>,
}

impl Scope {
    /// `All` on every dimension: no ceiling.
    pub fn all() -> Self {
        Scope {
            stores: Access::All,
            sources: Access::All,
            channels: Access::All,
        }
    }
}

impl Scope {
    /// Nothing on every dimension.
    pub fn nothing() -> Self {
        Scope {
            stores: Access::None,
            sources: Access::None,
            channels: Access::None,
        }
    }

    /// The effective scope of a grant: the role's ceiling ∩ the grant's stores, and the
    /// ceiling ∩ the user's sources and channels. A check allows a resource only inside it.
    pub fn effective(
        ceiling: &Scope,
        stores: &Access<StoreId>,
        sources: &Access<SourceId>,
        channels: &Access<ChannelId>,
    ) -> Self {
        Scope {
            stores: ceiling.stores.intersect(stores),
            sources: ceiling.sources.intersect(sources),
            channels: ceiling.channels.intersect(channels),
        }
    }

    /// Whether every dimension lies within `other`'s.
    pub fn is_within(&self, other: &Scope) -> bool {
        self.stores.is_within(&other.stores)
            && self.sources.is_within(&other.sources)
            && self.channels.is_within(&other.channels)
    }

    /// Both scopes together, dimension by dimension.
    pub fn union(&self, other: &Scope) -> Scope {
        Scope {
            stores: self.stores.union(&other.stores),
            sources: self.sources.union(&other.sources),
            channels: self.channels.union(&other.channels),
        }
    }

    /// Whether every dimension covers nothing.
    pub fn is_nothing(&self) -> bool {
        self.stores.is_nothing() && self.sources.is_nothing() && self.channels.is_nothing()
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope::all()
    }
}

/// A role: a named set of permissions at a hierarchy level, with an optional scope ceiling.
///
/// ```
/// use shopguard::catalog::pos::Pos;
/// use shopguard::{Access, AccountId, Level, Role, RoleId, StoreId};
///
/// let cashier = Role::new(RoleId::new(3), AccountId::new(1), "Cashier", Level::new(3)?, Pos::SELL)
///     .with_store_ceiling(Access::specific([StoreId::new(10)]));
/// assert_eq!(cashier.name(), "Cashier");
/// assert!(cashier.level() > Level::TOP);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
pub struct Role<P> {
    id: RoleId,
    account: AccountId,
    name: String,
    former_names: Vec<String>,
    level: Level,
    permissions: P,
    ceiling: Scope,
}

impl<P: Copy> Role<P> {
    /// A role with no ceiling (`All` on every dimension) and no former names.
    pub fn new(
        id: RoleId,
        account: AccountId,
        name: impl Into<String>,
        level: Level,
        permissions: P,
    ) -> Self {
        Role {
            id,
            account,
            name: name.into(),
            former_names: Vec::new(),
            level,
            permissions,
            ceiling: Scope::all(),
        }
    }

    /// Adds a former name that still resolves to this role (R14).
    #[must_use]
    pub fn with_former_name(mut self, name: impl Into<String>) -> Self {
        self.former_names.push(name.into());
        self
    }

    /// Sets the store ceiling.
    #[must_use]
    pub fn with_store_ceiling(mut self, stores: Access<StoreId>) -> Self {
        self.ceiling.stores = stores;
        self
    }

    /// Sets the source ceiling.
    #[must_use]
    pub fn with_source_ceiling(mut self, sources: Access<SourceId>) -> Self {
        self.ceiling.sources = sources;
        self
    }

    /// Sets the sales-channel ceiling.
    #[must_use]
    pub fn with_channel_ceiling(mut self, channels: Access<ChannelId>) -> Self {
        self.ceiling.channels = channels;
        self
    }

    /// Replaces the permissions.
    #[must_use]
    pub fn with_permissions(mut self, permissions: P) -> Self {
        self.permissions = permissions;
        self
    }

    /// Renames the role, keeping the old name as a former name (R14).
    #[must_use]
    pub fn renamed(mut self, name: impl Into<String>) -> Self {
        let old = core::mem::replace(&mut self.name, name.into());
        if old != self.name && !self.former_names.contains(&old) {
            self.former_names.push(old);
        }
        self
    }

    /// The role's id.
    pub fn id(&self) -> RoleId {
        self.id
    }

    /// The account the role belongs to.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Names the role had before, which still resolve to it.
    pub fn former_names(&self) -> &[String] {
        &self.former_names
    }

    /// Whether `name` is this role's name or one of its former names, case ignored (Unicode
    /// lowercase, the rule role names are unique by).
    pub fn answers_to(&self, name: &str) -> bool {
        same_folded(&self.name, name) || self.former_names.iter().any(|n| same_folded(n, name))
    }

    /// The hierarchy level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The permissions.
    pub fn permissions(&self) -> P {
        self.permissions
    }

    /// The scope ceiling.
    pub fn ceiling(&self) -> &Scope {
        &self.ceiling
    }
}
