//! Access to one scope dimension: `None`, `All` or a `Specific` set.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A sorted set of ids without duplicates.
///
/// A loaded engine holds one per user grant, so it is small: up to two ids are kept inline and
/// more in one boxed slice, in 24 bytes, and an [`Access`] around it stays 24 bytes too. Most
/// grants name one or two stores, and then the full check reads no memory for them outside the
/// user's record.
#[derive(Clone)]
pub struct IdSet<T>(Repr<T>);

// INVARIANT: `One` holds exactly one id, `Two` exactly two in ascending order, `Many` zero or
// three and more, sorted and deduplicated; so equal sets have equal representations.
#[derive(Clone)]
enum Repr<T> {
    One(T),
    Two([T; 2]),
    Many(Box<[T]>),
}

impl<T: Ord + Copy> IdSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self(Repr::Many(Box::new([])))
    }

    /// Whether `id` is in the set.
    #[inline]
    pub fn contains(&self, id: T) -> bool {
        match &self.0 {
            Repr::One(x) => *x == id,
            Repr::Two([a, b]) => *a == id || *b == id,
            Repr::Many(v) => contains_sorted(v, id),
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the set has no ids.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The ids in ascending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + '_ {
        self.as_slice().iter().copied()
    }

    /// The ids in ascending order, as a slice.
    pub fn as_slice(&self) -> &[T] {
        self.slice()
    }

    /// Whether every id of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.iter().all(|x| other.contains(x))
    }

    /// The ids in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        self.iter().filter(|&x| other.contains(x)).collect()
    }
}

/// Whether the ascending slice `ids` holds `id`.
#[inline]
pub(crate) fn contains_sorted<T: Ord>(ids: &[T], id: T) -> bool {
    // Linear search wins for the handful of stores a typical grant has.
    if ids.len() <= 8 {
        ids.contains(&id)
    } else {
        ids.binary_search(&id).is_ok()
    }
}

impl<T> IdSet<T> {
    fn slice(&self) -> &[T] {
        match &self.0 {
            Repr::One(x) => core::slice::from_ref(x),
            Repr::Two(xs) => xs,
            Repr::Many(v) => v,
        }
    }
}

impl<T: PartialEq> PartialEq for IdSet<T> {
    fn eq(&self, other: &Self) -> bool {
        self.slice() == other.slice()
    }
}

impl<T: Eq> Eq for IdSet<T> {}

impl<T: core::hash::Hash> core::hash::Hash for IdSet<T> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.slice().hash(state);
    }
}

impl<T: Serialize> Serialize for IdSet<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slice().serialize(s)
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
        Self(match *v.as_slice() {
            [x] => Repr::One(x),
            [a, b] => Repr::Two([a, b]),
            _ => Repr::Many(v.into_boxed_slice()),
        })
    }
}

impl<T: Ord + Copy, const N: usize> From<[T; N]> for IdSet<T> {
    fn from(ids: [T; N]) -> Self {
        ids.into_iter().collect()
    }
}

impl<T: fmt::Debug> fmt::Debug for IdSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.slice()).finish()
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

    /// Whether what both `self` and `other` cover lies inside `bound`, without building the
    /// intersection (the check path does not allocate).
    pub(crate) fn meet_is_within(&self, other: &Self, bound: &Self) -> bool {
        match (self, other) {
            (Access::None, _) | (_, Access::None) => true,
            (Access::All, Access::All) => bound.is_all(),
            (Access::All, Access::Specific(s)) | (Access::Specific(s), Access::All) => {
                s.iter().all(|x| bound.contains(x))
            }
            (Access::Specific(a), Access::Specific(b)) => a
                .iter()
                .filter(|&x| b.contains(x))
                .all(|x| bound.contains(x)),
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
