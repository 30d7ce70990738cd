//! Seed 002: a card-payments merchant portal.
//!
//! Four roles: `ADMINISTRATOR`, `ACCOUNTANT`, `MANAGER` and `TEAM_MEMBER`. One administrator is
//! the account owner, who alone signs documents ([`Payments::SIGN_DOCUMENTS`] is
//! [`Reach::OwnerOnly`](crate::Reach::OwnerOnly)). Managers see every team member and every
//! store's name, ID and address whatever their store access ([`Reach::AccountWide`](crate::Reach::AccountWide)),
//! but add, amend and delete team members only of their own stores (R10). When the account is
//! billed and settled at entity level, accountants see billing for all stores
//! ([`Reach::EntityBilling`](crate::Reach::EntityBilling)) and managers lose their store-level
//! invoices and bank accounts ([`Reach::StoreBilling`](crate::Reach::StoreBilling)).
//!
//! The portal renamed its roles; the templates keep an earlier name of each of the three older
//! roles as a former name, so imports written with it still resolve (R14). The seed page lists
//! the new names but its table of old ones was not captured, so the former names here
//! (`Admin`, `Finance`, `Store manager`) are stand-ins; `TEAM_MEMBER` is the role the portal
//! added and has none.

use crate::{AccountId, Level, Role, RoleId, permission_catalog};

permission_catalog! {
    /// What merchant-portal users may do.
    pub struct Payments {
        VIEW_BUSINESS_DETAILS = 0, "Business", AccountWide, "View business details";
        VIEW_OWNERSHIP_DETAILS = 1, "Business", Scoped, "View ownership details";
        VIEW_STORES = 2, "Stores", Scoped, "View store information";
        VIEW_STORE_DIRECTORY = 3, "Stores", AccountWide, "View all store names, IDs and addresses, regardless of store access";
        VIEW_PRODUCTS = 4, "Products", Scoped, "View product and pricing information";
        VIEW_ACTIVATION_CODES = 5, "Products", Scoped, "View activation codes";
        VIEW_TRANSACTIONS = 6, "Transactions", Scoped, "View transactions and sales";
        DOWNLOAD_TRANSACTIONS = 7, "Transactions", Scoped, "Download transactions and sales";
        VIEW_BANK_ACCOUNTS = 8, "Billing", EntityBilling, "View bank accounts; all stores' when settled at entity level";
        VIEW_PAYOUTS = 9, "Billing", EntityBilling, "View and download payouts; all stores' when settled at entity level";
        VIEW_INVOICES = 10, "Billing", EntityBilling, "View and download invoices; all stores' when billed at entity level";
        VIEW_STORE_BANK_ACCOUNTS = 11, "Billing", StoreBilling, "View bank accounts of own stores, only when settled at store level";
        VIEW_STORE_INVOICES = 12, "Billing", StoreBilling, "View invoices of own stores, only when billed at store level";
        VIEW_DOCUMENTS = 13, "Documents", Scoped, "View and download documents";
        SIGN_DOCUMENTS = 14, "Documents", OwnerOnly, "Sign documents (the account owner only)";
        VIEW_TEAM = 15, "Team", AccountWide, "View all team members listed under the business";
        MANAGE_USERS = 16, "Team", Scoped, "Invite, amend and remove users (of own stores when store-limited)";
        MANAGE_ROLES = 17, "Team", Scoped, "Change which roles exist and what they hold";
        MANAGE_STORES = 18, "Business", Scoped, "Business settings: add, rename and close stores";
    }
    admin {
        view_users: VIEW_TEAM,
        create_users: MANAGE_USERS,
        edit_users: MANAGE_USERS,
        delete_users: MANAGE_USERS,
        manage_roles: MANAGE_ROLES,
        view_stores: VIEW_STORE_DIRECTORY,
        manage_stores: MANAGE_STORES,
    }
    // Users are assigned to stores: the template has a Stores column (R18).
    csv_template: Stores;
}

/// `ADMINISTRATOR`: level 1, every permission; access to all stores by default.
pub fn administrator(id: RoleId, account: AccountId) -> Role<Payments> {
    Role::new(id, account, "ADMINISTRATOR", Level::TOP, Payments::all()).with_former_name("Admin")
}

/// `ACCOUNTANT`: level 2; business, store, bank account, product and pricing information;
/// transactions, sales, payouts and invoices. Cannot invite users.
pub fn accountant(id: RoleId, account: AccountId) -> Role<Payments> {
    Role::new(
        id,
        account,
        "ACCOUNTANT",
        Level::below_top(1),
        Payments::VIEW_BUSINESS_DETAILS
            | Payments::VIEW_STORES
            | Payments::VIEW_BANK_ACCOUNTS
            | Payments::VIEW_PRODUCTS
            | Payments::VIEW_TRANSACTIONS
            | Payments::DOWNLOAD_TRANSACTIONS
            | Payments::VIEW_PAYOUTS
            | Payments::VIEW_INVOICES,
    )
    .with_former_name("Finance")
}

/// `MANAGER`: level 2; store and product information, transactions and sales, store-level bank
/// accounts and invoices, every team member and store name; manages team members of own stores.
pub fn manager(id: RoleId, account: AccountId) -> Role<Payments> {
    Role::new(
        id,
        account,
        "MANAGER",
        Level::below_top(1),
        Payments::VIEW_STORES
            | Payments::VIEW_STORE_DIRECTORY
            | Payments::VIEW_PRODUCTS
            | Payments::VIEW_TRANSACTIONS
            | Payments::DOWNLOAD_TRANSACTIONS
            | store_billing()
            | Payments::VIEW_TEAM
            | Payments::MANAGE_USERS,
    )
    .with_former_name("Store manager")
}

/// `TEAM_MEMBER`: level 3; store and product information, transactions and sales. Cannot
/// invite users.
pub fn team_member(id: RoleId, account: AccountId) -> Role<Payments> {
    Role::new(
        id,
        account,
        "TEAM_MEMBER",
        Level::below_top(2),
        Payments::VIEW_STORES
            | Payments::VIEW_PRODUCTS
            | Payments::VIEW_TRANSACTIONS
            | Payments::DOWNLOAD_TRANSACTIONS,
    )
}

const fn store_billing() -> Payments {
    Payments::VIEW_STORE_BANK_ACCOUNTS.union(Payments::VIEW_STORE_INVOICES)
}
