//! Access to one scope dimension: `None`, `All` or a `Specific` set.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A sorted set of ids without duplicates.
///
/// Kept as one boxed slice (16 bytes inline) because a loaded engine holds one per user grant and
/// membership is a binary search over a handful of ids.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct IdSet<T>(Box<[T]>);

impl<T: Ord + Copy> IdSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self(Box::new([]))
    }

    /// Whether `id` is in the set.
    #[inline]
    pub fn contains(&self, id: T) -> bool {
        // Linear search wins for the one to five stores a typical grant has.
        if self.0.len() <= 8 {
            self.0.contains(&id)
        } else {
            self.0.binary_search(&id).is_ok()
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set has no ids.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ids in ascending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + '_ {
        self.0.iter().copied()
    }

    /// The ids in ascending order, as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// Whether every id of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.0.iter().all(|&x| other.0.binary_search(&x).is_ok())
    }

    /// The ids in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        self.0
            .iter()
            .copied()
            .filter(|&x| other.0.binary_search(&x).is_ok())
            .collect()
    }
}

impl<T: Ord + Copy> Default for IdSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Ord + Copy> FromIterator<T> for IdSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v: Vec<T> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        Self(v.into_boxed_slice())
    }
}

impl<T: Ord + Copy, const N: usize> From<[T; N]> for IdSet<T> {
    fn from(ids: [T; N]) -> Self {
        ids.into_iter().collect()
    }
}

impl<T: fmt::Debug> fmt::Debug for IdSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl<'de, T: Ord + Copy + Deserialize<'de>> Deserialize<'de> for IdSet<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // INVARIANT: sorted and deduplicated whatever the stored order was.
        Ok(Vec::<T>::deserialize(d)?.into_iter().collect())
    }
}

/// Access to one scope dimension (stores, sources or sales channels).
///
/// `All` covers ids created after the access was given; `Specific` covers exactly its set (R3).
///
/// ```
/// use shopguard::{Access, StoreId};
///
/// let (a, b) = (StoreId::new(1), StoreId::new(2));
/// let some = Access::specific([a]);
/// assert!(some.contains(a) && !some.contains(b));
/// assert!(Access::<StoreId>::All.contains(b));
/// assert!(!Access::<StoreId>::None.contains(a));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize",
    deserialize = "T: Ord + Copy + Deserialize<'de>"
))]
pub enum Access<T> {
    /// Nothing on this dimension.
    #[default]
    None,
    /// Everything on this dimension, including ids created later.
    All,
    /// Exactly these ids.
    Specific(IdSet<T>),
}

impl<T: Ord + Copy> Access<T> {
    /// `Specific` access to the given ids.
    pub fn specific<I: IntoIterator<Item = T>>(ids: I) -> Self {
        Access::Specific(ids.into_iter().collect())
    }

    /// Whether `id` is covered. `All` covers every id; whether the id exists is the engine's
    /// business, not this type's.
    #[inline]
    pub fn contains(&self, id: T) -> bool {
        match self {
            Access::None => false,
            Access::All => true,
            Access::Specific(set) => set.contains(id),
        }
    }

    /// Whether this is `All`.
    #[inline]
    pub fn is_all(&self) -> bool {
        matches!(self, Access::All)
    }

    /// Whether nothing at all is covered (`None`, or an empty `Specific` set).
    pub fn is_nothing(&self) -> bool {
        match self {
            Access::None => true,
            Access::All => false,
            Access::Specific(set) => set.is_empty(),
        }
    }

    /// The access covered by both `self` and `other` (a role ceiling narrowing a user's access).
    pub fn intersect(&self, other: &Self) -> Self {
        match (self, other) {
            (Access::None, _) | (_, Access::None) => Access::None,
            (Access::All, x) | (x, Access::All) => x.clone(),
            (Access::Specific(a), Access::Specific(b)) => Access::Specific(a.intersection(b)),
        }
    }

    /// The access covered by either `self` or `other` (what several grants reach together).
    pub fn union(&self, other: &Self) -> Self {
        match (self, other) {
            (Access::All, _) | (_, Access::All) => Access::All,
            (Access::None, x) | (x, Access::None) => x.clone(),
            (Access::Specific(a), Access::Specific(b)) => {
                Access::specific(a.iter().chain(b.iter()))
            }
        }
    }

    /// Whether everything `self` covers is also covered by `other`.
    pub fn is_within(&self, other: &Self) -> bool {
        match (self, other) {
            (_, Access::All) => true,
            (Access::All, _) => false,
            (x, Access::None) => x.is_nothing(),
            (Access::None, _) => true,
            (Access::Specific(a), Access::Specific(b)) => a.is_subset(b),
        }
    }
}
