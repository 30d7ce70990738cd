//! A map split into shared parts: versions of the index share every part a write leaves
//! alone, so a write copies the parts of the keys it changes, not the whole map.

use core::hash::{BuildHasher, Hash};
use std::collections::HashMap;
use std::sync::Arc;

use crate::model::ids::IdHash;

const PART_BITS: u32 = 6;
const PARTS: usize = 1 << PART_BITS;

/// An id-keyed map in [`PARTS`] parts, each behind an [`Arc`].
#[derive(Debug)]
pub(crate) struct Parted<K, V> {
    parts: Vec<Arc<HashMap<K, V, IdHash>>>,
}

impl<K, V> Clone for Parted<K, V> {
    fn clone(&self) -> Self {
        Parted {
            parts: self.parts.clone(),
        }
    }
}

impl<K, V> Default for Parted<K, V> {
    fn default() -> Self {
        Parted {
            parts: (0..PARTS)
                .map(|_| Arc::new(HashMap::with_hasher(IdHash)))
                .collect(),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone + Default> Parted<K, V> {
    /// The part of a key: middle bits of its hash, which the parts' own tables do not use
    /// for buckets (low bits) or tags (top bits).
    fn part(key: &K) -> usize {
        (IdHash.hash_one(key) >> 32) as usize & (PARTS - 1)
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.parts.get(Self::part(key))?.get(key)
    }

    /// The value of an existing key, its part copied first if another version shares it.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let part = self.parts.get_mut(Self::part(key))?;
        if !part.contains_key(key) {
            return None;
        }
        Arc::make_mut(part).get_mut(key)
    }

    /// The value of a key, inserted empty if absent; `None` only if the parts are missing,
    /// which [`Default`] never makes.
    pub(crate) fn entry(&mut self, key: K) -> Option<&mut V> {
        let part = self.parts.get_mut(Self::part(&key))?;
        Some(Arc::make_mut(part).entry(key).or_default())
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let part = self.parts.get_mut(Self::part(key))?;
        if !part.contains_key(key) {
            return None;
        }
        Arc::make_mut(part).remove(key)
    }

    /// The values of the parts no other version shares, and whether each part is shared.
    pub(crate) fn unshared_values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.parts
            .iter_mut()
            .filter_map(Arc::get_mut)
            .flat_map(|part| part.values_mut())
    }

    /// Drops the entries `keep` refuses, in the parts no other version shares, and releases
    /// their spare capacity.
    pub(crate) fn retain_unshared(&mut self, mut keep: impl FnMut(&V) -> bool) {
        for part in self.parts.iter_mut().filter_map(Arc::get_mut) {
            part.retain(|_, v| keep(v));
            part.shrink_to_fit();
        }
    }
}
