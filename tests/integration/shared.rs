//! What several test modules share: the [`Staff`] catalog and the [`Order`] resource.
//!
//! The binary has four test catalogs, each for a reason of its own:
//!
//! - [`Staff`] (here): one permission creates, amends and deletes users, and one manages roles.
//!   The write-side property tests (`admin_props.rs`, `manage_props.rs`) use it, so that any
//!   change an actor may make turns on a single, well-known permission.
//! - `T` (`fixture.rs`): the read side's catalog, one permission of every reach (scoped,
//!   account-wide, entity and store billing, owner-only), with the fixture account built on it.
//!   It has no administrative mapping: the rule tests and the read-side reference model
//!   (`properties.rs`) check decisions, not changes.
//! - `W` (`write_model.rs`): each administrative act its own permission (create, edit, delete
//!   users; manage roles), so that the write-side reference model must pick the right one for
//!   every change. Merging it with [`Staff`] would hide exactly the mistakes it is there to
//!   catch.
//! - `Aw` (`security.rs`): user administration as one account-wide permission, for the single
//!   test that such a permission still respects levels; it stays next to that test.
//!
//! The four product catalogs (`shopguard::catalog`) are tested in `catalogs.rs`.
//!
//! [`Order`] is the one host resource of the rule tests (`rules.rs`) and the R8 property
//! (`admin_props.rs`). `properties.rs` keeps a resource of its own, `Any`: not an order but
//! whatever shape a random query of its reference model takes (any dimension unscoped, placed
//! or unplaced, and a role or user as subject), read straight from that query.

use shopguard::{AccountId, ChannelId, Place, Resource, SourceId, StoreId, permission_catalog};

permission_catalog! {
    /// Staff administration as the write side's property tests need it: `USERS` creates, amends
    /// and deletes users, `ROLES` manages roles, `STAFF_LIST` sees every member of staff; plus
    /// two scoped till permissions and an owner-only one for the changes to move around.
    pub(crate) struct Staff {
        SELL = 0, "Register", Scoped, "sell";
        REFUND = 1, "Register", Scoped, "refund";
        STAFF_LIST = 2, "Team", AccountWide, "see every member of staff";
        USERS = 3, "Team", Scoped, "create, amend and delete users";
        ROLES = 4, "Team", Scoped, "manage roles";
        SIGN = 5, "Documents", OwnerOnly, "sign documents";
    }
    admin {
        view_users: STAFF_LIST,
        create_users: USERS,
        edit_users: USERS,
        delete_users: USERS,
        manage_roles: ROLES,
    }
}

/// An order of one account: taken at a store, shipped from a source, sold on a channel. Each
/// of the three may be unplaced (an order pending sourcing, R5), which a check reaches only
/// with access to all of that dimension.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Order {
    pub(crate) account: AccountId,
    pub(crate) store: Place<StoreId>,
    pub(crate) source: Place<SourceId>,
    pub(crate) channel: Place<ChannelId>,
}

impl Order {
    /// An order placed on every dimension.
    pub(crate) fn at(
        account: AccountId,
        store: StoreId,
        source: SourceId,
        channel: ChannelId,
    ) -> Self {
        Self {
            account,
            store: Place::At(store),
            source: Place::At(source),
            channel: Place::At(channel),
        }
    }

    /// An order not yet assigned a source to ship from.
    pub(crate) fn pending_sourcing(account: AccountId, store: StoreId, channel: ChannelId) -> Self {
        Self {
            account,
            store: Place::At(store),
            source: Place::Unplaced,
            channel: Place::At(channel),
        }
    }

    /// An order of no sales channel.
    pub(crate) fn without_channel(account: AccountId, store: StoreId, source: SourceId) -> Self {
        Self {
            account,
            store: Place::At(store),
            source: Place::At(source),
            channel: Place::Unplaced,
        }
    }
}

impl Resource for Order {
    fn account(&self) -> AccountId {
        self.account
    }
    fn store(&self) -> Place<StoreId> {
        self.store
    }
    fn source(&self) -> Place<SourceId> {
        self.source
    }
    fn channel(&self) -> Place<ChannelId> {
        self.channel
    }
}
