//! One integration binary: one link on a 2-core machine.

mod admin;
mod admin_props;
mod catalogs;
mod fixture;
mod properties;
mod reverse;
mod rules;
mod storage;
mod writes;
