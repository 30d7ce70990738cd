//! Ways to name the user of a check: by id, or by a key resolved once.

use crate::model::ids::UserId;

/// A user, named by id and by where the snapshot keeps the user's record.
///
/// Resolve it once, with [`Engine::user_key`](crate::Engine::user_key) or
/// [`Snapshot::user_key`](crate::Snapshot::user_key), when a session or request starts, and pass
/// it to `can` and `check` instead of the [`UserId`]: the check then goes straight to the user's
/// place in the user table instead of finding it by id.
///
/// A key is only a hint: it never changes an answer. A check given a key looks at the key's
/// place and uses what it finds there only if it is this user's; otherwise (the user was
/// removed, or another user's removal moved this user's record into the freed place) it finds
/// the user by id, as if given the id. So a stale key is as correct as a fresh one, only slower; resolve
/// keys again after removing users.
///
/// ```
/// use shopguard::catalog::pos::Pos;
/// use shopguard::{AccountId, Engine, OnStore, StoreId, UserId};
///
/// let engine = Engine::<Pos>::new();
/// // An unknown user has no key, and is denied whichever way it is named.
/// assert!(engine.user_key(UserId::new(1)).is_none());
/// let on = OnStore(AccountId::new(1), StoreId::new(1));
/// assert!(!engine.can(UserId::new(1), Pos::SELL, &on));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct UserKey {
    id: UserId,
    slot: u32,
}

impl UserKey {
    pub(crate) fn new(id: UserId, slot: u32) -> Self {
        UserKey { id, slot }
    }

    /// The user's id.
    pub fn id(self) -> UserId {
        self.id
    }
}

mod sealed {
    use crate::model::ids::UserId;

    /// What a check needs of a [`UserRef`](super::UserRef): the id, and where to look first.
    pub trait Sealed: Copy {
        fn id(self) -> UserId;
        /// The record's place in the user table, if known.
        fn slot(self) -> Option<u32>;
    }
}

pub(crate) use sealed::Sealed;

/// The user of a check: a [`UserId`], or a [`UserKey`] resolved from one.
///
/// Sealed: implemented by these two types only.
pub trait UserRef: sealed::Sealed {}

impl sealed::Sealed for UserId {
    #[inline]
    fn id(self) -> UserId {
        self
    }
    #[inline]
    fn slot(self) -> Option<u32> {
        None
    }
}

impl UserRef for UserId {}

impl sealed::Sealed for UserKey {
    #[inline]
    fn id(self) -> UserId {
        self.id
    }
    #[inline]
    fn slot(self) -> Option<u32> {
        Some(self.slot)
    }
}

impl UserRef for UserKey {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::pos::{self, Pos};
    use crate::{Access, Account, AccountId, Engine, Grant, Mutation, OnStore, RoleId};
    use crate::{Store, StoreId, User};

    /// A key naming any place at all, empty or another user's, answers as the id does.
    #[test]
    fn a_key_with_any_place_answers_as_the_id() -> Result<(), crate::Error> {
        let (shop, north, south) = (AccountId::new(1), StoreId::new(10), StoreId::new(11));
        let mut batch = vec![
            Mutation::PutAccount(Account::new(shop, "Shop")),
            Mutation::PutStore(Store::new(north, shop, "North")),
            Mutation::PutStore(Store::new(south, shop, "South")),
            Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
            Mutation::PutRole(pos::cashier(RoleId::new(3), shop)),
            Mutation::PutUser(
                User::new(UserId::new(1), shop, "owner", "owner@example.com")
                    .with_owner(true)
                    .with_grant(Grant::new(RoleId::new(1), Access::All)),
            ),
        ];
        for n in 2..40u64 {
            let at = if n % 3 == 0 { south } else { north };
            batch.push(Mutation::PutUser(
                User::new(
                    UserId::new(n),
                    shop,
                    &format!("u{n}"),
                    &format!("u{n}@x.example"),
                )
                .with_enabled(n % 7 != 0)
                .with_grant(Grant::new(RoleId::new(3), Access::specific([at]))),
            ));
        }
        let engine = Engine::<Pos>::new();
        engine.unchecked_apply(batch)?;
        let snapshot = engine.snapshot();
        let places = u32::try_from(snapshot.index().users.len()).unwrap_or(u32::MAX);
        let mut allowed = 0;
        for id in (0..45).map(UserId::new) {
            for slot in (0..places + 4).chain([u32::MAX - 1, u32::MAX]) {
                let key = UserKey::new(id, slot);
                for (p, on) in [
                    (Pos::SELL, OnStore(shop, north)),
                    (Pos::SELL, OnStore(shop, south)),
                    (Pos::MANAGE_USERS, OnStore(shop, north)),
                    (Pos::SELL, OnStore(AccountId::new(2), north)),
                ] {
                    let by_id = snapshot.check(id, p, &on);
                    assert_eq!(snapshot.check(key, p, &on), by_id, "{key:?} {p:?} {on:?}");
                    assert_eq!(snapshot.can(key, p, &on), by_id.is_allowed());
                    allowed += usize::from(by_id.is_allowed());
                }
            }
        }
        assert!(allowed > 0);
        Ok(())
    }
}
