//! The four seed catalogs: counts, areas, names and bit layout.

use std::collections::BTreeSet;

use shopguard::catalog::{omnichannel::Omnichannel, oms::Oms, payments::Payments, pos::Pos};
use shopguard::{Catalog, Reach};

#[track_caller]
fn case<P: Catalog>(permissions: usize, areas: &[&str]) {
    let all = P::permissions();
    assert_eq!(all.len(), permissions);
    // Bits are contiguous from 0, one flag each, in order: the storage format.
    for (i, p) in all.iter().enumerate() {
        assert_eq!(p.flag().bits(), 1u64 << i, "{} is not bit {i}", p.name());
        assert!(
            !p.description().is_empty(),
            "{} has no description",
            p.name()
        );
        assert_eq!(P::info(p.flag()).map(|q| q.name()), Some(p.name()));
        assert_eq!(P::parse(p.name()).unwrap(), p.flag());
    }
    let names: BTreeSet<_> = all.iter().map(|p| p.name()).collect();
    assert_eq!(names.len(), permissions, "duplicate names");
    let got: Vec<&str> = all.iter().fold(Vec::new(), |mut v, p| {
        if !v.contains(&p.area()) {
            v.push(p.area());
        }
        v
    });
    assert_eq!(got, areas);
}

#[test]
fn pos_catalog_has_register_reports_settings_and_user_management() {
    case::<Pos>(8, &["Register", "Reports", "Settings", "User Management"]);
}

#[test]
fn omnichannel_catalog_is_the_25_cell_section_action_matrix() {
    case::<Omnichannel>(
        25,
        &[
            "Dashboard",
            "Product",
            "Inventory",
            "Price",
            "Orders",
            "SyncLog",
            "Logistics",
            "Channel",
            "Developer",
            "Json API",
            "Users",
        ],
    );
}

#[test]
fn payments_catalog_marks_team_directory_billing_and_signing() {
    case::<Payments>(
        19,
        &[
            "Business",
            "Stores",
            "Products",
            "Transactions",
            "Billing",
            "Documents",
            "Team",
        ],
    );
    assert_eq!(
        Payments::with_reach(Reach::OwnerOnly),
        Payments::SIGN_DOCUMENTS
    );
    assert_eq!(
        Payments::with_reach(Reach::AccountWide),
        Payments::VIEW_BUSINESS_DETAILS | Payments::VIEW_TEAM | Payments::VIEW_STORE_DIRECTORY
    );
}

#[test]
fn oms_catalog_has_38_permissions_in_the_seed_eight_areas() {
    case::<Oms>(
        38,
        &[
            "Sales Management",
            "Customer Service",
            "Order Modification",
            "Stock Management",
            "Omnichannel Management",
            "Reports",
            "Configuration",
            "Internal Tools",
        ],
    );
}

#[test]
fn parsing_refuses_unknown_names_and_raw_bits() {
    assert!(Pos::parse("SELL | FLY").is_err());
    assert!(Pos::parse("0x1").is_err());
    assert_eq!(
        Pos::parse("SELL | VIEW_REPORTS").unwrap(),
        Pos::SELL | Pos::VIEW_REPORTS
    );
}

#[test]
fn payments_templates_keep_former_names() {
    use shopguard::catalog::payments;
    use shopguard::{AccountId, RoleId};
    let a = AccountId::new(1);
    assert!(payments::accountant(RoleId::new(2), a).answers_to("finance"));
    assert!(payments::accountant(RoleId::new(2), a).answers_to("ACCOUNTANT"));
    assert!(
        payments::team_member(RoleId::new(4), a)
            .former_names()
            .is_empty()
    );
}
