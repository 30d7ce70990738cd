//! The storage contract, on the in-memory backends.

use std::sync::{Arc, Mutex};

use shopguard::storage::{Loaded, MemoryStorage, Storage};
use shopguard::{Engine, Error, ErrorKind, Mutation, OnStore, UserId};

use crate::fixture::*;

#[test]
fn reopening_on_the_same_storage_rebuilds_the_same_decisions() {
    let store = Arc::new(MemoryStorage::<T>::new());
    let first = Engine::open(store.clone()).unwrap();
    first.unchecked_apply(base()).unwrap();
    first
        .unchecked_apply([Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    let second = Engine::open(store).unwrap();
    assert_eq!(second.revision(), first.revision());
    for user in [OWNER, MANAGER_NORTH, CASHIER_NORTH, CASHIER_SOUTH, DISABLED] {
        for store in [NORTH, SOUTH] {
            for p in [T::SELL, T::REFUND, T::LIST_STAFF] {
                let r = OnStore(ACME, store);
                assert_eq!(first.check(user, p, &r), second.check(user, p, &r));
            }
        }
    }
    assert!(second.snapshot().user(CASHIER_SOUTH).is_none());
}

#[test]
fn a_refused_batch_reaches_no_storage() {
    let store = Arc::new(MemoryStorage::<T>::new());
    let e = Engine::open(store.clone()).unwrap();
    e.unchecked_apply(base()).unwrap();
    let before = store.load().unwrap();
    assert!(e.unchecked_apply([Mutation::RemoveUser(OWNER)]).is_err());
    let after = store.load().unwrap();
    assert_eq!(before.revision, after.revision);
    assert_eq!(before.records, after.records);
}

/// A backend whose writes fail on demand.
#[derive(Debug, Default)]
struct Flaky {
    inner: MemoryStorage<T>,
    fail: Mutex<bool>,
}

impl Storage<T> for Flaky {
    fn load(&self) -> Result<Loaded<T>, Error> {
        self.inner.load()
    }
    fn apply(&self, revision: u64, batch: &[Mutation<T>]) -> Result<(), Error> {
        if *self.fail.lock().unwrap() {
            return Err(Error::storage("disk full"));
        }
        self.inner.apply(revision, batch)
    }
}

#[test]
fn a_failed_storage_write_leaves_memory_as_it_was() {
    let e = Engine::open(Flaky::default()).unwrap();
    e.unchecked_apply(base()).unwrap();
    *e.storage().fail.lock().unwrap() = true;
    let err = e
        .unchecked_apply([Mutation::RemoveUser(CASHIER_NORTH)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert_eq!(err.to_string(), "storage failed");
    assert_eq!(
        std::error::Error::source(&err).map(ToString::to_string),
        Some("disk full".to_owned())
    );
    assert_eq!(e.revision(), 1);
    assert!(e.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
    // Once the backend recovers, the write goes through with the next revision.
    *e.storage().fail.lock().unwrap() = false;
    assert_eq!(
        e.unchecked_apply([Mutation::RemoveUser(CASHIER_NORTH)])
            .unwrap(),
        2
    );
    assert!(!e.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
    assert!(!e.can(UserId::new(12345), T::SELL, &OnStore(ACME, NORTH)));
}

#[test]
fn memory_storage_refuses_a_revision_it_already_has() {
    let store = MemoryStorage::<T>::new();
    store.apply(1, &base()).unwrap();
    let err = store.apply(1, &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
}
