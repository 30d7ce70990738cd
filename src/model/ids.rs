//! Stable identifiers.
//!
//! Every id is a newtype over the host's own 64-bit key (a database primary key, say). Ids are
//! unique within one [`Engine`](crate::Engine): a store id names one store of one account, and the
//! engine uses that to make sure a check never crosses from one account into another.

use core::fmt;
use core::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

use crate::model::mutation::ObjectKind;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(u64);

        impl $name {
            /// Wraps the host's key.
            #[inline]
            pub const fn new(key: u64) -> Self {
                Self(key)
            }

            /// The host's key.
            #[inline]
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "#{}"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "#{}"), self.0)
            }
        }

        impl From<u64> for $name {
            fn from(key: u64) -> Self {
                Self(key)
            }
        }
    };
}

mod sealed {
    pub trait Sealed {}
}

/// The id of an object the engine stores — [`AccountId`], [`StoreId`], [`SourceId`],
/// [`ChannelId`], [`RoleId`], [`UserId`] — of which [`Engine::next_id`](crate::Engine::next_id)
/// allocates new ones. Sealed: implemented by these six only.
pub trait ObjectId: Copy + fmt::Debug + sealed::Sealed {
    /// The kind of object the id names.
    const KIND: ObjectKind;

    /// The id of the host's key `key`.
    fn from_key(key: u64) -> Self;
}

macro_rules! object_id {
    ($($name:ident => $kind:ident),* $(,)?) => {$(
        impl sealed::Sealed for $name {}

        impl ObjectId for $name {
            const KIND: ObjectKind = ObjectKind::$kind;

            fn from_key(key: u64) -> Self {
                Self::new(key)
            }
        }
    )*};
}

id_type!(
    /// One merchant (tenant). Everything else lives inside one account.
    AccountId,
    "account"
);
id_type!(
    /// A store (outlet).
    StoreId,
    "store"
);
id_type!(
    /// A source: a place stock ships from (a warehouse or a store).
    SourceId,
    "source"
);
id_type!(
    /// A sales channel (a web store, a marketplace).
    ChannelId,
    "channel"
);
id_type!(
    /// A role. Roles are referred to by id, so renaming one keeps every assignment (R14).
    RoleId,
    "role"
);
id_type!(
    /// A user (a member of staff).
    UserId,
    "user"
);

object_id!(
    AccountId => Account,
    StoreId => Store,
    SourceId => Source,
    ChannelId => Channel,
    RoleId => Role,
    UserId => User,
);

/// Hasher for the engine's id tables.
///
/// Ids are 64-bit keys assigned by the host, so a full SipHash round is wasted work on the check
/// path. This is the splitmix64 finaliser: every input bit affects every output bit, which keeps
/// hashbrown's top-7-bit control bytes well spread even for sequential keys.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u64 keys; fold the bytes in so the hasher stays total.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// Builds [`IdHasher`]s.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdHash;

impl BuildHasher for IdHash {
    type Hasher = IdHasher;

    #[inline]
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

/// An id-keyed, insertion-ordered map whose positions are the engine's dense indices.
pub(crate) type IdMap<K, V> = indexmap::IndexMap<K, V, IdHash>;
