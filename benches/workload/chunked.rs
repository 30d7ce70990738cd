//! The compact floor cut as the engine's tables are cut for writes in O(change): an extra row
//! of `benches/check.rs`, which measures what the cut costs on plain data. It is not what the
//! engine is compared with (that is the compact floor).

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::workload::{ALL_STORES, CompactFloor, FloorRecord, IdBuild};

/// Records per chunk, as in the engine's user table (`CHUNK_BITS` in `src/engine/users.rs`).
const CHUNK_BITS: u32 = 9;
const IN_CHUNK: usize = (1 << CHUNK_BITS) - 1;
/// Parts of the id table, as in the engine's (`ID_PART_BITS`).
const ID_PARTS: usize = 256;

/// The [`CompactFloor`]'s data in the engine's shape: 16-byte records in shared chunks of
/// 512, each chunk with its own runs of stores; the id map in 256 shared parts picked by
/// middle bits of the id's hash, each part a table of (id, number) slots. A write would copy
/// one chunk and one part, as the engine's does. The check is the compact floor's.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedFloor {
    account: u64,
    chunks: Vec<Arc<Chunk>>,
    account_stores: HashSet<u64, IdBuild>,
    ids: Vec<Arc<HashTable<(u64, u32)>>>,
}

#[derive(Debug, Clone)]
struct Chunk {
    /// A record's `start` is an offset into this chunk's `runs`.
    records: Vec<FloorRecord>,
    runs: Vec<u64>,
}

fn hash(id: u64) -> u64 {
    IdBuild::default().hash_one(id)
}

fn part(h: u64) -> usize {
    (h >> 32) as usize & (ID_PARTS - 1)
}

impl ChunkedFloor {
    /// The same users as `compact`, cut into chunks and parts.
    pub(crate) fn of(compact: &CompactFloor) -> Self {
        let chunks = compact
            .records
            .chunks(IN_CHUNK + 1)
            .map(|records| {
                let mut runs = Vec::new();
                let records = records
                    .iter()
                    .map(|r| {
                        let start = u32::try_from(runs.len()).unwrap_or(u32::MAX);
                        if r.len != ALL_STORES {
                            let from = r.start as usize;
                            runs.extend_from_slice(
                                compact.runs.get(from..from + r.len as usize).unwrap_or(&[]),
                            );
                        }
                        FloorRecord { start, ..*r }
                    })
                    .collect();
                Arc::new(Chunk { records, runs })
            })
            .collect();
        let mut ids: Vec<HashTable<(u64, u32)>> = (0..ID_PARTS).map(|_| HashTable::new()).collect();
        for (&id, &number) in &compact.ids {
            let h = hash(id);
            if let Some(t) = ids.get_mut(part(h)) {
                t.insert_unique(h, (id, number), |&(k, _)| hash(k));
            }
        }
        ChunkedFloor {
            account: compact.account,
            chunks,
            account_stores: compact.account_stores.clone(),
            ids: ids.into_iter().map(Arc::new).collect(),
        }
    }

    /// As [`CompactFloor::can`].
    #[inline]
    pub(crate) fn can(&self, user: usize, perm: u64, account: u64, store: u64) -> bool {
        let Some(chunk) = self.chunks.get(user >> CHUNK_BITS) else {
            return false;
        };
        chunk.records.get(user & IN_CHUNK).is_some_and(|r| {
            r.allows(
                perm,
                account == self.account,
                store,
                &chunk.runs,
                &self.account_stores,
            )
        })
    }

    /// As [`CompactFloor::can_by_id`]: the part, then one probe of its table.
    #[inline]
    pub(crate) fn can_by_id(&self, id: u64, perm: u64, account: u64, store: u64) -> bool {
        let h = hash(id);
        self.ids
            .get(part(h))
            .and_then(|t| t.find(h, |&(k, _)| k == id))
            .is_some_and(|&(_, u)| self.can(u as usize, perm, account, store))
    }
}
