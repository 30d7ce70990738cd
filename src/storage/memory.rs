//! The in-memory storage implementations.

use std::sync::{Mutex, PoisonError};

use crate::Error;
use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, IdMap, RoleId, SourceId, StoreId, UserId};
use crate::model::role::Role;
use crate::model::user::User;
use crate::storage::{Loaded, Mutation, Storage};

/// The default: nothing is kept outside the engine's own memory, and nothing survives the
/// process. For services that rebuild their policy from their own database on start.
#[derive(Clone, Copy, Debug, Default)]
pub struct Volatile;

impl<P> Storage<P> for Volatile {
    fn load(&self) -> Result<Loaded<P>, Error> {
        Ok(Loaded {
            revision: 0,
            records: Vec::new(),
        })
    }

    fn apply(&self, _revision: u64, _batch: &[Mutation<P>]) -> Result<(), Error> {
        Ok(())
    }
}

/// A store that keeps its own copy of every record in memory.
///
/// Share one (in an `Arc`) between engines to model a restart or a second process: an engine
/// opened on it later loads everything the first one wrote.
#[derive(Debug)]
pub struct MemoryStorage<P> {
    state: Mutex<Records<P>>,
}

#[derive(Debug)]
struct Records<P> {
    revision: u64,
    accounts: IdMap<AccountId, Account>,
    stores: IdMap<StoreId, Store>,
    sources: IdMap<SourceId, Source>,
    channels: IdMap<ChannelId, Channel>,
    roles: IdMap<RoleId, Role<P>>,
    users: IdMap<UserId, User>,
}

impl<P> MemoryStorage<P> {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStorage {
            state: Mutex::new(Records {
                revision: 0,
                accounts: IdMap::default(),
                stores: IdMap::default(),
                sources: IdMap::default(),
                channels: IdMap::default(),
                roles: IdMap::default(),
                users: IdMap::default(),
            }),
        }
    }
}

impl<P> Default for MemoryStorage<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Copy + Send + core::fmt::Debug> Storage<P> for MemoryStorage<P> {
    fn load(&self) -> Result<Loaded<P>, Error> {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut records = Vec::new();
        records.extend(s.accounts.values().cloned().map(Mutation::PutAccount));
        records.extend(s.stores.values().cloned().map(Mutation::PutStore));
        records.extend(s.sources.values().cloned().map(Mutation::PutSource));
        records.extend(s.channels.values().cloned().map(Mutation::PutChannel));
        records.extend(s.roles.values().cloned().map(Mutation::PutRole));
        records.extend(s.users.values().cloned().map(Mutation::PutUser));
        Ok(Loaded {
            revision: s.revision,
            records,
        })
    }

    fn apply(&self, revision: u64, batch: &[Mutation<P>]) -> Result<(), Error> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if revision <= s.revision {
            return Err(Error::storage(format!(
                "revision {revision} is not after stored revision {}",
                s.revision
            )));
        }
        // Every mutation below is infallible, so the batch lands whole.
        for m in batch {
            match m.clone() {
                Mutation::PutAccount(a) => {
                    s.accounts.insert(a.id(), a);
                }
                Mutation::RemoveAccount(id) => {
                    s.accounts.shift_remove(&id);
                }
                Mutation::PutStore(x) => {
                    s.stores.insert(x.id(), x);
                }
                Mutation::RemoveStore(id) => {
                    s.stores.shift_remove(&id);
                }
                Mutation::PutSource(x) => {
                    s.sources.insert(x.id(), x);
                }
                Mutation::RemoveSource(id) => {
                    s.sources.shift_remove(&id);
                }
                Mutation::PutChannel(x) => {
                    s.channels.insert(x.id(), x);
                }
                Mutation::RemoveChannel(id) => {
                    s.channels.shift_remove(&id);
                }
                Mutation::PutRole(x) => {
                    s.roles.insert(x.id(), x);
                }
                Mutation::RemoveRole(id) => {
                    s.roles.shift_remove(&id);
                }
                Mutation::PutUser(x) => {
                    s.users.insert(x.id(), x);
                }
                Mutation::RemoveUser(id) => {
                    s.users.shift_remove(&id);
                }
            }
        }
        s.revision = revision;
        Ok(())
    }
}
