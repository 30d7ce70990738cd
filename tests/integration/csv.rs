//! CSV bulk upload and download (R18), with seed 003's template.

use proptest::prelude::*;
use shopguard::catalog::oms::{self, Oms};
use shopguard::import::CsvLimits;
use shopguard::{
    Access, Account, AccountId, Engine, ErrorKind, Grant, Mutation, Source, SourceId, Store,
    StoreId, User, UserId,
};

use crate::fixture::state;

const ACME: AccountId = AccountId::new(1);
const ROOT: UserId = UserId::new(1);
const MANAGER: UserId = UserId::new(2);
const HEADER: &str = "Username,E-mail,Enabled,Access all sales channels,Access all sources,Timezone,Role,Sources,Action\n";

fn engine(seats: u32) -> Engine<Oms> {
    let e = Engine::new();
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(ACME, "Acme").with_seat_limit(seats)),
        Mutation::PutStore(Store::new(StoreId::new(10), ACME, "Madrid")),
        Mutation::PutStore(Store::new(StoreId::new(11), ACME, "Lisbon")),
        Mutation::PutSource(Source::new(SourceId::new(20), ACME, "WAREHOUSE")),
        Mutation::PutSource(Source::new(SourceId::new(21), ACME, "test-store")),
        Mutation::PutChannel(shopguard::Channel::new(
            shopguard::ChannelId::new(30),
            ACME,
            "Web",
        )),
        Mutation::PutRole(oms::administrator(shopguard::RoleId::new(1), ACME)),
        Mutation::PutRole(
            oms::store_manager(shopguard::RoleId::new(2), ACME)
                .with_store_ceiling(Access::specific([StoreId::new(10)])),
        ),
        Mutation::PutRole(
            oms::store_assistant(shopguard::RoleId::new(3), ACME)
                .with_store_ceiling(Access::specific([StoreId::new(10)])),
        ),
        Mutation::PutUser(
            User::new(ROOT, ACME, "root", "root@site.com")
                .with_owner(true)
                .with_grant(Grant::new(shopguard::RoleId::new(1), Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(MANAGER, ACME, "madrid-manager", "mm@site.com")
                .with_grant(Grant::new(shopguard::RoleId::new(2), Access::All))
                .with_sources(Access::specific([SourceId::new(21)])),
        ),
    ])
    .unwrap();
    e
}

fn ids() -> impl FnMut() -> UserId {
    let mut next = 100;
    move || {
        next += 1;
        UserId::new(next)
    }
}

fn upload(
    e: &Engine<Oms>,
    actor: UserId,
    csv: &str,
) -> Result<shopguard::import::Uploaded, shopguard::Error> {
    e.upload_users_csv(actor, csv.as_bytes(), &CsvLimits::default(), &mut ids())
}

/// Uploads a bad file and returns its problems as `line column: reason` lines; the engine must
/// be unchanged.
#[track_caller]
fn problems(e: &Engine<Oms>, actor: UserId, csv: &[u8], limits: &CsvLimits) -> Vec<String> {
    let before = state(e);
    let err = e
        .upload_users_csv(actor, csv, limits, &mut ids())
        .expect_err("the upload should be refused");
    // The error is its first problem's: kind, and field as the template's column.
    let first = &err.problems()[0];
    assert_eq!(err.kind(), first.kind(), "{err}");
    assert_eq!(err.field(), first.column(), "{err}");
    assert_eq!(first.field(), first.column());
    assert_eq!(state(e), before, "a refused upload changed the engine");
    err.problems()
        .iter()
        .map(|p| format!("{} {}: {}", p.line(), p.column().unwrap_or("-"), p.reason()))
        .collect()
}

#[test]
fn r18_the_seed_template_creates_users() {
    let e = engine(10);
    let csv = format!(
        "{HEADER}storeAssistant21,storeAssistant21@site.com,1,0,0,UTC,Store assistant,\"WAREHOUSE, test-store\",Create\n\
         cs1,cs1@site.com,0,1,1,Europe/Madrid,Customer service agent,,Create\n"
    );
    // The customer service role does not exist in this account yet.
    let p = problems(&e, ROOT, csv.as_bytes(), &CsvLimits::default());
    assert_eq!(p, ["3 Role: unknown role `Customer service agent`"]);
    let csv = csv.replace("Customer service agent", "Store manager");
    let up = upload(&e, ROOT, &csv).unwrap();
    assert_eq!((up.created(), up.updated()), (2, 0));
    assert_eq!(up.applied().events().len(), 2);
    let s = e.snapshot();
    let sa = s
        .users(ACME)
        .find(|u| u.username() == "storeAssistant21")
        .unwrap();
    assert!(sa.is_enabled());
    assert_eq!(
        sa.sources(),
        &Access::specific([SourceId::new(20), SourceId::new(21)])
    );
    assert_eq!(sa.channels(), &Access::None);
    let cs = s.users(ACME).find(|u| u.username() == "cs1").unwrap();
    assert!(!cs.is_enabled());
    assert_eq!(
        (cs.timezone(), cs.sources(), cs.channels()),
        ("Europe/Madrid", &Access::All, &Access::All)
    );
}

#[test]
fn r18_one_bad_row_applies_nothing_and_every_bad_row_is_reported() {
    let e = engine(10);
    let csv = format!(
        "{HEADER}good,good@site.com,1,0,0,UTC,Store assistant,WAREHOUSE,Create\n\
         bad name,bad@site.com,1,0,0,UTC,Store assistant,,Create\n\
         x,not-an-email,2,0,0,Mars/Olympus,Nobody,ATLANTIS,Delete\n\
         good2,good2@site.com,1,0,0,UTC,Store assistant,,Create\n"
    );
    let p = problems(&e, ROOT, csv.as_bytes(), &CsvLimits::default());
    assert_eq!(
        p,
        [
            "3 Username: invalid username `bad name`: must not contain white space",
            "4 Enabled: must be 1 or 0, found `2`",
            "4 Action: must be Create or Update, found `Delete`",
            "4 E-mail: invalid e-mail `not-an-email`: must be a valid address such as `name@example.com`",
            "4 Timezone: invalid timezone `Mars/Olympus`: must be an IANA name such as `Europe/Madrid`",
            "4 Role: unknown role `Nobody`",
            "4 Sources: unknown source `ATLANTIS`",
        ]
    );
    assert!(e.snapshot().users(ACME).all(|u| u.username() != "good"));
}

#[test]
fn r18_bad_files_get_clear_errors() {
    let e = engine(10);
    let limits = CsvLimits::default();
    let row = "a,a@site.com,1,0,0,UTC,Store assistant,,Create\n";
    let cases: Vec<(Vec<u8>, Vec<&str>)> = vec![
        (
            b"".to_vec(),
            vec!["1 -: the file is empty: a header is needed"],
        ),
        (
            format!("Username,Email,Enabled\n{row}").into_bytes(),
            vec![
                "1 -: the header must be `Username,E-mail,Enabled,Access all sales channels,Access all sources,Timezone,Role,Sources,Action`, found `Username,Email,Enabled`",
            ],
        ),
        (
            format!("{HEADER}a,a@site.com,1,0\n").into_bytes(),
            vec!["2 -: expected 9 fields, found 4"],
        ),
        (
            [
                HEADER.as_bytes(),
                b"\xff\xfe,a@site.com,1,0,0,UTC,Store assistant,,Create\n",
            ]
            .concat(),
            vec!["2 Username: is not valid UTF-8"],
        ),
        (
            format!("{HEADER}{row}{}", row.replace("a@site", "b@site")).into_bytes(),
            vec!["3 Username: `a` appears again: first on line 2"],
        ),
        (
            format!("{HEADER}=HYPERLINK(\"x\"),a@site.com,1,0,0,UTC,Store assistant,,Create\n")
                .into_bytes(),
            vec!["2 Username: looks like a spreadsheet formula (starts with =, +, - or @)"],
        ),
        (
            format!("{HEADER}root,r2@site.com,1,0,0,UTC,Store assistant,,Create\n").into_bytes(),
            vec!["2 Username: `root` already exists: use Update"],
        ),
        (
            format!("{HEADER}ghost,g@site.com,1,0,0,UTC,Store assistant,,Update\n").into_bytes(),
            vec!["2 Username: no user `ghost` to update"],
        ),
    ];
    for (file, want) in cases {
        assert_eq!(
            problems(&e, ROOT, &file, &limits),
            want,
            "{}",
            String::from_utf8_lossy(&file)
        );
    }
    let small = CsvLimits {
        max_bytes: 50,
        max_rows: 10,
    };
    assert_eq!(
        problems(&e, ROOT, format!("{HEADER}{row}").as_bytes(), &small),
        [format!(
            "0 -: is {} bytes: the limit is 50",
            HEADER.len() + row.len()
        )]
    );
    let two_rows = CsvLimits {
        max_bytes: 1 << 20,
        max_rows: 1,
    };
    let file = format!("{HEADER}{row}{}", row.replace('a', "b"));
    assert_eq!(
        problems(&e, ROOT, file.as_bytes(), &two_rows),
        ["3 -: more than 1 rows: the limit is 1"]
    );
}

#[test]
fn r18_a_byte_order_mark_is_accepted() {
    let e = engine(10);
    let file = format!("\u{feff}{HEADER}bom,bom@site.com,1,0,0,UTC,Store assistant,,Create\n");
    assert_eq!(upload(&e, ROOT, &file).unwrap().created(), 1);
}

#[test]
fn r18_rows_are_authorized_as_the_uploading_actor() {
    let e = engine(10);
    // A store manager (level 2, Madrid) may create assistants, but not managers, and not give
    // sources it lacks.
    let file = format!(
        "{HEADER}asst,asst@site.com,1,0,0,UTC,Store assistant,test-store,Create\n\
         peer,peer@site.com,1,0,0,UTC,Store manager,,Create\n\
         wide,wide@site.com,1,0,1,UTC,Store assistant,,Create\n"
    );
    let p = problems(&e, MANAGER, file.as_bytes(), &CsvLimits::default());
    assert_eq!(
        p,
        [
            "3 Role: cannot assign role `Store manager` (level 2): your level is 2",
            "4 Sources: cannot create user `wide`: it would give `MANAGE_SHIP_FROM_STORE_ORDERS` at sources outside yours",
        ]
    );
}

/// R18, R10: a manager who is not the owner updates, by upload, a user it manages, and its
/// download lists that user. Kills "delete `!`" in `authorize::may_edit`
/// (`src/admin/authorize.rs`), which let only the owner edit anyone by upload.
#[test]
fn r18_a_manager_updates_by_upload_the_users_it_manages() {
    let e = engine(10);
    let row = |enabled: u8, action: &str| {
        format!(
            "{HEADER}asst,asst@site.com,{enabled},0,0,UTC,Store assistant,test-store,{action}\n"
        )
    };
    upload(&e, MANAGER, &row(1, "Create")).unwrap();
    let down = e.snapshot().download_users_csv(MANAGER).unwrap();
    assert!(down.contains("asst,asst@site.com,1,"), "{down}");
    let up = upload(&e, MANAGER, &row(0, "Update")).unwrap();
    assert_eq!((up.created(), up.updated()), (0, 1));
    let s = e.snapshot();
    assert!(
        !s.users(ACME)
            .find(|u| u.username() == "asst")
            .unwrap()
            .is_enabled()
    );
}

#[test]
fn r12_an_upload_past_the_seat_limit_is_refused_on_the_row_that_passes_it() {
    let e = engine(3);
    let file = format!(
        "{HEADER}a,a@site.com,1,0,0,UTC,Store assistant,,Create\n\
         b,b@site.com,0,0,0,UTC,Store assistant,,Create\n\
         c,c@site.com,1,0,0,UTC,Store assistant,,Create\n"
    );
    let p = problems(&e, ROOT, file.as_bytes(), &CsvLimits::default());
    assert_eq!(p, ["4 Enabled: would be enabled user 4: the plan allows 3"]);
    // A handler can tell the plan's limit from a malformed file.
    let err = upload(&e, ROOT, &file).unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::SeatLimit, Some("Enabled"))
    );
}

#[test]
fn r18_a_refused_upload_has_its_first_problems_kind_and_column() {
    let e = engine(10);
    let cases = [
        (
            "a,same@site.com,1,0,0,UTC,Store assistant,,Create
             b,same@site.com,1,0,0,UTC,Store assistant,,Create
",
            ErrorKind::Duplicate,
            Some("E-mail"),
        ),
        (
            "a,a@site.com,1,0,0,Mars/Base,Store assistant,,Create
",
            ErrorKind::InvalidInput,
            Some("Timezone"),
        ),
        (
            "a,a@site.com,1,0,0,UTC,No such role,,Create
",
            ErrorKind::NotFound,
            Some("Role"),
        ),
        (
            "a,a@site.com,1,0,0,UTC,Store assistant,,Create,extra
",
            ErrorKind::InvalidInput,
            None,
        ),
    ];
    for (rows, kind, column) in cases {
        let err = upload(&e, ROOT, &format!("{HEADER}{rows}")).unwrap_err();
        assert_eq!((err.kind(), err.field()), (kind, column), "{err}");
    }
    // As the uploading store manager: the first problem is an authorization rule's.
    let file = format!(
        "{HEADER}peer,peer@site.com,1,0,0,UTC,Store manager,,Create
"
    );
    let err = upload(&e, MANAGER, &file).unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::Hierarchy, Some("Role"))
    );
}

#[test]
fn r18_download_uploads_back_unchanged_and_neutralises_formulas() {
    let e = engine(10);
    let file = format!(
        "{HEADER}'-dash,dash@site.com,1,1,0,Europe/Lisbon,Store assistant,\"WAREHOUSE, test-store\",Create\n"
    );
    upload(&e, ROOT, &file).unwrap();
    let down = e.snapshot().download_users_csv(ROOT).unwrap();
    assert!(down.contains("'-dash,dash@site.com,1,1,0,Europe/Lisbon,Store assistant,\"WAREHOUSE, test-store\",Update"), "{down}");
    let users_before: Vec<String> = e.snapshot().users(ACME).map(|u| format!("{u:?}")).collect();
    let back = upload(&e, ROOT, &down).unwrap();
    assert_eq!((back.unchanged(), back.updated()), (3, 0));
    let users_after: Vec<String> = e.snapshot().users(ACME).map(|u| format!("{u:?}")).collect();
    assert_eq!(users_before, users_after);
    assert_eq!(e.snapshot().download_users_csv(ROOT).unwrap(), down);
    // A manager's download uploads back too, though it lists users the manager may not edit.
    let mine = e.snapshot().download_users_csv(MANAGER).unwrap();
    assert!(upload(&e, MANAGER, &mine).is_ok(), "{mine}");
}

#[test]
fn r18_quotes_empty_roles_and_refused_rows_round_trip_or_are_audited() {
    let audit = std::sync::Arc::new(shopguard::audit::MemoryAudit::new());
    let e = engine(10).with_audit(audit.clone());
    // A username starting with a quote keeps it through download and upload.
    let file = format!("{HEADER}''=quoted,q@site.com,1,0,0,UTC,Store assistant,,Create\n");
    upload(&e, ROOT, &file).unwrap();
    let s = e.snapshot();
    assert!(s.users(ACME).any(|u| u.username() == "'=quoted"));
    let down = s.download_users_csv(ROOT).unwrap();
    assert!(down.contains("''=quoted"), "{down}");
    assert_eq!(upload(&e, ROOT, &down).unwrap().unchanged(), 3);
    // An empty Role cell keeps an existing user's grants, and is refused on Create.
    let keep = format!("{HEADER}madrid-manager,mm@site.com,0,0,0,UTC,,test-store,Update\n");
    upload(&e, ROOT, &keep).unwrap();
    let mm = e.snapshot().user(MANAGER).unwrap().clone();
    assert_eq!(mm.grants()[0].role, shopguard::RoleId::new(2));
    assert!(!mm.is_enabled());
    let file = format!("{HEADER}new,new@site.com,1,0,0,UTC,,,Create\n");
    let p = problems(&e, ROOT, file.as_bytes(), &CsvLimits::default());
    assert_eq!(p, ["2 Role: a role is required to create a user"]);
    // A row refused by authorization is audited as a refused attempt.
    let before = audit.records().len();
    let file = format!("{HEADER}boss2,boss2@site.com,1,0,0,UTC,Administrator,,Create\n");
    assert!(upload(&e, MANAGER, &file).is_err());
    let records = audit.records();
    assert_eq!(records.len(), before + 1);
    assert!(!records[before].outcome.is_applied());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any set of users downloads and uploads back to the same state.
    #[test]
    fn any_users_round_trip_through_the_template(
        users in prop::collection::vec(
            (any::<bool>(), 0u8..3, 0u8..4, 0u8..3, prop::sample::select(vec!["UTC", "Europe/Madrid", "America/New_York"])),
            0..12,
        )
    ) {
        let e = engine(100);
        let mut batch = Vec::new();
        for (i, (enabled, role, sources, channels, tz)) in users.iter().enumerate() {
            let src = match sources {
                0 => Access::None,
                1 => Access::All,
                2 => Access::specific([SourceId::new(20)]),
                _ => Access::specific([SourceId::new(20), SourceId::new(21)]),
            };
            // The template has no channel list: specific channels must survive an update.
            let ch = match channels {
                0 => Access::None,
                1 => Access::All,
                _ => Access::specific([shopguard::ChannelId::new(30)]),
            };
            let u = User::new(UserId::new(500 + i as u64), ACME, &format!("user{i}"), &format!("user{i}@site.com"))
                .with_enabled(*enabled)
                .with_grant(Grant::new(shopguard::RoleId::new(2 + u64::from(*role % 2)), Access::All))
                .with_sources(src)
                .with_channels(ch)
                .with_timezone(tz)
                .unwrap();
            batch.push(Mutation::PutUser(u));
        }
        e.unchecked_apply(batch).unwrap();
        let users_before: Vec<String> = e.snapshot().users(ACME).map(|u| format!("{u:?}")).collect();
        let down = e.snapshot().download_users_csv(ROOT).unwrap();
        upload(&e, ROOT, &down).unwrap();
        let users_after: Vec<String> = e.snapshot().users(ACME).map(|u| format!("{u:?}")).collect();
        prop_assert_eq!(users_before, users_after);
    }
}

#[test]
fn r18_each_problem_of_a_large_file_names_its_rule_and_column() {
    let e = engine(10);
    let mut file = String::from(HEADER);
    let mut want = Vec::new();
    for i in 0..300 {
        let line = i as u64 + 2;
        let good = format!("u{i},u{i}@site.com,0,0,0,UTC,Store assistant,WAREHOUSE,Create");
        let (row, problem) = match i {
            7 => (
                good.replace(",0,0,0,", ",2,0,0,"),
                Some(("Enabled", ErrorKind::InvalidInput)),
            ),
            31 => (
                good.replace("Store assistant", "Nobody"),
                Some(("Role", ErrorKind::NotFound)),
            ),
            62 => (
                good.replace("WAREHOUSE", "ATLANTIS"),
                Some(("Sources", ErrorKind::NotFound)),
            ),
            90 => (
                good.replace("u90,", "u89,"),
                Some(("Username", ErrorKind::Duplicate)),
            ),
            121 => (
                good.replace("u121,", "root,"),
                Some(("Username", ErrorKind::Duplicate)),
            ),
            150 => (
                good.replace("u150@site.com", "not-an-email"),
                Some(("E-mail", ErrorKind::InvalidInput)),
            ),
            181 => (
                good.replace("UTC", "Mars/Olympus"),
                Some(("Timezone", ErrorKind::InvalidInput)),
            ),
            210 => (
                good.replace("u210,", "=cmd,"),
                Some(("Username", ErrorKind::InvalidInput)),
            ),
            240 => (
                good.replace("Create", "Update"),
                Some(("Username", ErrorKind::NotFound)),
            ),
            // Enabled users: the account has 2 of its 10 seats taken; the ninth enabled row of
            // the file is the eleventh enabled user.
            _ if (270..278).contains(&i) => (good.replace(",0,0,0,", ",1,0,0,"), None),
            278 => (
                good.replace(",0,0,0,", ",1,0,0,"),
                Some(("Enabled", ErrorKind::SeatLimit)),
            ),
            _ => (good, None),
        };
        file += &row;
        file.push('\n');
        if let Some((column, kind)) = problem {
            want.push((line, Some(column), kind));
        }
    }
    assert_eq!(want.len(), 10);
    let before = state(&e);
    let err = upload(&e, ROOT, &file).unwrap_err();
    assert_eq!(state(&e), before);
    let got: Vec<(u64, Option<&str>, ErrorKind)> = err
        .problems()
        .iter()
        .map(|p| (p.line(), p.column(), p.kind()))
        .collect();
    assert_eq!(got, want, "{err}");
}

#[test]
fn r18_a_preview_says_what_an_upload_would_do_and_changes_nothing() {
    let audit = std::sync::Arc::new(shopguard::audit::MemoryAudit::new());
    let e = engine(10).with_audit(audit.clone());
    let file = format!(
        "{HEADER}a1,a1@site.com,1,0,0,UTC,Store assistant,,Create\n\
         a2,a2@site.com,0,0,0,UTC,Store assistant,WAREHOUSE,Create\n\
         madrid-manager,mm@site.com,0,0,0,UTC,,test-store,Update\n"
    );
    let before = state(&e);
    let preview = e
        .preview_users_csv(ROOT, file.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap();
    assert_eq!(state(&e), before);
    assert!(audit.records().is_empty());
    assert_eq!(
        (preview.created(), preview.updated(), preview.unchanged()),
        (2, 1, 0)
    );
    assert_eq!(preview.applied().events().len(), 2);
    let done = upload(&e, ROOT, &file).unwrap();
    assert_eq!(
        (done.created(), done.updated(), done.applied().revision()),
        (2, 1, preview.applied().revision())
    );
    // A file the upload would refuse, the preview refuses with the same problems.
    let bad = format!("{HEADER}a1,zz@site.com,1,0,0,UTC,Store assistant,,Create\n");
    let p = e
        .preview_users_csv(ROOT, bad.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap_err();
    let u = upload(&e, ROOT, &bad).unwrap_err();
    assert_eq!(p.to_string(), u.to_string());
}

/// A 300-row file with 10 bad rows, uploaded by the Madrid store manager: every problem comes
/// from the engine's planner (the dry run), each on its own line with its own kind and the
/// template's column. The same changes built by hand and given to `Engine::dry_run` get the
/// same problems, change for change.
#[test]
fn r18_a_large_upload_reports_the_dry_runs_problems_on_their_rows() {
    // Two enabled users now; 300 rows, of which 291 enable a user: the plan allows 292, so the
    // last enabling row is one too many.
    let e = engine(292);
    let before = state(&e);
    // (line, cells, the kind and column the rule text says are at fault)
    let mut rows: Vec<(String, Option<(ErrorKind, &str)>)> = Vec::new();
    let good = |n: usize, enabled: u8| {
        format!("user{n},user{n}@site.com,{enabled},0,0,UTC,Store assistant,test-store,Create")
    };
    let bad: [(usize, String, ErrorKind, &str); 10] = [
        // R16: formats, checked by the planner for rows whose cells resolve.
        (
            10,
            "bad name,bn@site.com,0,0,0,UTC,Store assistant,test-store,Create".into(),
            ErrorKind::InvalidInput,
            "Username",
        ),
        (
            20,
            "nomail,not-an-address,0,0,0,UTC,Store assistant,test-store,Create".into(),
            ErrorKind::InvalidInput,
            "E-mail",
        ),
        // R16: unique usernames and e-mails, in the file and in the account.
        (
            30,
            "user5,again5@site.com,0,0,0,UTC,Store assistant,test-store,Create".into(),
            ErrorKind::Duplicate,
            "Username",
        ),
        (
            40,
            "mine,root@site.com,0,0,0,UTC,Store assistant,test-store,Create".into(),
            ErrorKind::Duplicate,
            "E-mail",
        ),
        (
            50,
            "root,r50@site.com,0,0,0,UTC,Store assistant,test-store,Create".into(),
            ErrorKind::Duplicate,
            "Username",
        ),
        // R7: a role at the manager's own level.
        (
            60,
            "peer,peer@site.com,0,0,0,UTC,Store manager,test-store,Create".into(),
            ErrorKind::Hierarchy,
            "Role",
        ),
        // R20: a source the manager does not see reads as no source.
        (
            70,
            "wh,wh@site.com,0,0,0,UTC,Store assistant,WAREHOUSE,Create".into(),
            ErrorKind::NotFound,
            "Sources",
        ),
        // R8: every source, which the manager does not hold.
        (
            80,
            "all,all@site.com,0,0,1,UTC,Store assistant,,Create".into(),
            ErrorKind::Escalation,
            "Sources",
        ),
        // R10, R20: the owner, whom a manager may not edit, reads as no user.
        (
            90,
            "root,root@site.com,1,0,0,UTC,Store assistant,test-store,Update".into(),
            ErrorKind::NotFound,
            "Username",
        ),
        // R12: the seat limit, on the last row that enables a user.
        (301, good(301, 1), ErrorKind::SeatLimit, "Enabled"),
    ];
    let mut n = 0;
    for line in 2..=301 {
        match bad.iter().find(|b| b.0 == line) {
            Some((_, cells, kind, column)) => rows.push((cells.clone(), Some((*kind, *column)))),
            None => {
                n += 1;
                rows.push((good(n, 1), None));
            }
        }
    }
    assert_eq!(rows.len(), 300);
    let file: String = core::iter::once(HEADER.trim_end().to_owned())
        .chain(rows.iter().map(|(cells, _)| cells.clone()))
        .collect::<Vec<_>>()
        .join("\n");

    let err = e
        .upload_users_csv(MANAGER, file.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap_err();
    assert_eq!(state(&e), before, "a refused upload changed the engine");
    let found: Vec<(u64, ErrorKind, &str)> = err
        .problems()
        .iter()
        .map(|p| (p.line(), p.kind(), p.column().unwrap_or("-")))
        .collect();
    let want: Vec<(u64, ErrorKind, &str)> = rows
        .iter()
        .zip(2..)
        .filter_map(|((_, bad), line)| bad.map(|(kind, column)| (line, kind, column)))
        .collect();
    assert_eq!(found, want, "{err}");
    // The preview says the same, and changes nothing either.
    let preview = e
        .preview_users_csv(MANAGER, file.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap_err();
    assert_eq!(preview.problems(), err.problems());
    assert_eq!(state(&e), before);

    // The same changes, built by hand (the rows naming the owner and a source the manager
    // does not see resolve to no change), and planned by the dry run: its problems are the
    // upload's, change for change.
    let mut next = ids();
    let mut changes = Vec::new();
    let mut lines = Vec::new();
    for ((cells, _), line) in rows.iter().zip(2u64..) {
        let c: Vec<&str> = cells.split(',').collect();
        if c[8] == "Update" || c[7] == "WAREHOUSE" {
            continue;
        }
        let role = if c[6] == "Store manager" { 2 } else { 3 };
        let sources = match (c[4], c[7]) {
            ("1", _) => Access::All,
            _ => Access::specific([SourceId::new(21)]),
        };
        let user = User::new(next(), ACME, c[0], c[1])
            .with_enabled(c[2] == "1")
            .with_grant(Grant::new(shopguard::RoleId::new(role), Access::All))
            .with_sources(sources);
        changes.push(shopguard::Change::CreateUser(user));
        lines.push(line);
    }
    let dry = e.dry_run(MANAGER, &changes).unwrap_err();
    let mut planned: Vec<(u64, ErrorKind, Option<&str>)> = dry
        .problems()
        .iter()
        .map(|p| (lines[p.change().unwrap()], p.kind(), p.field()))
        .collect();
    planned.sort_by_key(|p| p.0);
    let uploaded: Vec<(u64, ErrorKind)> = found
        .iter()
        .filter(|p| p.1 != ErrorKind::NotFound)
        .map(|p| (p.0, p.1))
        .collect();
    assert_eq!(
        planned.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
        uploaded,
        "{dry}"
    );
    assert_eq!(dry.problems().len(), 8);
    assert!(planned.contains(&(301, ErrorKind::SeatLimit, Some("enabled"))));
    assert!(
        err.problems()
            .iter()
            .any(|p| p.reason() == "would be enabled user 293: the plan allows 292"),
        "{err}"
    );
    assert!(planned.contains(&(20, ErrorKind::InvalidInput, Some("e-mail"))));
}

/// An upload is based on the state its file was read against: a row that matched its user
/// then is left out even if someone else changed the user meanwhile (the change stays), and
/// a row that changes a user someone else changed meanwhile is a conflict, never a silent
/// overwrite.
#[test]
fn r18_an_upload_never_undoes_a_change_made_while_it_was_read() {
    let e = engine(10);
    let down = e.snapshot().download_users_csv(ROOT).unwrap();
    let file = format!("{down}newbie,newbie@site.com,1,0,0,UTC,Store assistant,,Create\n");
    // While the file is read (new ids are asked for then), the owner disables the manager.
    let mut next = ids();
    let mut racing = || {
        e.apply(ROOT, shopguard::Change::DisableUser(MANAGER)).ok();
        next()
    };
    let up = e
        .upload_users_csv(ROOT, file.as_bytes(), &CsvLimits::default(), &mut racing)
        .unwrap();
    assert_eq!((up.created(), up.unchanged()), (1, 2));
    assert!(!e.snapshot().user(MANAGER).unwrap().is_enabled());
    // A row that would change the manager, read before another change to it: a conflict.
    let e = engine(10);
    let file = e
        .snapshot()
        .download_users_csv(ROOT)
        .unwrap()
        .replace("mm@site.com", "mm2@site.com");
    let mut next = ids();
    let mut racing = || {
        e.apply(ROOT, shopguard::Change::DisableUser(MANAGER)).ok();
        next()
    };
    let file = format!("{file}newbie,newbie@site.com,1,0,0,UTC,Store assistant,,Create\n");
    let err = e
        .upload_users_csv(ROOT, file.as_bytes(), &CsvLimits::default(), &mut racing)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(e.snapshot().user(MANAGER).unwrap().email(), "mm@site.com");
}

/// At most one problem per cell, a clash between rows on the later row naming the earlier
/// whatever ids the rows' users get, and every problem counted.
#[test]
fn r18_clashes_between_rows_are_one_problem_on_the_later_row() {
    let e = engine(10);
    let file = format!(
        "{HEADER}a,same@site.com,1,0,0,UTC,Store assistant,,Create\n\
         b,same@site.com,1,0,0,UTC,Store assistant,,Create\n\
         c,same@site.com,1,0,0,UTC,Store assistant,,Create\n"
    );
    let p = problems(&e, ROOT, file.as_bytes(), &CsvLimits::default());
    assert_eq!(
        p,
        [
            "3 E-mail: `same@site.com` appears again: first on line 2",
            "4 E-mail: `same@site.com` appears again: first on line 2",
        ]
    );
    // New ids handed out in decreasing order: the same answer.
    let mut down = 1_000;
    let mut decreasing = || {
        down -= 1;
        UserId::new(down)
    };
    let err = e
        .upload_users_csv(
            ROOT,
            file.as_bytes(),
            &CsvLimits::default(),
            &mut decreasing,
        )
        .unwrap_err();
    let lines: Vec<u64> = err.problems().iter().map(|p| p.line()).collect();
    assert_eq!(lines, [3, 4], "{err}");
    // One bad cell and 150 rows the manager may not make: every problem counted.
    let mut file = format!("{HEADER}tz,tz@site.com,1,0,0,Mars/Olympus,Store assistant,,Create\n");
    for n in 0..150 {
        file.push_str(&format!(
            "peer{n},peer{n}@site.com,0,0,0,UTC,Store manager,test-store,Create\n"
        ));
    }
    let err = e
        .upload_users_csv(MANAGER, file.as_bytes(), &CsvLimits::default(), &mut ids())
        .unwrap_err();
    assert_eq!(err.problems().len(), 100);
    assert_eq!(err.problems().len() + err.problems_omitted(), 151, "{err}");
}
