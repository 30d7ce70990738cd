//! The JSON a host sends its clients (decisions, explanations, scopes, errors and their
//! problems, applied batches), permissions by their catalog names, and permission text parsed
//! from names and display names. Expected JSON is written out by hand.

use proptest::prelude::*;
use serde_json::{Value, json};
use shopguard::catalog::oms::Oms;
use shopguard::catalog::pos::{self, Pos};
use shopguard::{
    Access, Account, AccountId, Catalog, Change, DenyReason, Dimension, ErrorKind, Grant, Mutation,
    OnStore, OnUser, Role, StoreId, User, UserId,
};

use crate::fixture::*;

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// A shop whose owner may create users: account 1, store 10, roles 1 (admin) and 3 (cashier).
fn shop() -> shopguard::Engine<Pos> {
    let e = shopguard::Engine::<Pos>::new();
    let shop = AccountId::new(1);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(shop, "Corner Shop").with_seat_limit(10)),
        Mutation::PutStore(shopguard::Store::new(StoreId::new(10), shop, "North")),
        Mutation::PutRole(pos::admin(shopguard::RoleId::new(1), shop)),
        Mutation::PutRole(pos::cashier(shopguard::RoleId::new(3), shop)),
        Mutation::PutUser(
            User::new(UserId::new(1), shop, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(shopguard::RoleId::new(1), Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
    ])
    .unwrap();
    e
}

#[test]
fn decisions_serialize_with_snake_case_reasons_and_their_detail() {
    let e = engine();
    let cases = [
        (
            e.check(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)),
            json!({"decision": "allow", "grant": 0, "role": 3}),
        ),
        (
            e.check(CASHIER_NORTH, T::SELL, &OnStore(ACME, SOUTH)),
            json!({"decision": "deny", "reason": "outside_scope", "detail": "store"}),
        ),
        (
            e.check(CASHIER_NORTH, T::SELL, &OnStore(ACME, StoreId::new(404))),
            json!({"decision": "deny", "reason": "unknown_store", "detail": 404}),
        ),
        (
            e.check(UserId::new(4040), T::SELL, &OnStore(ACME, NORTH)),
            json!({"decision": "deny", "reason": "unknown_user"}),
        ),
        (
            e.check(CASHIER_NORTH, T::REFUND, &OnStore(ACME, NORTH)),
            json!({"decision": "deny", "reason": "permission_missing"}),
        ),
    ];
    for (decision, want) in cases {
        assert_eq!(to_json(&decision), want, "{decision}");
    }
}

#[test]
fn every_deny_reason_round_trips_through_its_json() {
    let reasons = [
        DenyReason::UnknownUser,
        DenyReason::WrongAccount,
        DenyReason::UserDisabled,
        DenyReason::NoPermissionAsked,
        DenyReason::UnknownStore(StoreId::new(7)),
        DenyReason::UnknownSource(shopguard::SourceId::new(8)),
        DenyReason::UnknownChannel(shopguard::ChannelId::new(9)),
        DenyReason::UnknownRole(shopguard::RoleId::new(10)),
        DenyReason::UnknownTargetUser(UserId::new(11)),
        DenyReason::NoSources,
        DenyReason::OwnerOnly,
        DenyReason::PermissionMissing,
        DenyReason::OutsideScope(Dimension::Channel),
        DenyReason::AboveLevel,
        DenyReason::NeedsAll(Dimension::Source),
    ];
    for r in reasons {
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<DenyReason>(&text).unwrap(),
            r,
            "{text}"
        );
        let tag = to_json(&r)["reason"].as_str().unwrap().to_owned();
        assert!(
            tag.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{tag}"
        );
    }
    assert_eq!(
        to_json(&DenyReason::NeedsAll(Dimension::Source)),
        json!({"reason": "needs_all", "detail": "source"})
    );
    assert!(serde_json::from_str::<DenyReason>(r#"{"reason":"allowed_anyway"}"#).is_err());
}

#[test]
fn an_explanation_names_roles_and_missing_permissions() {
    let e = engine();
    e.unchecked_apply([Mutation::PutUser(
        User::new(UserId::new(170), ACME, "maria", "maria@acme.example")
            .with_grant(Grant::new(CASHIER, Access::specific([NORTH])))
            .with_grant(Grant::new(MANAGER, Access::specific([SOUTH]))),
    )])
    .unwrap();
    let x = e
        .snapshot()
        .explain(UserId::new(170), T::REFUND | T::SELL, &OnStore(ACME, NORTH));
    assert_eq!(
        to_json(&x),
        json!({
            "decision": {"decision": "deny", "reason": "outside_scope", "detail": "store"},
            "grants": [
                {"grant": 0, "role": 3, "role_name": "Cashier",
                 "verdict": {"verdict": "permission_missing", "permissions": ["REFUND"]}},
                {"grant": 1, "role": 2, "role_name": "Manager",
                 "verdict": {"verdict": "denies",
                             "denial": {"reason": "outside_scope", "detail": "store"}}},
            ]
        })
    );
    let allowed = e
        .snapshot()
        .explain(OWNER, T::SELL, &OnUser(ACME, CASHIER_NORTH));
    assert_eq!(
        to_json(&allowed)["grants"][0]["verdict"],
        json!({"verdict": "allows"})
    );
}

#[test]
fn a_scope_serializes_its_account_and_clauses() {
    let e = engine();
    let scope = e.snapshot().scope_for(MANAGER_NORTH, T::SHIP);
    assert_eq!(
        to_json(&scope),
        json!({
            "account": 1,
            "clauses": [{"stores": {"only": [10]}, "sources": {"only": [21]}, "channels": "everything"}],
            "no_sources": false,
        })
    );
    let nothing = e.snapshot().scope_for(DISABLED, T::SHIP);
    assert_eq!(
        to_json(&nothing),
        json!({"account": 1, "clauses": [], "no_sources": false})
    );
}

#[test]
fn an_applied_batch_and_a_refused_batch_serialize_for_a_client() {
    let e = shop();
    let (owner, shop_id, cashier) = (UserId::new(1), AccountId::new(1), shopguard::RoleId::new(3));
    let new = User::new(UserId::new(300), shop_id, "neo", "neo@acme.example")
        .with_grant(Grant::new(cashier, Access::All));
    let applied = e.apply(owner, Change::CreateUser(new)).unwrap();
    assert_eq!(
        to_json(&applied),
        json!({
            "revision": applied.revision(),
            "events": [{"Invited": {"user": 300, "email": "neo@acme.example"}}],
        })
    );
    // A username taken, by the user just created.
    let clash = User::new(UserId::new(301), shop_id, "neo", "other@acme.example")
        .with_grant(Grant::new(cashier, Access::All));
    let err = e
        .apply_all(owner, vec![Change::CreateUser(clash)])
        .unwrap_err();
    let body = to_json(&err);
    assert_eq!(body["kind"], "duplicate");
    assert_eq!(body["message"], err.to_string());
    assert_eq!(body["problems_omitted"], 0);
    assert_eq!(
        body["problems"],
        json!([{
            "kind": "duplicate", "reason": err.problems()[0].reason(), "change": 0,
            "line": null, "column": null, "field": "username",
            "key": {"kind": "User", "id": 301},
        }])
    );
    // Nothing in the body names the other user's id (R20).
    assert!(!body.to_string().contains("300"), "{body}");
}

#[cfg(feature = "csv")]
#[test]
fn a_refused_upload_serializes_its_problems_by_line_and_column() {
    use shopguard::import::CsvLimits;
    let e = shop();
    // The POS template, with its Stores column.
    let header = "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n";
    let file = format!(
        "{header}a,same@acme.example,1,UTC,Cashier,All,Create\n\
         b,same@acme.example,1,UTC,Cashier,All,Create\n"
    );
    let mut next = 900;
    let err = e
        .upload_users_csv(
            UserId::new(1),
            file.as_bytes(),
            &CsvLimits::default(),
            &mut || {
                next += 1;
                UserId::new(next)
            },
        )
        .unwrap_err();
    let body = to_json(&err);
    assert_eq!(body["kind"], "duplicate", "{body}");
    let p = &body["problems"][0];
    assert_eq!(
        (&p["kind"], &p["line"], &p["column"], &p["field"]),
        (
            &json!("duplicate"),
            &json!(3),
            &json!("E-mail"),
            &json!("E-mail")
        ),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Permissions by name.

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Named {
    #[serde(with = "shopguard::permission_names")]
    permissions: Oms,
}

#[test]
fn the_stored_form_is_the_names_and_the_old_bit_mask_still_reads() {
    let role = Role::new(ADMIN, ACME, "Admin", level(1), T::SELL | T::SHIP);
    let stored = to_json(&role);
    // New records name their permissions, in bit order.
    assert_eq!(stored["permissions"], json!(["SELL", "SHIP"]));
    let back: Role<T> = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(back, role);
    // Stores written before hold bit masks; names are read in any case, display names too.
    for old in [json!(5), json!(["sell", "Ship"]), json!("SHIP | Sell")] {
        let mut v = stored.clone();
        v["permissions"] = old.clone();
        let back: Role<T> = serde_json::from_value(v).unwrap();
        assert_eq!(back.permissions(), T::SELL | T::SHIP, "{old}");
    }
    for bad in [
        json!(1 << 7),
        json!(-1),
        json!(["SELL", "FLY"]),
        json!("SELL | FLY"),
        json!(["SELL | SHIP"]),
        json!([""]),
        json!("0x1"),
    ] {
        let mut v = stored.clone();
        v["permissions"] = bad.clone();
        assert!(
            serde_json::from_value::<Role<T>>(v).is_err(),
            "{bad} was accepted"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any mask of known bits: its names are the flags' names in bit order, and the names, the
    /// `A | B` text and the bit mask all read back to it; any unknown bit is refused.
    #[test]
    fn permission_names_round_trip_and_unknown_bits_are_refused(bits in any::<u64>()) {
        let known = bits & Oms::all().bits();
        let p = Oms::from_bits(known).unwrap();
        let want: Vec<&str> = (0..64)
            .filter(|b| known & (1u64 << b) != 0)
            .map(|b| Oms::permissions().iter().find(|i| i.flag().bits() == 1u64 << b).unwrap().name())
            .collect();
        let json = to_json(&Named { permissions: p });
        prop_assert_eq!(&json, &json!({"permissions": want}));
        prop_assert_eq!(serde_json::from_value::<Named>(json).unwrap().permissions, p);
        let text = want.join(" | ");
        prop_assert_eq!(serde_json::from_value::<Named>(json!({"permissions": text})).unwrap().permissions, p);
        prop_assert_eq!(serde_json::from_value::<Named>(json!({"permissions": known})).unwrap().permissions, p);
        if bits != known {
            let unknown = json!({"permissions": bits});
            prop_assert!(serde_json::from_value::<Named>(unknown).is_err());
            prop_assert!(serde_json::from_value::<Oms>(json!(bits)).is_err());
            let forged = Named { permissions: Oms::from_bits_retain(bits) };
            prop_assert!(serde_json::to_value(&forged).is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing permission text.

#[track_caller]
fn case(text: &str, want: Option<Pos>) {
    assert_eq!(Pos::parse(text).ok(), want, "{text:?}");
    if want.is_none() {
        assert_eq!(
            Pos::parse(text).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}

#[test]
fn permission_text_takes_flag_and_display_names_in_any_case_and_nothing_else() {
    case("VIEW_REPORTS", Some(Pos::VIEW_REPORTS));
    case("view_reports", Some(Pos::VIEW_REPORTS));
    case("View reports", Some(Pos::VIEW_REPORTS));
    case("view reports", Some(Pos::VIEW_REPORTS));
    case("VIEW REPORTS", Some(Pos::VIEW_REPORTS));
    case(
        "  sell |Open register | CLOSE_REGISTER ",
        Some(Pos::SELL | Pos::OPEN_REGISTER | Pos::CLOSE_REGISTER),
    );
    case("SELL | SELL", Some(Pos::SELL));
    case("", Some(Pos::empty()));
    case("   ", Some(Pos::empty()));
    // Strict: nothing but whole names.
    case("view  reports", None);
    case("view-reports", None);
    case("viewreports", None);
    case("VIEW_REPORT", None);
    case("SELL |", None);
    case("| SELL", None);
    case("SELL || VIEW_REPORTS", None);
    case("0x1", None);
    case("1", None);
    case("SELL, VIEW_REPORTS", None);
    case("Make sales and take payments", None);
    case("ſell", None);
    assert_eq!(
        Pos::parse("SELL | fly").unwrap_err().to_string(),
        "cannot parse permissions `SELL | fly`: `fly` names no permission"
    );
    for info in Pos::permissions() {
        assert_eq!(Pos::parse(&info.display_name()).unwrap(), info.flag());
        assert_eq!(
            Pos::parse(&info.display_name().to_uppercase()).unwrap(),
            info.flag()
        );
    }
}

shopguard::permission_catalog! {
    /// Two flags whose names differ only by case.
    pub(crate) struct Cased {
        SELL = 0, "Register", Scoped, "sell";
        Sell = 1, "Register", Scoped, "sell again";
    }
}

#[test]
fn a_name_that_fits_two_flags_is_refused() {
    assert_eq!(
        Cased::parse("SELL").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert!(Cased::parse("sell").is_err());
    assert_eq!(
        Cased::parse("Sell").unwrap_err().to_string(),
        "cannot parse permissions `Sell`: `Sell` names more than one permission"
    );
}
