//! The `shopguard` binary end to end, on a temporary SQLite file: a seed policy applied as
//! bootstrap (twice: the second time changes nothing), checks and their exit codes, a CSV
//! import with errors refused whole in a dry run, an export, the audit, a policy applied as an
//! actor and refused for another, and a policy-test file with one wrong expectation failing.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test fails loudly on anything unexpected"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A folder of its own under the system's temporary folder, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("shopguard-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn db(&self) -> String {
        format!("sqlite:{}", self.path("shop.db").display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies")
}

/// Runs `shopguard` with `args` on the scratch database, in the POS catalog.
fn run(scratch: &Scratch, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopguard"))
        .args(args)
        .env("SHOPGUARD_DB", scratch.db())
        .env("SHOPGUARD_CATALOG", "pos")
        .env_remove("SHOPGUARD_ACCOUNT")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn code(o: &Output, want: i32) {
    assert_eq!(
        o.status.code(),
        Some(want),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn a_seed_policy_applied_checked_imported_exported_audited_and_tested() {
    let s = Scratch::new("e2e");
    let policy = examples().join("pos_outlets.toml");
    let policy = policy.to_str().unwrap();

    // An empty database: the diff is the whole file, pending (exit 1).
    let diff = run(&s, &["diff", policy, "--bootstrap", "--json"]);
    code(&diff, 1);
    let entries = json(&diff)["entries"].as_array().unwrap().len();
    assert_eq!(
        entries,
        1 + 2 + 3 + 6,
        "the account, 2 stores, 3 roles, 6 users"
    );

    // Bootstrap, then again: the second run changes nothing and says so.
    let first = run(&s, &["apply", policy, "--bootstrap"]);
    code(&first, 0);
    assert!(
        stdout(&first).contains("applied 12 changes as revision 1"),
        "{}",
        stdout(&first)
    );
    let again = run(&s, &["apply", policy, "--bootstrap"]);
    code(&again, 0);
    assert!(
        stdout(&again).contains("nothing to change"),
        "{}",
        stdout(&again)
    );
    let again = run(&s, &["apply", policy, "--bootstrap", "--json"]);
    code(&again, 0);
    assert_eq!(json(&again)["revision"], serde_json::Value::Null);
    assert_eq!(json(&again)["entries"].as_array().map(Vec::len), Some(0));
    code(&run(&s, &["diff", policy, "--bootstrap"]), 0);

    // Checks: exit 0 allowed, 1 denied, with the reason.
    let allowed = run(
        &s,
        &[
            "check",
            "--user",
            "cara",
            "--permission",
            "SELL",
            "--store",
            "North",
        ],
    );
    code(&allowed, 0);
    assert_eq!(stdout(&allowed).trim(), "allow: by role `Cashier`");
    let denied = run(
        &s,
        &[
            "check",
            "--user",
            "cara",
            "--permission",
            "SELL",
            "--store",
            "South",
            "--json",
        ],
    );
    code(&denied, 1);
    let body = json(&denied);
    assert_eq!(
        (body["decision"].as_str(), body["reason"].as_str()),
        (Some("deny"), Some("outside_scope"))
    );
    assert_eq!(body["detail"], "store");
    let explained = run(
        &s,
        &[
            "explain",
            "--user",
            "cara",
            "--permission",
            "VIEW_REPORTS",
            "--store",
            "North",
        ],
    );
    code(&explained, 1);
    assert!(
        stdout(&explained).contains("the role lacks VIEW_REPORTS"),
        "{}",
        stdout(&explained)
    );
    // A name that names nothing is invalid input (exit 3); no catalog is a usage error (2).
    code(
        &run(&s, &["check", "--user", "nobody", "--permission", "SELL"]),
        3,
    );
    code(
        &run(&s, &["check", "--user", "cara", "--permission", "FLY"]),
        3,
    );
    let no_catalog = Command::new(env!("CARGO_BIN_EXE_shopguard"))
        .args(["check", "--user", "cara", "--permission", "SELL"])
        .env("SHOPGUARD_DB", s.db())
        .env_remove("SHOPGUARD_CATALOG")
        .output()
        .unwrap();
    code(&no_catalog, 2);

    // Reverse queries.
    let who = json(&run(
        &s,
        &[
            "who-can",
            "--permission",
            "VIEW_REPORTS",
            "--store",
            "North",
            "--json",
        ],
    ));
    let mut names: Vec<&str> = who
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["adam", "mark", "olivia"]);
    let scope = run(
        &s,
        &[
            "scope-for",
            "--user",
            "mark",
            "--permission",
            "VIEW_REPORTS",
            "--dialect",
            "sqlite",
        ],
    );
    code(&scope, 0);
    assert!(
        stdout(&scope).contains("WHERE (account_id = ?1 AND (store_id IN (?2)))"),
        "{}",
        stdout(&scope)
    );

    // Listings as an actor sees them (R20): a cashier sees no users.
    let all = json(&run(&s, &["users", "--as", "olivia", "--json"]));
    assert_eq!(all.as_array().map(Vec::len), Some(6));
    let cashiers = json(&run(
        &s,
        &[
            "users",
            "--as",
            "olivia",
            "--role",
            "Cashier",
            "--disabled",
            "--json",
        ],
    ));
    let cashiers: Vec<&str> = cashiers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(cashiers, ["dave", "erin"]);
    assert_eq!(
        json(&run(&s, &["users", "--as", "cara", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        json(&run(&s, &["roles", "--as", "mark", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // A CSV with errors: the dry run lists every problem with its line and column, changes
    // nothing, and exits 4.
    let bad = s.path("bad.csv");
    std::fs::write(
        &bad,
        "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n\
         gina,gina@corner.example,0,UTC,Cashier,North,Create\n\
         hal,not-an-address,0,Mars/Olympus,Cashier,North,Create\n\
         ivy,ivy@corner.example,0,UTC,Wizard,North,Create\n",
    )
    .unwrap();
    let dry = run(
        &s,
        &[
            "import",
            bad.to_str().unwrap(),
            "--as",
            "olivia",
            "--dry-run",
            "--json",
        ],
    );
    code(&dry, 4);
    let problems = json(&dry)["problems"].clone();
    let placed: Vec<(u64, &str)> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["line"].as_u64().unwrap(), p["column"].as_str().unwrap()))
        .collect();
    assert_eq!(placed, [(3, "E-mail"), (3, "Timezone"), (4, "Role")]);
    let text = run(
        &s,
        &[
            "import",
            bad.to_str().unwrap(),
            "--as",
            "olivia",
            "--dry-run",
        ],
    );
    code(&text, 4);
    assert!(
        stderr(&text).contains("line 4, column `Role`: unknown role `Wizard`"),
        "{}",
        stderr(&text)
    );
    assert_eq!(
        json(&run(&s, &["users", "--as", "olivia", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    // The good row alone imports.
    let good = s.path("good.csv");
    std::fs::write(
        &good,
        "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n\
         gina,gina@corner.example,0,UTC,Cashier,North,Create\n",
    )
    .unwrap();
    let imported = run(
        &s,
        &["import", good.to_str().unwrap(), "--as", "olivia", "--json"],
    );
    code(&imported, 0);
    assert_eq!(json(&imported)["created"], 1);

    // Export: the CSV template, and the account as a policy file that diffs clean.
    let csv = run(&s, &["export", "--as", "olivia"]);
    code(&csv, 0);
    assert!(stdout(&csv).starts_with("Username,E-mail,Enabled"));
    assert!(
        stdout(&csv).contains("gina,gina@corner.example,0,"),
        "{}",
        stdout(&csv)
    );
    let exported = s.path("exported.toml");
    code(
        &run(
            &s,
            &[
                "export",
                "--format",
                "policy",
                "--bootstrap",
                "--output",
                exported.to_str().unwrap(),
            ],
        ),
        0,
    );
    code(
        &run(&s, &["diff", exported.to_str().unwrap(), "--bootstrap"]),
        0,
    );
    // The seed file no longer matches: gina would be deleted.
    let drift = run(&s, &["diff", policy, "--bootstrap"]);
    code(&drift, 1);
    assert!(
        stdout(&drift).contains("- delete user `gina`"),
        "{}",
        stdout(&drift)
    );

    // The audit, newest first, as JSON lines: the import, then the bootstrap.
    let audit = run(&s, &["audit", "--json"]);
    code(&audit, 0);
    let lines: Vec<serde_json::Value> = stdout(&audit)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", stdout(&audit));
    assert_eq!(lines[0]["record"]["actor"], 100);
    assert!(lines[0]["record"]["change"]["CreateUser"].is_object());
    assert_eq!(lines[1]["record"]["actor"], "shopguard apply");
    assert!(lines[0]["seq"].as_u64() > lines[1]["seq"].as_u64());
    let by_olivia = run(&s, &["audit", "--actor", "olivia", "--json"]);
    assert_eq!(stdout(&by_olivia).lines().count(), 1);
    let about_gina = run(&s, &["audit", "--target", "user:gina", "--json"]);
    assert_eq!(
        stdout(&about_gina).lines().count(),
        1,
        "{}",
        stdout(&about_gina)
    );
    // Paging: one record a page, the cursor of the next on standard error.
    let first = run(&s, &["audit", "--limit", "1", "--json"]);
    code(&first, 0);
    assert_eq!(stdout(&first).lines().count(), 1);
    let note = stderr(&first);
    let cursor = note
        .split("--after ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no cursor in {note:?}"));
    let second = run(&s, &["audit", "--limit", "1", "--json", "--after", cursor]);
    code(&second, 0);
    let second: serde_json::Value = serde_json::from_str(stdout(&second).trim()).unwrap();
    assert_eq!(second["record"]["actor"], "shopguard apply");
    assert!(!stderr(&run(&s, &["audit", "--limit", "1", "--after", cursor])).contains("--after"));
    // A cursor of another query is refused as input.
    code(
        &run(&s, &["audit", "--actor", "olivia", "--after", cursor]),
        3,
    );

    // As an actor: the owner applies a change; a cashier is refused, nothing applied (4).
    let changed = s.path("changed.toml");
    let text = std::fs::read_to_string(exported)
        .unwrap()
        .replace("seat_limit = 4", "seat_limit = 5");
    std::fs::write(&changed, text).unwrap();
    let refused = run(&s, &["apply", changed.to_str().unwrap(), "--as", "cara"]);
    code(&refused, 4);
    assert!(
        stderr(&refused).contains("only the account owner may change the plan"),
        "{}",
        stderr(&refused)
    );
    let applied = run(
        &s,
        &[
            "apply",
            changed.to_str().unwrap(),
            "--as",
            "olivia",
            "--json",
        ],
    );
    code(&applied, 0);
    assert_eq!(json(&applied)["entries"][0]["action"], "set seat limit");
    code(
        &run(&s, &["diff", changed.to_str().unwrap(), "--as", "olivia"]),
        0,
    );
    let refusals = run(&s, &["audit", "--outcome", "refused", "--json"]);
    assert!(stdout(&refusals).lines().count() >= 1);

    // A policy-test file with one wrong expectation fails, naming it.
    let tests = s.path("wrong.test.toml");
    std::fs::write(
        &tests,
        format!(
            "policy = {:?}\n\n\
             [[decision]]\nuser = \"cara\"\npermission = \"SELL\"\nstore = \"North\"\nexpect = \"allow\"\n\n\
             [[decision]]\nname = \"a cashier sees reports\"\nuser = \"cara\"\npermission = \"VIEW_REPORTS\"\nstore = \"North\"\nexpect = \"allow\"\n\n\
             [[who_can]]\npermission = \"VIEW_REPORTS\"\nstore = \"North\"\nexpect = [\"adam\", \"mark\", \"olivia\"]\n",
            policy
        ),
    )
    .unwrap();
    let failed = run(&s, &["test", tests.to_str().unwrap()]);
    code(&failed, 1);
    assert!(
        stdout(&failed).contains(
            "FAIL line 9, decision `a cashier sees reports`: expected allow, got deny (permission_missing)"
        ),
        "{}",
        stdout(&failed)
    );
    assert!(
        stdout(&failed).contains("2 passed, 1 failed"),
        "{}",
        stdout(&failed)
    );
    // The same file against the database (--live).
    code(&run(&s, &["test", tests.to_str().unwrap(), "--live"]), 1);
    // The seed's own test file passes.
    code(
        &run(
            &s,
            &[
                "test",
                examples().join("pos_outlets.test.toml").to_str().unwrap(),
            ],
        ),
        0,
    );
}

#[test]
fn a_policy_file_with_problems_names_each_line_and_changes_nothing() {
    let s = Scratch::new("invalid");
    let file = s.path("broken.toml");
    std::fs::write(
        &file,
        "catalog = \"pos\"\n[account]\nid = 1\nname = \"Shop\"\n\n\
         [[roles]]\nid = 1\nname = \"Admin\"\nlevel = 1\npermissions = [\"FLY\"]\n\n\
         [[users]]\nid = 100\nusername = \"olivia\"\nemail = \"olivia@shop.example\"\nrole = \"Boss\"\nstores = \"all\"\n",
    )
    .unwrap();
    let out = run(&s, &["validate", file.to_str().unwrap()]);
    code(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("line 10: `FLY` names no permission of the catalog"),
        "{err}"
    );
    assert!(
        err.contains("line 16: the file describes no role named `Boss`"),
        "{err}"
    );
    let applied = run(&s, &["apply", file.to_str().unwrap(), "--bootstrap"]);
    code(&applied, 3);
    // The database holds no account: nothing was written.
    code(&run(&s, &["users", "--as", "olivia"]), 2);

    // The engine's rules, with the line of the object at fault: two users share an e-mail.
    let dup = s.path("dup.toml");
    std::fs::write(
        &dup,
        "catalog = \"pos\"\n[account]\nid = 1\nname = \"Shop\"\n\n\
         [[roles]]\nid = 1\nname = \"Admin\"\nlevel = 1\npermissions = \"all\"\n\n\
         [[users]]\nid = 100\nusername = \"olivia\"\nemail = \"same@shop.example\"\nowner = true\nrole = \"Admin\"\nstores = \"all\"\n\n\
         [[users]]\nid = 101\nusername = \"adam\"\nemail = \"same@shop.example\"\nrole = \"Admin\"\nstores = \"all\"\n",
    )
    .unwrap();
    let out = run(&s, &["validate", dup.to_str().unwrap()]);
    code(&out, 3);
    assert!(stderr(&out).contains("line 20"), "{}", stderr(&out));
    let out = run(&s, &["apply", dup.to_str().unwrap(), "--bootstrap"]);
    code(&out, 4);
    code(&run(&s, &["users", "--as", "olivia"]), 2);
}

#[test]
fn every_command_has_help_with_examples() {
    let help = Command::new(env!("CARGO_BIN_EXE_shopguard"))
        .arg("--help")
        .output()
        .unwrap();
    code(&help, 0);
    let text = stdout(&help);
    assert!(text.contains("Exit codes:"), "{text}");
    for command in [
        "check",
        "explain",
        "who-can",
        "scope-for",
        "users",
        "roles",
        "stores",
        "sources",
        "channels",
        "permissions",
        "import",
        "export",
        "audit",
        "apply",
        "diff",
        "test",
        "validate",
    ] {
        assert!(text.contains(command), "`{command}` missing from the help");
        let one = Command::new(env!("CARGO_BIN_EXE_shopguard"))
            .args(["help", command])
            .output()
            .unwrap();
        code(&one, 0);
        assert!(
            stdout(&one).contains("Examples:"),
            "`{command}` has no examples"
        );
        assert!(stdout(&one).contains("Exit codes:") || stdout(&one).contains("Usage:"));
    }
}

/// The PostgreSQL server `.ci/run` starts (`SHOPGUARD_PG`): missing is a failure, not a skip.
fn pg_params() -> String {
    std::env::var("SHOPGUARD_PG").unwrap_or_else(|_| {
        panic!(
            "this test needs a PostgreSQL server: set SHOPGUARD_PG to a connection string \
             (`.ci/postgres` starts one and prints it)"
        )
    })
}

#[test]
fn a_seed_policy_applied_and_checked_on_postgresql() {
    let db = format!("postgres:{}", pg_params());
    let schema = format!("cli_e2e_{}", std::process::id());
    let shopguard = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shopguard"))
            .args(args)
            .env("SHOPGUARD_DB", &db)
            .env("SHOPGUARD_SCHEMA", &schema)
            .env("SHOPGUARD_CATALOG", "oms")
            .env_remove("SHOPGUARD_ACCOUNT")
            .output()
            .unwrap()
    };
    let policy = examples().join("oms_hierarchy.toml");
    let policy = policy.to_str().unwrap();
    code(&shopguard(&["apply", policy, "--bootstrap"]), 0);
    let again = shopguard(&["apply", policy, "--bootstrap"]);
    code(&again, 0);
    assert!(
        stdout(&again).contains("nothing to change"),
        "{}",
        stdout(&again)
    );
    let denied = shopguard(&[
        "check",
        "--user",
        "sara",
        "--permission",
        "MANAGE_ISPU_ORDERS",
        "--store",
        "Lisbon",
        "--source",
        "lisbon-store",
        "--channel",
        "Web store",
    ]);
    code(&denied, 1);
    assert_eq!(stdout(&denied).trim(), "deny: user has no sources assigned");
    let seen = json(&shopguard(&["sources", "--as", "luis", "--json"]));
    assert_eq!(seen[0]["name"], "madrid-store");
    let test = examples().join("oms_hierarchy.test.toml");
    code(&shopguard(&["test", test.to_str().unwrap(), "--live"]), 0);
    let audit = shopguard(&["audit", "--json"]);
    code(&audit, 0);
    assert_eq!(stdout(&audit).lines().count(), 1);
}
