//! Seed 001: an omnichannel marketplace back office.
//!
//! Users belong to *groups*; a group is a named permission set over a matrix of sections ×
//! actions (25 in all). Viewing users is account-wide: the seed's Users page lists everyone. In shopguard a group is a [`Role`]; the seed has no hierarchy, so the
//! templates put the group that may manage users at level 1 and every other group at level 2.

use crate::{AccountId, Level, Role, RoleId, permission_catalog};

permission_catalog! {
    /// The section × action matrix of the omnichannel back office.
    pub struct Omnichannel {
        DASHBOARD_VIEW = 0, "Dashboard", Scoped, "Grant access to view dashboard";
        PRODUCT_VIEW = 1, "Product", Scoped, "Grant access to view Product";
        PRODUCT_SCAN = 2, "Product", Scoped, "Grant access to scan channel";
        PRODUCT_DOWNLOAD = 3, "Product", Scoped, "Grant access to download product from channel";
        PRODUCT_UPLOAD = 4, "Product", Scoped, "Grant access to upload product to channel";
        INVENTORY_VIEW = 5, "Inventory", Scoped, "Grant access to view inventory";
        INVENTORY_UPDATE = 6, "Inventory", Scoped, "Grant access to update inventory";
        PRICE_VIEW = 7, "Price", Scoped, "Grant access to view price";
        PRICE_UPDATE = 8, "Price", Scoped, "Grant access to update price";
        ORDERS_VIEW = 9, "Orders", Scoped, "Grant access to view orders";
        ORDERS_FULFILLMENT = 10, "Orders", Scoped, "Grant access to set fulfillment and print resi";
        ORDERS_DOWNLOAD = 11, "Orders", Scoped, "Grant access to download orders";
        SYNCLOG_VIEW = 12, "SyncLog", Scoped, "Grant access to view synclog";
        LOGISTICS_VIEW = 13, "Logistics", Scoped, "Grant access to view logistics";
        LOGISTICS_UPDATE = 14, "Logistics", Scoped, "Grant access to update logistics";
        CHANNEL_VIEW = 15, "Channel", Scoped, "Grant access to view channel";
        CHANNEL_ADD = 16, "Channel", Scoped, "Grant access to Add channel";
        CHANNEL_EDIT = 17, "Channel", Scoped, "Grant access to Edit channel";
        CHANNEL_DELETE = 18, "Channel", Scoped, "Grant access to Delete channel";
        DEVELOPER_VIEW = 19, "Developer", Scoped, "Grant access to view developer";
        JSON_API_VIEW = 20, "Json API", Scoped, "Grant access to view Json API";
        USERS_VIEW = 21, "Users", AccountWide, "Grant access to view Users";
        USERS_CREATE = 22, "Users", Scoped, "Grant access to Add Users";
        USERS_EDIT = 23, "Users", Scoped, "Grant access to Edit Users";
        USERS_DELETE = 24, "Users", Scoped, "Grant access to Delete Users";
    }
    admin {
        view_users: USERS_VIEW,
        create_users: USERS_CREATE,
        edit_users: USERS_EDIT,
        delete_users: USERS_DELETE,
        // Groups are managed from the Users menu: all three user rights are needed.
        manage_roles: USERS_CREATE | USERS_EDIT | USERS_DELETE,
        // Channels are added, edited and deleted from the Channel menu: all three rights are
        // needed, as for groups.
        manage_channels: CHANNEL_ADD | CHANNEL_EDIT | CHANNEL_DELETE,
    }
    // Users are assigned to stores: the template has a Stores column (R18).
    csv_template: StoresAndChannels;
}

/// The `Administrator` group: level 1, the whole matrix.
pub fn administrator(id: RoleId, account: AccountId) -> Role<Omnichannel> {
    Role::new(id, account, "Administrator", Level::TOP, Omnichannel::all())
}

/// An `Order fulfilment` group: level 2; dashboard, and view, fulfil and download orders.
pub fn order_fulfilment(id: RoleId, account: AccountId) -> Role<Omnichannel> {
    Role::new(
        id,
        account,
        "Order fulfilment",
        Level::below_top(1),
        Omnichannel::DASHBOARD_VIEW
            | Omnichannel::ORDERS_VIEW
            | Omnichannel::ORDERS_FULFILLMENT
            | Omnichannel::ORDERS_DOWNLOAD
            | Omnichannel::LOGISTICS_VIEW,
    )
}

/// A `Catalogue editor` group: level 2; products, inventory and prices, and viewing channels.
pub fn catalogue_editor(id: RoleId, account: AccountId) -> Role<Omnichannel> {
    Role::new(
        id,
        account,
        "Catalogue editor",
        Level::below_top(1),
        Omnichannel::DASHBOARD_VIEW
            | Omnichannel::PRODUCT_VIEW
            | Omnichannel::PRODUCT_SCAN
            | Omnichannel::PRODUCT_DOWNLOAD
            | Omnichannel::PRODUCT_UPLOAD
            | Omnichannel::INVENTORY_VIEW
            | Omnichannel::INVENTORY_UPDATE
            | Omnichannel::PRICE_VIEW
            | Omnichannel::PRICE_UPDATE
            | Omnichannel::CHANNEL_VIEW,
    )
}
