//! Accounts (tenants) and the three scope dimensions' objects: stores, sources, channels.

use serde::{Deserialize, Serialize};

use crate::model::ids::{AccountId, ChannelId, SourceId, StoreId};

/// One merchant: a tenant of the engine.
///
/// ```
/// use shopguard::{Account, AccountId};
///
/// let acme = Account::new(AccountId::new(1), "Acme").with_seat_limit(5);
/// assert_eq!(acme.seat_limit(), Some(5));
/// assert!(!acme.entity_level_billing());
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Account {
    id: AccountId,
    name: String,
    seat_limit: Option<u32>,
    entity_level_billing: bool,
    // Absent from records stored before the setting existed, and from records with the
    // default: stored accounts read back unchanged.
    #[serde(default, skip_serializing_if = "PendingSourcing::is_default")]
    pending_sourcing: PendingSourcing,
}

/// Who may see a resource pending sourcing — an order not yet sourced, a backorder, a
/// pre-order: one [`Place::Unplaced`](crate::Place::Unplaced) on sources (R5).
///
/// Seed 003 says such orders need "access to all sales channels/sources", which is the
/// default. A host that wants the narrower rule says so for an account with
/// [`Account::with_pending_sourcing`].
///
/// ```
/// use shopguard::{Account, AccountId, PendingSourcing};
///
/// let acme = Account::new(AccountId::new(1), "Acme");
/// assert_eq!(acme.pending_sourcing(), PendingSourcing::AllSourcesAndChannels);
/// let narrow = acme.with_pending_sourcing(PendingSourcing::AllSources);
/// assert_eq!(narrow.pending_sourcing(), PendingSourcing::AllSources);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PendingSourcing {
    /// Access to all sources and to all sales channels: the seed's rule and the default. A
    /// resource pending sourcing that names a sales channel is checked as if it were unplaced
    /// on channels too ([`DenyReason::NeedsAll`](crate::DenyReason::NeedsAll) on channels);
    /// one unscoped on channels is not about channels, and stays so.
    #[default]
    AllSourcesAndChannels,
    /// Access to all sources; the resource's sales channel is checked as usual.
    AllSources,
}

impl PendingSourcing {
    fn is_default(&self) -> bool {
        *self == PendingSourcing::default()
    }
}

impl Account {
    /// An account with no seat limit, billed per store.
    pub fn new(id: AccountId, name: impl Into<String>) -> Self {
        Account {
            id,
            name: name.into(),
            seat_limit: None,
            entity_level_billing: false,
            pending_sourcing: PendingSourcing::default(),
        }
    }

    /// Caps enabled users at `limit` (the pricing plan's active users, R12).
    #[must_use]
    pub fn with_seat_limit(mut self, limit: u32) -> Self {
        self.seat_limit = Some(limit);
        self
    }

    /// Removes the cap on enabled users.
    #[must_use]
    pub fn without_seat_limit(mut self) -> Self {
        self.seat_limit = None;
        self
    }

    /// Bills and settles the account as one entity rather than per store (R13).
    #[must_use]
    pub fn with_entity_level_billing(mut self, on: bool) -> Self {
        self.entity_level_billing = on;
        self
    }

    /// Who may see a resource pending sourcing (R5); by default, only users with access to
    /// all sources and all sales channels.
    #[must_use]
    pub fn with_pending_sourcing(mut self, rule: PendingSourcing) -> Self {
        self.pending_sourcing = rule;
        self
    }

    /// The account's id.
    pub fn id(&self) -> AccountId {
        self.id
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most enabled users the plan allows, if capped.
    pub fn seat_limit(&self) -> Option<u32> {
        self.seat_limit
    }

    /// Whether billing and settlement are at entity level.
    pub fn entity_level_billing(&self) -> bool {
        self.entity_level_billing
    }

    /// Who may see a resource pending sourcing (R5).
    pub fn pending_sourcing(&self) -> PendingSourcing {
        self.pending_sourcing
    }
}

/// A store (outlet).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Store {
    id: StoreId,
    account: AccountId,
    name: String,
}

impl Store {
    /// A store of `account`.
    pub fn new(id: StoreId, account: AccountId, name: impl Into<String>) -> Self {
        Store {
            id,
            account,
            name: name.into(),
        }
    }

    /// The store's id.
    pub fn id(&self) -> StoreId {
        self.id
    }

    /// The account it belongs to.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A source stock ships from, named by an external id such as `WAREHOUSE`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Source {
    id: SourceId,
    account: AccountId,
    external_id: String,
}

impl Source {
    /// A source of `account`.
    pub fn new(id: SourceId, account: AccountId, external_id: impl Into<String>) -> Self {
        Source {
            id,
            account,
            external_id: external_id.into(),
        }
    }

    /// The source's id.
    pub fn id(&self) -> SourceId {
        self.id
    }

    /// The account it belongs to.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The external id (`WAREHOUSE`, `test-store`), unique per account.
    pub fn external_id(&self) -> &str {
        &self.external_id
    }
}

/// A sales channel (a web store, a marketplace).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Channel {
    id: ChannelId,
    account: AccountId,
    name: String,
}

impl Channel {
    /// A channel of `account`.
    pub fn new(id: ChannelId, account: AccountId, name: impl Into<String>) -> Self {
        Channel {
            id,
            account,
            name: name.into(),
        }
    }

    /// The channel's id.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The account it belongs to.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
