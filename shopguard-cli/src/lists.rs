//! `users`, `roles`, `stores`, `sources`, `channels`: what an actor may see (R6, R20);
//! `permissions`: the catalog.

use serde::Serialize;
use shopguard::policy::{Names, Ref};
use shopguard::{Reach, Snapshot, UserId, UserQuery};

use crate::Perms;
use crate::args::{ActorArgs, Cli, UsersArgs};
use crate::db;
use crate::failure::{Code, Failure};
use crate::out::{self, Table};

/// The actor `r` names, in the account the command is about.
fn actor<P: Perms>(
    cli: &Cli,
    snapshot: &Snapshot<P>,
    r: &Ref,
) -> Result<(UserId, shopguard::AccountId), Failure> {
    let account = db::account(cli, snapshot)?;
    let id = Names::new(snapshot, account)
        .user(r)
        .map_err(Failure::Input)?;
    Ok((id, account))
}

#[derive(Serialize)]
struct GrantOut {
    role: String,
    stores: String,
}

#[derive(Serialize)]
struct UserOut {
    id: u64,
    username: String,
    email: String,
    enabled: bool,
    owner: bool,
    timezone: String,
    grants: Vec<GrantOut>,
    sources: String,
    channels: String,
}

/// `users`: the visible users matching the search.
pub(crate) fn users<P: Perms>(cli: &Cli, a: &UsersArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let (me, account) = actor(cli, &snapshot, &a.actor)?;
    let names = Names::new(&snapshot, account);
    let mut query = UserQuery::new();
    if let Some(t) = &a.search {
        query = query.username(t);
    }
    if let Some(t) = &a.email {
        query = query.email(t);
    }
    if let Some(r) = &a.role {
        query = query.role(names.role(r).map_err(Failure::Input)?);
    }
    if a.enabled {
        query = query.enabled(true);
    }
    if a.disabled {
        query = query.enabled(false);
    }
    let users: Vec<UserOut> = snapshot
        .search_users(me, &query)
        .into_iter()
        .map(|u| UserOut {
            id: u.id().get(),
            username: u.username().to_owned(),
            email: u.email().to_owned(),
            enabled: u.is_enabled(),
            owner: u.is_owner(),
            timezone: u.timezone().to_owned(),
            grants: u
                .grants()
                .iter()
                .map(|g| GrantOut {
                    role: names.role_name(g.role),
                    stores: out::access(&g.stores, |id| names.store_name(id)),
                })
                .collect(),
            sources: out::access(u.sources(), |id| names.source_name(id)),
            channels: out::access(u.channels(), |id| names.channel_name(id)),
        })
        .collect();
    if cli.json {
        out::json(&users)?;
        return Ok(Code::Ok);
    }
    let mut table = Table::new(&[
        "ID", "USERNAME", "E-MAIL", "STATE", "ROLES", "SOURCES", "CHANNELS",
    ]);
    for u in users {
        let state = match (u.enabled, u.owner) {
            (true, true) => "owner",
            (true, false) => "enabled",
            (false, _) => "disabled",
        };
        let roles: Vec<String> = u
            .grants
            .iter()
            .map(|g| format!("{} at {}", g.role, g.stores))
            .collect();
        table.row(vec![
            u.id.to_string(),
            u.username,
            u.email,
            state.to_owned(),
            roles.join("; "),
            u.sources,
            u.channels,
        ]);
    }
    table.print()?;
    Ok(Code::Ok)
}

#[derive(Serialize)]
struct RoleOut {
    id: u64,
    name: String,
    level: u8,
    permissions: Vec<&'static str>,
    former_names: Vec<String>,
    stores: String,
    sources: String,
    channels: String,
}

/// `roles`: the roles the actor sees.
pub(crate) fn roles<P: Perms>(cli: &Cli, a: &ActorArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let (me, account) = actor(cli, &snapshot, &a.actor)?;
    let names = Names::new(&snapshot, account);
    let mut roles = Vec::new();
    for r in snapshot.visible_roles(me) {
        let c = r.ceiling();
        roles.push(RoleOut {
            id: r.id().get(),
            name: r.name().to_owned(),
            level: r.level().get(),
            permissions: r.permissions().names().map_err(Failure::Input)?,
            former_names: r.former_names().to_vec(),
            stores: out::access(&c.stores, |id| names.store_name(id)),
            sources: out::access(&c.sources, |id| names.source_name(id)),
            channels: out::access(&c.channels, |id| names.channel_name(id)),
        });
    }
    if cli.json {
        out::json(&roles)?;
        return Ok(Code::Ok);
    }
    let mut table = Table::new(&["ID", "NAME", "LEVEL", "PERMISSIONS", "FORMERLY", "CEILING"]);
    let total = P::permissions().len();
    for r in roles {
        let perms = if r.permissions.len() == total {
            "all".to_owned()
        } else {
            r.permissions.join(", ")
        };
        let ceiling = match (r.stores.as_str(), r.sources.as_str(), r.channels.as_str()) {
            ("all", "all", "all") => String::new(),
            (s, so, c) => format!("stores {s}; sources {so}; channels {c}"),
        };
        table.row(vec![
            r.id.to_string(),
            r.name,
            r.level.to_string(),
            perms,
            r.former_names.join(", "),
            ceiling,
        ]);
    }
    table.print()?;
    Ok(Code::Ok)
}

#[derive(Serialize)]
struct NamedOut {
    id: u64,
    name: String,
}

fn named(cli: &Cli, header: &'static str, items: Vec<NamedOut>) -> Result<Code, Failure> {
    if cli.json {
        out::json(&items)?;
        return Ok(Code::Ok);
    }
    let mut table = Table::new(&["ID", header]);
    for i in items {
        table.row(vec![i.id.to_string(), i.name]);
    }
    table.print()?;
    Ok(Code::Ok)
}

/// `stores`: the stores the actor sees.
pub(crate) fn stores<P: Perms>(cli: &Cli, a: &ActorArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let (me, _) = actor(cli, &snapshot, &a.actor)?;
    let items = snapshot
        .visible_stores(me)
        .into_iter()
        .map(|s| NamedOut {
            id: s.id().get(),
            name: s.name().to_owned(),
        })
        .collect();
    named(cli, "NAME", items)
}

/// `sources`: the sources the actor sees.
pub(crate) fn sources<P: Perms>(cli: &Cli, a: &ActorArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let (me, _) = actor(cli, &snapshot, &a.actor)?;
    let items = snapshot
        .visible_sources(me)
        .into_iter()
        .map(|s| NamedOut {
            id: s.id().get(),
            name: s.external_id().to_owned(),
        })
        .collect();
    named(cli, "EXTERNAL ID", items)
}

/// `channels`: the sales channels the actor sees.
pub(crate) fn channels<P: Perms>(cli: &Cli, a: &ActorArgs) -> Result<Code, Failure> {
    let engine = db::open::<P>(cli)?;
    let snapshot = engine.snapshot();
    let (me, _) = actor(cli, &snapshot, &a.actor)?;
    let items = snapshot
        .visible_channels(me)
        .into_iter()
        .map(|c| NamedOut {
            id: c.id().get(),
            name: c.name().to_owned(),
        })
        .collect();
    named(cli, "NAME", items)
}

#[derive(Serialize)]
struct PermissionOut {
    name: &'static str,
    display_name: String,
    area: &'static str,
    reach: &'static str,
    description: &'static str,
}

/// `permissions`: the catalog's permissions.
pub(crate) fn permissions<P: Perms>(cli: &Cli) -> Result<Code, Failure> {
    let items: Vec<PermissionOut> = P::permissions()
        .iter()
        .map(|p| PermissionOut {
            name: p.name(),
            display_name: p.display_name(),
            area: p.area(),
            reach: match p.reach() {
                Reach::Scoped => "scoped",
                Reach::AccountWide => "account-wide",
                Reach::EntityBilling => "entity billing",
                Reach::StoreBilling => "store billing",
                Reach::OwnerOnly => "owner only",
                _ => "other",
            },
            description: p.description(),
        })
        .collect();
    if cli.json {
        out::json(&items)?;
        return Ok(Code::Ok);
    }
    let mut table = Table::new(&["NAME", "AREA", "REACH", "DESCRIPTION"]);
    for p in items {
        table.row(vec![
            p.name.to_owned(),
            p.area.to_owned(),
            p.reach.to_owned(),
            p.description.to_owned(),
        ]);
    }
    table.print()?;
    Ok(Code::Ok)
}
