//! Chunks in shared groups: the user records' two-level table. Cloning it for a write copies
//! a pointer per group of [`GROUP`] chunks, and a write copies the group and the chunk it
//! changes: a million users in chunks of 512 are about 30 groups, so a new index version
//! costs a few dozen reference counts, not thousands.

use std::sync::Arc;

const GROUP_BITS: u32 = 6;
/// Chunks per group.
pub(crate) const GROUP: usize = 1 << GROUP_BITS;
const IN_GROUP: usize = GROUP - 1;

/// A sequence of chunks, numbered from 0, in shared groups.
#[derive(Debug)]
pub(crate) struct Tree<C> {
    groups: Vec<Arc<Vec<Arc<C>>>>,
    /// How many chunks there are.
    len: usize,
}

impl<C> Clone for Tree<C> {
    fn clone(&self) -> Self {
        Tree {
            groups: self.groups.clone(),
            len: self.len,
        }
    }
}

impl<C> Default for Tree<C> {
    fn default() -> Self {
        Tree {
            groups: Vec::new(),
            len: 0,
        }
    }
}

impl<C: Clone> Tree<C> {
    /// How many chunks there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Chunk `c`.
    #[inline(always)]
    pub(crate) fn get(&self, c: usize) -> Option<&C> {
        self.groups
            .get(c >> GROUP_BITS)?
            .get(c & IN_GROUP)
            .map(|chunk| &**chunk)
    }

    /// Chunk `c`, with its group and itself copied first if another version shares them.
    pub(crate) fn get_mut(&mut self, c: usize) -> Option<&mut C> {
        let group = Arc::make_mut(self.groups.get_mut(c >> GROUP_BITS)?);
        Some(Arc::make_mut(group.get_mut(c & IN_GROUP)?))
    }

    /// The last chunk, copied first if shared.
    pub(crate) fn last_mut(&mut self) -> Option<&mut C> {
        let c = self.len.checked_sub(1)?;
        self.get_mut(c)
    }

    /// Appends a chunk.
    pub(crate) fn push(&mut self, chunk: C) {
        if self.len & IN_GROUP == 0 {
            self.groups.push(Arc::new(Vec::with_capacity(GROUP)));
        }
        if let Some(group) = self.groups.last_mut() {
            Arc::make_mut(group).push(Arc::new(chunk));
            self.len += 1;
        }
    }

    /// Removes the last chunk.
    pub(crate) fn pop(&mut self) {
        let Some(group) = self.groups.last_mut() else {
            return;
        };
        let group = Arc::make_mut(group);
        if group.pop().is_some() {
            self.len -= 1;
        }
        if group.is_empty() {
            self.groups.pop();
        }
    }

    /// Room for `additional` more chunks.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.groups.reserve(additional / GROUP + 1);
    }

    /// Every chunk, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &C> {
        self.groups
            .iter()
            .flat_map(|group| group.iter().map(|chunk| &**chunk))
    }

    /// The chunks no other version shares (nor their group), for releasing spare capacity.
    pub(crate) fn unshared_mut(&mut self) -> impl Iterator<Item = &mut C> {
        self.groups.shrink_to_fit();
        self.groups
            .iter_mut()
            .filter_map(Arc::get_mut)
            .flat_map(|group| group.iter_mut().filter_map(Arc::get_mut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes and pops across group boundaries; a clone keeps its chunks when the original
    /// changes one.
    #[test]
    fn a_tree_numbers_its_chunks_and_shares_them() {
        let mut t: Tree<Vec<u32>> = Tree::default();
        for c in 0..(GROUP * 2 + 3) {
            t.push(vec![c as u32]);
        }
        assert_eq!(t.len(), GROUP * 2 + 3);
        let before = t.clone();
        if let Some(chunk) = t.get_mut(GROUP + 1) {
            chunk.push(99);
        }
        assert_eq!(t.get(GROUP + 1), Some(&vec![(GROUP + 1) as u32, 99]));
        assert_eq!(before.get(GROUP + 1), Some(&vec![(GROUP + 1) as u32]));
        for _ in 0..4 {
            t.pop();
        }
        assert_eq!(t.len(), GROUP * 2 - 1);
        assert_eq!(t.iter().count(), GROUP * 2 - 1);
        assert_eq!(t.last_mut().map(|c| c[0]), Some((GROUP * 2 - 2) as u32));
        assert!(t.get(GROUP * 2 - 1).is_none());
        assert_eq!(before.iter().count(), GROUP * 2 + 3);
    }
}
