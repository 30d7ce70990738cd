//! Seed 000: a Magento POS with outlets and registers.
//!
//! Three roles: the cashier sells and opens and closes the register; the manager, in charge of
//! one outlet, does everything a cashier does and sees that outlet's reports; the admin (the shop
//! owner, or head office) has every permission at every outlet, and there may be several admins.
//! Active users are capped by the pricing plan ([`Account::with_seat_limit`](crate::Account::with_seat_limit));
//! disabled staff accounts are unlimited.

use crate::{AccountId, Level, Role, RoleId, permission_catalog};

permission_catalog! {
    /// What POS staff may do.
    pub struct Pos {
        SELL = 0, "Register", Scoped, "Make sales and take payments";
        OPEN_REGISTER = 1, "Register", Scoped, "Open the register at the start of a shift";
        CLOSE_REGISTER = 2, "Register", Scoped, "Close the register at the end of a shift";
        VIEW_REPORTS = 3, "Reports", Scoped, "See the reports of the outlets the user is assigned to";
        MANAGE_OUTLETS = 4, "Settings", Scoped, "Change outlet and register settings and assign cashiers to an outlet";
        VIEW_USERS = 5, "User Management", Scoped, "See the user accounts";
        MANAGE_USERS = 6, "User Management", Scoped, "Add, edit, enable, disable and delete user accounts";
        MANAGE_ROLES = 7, "User Management", Scoped, "Add, edit and delete roles and set their permissions";
    }
    admin {
        view_users: VIEW_USERS,
        create_users: MANAGE_USERS,
        edit_users: MANAGE_USERS,
        delete_users: MANAGE_USERS,
        manage_roles: MANAGE_ROLES,
        // Outlet & Register settings: opening, renaming and closing outlets.
        manage_stores: MANAGE_OUTLETS,
    }
    // Users are assigned to stores: the template has a Stores column (R18).
    csv_template: Stores;
}

/// The cashier's permissions: sell, open and close the register.
pub const CASHIER: Pos = Pos::SELL
    .union(Pos::OPEN_REGISTER)
    .union(Pos::CLOSE_REGISTER);

/// The manager's permissions: the cashier's plus the outlet's reports.
pub const MANAGER: Pos = CASHIER.union(Pos::VIEW_REPORTS);

/// The `Admin` role: level 1, every permission. Give it `All` stores.
pub fn admin(id: RoleId, account: AccountId) -> Role<Pos> {
    Role::new(id, account, "Admin", Level::TOP, Pos::all())
}

/// The `Manager` role: level 2, [`MANAGER`]. Give it the outlet the manager is in charge of.
pub fn manager(id: RoleId, account: AccountId) -> Role<Pos> {
    Role::new(id, account, "Manager", Level::below_top(1), MANAGER)
}

/// The `Cashier` role: level 3, [`CASHIER`].
pub fn cashier(id: RoleId, account: AccountId) -> Role<Pos> {
    Role::new(id, account, "Cashier", Level::below_top(2), CASHIER)
}
