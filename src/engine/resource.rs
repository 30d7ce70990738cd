//! What a check is about: the [`Resource`] trait and the built-in targets.

use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};

/// Where a resource lies on one scope dimension.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Place<T> {
    /// The resource has no position on this dimension; it is not checked.
    Unscoped,
    /// The resource lies at this id.
    At(T),
    /// The resource is not (yet) placed on this dimension, or spans all of it: only `All` access
    /// reaches it. An order pending sourcing has `Unplaced` as its source (R5); the account
    /// itself is `Unplaced` on stores.
    Unplaced,
}

/// A role or user a check is about, which the engine looks up in the account.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Subject {
    /// No role or user.
    None,
    /// A role: it must exist in the account.
    Role(RoleId),
    /// A user: it must exist in the account, and every store its grants name must lie inside
    /// the actor's store scope (R10), unless the permission is account-wide.
    User(UserId),
}

/// Anything a check can be about.
///
/// A host type (an order, a shipment) implements it to say which account it belongs to and where
/// it lies on each scope dimension. The defaults leave every dimension unscoped.
///
/// The contract: `account` names the account the resource belongs to; the engine denies if the
/// user belongs to another one, and if any id returned here does not exist in that account.
///
/// ```
/// use shopguard::{AccountId, Place, Resource, SourceId, StoreId};
///
/// struct Order { account: AccountId, store: StoreId, source: Option<SourceId> }
///
/// impl Resource for Order {
///     fn account(&self) -> AccountId { self.account }
///     fn store(&self) -> Place<StoreId> { Place::At(self.store) }
///     fn source(&self) -> Place<SourceId> {
///         // Pending sourcing: only users with all sources see it (R5).
///         self.source.map_or(Place::Unplaced, Place::At)
///     }
/// }
/// ```
pub trait Resource {
    /// The account the resource belongs to.
    fn account(&self) -> AccountId;

    /// Where it lies among stores.
    #[inline]
    fn store(&self) -> Place<StoreId> {
        Place::Unscoped
    }

    /// Where it lies among sources.
    #[inline]
    fn source(&self) -> Place<SourceId> {
        Place::Unscoped
    }

    /// Where it lies among sales channels.
    #[inline]
    fn channel(&self) -> Place<ChannelId> {
        Place::Unscoped
    }

    /// The role or user it is about, if any.
    #[inline]
    fn subject(&self) -> Subject {
        Subject::None
    }
}

impl<R: Resource + ?Sized> Resource for &R {
    #[inline]
    fn account(&self) -> AccountId {
        (**self).account()
    }
    #[inline]
    fn store(&self) -> Place<StoreId> {
        (**self).store()
    }
    #[inline]
    fn source(&self) -> Place<SourceId> {
        (**self).source()
    }
    #[inline]
    fn channel(&self) -> Place<ChannelId> {
        (**self).channel()
    }
    #[inline]
    fn subject(&self) -> Subject {
        (**self).subject()
    }
}

/// The account as a whole (business details, settings). It spans every store: a store-scoped
/// grant reaches it only through an account-wide permission.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OnAccount(pub AccountId);

impl Resource for OnAccount {
    #[inline]
    fn account(&self) -> AccountId {
        self.0
    }
    #[inline]
    fn store(&self) -> Place<StoreId> {
        Place::Unplaced
    }
}

/// One store of an account.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OnStore(pub AccountId, pub StoreId);

impl Resource for OnStore {
    #[inline]
    fn account(&self) -> AccountId {
        self.0
    }
    #[inline]
    fn store(&self) -> Place<StoreId> {
        Place::At(self.1)
    }
}

/// One source of an account.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OnSource(pub AccountId, pub SourceId);

impl Resource for OnSource {
    #[inline]
    fn account(&self) -> AccountId {
        self.0
    }
    #[inline]
    fn source(&self) -> Place<SourceId> {
        Place::At(self.1)
    }
}

/// One sales channel of an account.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OnChannel(pub AccountId, pub ChannelId);

impl Resource for OnChannel {
    #[inline]
    fn account(&self) -> AccountId {
        self.0
    }
    #[inline]
    fn channel(&self) -> Place<ChannelId> {
        Place::At(self.1)
    }
}

/// One role of an account.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OnRole(pub AccountId, pub RoleId);

impl Resource for OnRole {
    #[inline]
    fn account(&self) -> AccountId {
        self.0
    }
    #[inline]
    fn subject(&self) -> Subject {
        Subject::Role(self.1)
    }
}

/// One user of an account (to view, amend or remove them).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OnUser(pub AccountId, pub UserId);

impl Resource for OnUser {
    #[inline]
    fn account(&self) -> AccountId {
        self.0
    }
    #[inline]
    fn subject(&self) -> Subject {
        Subject::User(self.1)
    }
}
