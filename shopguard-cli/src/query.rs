//! `check`, `explain`, `who-can` and `scope-for`: decisions and reverse queries.

use serde::Serialize;
use shopguard::explain::Verdict;
use shopguard::policy::{Names, Target};
use shopguard::scope::{Columns, Dialect, Filter, SqlParam};
use shopguard::{AccountId, Decision, Snapshot, UserId};

use crate::Perms;
use crate::args::{CheckArgs, Cli, DialectName, On, ScopeForArgs, WhoCanArgs};
use crate::db;
use crate::failure::{Code, Failure};
use crate::out::{self, Table};

/// A permission by its catalog names.
pub(crate) fn permission<P: Perms>(text: &str) -> Result<P, Failure> {
    let p = P::parse(text).map_err(Failure::Input)?;
    if p.is_empty() {
        return Err(Failure::Usage(
            "name a permission: --permission NAME".to_owned(),
        ));
    }
    Ok(p)
}

/// The resource `on` names, in `names`' account.
pub(crate) fn target<P: Perms>(on: &On, names: &Names<'_, P>) -> Result<Target, Failure> {
    let mut t = Target::new(names.account());
    if let Some(r) = &on.store {
        t = t.at_store(names.store(r).map_err(Failure::Input)?);
    }
    if let Some(r) = &on.source {
        t = t.at_source(names.source(r).map_err(Failure::Input)?);
    }
    if on.pending_sourcing {
        t = t.pending_sourcing();
    }
    if let Some(r) = &on.channel {
        t = t.on_channel(names.channel(r).map_err(Failure::Input)?);
    }
    if let Some(r) = &on.role {
        t = t.about_role(names.role(r).map_err(Failure::Input)?);
    }
    if let Some(r) = &on.target_user {
        t = t.about_user(names.user(r).map_err(Failure::Input)?);
    }
    Ok(t)
}

/// What a check is about, in words.
fn describe(on: &On) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &on.store {
        parts.push(format!("store `{r}`"));
    }
    if let Some(r) = &on.source {
        parts.push(format!("source `{r}`"));
    }
    if on.pending_sourcing {
        parts.push("pending sourcing".to_owned());
    }
    if let Some(r) = &on.channel {
        parts.push(format!("sales channel `{r}`"));
    }
    if let Some(r) = &on.role {
        parts.push(format!("role `{r}`"));
    }
    if let Some(r) = &on.target_user {
        parts.push(format!("user `{r}`"));
    }
    if parts.is_empty() {
        "the account".to_owned()
    } else {
        parts.join(", ")
    }
}

/// A decision in words, roles by name.
fn decision_text<P: Perms>(d: &Decision, names: &Names<'_, P>) -> String {
    match d {
        Decision::Allow(a) => format!("allow: by role `{}`", names.role_name(a.role())),
        Decision::Deny(reason) => format!("deny: {reason}"),
    }
}

struct Asked<'s, P: Perms> {
    snapshot: &'s Snapshot<P>,
    account: AccountId,
    user: UserId,
    permission: P,
    target: Target,
}

fn ask<'s, P: Perms>(
    cli: &Cli,
    snapshot: &'s Snapshot<P>,
    a: &CheckArgs,
) -> Result<Asked<'s, P>, Failure> {
    let account = db::account(cli, snapshot)?;
    let names = Names::new(snapshot, account);
    let user = names.user(&a.user).map_err(Failure::Input)?;
    let permission = permission::<P>(&a.permission)?;
    let target = target(&a.on, &names)?;
    Ok(Asked {
        snapshot,
        account,
        user,
        permission,
        target,
    })
}

#[derive(Serialize)]
struct CheckOut<'a> {
    user: String,
    permission: Vec<&'static str>,
    resource: String,
    #[serde(flatten)]
    decision: &'a Decision,
    role_name: Option<String>,
}

/// `check`: the decision and its reason; exit 0 allowed, 1 denied.
pub(crate) fn check<P: Perms>(cli: &Cli, a: &CheckArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let q = ask(cli, &snapshot, a)?;
    let names = Names::new(q.snapshot, q.account);
    let decision = q.snapshot.check(q.user, q.permission, &q.target);
    if cli.json {
        out::json(&CheckOut {
            user: names.username(q.user),
            permission: q.permission.names().map_err(Failure::Input)?,
            resource: describe(&a.on),
            decision: &decision,
            role_name: match decision {
                Decision::Allow(a) => Some(names.role_name(a.role())),
                Decision::Deny(_) => None,
            },
        })?;
    } else {
        out::line(&decision_text(&decision, &names))?;
    }
    Ok(if decision.is_allowed() {
        Code::Ok
    } else {
        Code::No
    })
}

/// `explain`: every grant's verdict; exit 0 allowed, 1 denied.
pub(crate) fn explain<P: Perms>(cli: &Cli, a: &CheckArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let q = ask(cli, &snapshot, a)?;
    let names = Names::new(q.snapshot, q.account);
    let explanation = q.snapshot.explain(q.user, q.permission, &q.target);
    let decision = explanation.decision();
    if cli.json {
        out::json(&explanation)?;
    } else {
        out::line(&format!(
            "{} — `{}` asks for {} on {}",
            decision_text(&decision, &names),
            names.username(q.user),
            q.permission.names().map_err(Failure::Input)?.join(" | "),
            describe(&a.on),
        ))?;
        let user = q.snapshot.user(q.user);
        let mut table = Table::new(&["GRANT", "ROLE", "STORES", "VERDICT"]);
        for g in explanation.grants() {
            let stores = user
                .and_then(|u| u.grants().get(g.grant()))
                .map(|grant| out::access(&grant.stores, |id| names.store_name(id)))
                .unwrap_or_default();
            let verdict = match g.verdict() {
                Verdict::Allows => "allows".to_owned(),
                Verdict::RoleMissing => "the role does not exist".to_owned(),
                Verdict::PermissionMissing(p) => format!(
                    "the role lacks {}",
                    p.names().map_err(Failure::Input)?.join(", ")
                ),
                Verdict::Denies(r) => format!("denies: {r}"),
                _ => "denies".to_owned(),
            };
            table.row(vec![
                g.grant().to_string(),
                g.role_name().unwrap_or("").to_owned(),
                stores,
                verdict,
            ]);
        }
        if table.is_empty() {
            out::line("no grant was looked at: the reason above decided")?;
        } else {
            table.print()?;
        }
    }
    Ok(if decision.is_allowed() {
        Code::Ok
    } else {
        Code::No
    })
}

#[derive(Serialize)]
struct UserOut {
    id: u64,
    username: String,
}

/// `who-can`: the users who may use a permission on a resource.
pub(crate) fn who_can<P: Perms>(cli: &Cli, a: &WhoCanArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let account = db::account(cli, &snapshot)?;
    let names = Names::new(&snapshot, account);
    let permission = permission::<P>(&a.permission)?;
    let target = target(&a.on, &names)?;
    let users: Vec<UserOut> = snapshot
        .who_can(permission, &target)
        .into_iter()
        .map(|id| UserOut {
            id: id.get(),
            username: names.username(id),
        })
        .collect();
    if cli.json {
        out::json(&users)?;
    } else {
        let mut table = Table::new(&["ID", "USERNAME"]);
        for u in users {
            table.row(vec![u.id.to_string(), u.username]);
        }
        table.print()?;
    }
    Ok(Code::Ok)
}

fn filter_text<T: Ord + Copy>(f: &Filter<T>, name: impl Fn(T) -> String) -> String {
    match f {
        Filter::Everything => "everything".to_owned(),
        Filter::Nothing => "nothing".to_owned(),
        Filter::Only(set) => set.iter().map(name).collect::<Vec<_>>().join(", "),
    }
}

#[derive(Serialize)]
struct SqlOut {
    condition: String,
    params: Vec<serde_json::Value>,
    next_param: usize,
}

#[derive(Serialize)]
struct ScopeOut<'a> {
    user: String,
    #[serde(flatten)]
    scope: &'a shopguard::scope::ScopeFor,
    sql: Option<SqlOut>,
}

/// `scope-for`: where a user may use a permission, per dimension and as SQL.
pub(crate) fn scope_for<P: Perms>(cli: &Cli, a: &ScopeForArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let account = db::account(cli, &snapshot)?;
    let names = Names::new(&snapshot, account);
    let user = names.user(&a.user).map_err(Failure::Input)?;
    let permission = permission::<P>(&a.permission)?;
    let scope = snapshot.scope_for(user, permission);
    let sql = match a.dialect {
        None => None,
        Some(d) => {
            let dialect = match d {
                DialectName::Postgres => Dialect::Postgres,
                DialectName::Sqlite => Dialect::Sqlite,
                DialectName::Mysql => Dialect::MySql,
            };
            let mut columns = Columns::new(&a.account_column);
            if a.store_column != "-" {
                columns = columns.store(&a.store_column);
            }
            if let Some(c) = &a.source_column {
                columns = columns.source(c);
            }
            if let Some(c) = &a.channel_column {
                columns = columns.channel(c);
            }
            let f = scope
                .to_sql(dialect, &columns, a.first_param)
                .map_err(Failure::Input)?;
            Some(SqlOut {
                condition: f.condition().to_owned(),
                params: f
                    .params()
                    .iter()
                    .map(|p| match p {
                        SqlParam::Id(id) => serde_json::json!(id),
                        SqlParam::Ids(ids) => serde_json::json!(ids),
                    })
                    .collect(),
                next_param: f.next_param(),
            })
        }
    };
    if cli.json {
        out::json(&ScopeOut {
            user: names.username(user),
            scope: &scope,
            sql,
        })?;
        return Ok(Code::Ok);
    }
    let mut table = Table::new(&["DIMENSION", "REACHES"]);
    table.row(vec![
        "stores".to_owned(),
        filter_text(&scope.stores(), |id| names.store_name(id)),
    ]);
    table.row(vec![
        "sources".to_owned(),
        filter_text(&scope.sources(), |id| names.source_name(id)),
    ]);
    table.row(vec![
        "channels".to_owned(),
        filter_text(&scope.channels(), |id| names.channel_name(id)),
    ]);
    table.print()?;
    if scope.no_sources() && snapshot.sources(account).next().is_some() {
        out::line("the user has no sources: source-scoped pages show an error (R4)")?;
    }
    if let Some(sql) = sql {
        out::line(&format!("WHERE {}", sql.condition))?;
        let params: Vec<String> = sql.params.iter().map(ToString::to_string).collect();
        out::line(&format!("-- parameters: [{}]", params.join(", ")))?;
    }
    Ok(Code::Ok)
}
