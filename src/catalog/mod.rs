//! Ready permission catalogs and role templates for the four seed systems.
//!
//! | module | system | permissions | roles |
//! | --- | --- | --- | --- |
//! | [`pos`] | a Magento POS with outlets and registers (seed 000) | 8 | admin, manager, cashier |
//! | [`omnichannel`] | an omnichannel marketplace back office (seed 001) | 25 | groups over sections × actions |
//! | [`payments`] | a card-payments merchant portal (seed 002) | 18 | administrator, accountant, manager, team member |
//! | [`oms`] | an order management system (seed 003) | 38 in 8 areas | levels 1–3 |
//!
//! Each catalog's bit positions are a storage format: they are only ever appended to.

pub mod omnichannel;
pub mod oms;
pub mod payments;
pub mod pos;
