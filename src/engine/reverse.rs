//! Reverse queries (R21): where may a user do something, and who may do it here.

use serde::Serialize;
use smallvec::SmallVec;

use crate::model::access::{Access, IdSet};
use crate::model::ids::{AccountId, ChannelId, SourceId, StoreId};

/// Which ids of one dimension a user reaches. Serializes as `"nothing"`, `"everything"` or
/// `{"only": [10, 11]}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter<T> {
    /// None at all.
    Nothing,
    /// Every id, including ones created later and rows not yet placed (an order pending
    /// sourcing): no filter.
    Everything,
    /// Exactly these ids (never empty).
    Only(IdSet<T>),
}

impl<T: Ord + Copy> Filter<T> {
    /// Whether `id` is reached.
    pub fn contains(&self, id: T) -> bool {
        match self {
            Filter::Nothing => false,
            Filter::Everything => true,
            Filter::Only(set) => set.contains(id),
        }
    }

    pub(crate) fn from_access(a: Access<T>) -> Self {
        match a {
            Access::All => Filter::Everything,
            Access::Specific(set) if !set.is_empty() => Filter::Only(set),
            Access::None | Access::Specific(_) => Filter::Nothing,
        }
    }
}

/// One way a user reaches rows: a grant's effective scope on each dimension. A row is reached
/// by the clause if it passes the filter of every dimension the row has.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Clause {
    /// Stores.
    pub stores: Filter<StoreId>,
    /// Sources.
    pub sources: Filter<SourceId>,
    /// Sales channels.
    pub channels: Filter<ChannelId>,
}

/// Where a user may use a permission: the answer to "which stores / sources / channels may U do
/// P in?" (R21), ready for a SQL `WHERE`.
///
/// A row is allowed iff **some** clause reaches it. Most users hold one grant, so one clause.
/// For a row of one dimension (a store, a source, a channel) this agrees with
/// [`Engine::can`](crate::Engine::can) on every id.
///
/// It serializes as `{"account": 1, "clauses": [{"stores": {"only": [10]}, "sources":
/// "everything", "channels": "everything"}], "no_sources": false}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ScopeFor {
    /// The user's account; `None` for an unknown user.
    pub(crate) account: Option<AccountId>,
    pub(crate) clauses: SmallVec<[Clause; 1]>,
    pub(crate) no_sources: bool,
    /// R5 as the account applies it: a row pending sourcing (no source) that names a sales
    /// channel needs all channels too. Read by the SQL filter.
    #[serde(skip)]
    pub(crate) pending_needs_all_channels: bool,
}

impl ScopeFor {
    /// The user's account, whose rows alone the clauses reach; `None` for an unknown user.
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }

    /// The clauses; empty means nothing at all.
    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }

    /// Whether the user reaches nothing at all.
    pub fn is_nothing(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Whether the user is enabled and has source access `None` (R4): source-scoped pages
    /// should show an error rather than an empty list.
    pub fn no_sources(&self) -> bool {
        self.no_sources
    }

    /// Whether a row at this store (with no other dimension) is reached.
    pub fn allows_store(&self, id: StoreId) -> bool {
        self.clauses.iter().any(|c| c.stores.contains(id))
    }

    /// Whether a row at this source (with no other dimension) is reached.
    pub fn allows_source(&self, id: SourceId) -> bool {
        self.clauses.iter().any(|c| c.sources.contains(id))
    }

    /// Whether a row on this channel (with no other dimension) is reached.
    pub fn allows_channel(&self, id: ChannelId) -> bool {
        self.clauses.iter().any(|c| c.channels.contains(id))
    }

    /// The stores reached by rows that have only a store: the union over clauses.
    pub fn stores(&self) -> Filter<StoreId> {
        union(self.clauses.iter().map(|c| &c.stores))
    }

    /// The sources reached by rows that have only a source.
    pub fn sources(&self) -> Filter<SourceId> {
        union(self.clauses.iter().map(|c| &c.sources))
    }

    /// The channels reached by rows that have only a channel.
    pub fn channels(&self) -> Filter<ChannelId> {
        union(self.clauses.iter().map(|c| &c.channels))
    }
}

fn union<'a, T: Ord + Copy + 'a>(filters: impl Iterator<Item = &'a Filter<T>>) -> Filter<T> {
    let mut ids: Vec<T> = Vec::new();
    for f in filters {
        match f {
            Filter::Everything => return Filter::Everything,
            Filter::Nothing => {}
            Filter::Only(set) => ids.extend(set.iter()),
        }
    }
    if ids.is_empty() {
        Filter::Nothing
    } else {
        Filter::Only(ids.into_iter().collect())
    }
}
