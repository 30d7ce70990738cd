//! Issue 17, R19: a write that skips authorization (`unchecked_apply_as`, `unchecked_apply`) is
//! audited too, as one record under the system the host names.

use std::sync::Arc;

use crate::fixture::state;
use shopguard::audit::{AuditActor, MemoryAudit, Object, Outcome};
use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::{MemoryStorage, Storage};
use shopguard::{
    Access, Account, AccountId, Change, Engine, ErrorKind, Grant, Mutation, RoleId, Store, StoreId,
    User, UserId,
};

const SHOP: AccountId = AccountId::new(1);
const OTHER: AccountId = AccountId::new(2);
const NORTH: StoreId = StoreId::new(10);
const OWNER: UserId = UserId::new(1);

fn shop() -> Vec<Mutation<Pos>> {
    vec![
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutRole(pos::admin(RoleId::new(1), SHOP)),
        Mutation::PutUser(
            User::new(OWNER, SHOP, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
    ]
}

fn audited() -> (Engine<Pos>, Arc<MemoryAudit<Pos>>) {
    let audit = Arc::new(MemoryAudit::new());
    (Engine::new().with_audit(audit.clone()), audit)
}

#[test]
fn r19_an_unchecked_batch_is_audited_under_the_system_the_host_names() {
    let (e, audit) = audited();
    let revision = e.unchecked_apply_as("onboarding", shop()).unwrap();
    let records = audit.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.actor, AuditActor::System("onboarding".to_owned()));
    assert_eq!(
        (r.actor.user(), r.actor.system()),
        (None, Some("onboarding"))
    );
    assert_eq!(r.account, Some(SHOP));
    assert_eq!(r.change, Change::Unchecked { mutations: shop() });
    assert_eq!(r.outcome, Outcome::Applied { revision });
    // Nothing existed before; the change holds what was written.
    assert!(r.before.is_empty() && r.after.is_empty());
    // A migration that renames the store: the record keeps the store as it was.
    let renamed = Mutation::PutStore(Store::new(NORTH, SHOP, "North Street"));
    e.unchecked_apply_as("migration 7", [renamed.clone()])
        .unwrap();
    let r = audit.records().pop().unwrap();
    assert_eq!(r.actor.system(), Some("migration 7"));
    assert_eq!(r.before, [Object::Store(Store::new(NORTH, SHOP, "North"))]);
    assert_eq!(
        r.change,
        Change::Unchecked {
            mutations: vec![renamed]
        }
    );
}

#[test]
fn r19_unchecked_apply_audits_under_its_own_name() {
    let (e, audit) = audited();
    e.unchecked_apply(shop()).unwrap();
    assert_eq!(
        audit.records()[0].actor,
        AuditActor::System("unchecked_apply".to_owned())
    );
}

#[test]
fn r19_a_batch_over_several_accounts_names_no_account() {
    let (e, audit) = audited();
    let mut batch = shop();
    batch.push(Mutation::PutAccount(Account::new(OTHER, "Other Shop")));
    e.unchecked_apply_as("onboarding", batch).unwrap();
    assert_eq!(audit.records()[0].account, None);
    // A removal counts for the account the removed object belongs to.
    e.unchecked_apply_as("cleanup", [Mutation::RemoveAccount(OTHER)])
        .unwrap();
    assert_eq!(audit.records()[1].account, Some(OTHER));
}

#[test]
fn r19_a_refused_unchecked_batch_is_audited_as_refused_and_changes_nothing() {
    let (e, audit) = audited();
    e.unchecked_apply_as("onboarding", shop()).unwrap();
    let before = state(&e);
    let clash = User::new(UserId::new(2), SHOP, "OWNER", "other@shop.example")
        .with_grant(Grant::new(RoleId::new(1), Access::All));
    let err = e
        .unchecked_apply_as("import", [Mutation::PutUser(clash)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Duplicate);
    assert_eq!(state(&e), before);
    let r = audit.records().pop().unwrap();
    assert_eq!(r.actor.system(), Some("import"));
    assert_eq!(
        r.outcome,
        Outcome::Refused {
            kind: "Duplicate".to_owned(),
            message: err.to_string(),
        }
    );
}

#[test]
fn a_system_name_is_a_name_people_read() {
    let (e, audit) = audited();
    for bad in ["", " padded", "tab\there"] {
        let err = e.unchecked_apply_as(bad, shop()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    assert!(audit.records().is_empty());
    assert_eq!(e.revision(), 0);
}

#[test]
fn an_unchecked_change_is_not_applied_through_apply() {
    let (e, _) = audited();
    e.unchecked_apply(shop()).unwrap();
    let err = e
        .apply(OWNER, Change::Unchecked { mutations: shop() })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn r19_the_storage_keeps_unchecked_batches_in_its_audit_and_reads_old_records_back() {
    let store = Arc::new(MemoryStorage::<Pos>::new());
    let e = Engine::open(Arc::clone(&store)).unwrap();
    e.unchecked_apply_as("onboarding", shop()).unwrap();
    e.apply(
        OWNER,
        Change::CreateStore(Store::new(StoreId::new(11), SHOP, "South")),
    )
    .unwrap();
    let stored = store.audit_records().unwrap();
    let actors: Vec<&AuditActor> = stored.iter().map(|r| &r.actor).collect();
    assert_eq!(
        actors,
        [
            &AuditActor::System("onboarding".to_owned()),
            &AuditActor::User(OWNER)
        ]
    );
    // A user is stored as its id, as records were before systems were recorded; a system as
    // its name.
    let json = serde_json::to_value(&stored).unwrap();
    assert_eq!(json[0]["actor"], serde_json::json!("onboarding"));
    assert_eq!(json[1]["actor"], serde_json::json!(1));
    let back: Vec<shopguard::audit::AuditRecord<Pos>> = serde_json::from_value(json).unwrap();
    assert_eq!(back, stored);
}
