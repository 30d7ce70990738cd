//! Policy tests: expected decisions, who-can and scope-for answers, and expected refusals of
//! changes, written in TOML and run against a policy (or an engine's account).

use core::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use toml::Spanned;

use super::file::{
    Lines, Policy, Problems, RawChannel, RawRole, RawSource, RawStore, RawUser, parse, read_text,
    role_from, user_from,
};
use super::names::{AccessSpec, Miss, Names, Ref, Resolve, TargetSpec};
use crate::admin::audit::AuditActor;
use crate::admin::change::Change;
use crate::engine::decision::Decision;
use crate::engine::reverse::Filter;
use crate::engine::{Engine, Snapshot};
use crate::model::account::{Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, SourceId, StoreId, UserId};
use crate::model::permission::Catalog;
use crate::{Error, ErrorKind};

/// A file of policy tests: what a policy must decide, read from TOML.
///
/// ```toml
/// policy = "pos_outlets.toml"          # the policy file, relative to this one
///
/// [[decision]]                          # a check: allow or deny, and optionally why
/// name = "a cashier sells only at her outlet"
/// user = "cara"
/// permission = "SELL"                   # or "SELL | OPEN_REGISTER"
/// store = "South"                       # also source, channel, pending_sourcing, role,
///                                       # target_user; none: the account as a whole
/// expect = "deny"
/// reason = "outside_scope:store"        # the deny reason's code, its detail after `:`
///
/// [[who_can]]
/// permission = "VIEW_REPORTS"
/// store = "North"
/// expect = ["adam", "mark", "olivia"]   # usernames, in any order
///
/// [[scope_for]]
/// user = "mark"
/// permission = "VIEW_REPORTS"
/// stores = ["North"]                    # "all", "none" or names; also sources, channels
///
/// [[change]]                            # a change asked as an actor: applies or is refused
/// actor = "cara"
/// delete_user = "mark"
/// expect = "not_found"                  # an error kind's code, "refused" or "applies"
/// ```
///
/// An allowed decision may name the role that allowed it (`by_role = "Cashier"`). A change
/// is one of `create_user`, `update_user` (a user as a policy file writes it), `copy_user`
/// (`{ from, id, username, email }`), `enable_user`, `disable_user`, `delete_user`,
/// `transfer_ownership` (a user), `create_role`, `update_role` (a role as a policy file
/// writes it), `rename_role` (`{ role, name }`), `delete_role` (a role, or `{ role,
/// reassign_to }`), `create_store` / `update_store` (`{ id, name }`), `delete_store`, the same
/// for `source` (`{ id, external_id }`) and `channel`, `set_seat_limit` (a number or
/// `"none"`, with `disable_excess`) and `set_entity_level_billing` (a boolean). Each is
/// planned alone on the policy's state by [`Engine::dry_run`]: nothing is applied.
///
/// Users, stores, channels and roles are named as in a policy file (or by id, an integer),
/// and looked up in the account as [`Names`] does.
#[derive(Debug)]
pub struct PolicyTests {
    policy: Option<String>,
    decisions: Vec<(u64, RawDecision)>,
    who_can: Vec<(u64, RawWhoCan)>,
    scope_for: Vec<(u64, RawScopeFor)>,
    changes: Vec<(u64, RawChangeTest)>,
    /// The file's text, for the lines of problems found when the tests run.
    text: String,
    /// Where the file was read from, for a relative `policy` path.
    dir: Option<PathBuf>,
}

impl PolicyTests {
    /// Reads a policy-test file's text.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] naming the line of a syntax error, an unknown key or a
    /// value of the wrong shape.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let raw = parse::<RawTests>(text, "policy-test file")?;
        let lines = Lines::new(text);
        fn spanned<T>(lines: &Lines, v: Vec<Spanned<T>>) -> Vec<(u64, T)> {
            v.into_iter()
                .map(|s| (lines.of(s.span()), s.into_inner()))
                .collect()
        }
        let tests = PolicyTests {
            policy: raw.policy,
            decisions: spanned(&lines, raw.decision),
            who_can: spanned(&lines, raw.who_can),
            scope_for: spanned(&lines, raw.scope_for),
            changes: spanned(&lines, raw.change),
            text: text.to_owned(),
            dir: None,
        };
        let mut problems = Problems::default();
        for (line, c) in &tests.changes {
            if let Err(reason) = c.one_change() {
                problems.at(*line, "change", ErrorKind::InvalidInput, reason);
            }
            if let Err(reason) = Expect::parse(&c.expect) {
                problems.at(*line, "expect", ErrorKind::InvalidInput, reason);
            }
        }
        for (line, d) in &tests.decisions {
            match d.expect.as_str() {
                "allow" if d.reason.is_some() => problems.at(
                    *line,
                    "reason",
                    ErrorKind::InvalidInput,
                    "an allowed decision has no deny reason: `reason` goes with `expect = \"deny\"`",
                ),
                "deny" if d.by_role.is_some() => problems.at(
                    *line,
                    "by_role",
                    ErrorKind::InvalidInput,
                    "a denied decision is by no role: `by_role` goes with `expect = \"allow\"`",
                ),
                "allow" | "deny" => {}
                _ => problems.at(
                    *line,
                    "expect",
                    ErrorKind::InvalidInput,
                    format!("`{}` is neither `allow` nor `deny`", d.expect),
                ),
            }
        }
        // A scope expectation saying nothing of the scope would pass whatever it is.
        for (line, s) in &tests.scope_for {
            if s.stores.is_none()
                && s.sources.is_none()
                && s.channels.is_none()
                && s.no_sources.is_none()
            {
                problems.at(
                    *line,
                    "scope_for",
                    ErrorKind::InvalidInput,
                    "expects nothing: give `stores`, `sources`, `channels` or `no_sources`",
                );
            }
        }
        problems.into_result("policy-test file")?;
        Ok(tests)
    }

    /// Reads the policy-test file at `path`; a relative `policy` path in it is relative to
    /// the file's folder.
    ///
    /// # Errors
    ///
    /// As [`from_toml`](Self::from_toml); [`ErrorKind::InvalidInput`] if the file cannot be
    /// read or is larger than [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES).
    pub fn read(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let mut tests = Self::from_toml(&read_text(path)?)?;
        tests.dir = path.parent().map(Path::to_path_buf);
        Ok(tests)
    }

    /// The policy file the tests are of, as the file names it (`policy = "…"`).
    pub fn policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    /// The policy file's path: relative to the test file's folder if the tests were
    /// [`read`](Self::read) from a file.
    pub fn policy_path(&self) -> Option<PathBuf> {
        let name = self.policy.as_deref()?;
        Some(match &self.dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        })
    }

    /// How many expectations the file holds.
    pub fn len(&self) -> usize {
        self.decisions.len() + self.who_can.len() + self.scope_for.len() + self.changes.len()
    }

    /// Whether the file holds no expectation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs every expectation against `account` of `engine`: checks and queries on one
    /// snapshot, each change planned alone by [`Engine::dry_run`]. Nothing is applied.
    pub fn run<P: Catalog>(&self, engine: &Engine<P>, account: AccountId) -> TestReport {
        let snapshot = engine.snapshot();
        let names = Names::new(&snapshot, account);
        let lines = Lines::new(&self.text);
        let mut report = TestReport {
            total: self.len(),
            mismatches: Vec::new(),
        };
        for (line, d) in &self.decisions {
            if let Some(m) = d.run(&snapshot, &names) {
                report.push("decision", *line, d.name.as_deref(), m);
            }
        }
        for (line, w) in &self.who_can {
            if let Some(m) = w.run(&snapshot, &names) {
                report.push("who_can", *line, w.name.as_deref(), m);
            }
        }
        for (line, s) in &self.scope_for {
            if let Some(m) = s.run(&snapshot, &names) {
                report.push("scope_for", *line, s.name.as_deref(), m);
            }
        }
        for (line, c) in &self.changes {
            if let Some(m) = c.run(engine, &names, &lines) {
                report.push("change", *line, c.name.as_deref(), m);
            }
        }
        report
    }
}

impl<P: Catalog> Policy<P> {
    /// Runs `tests` against this policy: loaded into an empty engine (as a system named
    /// `policy test`), then [`PolicyTests::run`].
    ///
    /// ```
    /// use shopguard::catalog::pos::Pos;
    /// use shopguard::policy::{Policy, PolicyTests};
    ///
    /// let policy = Policy::<Pos>::from_toml(r#"
    ///     [account]
    ///     id = 1
    ///     name = "Corner Shop"
    ///     [[stores]]
    ///     id = 10
    ///     name = "North"
    ///     [[roles]]
    ///     id = 1
    ///     name = "Admin"
    ///     level = 1
    ///     permissions = "all"
    ///     [[roles]]
    ///     id = 3
    ///     name = "Cashier"
    ///     level = 3
    ///     permissions = ["SELL"]
    ///     [[users]]
    ///     id = 100
    ///     username = "olivia"
    ///     email = "olivia@corner.example"
    ///     owner = true
    ///     role = "Admin"
    ///     stores = "all"
    ///     [[users]]
    ///     id = 102
    ///     username = "cara"
    ///     email = "cara@corner.example"
    ///     role = "Cashier"
    ///     stores = ["North"]
    /// "#)?;
    /// let tests = PolicyTests::from_toml(r#"
    ///     [[decision]]
    ///     user = "cara"
    ///     permission = "SELL"
    ///     store = "North"
    ///     expect = "allow"
    ///     [[decision]]
    ///     name = "a wrong expectation"
    ///     user = "cara"
    ///     permission = "VIEW_REPORTS"
    ///     store = "North"
    ///     expect = "allow"
    ///     [[change]]
    ///     actor = "cara"
    ///     delete_user = "olivia"
    ///     expect = "not_found"
    /// "#)?;
    /// let report = policy.test(&tests)?;
    /// assert_eq!((report.total(), report.mismatches().len()), (3, 1));
    /// assert_eq!(
    ///     report.mismatches()[0].to_string(),
    ///     "line 7, decision `a wrong expectation`: expected allow, got deny (permission_missing)",
    /// );
    /// assert!(report.into_result().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// If the policy breaks a rule of the engine (as [`validate`](Self::validate) says).
    pub fn test(&self, tests: &PolicyTests) -> Result<TestReport, Error> {
        self.validate()?;
        let engine = Engine::<P>::new();
        self.apply(&engine, &AuditActor::System("policy test".to_owned()))?;
        Ok(tests.run(&engine, self.account.id()))
    }
}

/// Reads the policy-test file at `path` and the policy file it names, and runs the tests:
/// the function a host's `cargo test` calls to keep its policy files honest.
///
/// ```no_run
/// // tests/policy.rs of a host service
/// #[test]
/// fn the_outlets_policy_decides_as_expected() -> Result<(), Box<dyn std::error::Error>> {
///     let report = shopguard::policy::run_test_file::<shopguard::catalog::pos::Pos>(
///         "policies/outlets.test.toml",
///     )?;
///     report.into_result()?; // fails naming every mismatch
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// As [`PolicyTests::read`] and [`Policy::read`]; [`ErrorKind::InvalidInput`] if the test
/// file names no policy file; as [`Policy::test`].
pub fn run_test_file<P: Catalog>(path: impl AsRef<Path>) -> Result<TestReport, Error> {
    let tests = PolicyTests::read(path)?;
    let Some(policy_path) = tests.policy_path() else {
        return Err(Error::invalid(
            "policy-test file",
            "policy",
            "names no policy file: add `policy = \"…\"`",
        ));
    };
    Policy::<P>::read(policy_path)?.test(&tests)
}

/// One expectation a policy did not meet.
///
/// It displays as ``line 12, decision `cara sells at South`: expected deny
/// (outside_scope:store), got allow (grant 0, role `Cashier`)``.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Mismatch {
    section: &'static str,
    line: u64,
    name: Option<String>,
    expected: String,
    actual: String,
}

impl Mismatch {
    /// The kind of expectation: `decision`, `who_can`, `scope_for` or `change`.
    pub fn section(&self) -> &'static str {
        self.section
    }

    /// The line of the expectation's table in the test file.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The expectation's `name`, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// What was expected.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// What the engine said (or why the expectation could not be asked).
    pub fn actual(&self) -> &str {
        &self.actual
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, {}", self.line, self.section)?;
        if let Some(name) = &self.name {
            write!(f, " `{name}`")?;
        }
        write!(f, ": expected {}, got {}", self.expected, self.actual)
    }
}

impl Serialize for Mismatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Mismatch", 5)?;
        st.serialize_field("section", self.section)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("expected", &self.expected)?;
        st.serialize_field("actual", &self.actual)?;
        st.end()
    }
}

/// What running policy tests found: how many expectations there were, and each one not met.
///
/// It displays as `3 expectations, 1 mismatch` followed by one line per mismatch, and is an
/// error type, so that [`into_result`](Self::into_result) fails a `cargo test` with that text.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TestReport {
    total: usize,
    mismatches: Vec<Mismatch>,
}

impl TestReport {
    /// How many expectations were run.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The expectations not met, in file order by kind (decisions, who-can, scope-for,
    /// changes).
    pub fn mismatches(&self) -> &[Mismatch] {
        &self.mismatches
    }

    /// Whether every expectation was met.
    pub fn is_success(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// `Ok` if every expectation was met; else the report itself, as an error.
    ///
    /// # Errors
    ///
    /// The report, if an expectation was not met.
    pub fn into_result(self) -> Result<(), TestReport> {
        if self.is_success() { Ok(()) } else { Err(self) }
    }

    fn push(&mut self, section: &'static str, line: u64, name: Option<&str>, m: Shortfall) {
        self.mismatches.push(Mismatch {
            section,
            line,
            name: name.map(str::to_owned),
            expected: m.expected,
            actual: m.actual,
        });
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                format!("{n} {one}")
            } else {
                format!("{n} {many}")
            }
        };
        write!(
            f,
            "{}, {}",
            plural(self.total, "expectation", "expectations"),
            plural(self.mismatches.len(), "mismatch", "mismatches")
        )?;
        for m in &self.mismatches {
            write!(f, "\n{m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TestReport {}

impl Serialize for TestReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TestReport", 3)?;
        st.serialize_field("total", &self.total)?;
        st.serialize_field("passed", &(self.total - self.mismatches.len()))?;
        st.serialize_field("mismatches", &self.mismatches)?;
        st.end()
    }
}

/// What one expectation expected, and what came instead.
struct Shortfall {
    expected: String,
    actual: String,
}

fn mismatch(expected: impl Into<String>, actual: impl Into<String>) -> Option<Shortfall> {
    Some(Shortfall {
        expected: expected.into(),
        actual: actual.into(),
    })
}

/// An expectation that could not be asked (a name that names nothing).
fn unaskable(expected: impl Into<String>, miss: &Miss) -> Option<Shortfall> {
    mismatch(expected, format!("nothing: {miss}"))
}

// ---------------------------------------------------------------------------------------------
// The file's shape.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTests {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    decision: Vec<Spanned<RawDecision>>,
    #[serde(default)]
    who_can: Vec<Spanned<RawWhoCan>>,
    #[serde(default)]
    scope_for: Vec<Spanned<RawScopeFor>>,
    #[serde(default)]
    change: Vec<Spanned<RawChangeTest>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecision {
    #[serde(default)]
    name: Option<String>,
    user: Ref,
    permission: String,
    #[serde(default)]
    store: Option<Ref>,
    #[serde(default)]
    source: Option<Ref>,
    #[serde(default)]
    pending_sourcing: bool,
    #[serde(default)]
    channel: Option<Ref>,
    #[serde(default)]
    role: Option<Ref>,
    #[serde(default)]
    target_user: Option<Ref>,
    expect: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    by_role: Option<Ref>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhoCan {
    #[serde(default)]
    name: Option<String>,
    permission: String,
    #[serde(default)]
    store: Option<Ref>,
    #[serde(default)]
    source: Option<Ref>,
    #[serde(default)]
    pending_sourcing: bool,
    #[serde(default)]
    channel: Option<Ref>,
    #[serde(default)]
    role: Option<Ref>,
    #[serde(default)]
    target_user: Option<Ref>,
    expect: Vec<Ref>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScopeFor {
    #[serde(default)]
    name: Option<String>,
    user: Ref,
    permission: String,
    #[serde(default)]
    stores: Option<AccessSpec>,
    #[serde(default)]
    sources: Option<AccessSpec>,
    #[serde(default)]
    channels: Option<AccessSpec>,
    #[serde(default)]
    no_sources: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChangeTest {
    #[serde(default)]
    name: Option<String>,
    actor: Ref,
    expect: String,
    #[serde(default)]
    create_user: Option<RawUser>,
    #[serde(default)]
    update_user: Option<RawUser>,
    #[serde(default)]
    copy_user: Option<RawCopy>,
    #[serde(default)]
    enable_user: Option<Ref>,
    #[serde(default)]
    disable_user: Option<Ref>,
    #[serde(default)]
    delete_user: Option<Ref>,
    #[serde(default)]
    transfer_ownership: Option<Ref>,
    #[serde(default)]
    create_role: Option<RawRole>,
    #[serde(default)]
    update_role: Option<RawRole>,
    #[serde(default)]
    rename_role: Option<RawRename>,
    #[serde(default)]
    delete_role: Option<RawDeleteRole>,
    #[serde(default)]
    create_store: Option<RawStore>,
    #[serde(default)]
    update_store: Option<RawStore>,
    #[serde(default)]
    delete_store: Option<Ref>,
    #[serde(default)]
    create_source: Option<RawSource>,
    #[serde(default)]
    update_source: Option<RawSource>,
    #[serde(default)]
    delete_source: Option<Ref>,
    #[serde(default)]
    create_channel: Option<RawChannel>,
    #[serde(default)]
    update_channel: Option<RawChannel>,
    #[serde(default)]
    delete_channel: Option<Ref>,
    #[serde(default)]
    set_seat_limit: Option<Limit>,
    #[serde(default)]
    disable_excess: bool,
    #[serde(default)]
    set_entity_level_billing: Option<bool>,
}

impl fmt::Debug for RawChangeTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawChangeTest")
            .field("name", &self.name)
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCopy {
    from: Ref,
    id: u64,
    username: String,
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRename {
    role: Ref,
    name: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDeleteRole {
    Role(Ref),
    Reassign { role: Ref, reassign_to: Ref },
}

/// A seat limit: a number, or `"none"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Limit {
    Seats(u32),
    Word(String),
}

/// What a change test expects: that it applies, that it is refused, or refused by one rule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Applies,
    Refused,
    Kind(ErrorKind),
}

impl Expect {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "applies" => Ok(Expect::Applies),
            "refused" => Ok(Expect::Refused),
            code => toml::Value::String(code.to_owned())
                .try_into::<ErrorKind>()
                .map(Expect::Kind)
                .map_err(|_| {
                    format!(
                        "`{code}` is not `applies`, `refused` or an error kind such as `not_permitted`"
                    )
                }),
        }
    }
}

fn target(
    store: &Option<Ref>,
    source: &Option<Ref>,
    pending_sourcing: bool,
    channel: &Option<Ref>,
    role: &Option<Ref>,
    target_user: &Option<Ref>,
) -> TargetSpec {
    TargetSpec {
        store: store.clone(),
        source: source.clone(),
        pending_sourcing,
        channel: channel.clone(),
        role: role.clone(),
        target_user: target_user.clone(),
    }
}

/// A decision as text: `allow (grant 0, role `Cashier`)` or `deny (outside_scope:store)`.
fn decision_text<P: Catalog>(d: &Decision, names: &Names<'_, P>) -> String {
    match d {
        Decision::Allow(a) => format!(
            "allow (grant {}, role `{}`)",
            a.grant,
            names.role_name(a.role)
        ),
        Decision::Deny(r) => format!("deny ({})", reason_code(r)),
    }
}

/// A deny reason's serde form as one word: `outside_scope:store`, `unknown_store:10`,
/// `no_sources`.
pub(crate) fn reason_code(reason: &crate::DenyReason) -> String {
    match toml::Value::try_from(reason) {
        Ok(toml::Value::Table(t)) => {
            let code = t.get("reason").and_then(toml::Value::as_str).unwrap_or("");
            match t.get("detail") {
                Some(toml::Value::String(d)) => format!("{code}:{d}"),
                Some(toml::Value::Integer(n)) => format!("{code}:{n}"),
                _ => code.to_owned(),
            }
        }
        _ => format!("{reason:?}"),
    }
}

impl RawDecision {
    fn run<P: Catalog>(&self, snapshot: &Snapshot<P>, names: &Names<'_, P>) -> Option<Shortfall> {
        let mut expected = self.expect.clone();
        if let Some(r) = &self.reason {
            expected = format!("{expected} ({r})");
        }
        if let Some(r) = &self.by_role {
            expected = format!("{expected} (role `{r}`)");
        }
        let permission = match P::parse(&self.permission) {
            Ok(p) => p,
            Err(e) => return mismatch(expected, format!("nothing: {e}")),
        };
        let user = match names.user_id(&self.user) {
            Ok(u) => u,
            Err(m) => return unaskable(expected, &m),
        };
        let spec = target(
            &self.store,
            &self.source,
            self.pending_sourcing,
            &self.channel,
            &self.role,
            &self.target_user,
        );
        let resource = match spec.resolve(names) {
            Ok(t) => t,
            Err(m) => return unaskable(expected, &m),
        };
        let decision = snapshot.check(user, permission, &resource);
        let actual = decision_text(&decision, names);
        let met = match (&decision, self.expect.as_str()) {
            (Decision::Allow(a), "allow") => match &self.by_role {
                None => true,
                Some(r) => Resolve::role(names, r).is_ok_and(|id| id == a.role),
            },
            (Decision::Deny(reason), "deny") => match &self.reason {
                None => true,
                Some(want) => {
                    let got = reason_code(reason);
                    got == *want || (!want.contains(':') && got.split(':').next() == Some(want))
                }
            },
            _ => false,
        };
        if met {
            None
        } else {
            mismatch(expected, actual)
        }
    }
}

impl RawWhoCan {
    fn run<P: Catalog>(&self, snapshot: &Snapshot<P>, names: &Names<'_, P>) -> Option<Shortfall> {
        let mut want: Vec<String> = self.expect.iter().map(ToString::to_string).collect();
        want.sort_unstable();
        let expected = format!("[{}]", want.join(", "));
        let permission = match P::parse(&self.permission) {
            Ok(p) => p,
            Err(e) => return mismatch(expected, format!("nothing: {e}")),
        };
        let spec = target(
            &self.store,
            &self.source,
            self.pending_sourcing,
            &self.channel,
            &self.role,
            &self.target_user,
        );
        let resource = match spec.resolve(names) {
            Ok(t) => t,
            Err(m) => return unaskable(expected, &m),
        };
        let mut expected_ids = Vec::with_capacity(self.expect.len());
        for r in &self.expect {
            match names.user_id(r) {
                Ok(id) => expected_ids.push(id),
                Err(m) => return unaskable(expected, &m),
            }
        }
        expected_ids.sort_unstable();
        expected_ids.dedup();
        let got: Vec<UserId> = snapshot.who_can(permission, &resource);
        if got == expected_ids {
            return None;
        }
        let mut actual: Vec<String> = got.iter().map(|u| names.username(*u)).collect();
        actual.sort_unstable();
        mismatch(expected, format!("[{}]", actual.join(", ")))
    }
}

/// A filter as text, every id by name: `all`, `none`, `[North, South]`.
fn filter_text<T: Ord + Copy>(f: &Filter<T>, name: impl Fn(T) -> String) -> String {
    match f {
        Filter::Everything => "all".to_owned(),
        Filter::Nothing => "none".to_owned(),
        Filter::Only(set) => {
            let mut names: Vec<String> = set.iter().map(name).collect();
            names.sort_unstable();
            format!("[{}]", names.join(", "))
        }
    }
}

fn spec_text(spec: &AccessSpec) -> String {
    match spec {
        AccessSpec::All => "all".to_owned(),
        AccessSpec::None => "none".to_owned(),
        AccessSpec::Some(refs) => {
            let mut names: Vec<String> = refs.iter().map(ToString::to_string).collect();
            names.sort_unstable();
            format!("[{}]", names.join(", "))
        }
    }
}

/// Whether `got` is what `spec` says, every name resolved by `one`.
fn filter_is<T: Ord + Copy>(
    got: &Filter<T>,
    spec: &AccessSpec,
    one: impl Fn(&Ref) -> Result<T, Miss>,
) -> Result<bool, Miss> {
    Ok(match (spec, got) {
        (AccessSpec::All, Filter::Everything) | (AccessSpec::None, Filter::Nothing) => true,
        (AccessSpec::Some(refs), Filter::Only(set)) => {
            let mut want = refs.iter().map(one).collect::<Result<Vec<T>, Miss>>()?;
            want.sort_unstable();
            want.dedup();
            want.as_slice() == set.as_slice()
        }
        (AccessSpec::Some(refs), Filter::Nothing) => refs.is_empty(),
        _ => false,
    })
}

impl RawScopeFor {
    fn run<P: Catalog>(&self, snapshot: &Snapshot<P>, names: &Names<'_, P>) -> Option<Shortfall> {
        let mut expected = Vec::new();
        for (dim, spec) in [
            ("stores", &self.stores),
            ("sources", &self.sources),
            ("channels", &self.channels),
        ] {
            if let Some(s) = spec {
                expected.push(format!("{dim} {}", spec_text(s)));
            }
        }
        if let Some(n) = self.no_sources {
            expected.push(format!("no_sources {n}"));
        }
        let expected = expected.join(", ");
        let permission = match P::parse(&self.permission) {
            Ok(p) => p,
            Err(e) => return mismatch(expected, format!("nothing: {e}")),
        };
        let user = match names.user_id(&self.user) {
            Ok(u) => u,
            Err(m) => return unaskable(expected, &m),
        };
        let scope = snapshot.scope_for(user, permission);
        let (stores, sources, channels) = (scope.stores(), scope.sources(), scope.channels());
        let checks = [
            self.stores
                .as_ref()
                .map(|s| filter_is(&stores, s, |r| Resolve::store(names, r))),
            self.sources
                .as_ref()
                .map(|s| filter_is(&sources, s, |r| Resolve::source(names, r))),
            self.channels
                .as_ref()
                .map(|s| filter_is(&channels, s, |r| Resolve::channel(names, r))),
        ];
        let mut met = self.no_sources.is_none_or(|n| n == scope.no_sources());
        for c in checks.into_iter().flatten() {
            match c {
                Ok(ok) => met &= ok,
                Err(m) => return unaskable(expected, &m),
            }
        }
        if met {
            return None;
        }
        let mut actual = Vec::new();
        if self.stores.is_some() {
            actual.push(format!(
                "stores {}",
                filter_text(&stores, |id: StoreId| names.store_name(id))
            ));
        }
        if self.sources.is_some() {
            actual.push(format!(
                "sources {}",
                filter_text(&sources, |id: SourceId| names.source_name(id))
            ));
        }
        if self.channels.is_some() {
            actual.push(format!(
                "channels {}",
                filter_text(&channels, |id: ChannelId| names.channel_name(id))
            ));
        }
        if self.no_sources.is_some() {
            actual.push(format!("no_sources {}", scope.no_sources()));
        }
        mismatch(expected, actual.join(", "))
    }
}

impl RawChangeTest {
    /// Exactly one change must be given.
    fn one_change(&self) -> Result<(), String> {
        let given = [
            self.create_user.is_some(),
            self.update_user.is_some(),
            self.copy_user.is_some(),
            self.enable_user.is_some(),
            self.disable_user.is_some(),
            self.delete_user.is_some(),
            self.transfer_ownership.is_some(),
            self.create_role.is_some(),
            self.update_role.is_some(),
            self.rename_role.is_some(),
            self.delete_role.is_some(),
            self.create_store.is_some(),
            self.update_store.is_some(),
            self.delete_store.is_some(),
            self.create_source.is_some(),
            self.update_source.is_some(),
            self.delete_source.is_some(),
            self.create_channel.is_some(),
            self.update_channel.is_some(),
            self.delete_channel.is_some(),
            self.set_seat_limit.is_some(),
            self.set_entity_level_billing.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        match given {
            1 => Ok(()),
            0 => Err("names no change: give one such as `delete_user = \"mark\"`".to_owned()),
            n => Err(format!("names {n} changes: give one per `[[change]]`")),
        }
    }

    /// The change, every name resolved in `names`' account.
    fn change<P: Catalog>(&self, names: &Names<'_, P>, lines: &Lines) -> Result<Change<P>, String> {
        let account = names.account();
        let mut problems = Problems::default();
        let err = |p: Problems| match p.into_result("change") {
            Err(e) => e.to_string(),
            Ok(()) => "the change does not resolve".to_owned(),
        };
        let user = |r: &Ref| names.user_id(r).map_err(|m| m.to_string());
        if let Some(u) = self.create_user.as_ref().or(self.update_user.as_ref()) {
            let Some(user) = user_from(u, account, names, lines, &mut problems) else {
                return Err(err(problems));
            };
            return Ok(if self.create_user.is_some() {
                Change::CreateUser(user)
            } else {
                Change::UpdateUser(user)
            });
        }
        if let Some(r) = self.create_role.as_ref().or(self.update_role.as_ref()) {
            let Some(role) = role_from::<P>(r, account, names, lines, &mut problems) else {
                return Err(err(problems));
            };
            return Ok(if self.create_role.is_some() {
                Change::CreateRole(role)
            } else {
                Change::UpdateRole(role)
            });
        }
        let role = |r: &Ref| Resolve::role(names, r).map_err(|m| m.to_string());
        let store = |r: &Ref| Resolve::store(names, r).map_err(|m| m.to_string());
        let source = |r: &Ref| Resolve::source(names, r).map_err(|m| m.to_string());
        let channel = |r: &Ref| Resolve::channel(names, r).map_err(|m| m.to_string());
        Ok(if let Some(c) = &self.copy_user {
            Change::CopyUser {
                from: user(&c.from)?,
                id: UserId::new(c.id),
                username: c.username.clone(),
                email: c.email.clone(),
            }
        } else if let Some(r) = &self.enable_user {
            Change::EnableUser(user(r)?)
        } else if let Some(r) = &self.disable_user {
            Change::DisableUser(user(r)?)
        } else if let Some(r) = &self.delete_user {
            Change::DeleteUser(user(r)?)
        } else if let Some(r) = &self.transfer_ownership {
            Change::TransferOwnership { to: user(r)? }
        } else if let Some(r) = &self.rename_role {
            Change::RenameRole {
                role: role(&r.role)?,
                name: r.name.clone(),
            }
        } else if let Some(d) = &self.delete_role {
            match d {
                RawDeleteRole::Role(r) => Change::DeleteRole {
                    role: role(r)?,
                    reassign_to: None,
                },
                RawDeleteRole::Reassign {
                    role: r,
                    reassign_to,
                } => Change::DeleteRole {
                    role: role(r)?,
                    reassign_to: Some(role(reassign_to)?),
                },
            }
        } else if let Some(s) = &self.create_store {
            Change::CreateStore(Store::new(StoreId::new(s.id), account, s.name.clone()))
        } else if let Some(s) = &self.update_store {
            Change::UpdateStore(Store::new(StoreId::new(s.id), account, s.name.clone()))
        } else if let Some(r) = &self.delete_store {
            Change::DeleteStore(store(r)?)
        } else if let Some(s) = &self.create_source {
            Change::CreateSource(Source::new(
                SourceId::new(s.id),
                account,
                s.external_id.clone(),
            ))
        } else if let Some(s) = &self.update_source {
            Change::UpdateSource(Source::new(
                SourceId::new(s.id),
                account,
                s.external_id.clone(),
            ))
        } else if let Some(r) = &self.delete_source {
            Change::DeleteSource(source(r)?)
        } else if let Some(c) = &self.create_channel {
            Change::CreateChannel(Channel::new(ChannelId::new(c.id), account, c.name.clone()))
        } else if let Some(c) = &self.update_channel {
            Change::UpdateChannel(Channel::new(ChannelId::new(c.id), account, c.name.clone()))
        } else if let Some(r) = &self.delete_channel {
            Change::DeleteChannel(channel(r)?)
        } else if let Some(l) = &self.set_seat_limit {
            let limit = match l {
                Limit::Seats(n) => Some(*n),
                Limit::Word(w) if w == "none" => None,
                Limit::Word(w) => {
                    return Err(format!("seat limit `{w}` is neither a number nor `none`"));
                }
            };
            Change::SetSeatLimit {
                limit,
                disable_excess: self.disable_excess,
            }
        } else if let Some(on) = self.set_entity_level_billing {
            Change::SetEntityLevelBilling(on)
        } else {
            return Err("names no change".to_owned());
        })
    }

    fn run<P: Catalog>(
        &self,
        engine: &Engine<P>,
        names: &Names<'_, P>,
        lines: &Lines,
    ) -> Option<Shortfall> {
        let expected = self.expect.clone();
        let Ok(want) = Expect::parse(&self.expect) else {
            return mismatch(expected, "an expectation that does not parse");
        };
        let actor = match names.user_id(&self.actor) {
            Ok(a) => a,
            Err(m) => return unaskable(expected, &m),
        };
        let change = match self.change(names, lines) {
            Ok(c) => c,
            Err(reason) => return mismatch(expected, format!("nothing: {reason}")),
        };
        let outcome = engine.dry_run(actor, &[change]);
        let met = match (&outcome, want) {
            (Ok(_), Expect::Applies) => true,
            (Err(_), Expect::Refused) => true,
            (Err(e), Expect::Kind(k)) => e.kind() == k,
            _ => false,
        };
        if met {
            return None;
        }
        let actual = match outcome {
            Ok(_) => "applies".to_owned(),
            Err(e) => format!("{} ({e})", e.kind().code()),
        };
        mismatch(expected, actual)
    }
}
