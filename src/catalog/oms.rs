//! Seed 003: an order management system (OMS).
//!
//! Roles carry a numeric hierarchy (1 = top), stores, sales channels (None / All / Specific) and
//! resources: the 38 permissions below, in the seed's eight areas. Users carry sources
//! (None / All / Specific); a user with source access `None` gets
//! [`DenyReason::NoSources`](crate::DenyReason::NoSources) on every source-scoped page (R4), and
//! orders not yet sourced need access to all sources and sales channels (R5).

use crate::{AccountId, Level, Role, RoleId, permission_catalog};

permission_catalog! {
    /// The OMS's individual permissions (its role "resources").
    pub struct Oms {
        // Sales Management
        SALES_MANAGE_ORDERS = 0, "Sales Management", Scoped, "Access to the Sales > Orders page";
        MANAGE_PRE_ORDERS = 1, "Sales Management", Scoped, "Access to see the pre-order dashboard";
        SALES_EXPORT_ORDER_DATA = 2, "Sales Management", Scoped, "Capability to export information XML/CSV on the Sales section";
        MANAGE_PAYMENT_AUTHORIZATIONS = 3, "Sales Management", Scoped, "Manage payment authorizations";
        MANAGE_BACKORDER = 4, "Sales Management", Scoped, "Access to see the backorder dashboard";
        // Customer Service
        CS_MANAGE_ORDERS = 5, "Customer Service", Scoped, "Access to the Customer service > Orders pages";
        CS_EXPORT_ORDER_DATA = 6, "Customer Service", Scoped, "Capability to export information XML/CSV on the Customer service section";
        CANCEL_LINE = 7, "Customer Service", Scoped, "Display cancel button and allow to cancel order lines";
        REQUEST_RETURNS = 8, "Customer Service", Scoped, "Access and permission to manually initiate a return";
        APPROVE_RETURNS = 9, "Customer Service", Scoped, "Access and permission to approve a return if the flow requires an approval";
        REQUEST_APPEASEMENT = 10, "Customer Service", Scoped, "Access and permission to manually request an appeasement of a specified amount";
        REQUEST_RESHIPMENT = 11, "Customer Service", Scoped, "Access and permission to request an order re-shipment";
        REQUEST_EXCHANGE = 12, "Customer Service", Scoped, "Access and permission to request an order exchange";
        RELEASE_REFUNDS = 13, "Customer Service", Scoped, "Permission to request a release of a refund";
        EXCHANGES = 14, "Customer Service", Scoped, "Exchanges";
        RESEND_EMAILS = 15, "Customer Service", Scoped, "Access and permission to resend any selected email";
        // Order Modification
        UPDATE_SHIPPING_ADDRESS = 16, "Order Modification", Scoped, "Capability to manually update shipping address";
        UPDATE_CUSTOM_ATTRIBUTES = 17, "Order Modification", Scoped, "Capability to manually update custom attributes";
        // Stock Management
        SOURCE_ENGINE = 18, "Stock Management", Scoped, "Visibility into the queue of orders pending sourcing and its overdue exceptions";
        MANAGE_INVENTORY = 19, "Stock Management", Scoped, "Display the stock and its history for each SKU and source";
        MANAGE_STOCK_AGGREGATES = 20, "Stock Management", Scoped, "Display, create and update sales channels and stock aggregates and their safety stock";
        MANAGE_SOURCES = 21, "Stock Management", Scoped, "Create and update sources, upload them from CSV, define allocation waves";
        MANUAL_STOCK_UPDATE = 22, "Stock Management", Scoped, "Manually change the stock of a SKU for a specific source";
        // Omnichannel Management
        MANAGE_SHIP_FROM_STORE_ORDERS = 23, "Omnichannel Management", Scoped, "Access to the Ship From Store dashboards and sales pages";
        MANAGE_ISPU_ORDERS = 24, "Omnichannel Management", Scoped, "Access to the In-store Pickup dashboards, sales pages and pick lists";
        PENDING_ARRIVAL = 25, "Omnichannel Management", Scoped, "Access to the Sales > Pending arrival page required for Ship to Store";
        ISPU_DASHBOARD = 26, "Omnichannel Management", Scoped, "Access to the In-Store Pickup (ISPU) dashboard";
        ISPU_CONFIGURATION = 27, "Omnichannel Management", Scoped, "Access to define pick and customer decline reasons";
        // Reports
        REPORTS = 28, "Reports", Scoped, "Download CSV reports (master order, shipments, returns, refunds) within a date range";
        // Configuration
        MANAGE_CATALOGUE = 29, "Configuration", Scoped, "Visibility into all catalog items and options, and creating them";
        MANAGE_USERS = 30, "Configuration", Scoped, "Access to the System > Users page";
        MANAGE_ROLES = 31, "Configuration", Scoped, "Access to the System > Roles page, limited by the hierarchy";
        // Internal Tools
        DEVELOPER_TOOLS = 32, "Internal Tools", Scoped, "Developer Tools";
        EVENTS = 33, "Internal Tools", Scoped, "Events";
        MESSAGE_LOG = 34, "Internal Tools", Scoped, "Message Log";
        FORCE_SHIPMENT = 35, "Internal Tools", Scoped, "Force Shipment";
        FORCE_SOFT_ALLOCATION = 36, "Internal Tools", Scoped, "Force Soft Allocation";
        EXTENSIONS = 37, "Internal Tools", Scoped, "Extensions";
    }
    admin {
        view_users: MANAGE_USERS,
        create_users: MANAGE_USERS,
        edit_users: MANAGE_USERS,
        delete_users: MANAGE_USERS,
        manage_roles: MANAGE_ROLES,
        // "Access to create new source, update existing source information" (seed 003).
        manage_sources: MANAGE_SOURCES,
        // "Display, create and update the configured sales channels and stock aggregates".
        manage_channels: MANAGE_STOCK_AGGREGATES,
        // The seed names no permission over stores: OMS stores are set up by the host
        // (`Engine::unchecked_apply`).
    }
}

/// `Administrator`: level 1, every permission, all stores and sales channels. May create other
/// level-1 roles.
pub fn administrator(id: RoleId, account: AccountId) -> Role<Oms> {
    Role::new(id, account, "Administrator", Level::TOP, Oms::all())
}

/// `Store manager`: level 2; the store's orders, customer service, stock and in-store
/// fulfilment, and managing users and roles below level 2.
pub fn store_manager(id: RoleId, account: AccountId) -> Role<Oms> {
    Role::new(
        id,
        account,
        "Store manager",
        Level::below_top(1),
        store_assistant_permissions()
            | Oms::CS_MANAGE_ORDERS
            | Oms::CANCEL_LINE
            | Oms::REQUEST_RETURNS
            | Oms::APPROVE_RETURNS
            | Oms::MANAGE_INVENTORY
            | Oms::REPORTS
            | Oms::MANAGE_USERS
            | Oms::MANAGE_ROLES,
    )
}

/// `Store assistant`: level 3; ship-from-store and in-store pickup orders of their source.
pub fn store_assistant(id: RoleId, account: AccountId) -> Role<Oms> {
    Role::new(
        id,
        account,
        "Store assistant",
        Level::below_top(2),
        store_assistant_permissions(),
    )
}

/// `Customer service agent`: level 3; the Customer Service area.
pub fn customer_service_agent(id: RoleId, account: AccountId) -> Role<Oms> {
    Role::new(
        id,
        account,
        "Customer service agent",
        Level::below_top(2),
        Oms::CS_MANAGE_ORDERS
            | Oms::CS_EXPORT_ORDER_DATA
            | Oms::CANCEL_LINE
            | Oms::REQUEST_RETURNS
            | Oms::REQUEST_APPEASEMENT
            | Oms::REQUEST_RESHIPMENT
            | Oms::REQUEST_EXCHANGE
            | Oms::RELEASE_REFUNDS
            | Oms::EXCHANGES
            | Oms::RESEND_EMAILS,
    )
}

const fn store_assistant_permissions() -> Oms {
    Oms::MANAGE_SHIP_FROM_STORE_ORDERS
        .union(Oms::MANAGE_ISPU_ORDERS)
        .union(Oms::PENDING_ARRIVAL)
        .union(Oms::ISPU_DASHBOARD)
}
