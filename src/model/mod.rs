//! The model: ids, access, permission catalogs, roles, users and accounts.

pub(crate) mod access;
pub(crate) mod account;
pub(crate) mod ids;
pub(crate) mod mutation;
pub(crate) mod permission;
pub(crate) mod role;
pub(crate) mod text;
pub(crate) mod user;
