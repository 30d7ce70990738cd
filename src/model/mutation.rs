//! The change language of the records: a [`Mutation`] puts or removes one object, and a
//! [`Key`] names the object it writes. The index applies mutations, the write side plans them,
//! and storage keeps them.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::role::Role;
use crate::model::user::User;

/// One record-level write: put (insert or replace) or remove one object.
///
/// A batch of mutations is applied all at once or not at all.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
#[non_exhaustive]
pub enum Mutation<P> {
    /// Inserts or replaces an account.
    PutAccount(Account),
    /// Removes an empty account.
    RemoveAccount(AccountId),
    /// Inserts or replaces a store.
    PutStore(Store),
    /// Removes a store no role or user refers to.
    RemoveStore(StoreId),
    /// Inserts or replaces a source.
    PutSource(Source),
    /// Removes a source no role or user refers to.
    RemoveSource(SourceId),
    /// Inserts or replaces a sales channel.
    PutChannel(Channel),
    /// Removes a sales channel no role or user refers to.
    RemoveChannel(ChannelId),
    /// Inserts or replaces a role.
    PutRole(Role<P>),
    /// Removes a role no user holds (R15).
    RemoveRole(RoleId),
    /// Inserts or replaces a user.
    PutUser(User),
    /// Removes a user.
    RemoveUser(UserId),
}

/// What kind of object a [`Key`] names, parents first: a backend loads objects in this order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ObjectKind {
    /// An [`Account`].
    Account,
    /// A [`Store`].
    Store,
    /// A [`Source`].
    Source,
    /// A sales [`Channel`].
    Channel,
    /// A [`Role`].
    Role,
    /// A [`User`].
    User,
}

impl ObjectKind {
    /// A stable number for a storage column (0 = account … 5 = user). A storage format: never
    /// renumbered, only appended to.
    pub fn code(self) -> u8 {
        match self {
            ObjectKind::Account => 0,
            ObjectKind::Store => 1,
            ObjectKind::Source => 2,
            ObjectKind::Channel => 3,
            ObjectKind::Role => 4,
            ObjectKind::User => 5,
        }
    }

    /// The kind a [`code`](Self::code) stands for.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => ObjectKind::Account,
            1 => ObjectKind::Store,
            2 => ObjectKind::Source,
            3 => ObjectKind::Channel,
            4 => ObjectKind::Role,
            5 => ObjectKind::User,
            _ => return None,
        })
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Account => "account",
            ObjectKind::Store => "store",
            ObjectKind::Source => "source",
            ObjectKind::Channel => "channel",
            ObjectKind::Role => "role",
            ObjectKind::User => "user",
        })
    }
}

/// The object a [`Mutation`] writes: its kind and id. Ids of different kinds may coincide.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Key {
    /// The kind of object.
    pub kind: ObjectKind,
    /// Its id, as the host's 64-bit key.
    pub id: u64,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind, self.id)
    }
}

impl<P: Copy> Mutation<P> {
    /// The object this mutation writes.
    pub fn key(&self) -> Key {
        let (kind, id) = match self {
            Mutation::PutAccount(x) => (ObjectKind::Account, x.id().get()),
            Mutation::RemoveAccount(id) => (ObjectKind::Account, id.get()),
            Mutation::PutStore(x) => (ObjectKind::Store, x.id().get()),
            Mutation::RemoveStore(id) => (ObjectKind::Store, id.get()),
            Mutation::PutSource(x) => (ObjectKind::Source, x.id().get()),
            Mutation::RemoveSource(id) => (ObjectKind::Source, id.get()),
            Mutation::PutChannel(x) => (ObjectKind::Channel, x.id().get()),
            Mutation::RemoveChannel(id) => (ObjectKind::Channel, id.get()),
            Mutation::PutRole(x) => (ObjectKind::Role, x.id().get()),
            Mutation::RemoveRole(id) => (ObjectKind::Role, id.get()),
            Mutation::PutUser(x) => (ObjectKind::User, x.id().get()),
            Mutation::RemoveUser(id) => (ObjectKind::User, id.get()),
        };
        Key { kind, id }
    }

    /// Whether this mutation removes its object.
    pub fn is_remove(&self) -> bool {
        matches!(
            self,
            Mutation::RemoveAccount(_)
                | Mutation::RemoveStore(_)
                | Mutation::RemoveSource(_)
                | Mutation::RemoveChannel(_)
                | Mutation::RemoveRole(_)
                | Mutation::RemoveUser(_)
        )
    }
}

macro_rules! key_of_id {
    ($($id:ident => $kind:ident),* $(,)?) => {$(
        impl From<$id> for Key {
            fn from(id: $id) -> Self {
                Key {
                    kind: ObjectKind::$kind,
                    id: id.get(),
                }
            }
        }

        impl From<&$id> for Key {
            fn from(id: &$id) -> Self {
                Key::from(*id)
            }
        }
    )*};
}

key_of_id! {
    AccountId => Account,
    StoreId => Store,
    SourceId => Source,
    ChannelId => Channel,
    RoleId => Role,
    UserId => User,
}
