//! The model's invariants, checked on the state a batch would produce: references inside the
//! account, unique names (R14, R16), the owner (R11), the seat limit (R12), and the rules for
//! usernames, e-mails and names people read.

use super::*;
use crate::error::Findings;

/// One account's objects, gathered for [`Index::validate`]: users by id, the rest in the
/// index's order.
#[derive(Debug)]
pub(super) struct Members<'a, P> {
    users: Vec<&'a User>,
    roles: Vec<&'a Role<P>>,
    stores: Vec<&'a Store>,
    sources: Vec<&'a Source>,
    channels: Vec<&'a Channel>,
}

impl<P> Default for Members<'_, P> {
    fn default() -> Self {
        Members {
            users: Vec::new(),
            roles: Vec::new(),
            stores: Vec::new(),
            sources: Vec::new(),
            channels: Vec::new(),
        }
    }
}

impl<P: Catalog> Index<P> {
    /// The objects of each of `accounts`, gathered in one pass over each table: validating
    /// many accounts costs one pass, not one per account.
    pub(super) fn members<'a>(
        &'a self,
        accounts: impl IntoIterator<Item = AccountId>,
    ) -> HashMap<AccountId, Members<'a, P>, IdHash> {
        let mut out: HashMap<AccountId, Members<'a, P>, IdHash> = accounts
            .into_iter()
            .map(|a| (a, Members::default()))
            .collect();
        if out.is_empty() {
            return out;
        }
        for u in self.users.values() {
            if let Some(m) = out.get_mut(&u.account()) {
                m.users.push(u);
            }
        }
        for r in self.roles.values() {
            if let Some(m) = out.get_mut(&r.account()) {
                m.roles.push(r);
            }
        }
        for x in self.stores.values() {
            if let Some(m) = out.get_mut(&x.account()) {
                m.stores.push(x);
            }
        }
        for x in self.sources.values() {
            if let Some(m) = out.get_mut(&x.account()) {
                m.sources.push(x);
            }
        }
        for x in self.channels.values() {
            if let Some(m) = out.get_mut(&x.account()) {
                m.channels.push(x);
            }
        }
        for m in out.values_mut() {
            m.users.sort_unstable_by_key(|u| u.id());
        }
        out
    }

    /// Checks every invariant of one account's final state, adding each broken rule to `out`:
    /// at most one problem per object and field. A clash between two users or two sources
    /// names the one `changed` holds (the later one if both are), never an unchanged one
    /// alone, with that one's own spelling of the value (R20).
    pub(super) fn validate(
        &self,
        account: AccountId,
        m: &Members<'_, P>,
        removed: &Removed,
        changed: &super::write::Changed<'_>,
        out: &mut Findings,
    ) {
        let changed_sources = changed.sources;
        let changed = changed.users;
        let Some(entry) = self.accounts.get(&account) else {
            // A removed account must be empty.
            let left = m.users.iter().map(|u| u.username().to_owned());
            let names = name_list(left);
            if !names.is_empty()
                || !m.roles.is_empty()
                || !m.stores.is_empty()
                || !m.sources.is_empty()
                || !m.channels.is_empty()
            {
                out.push_for(
                    account,
                    if removed.accounts.contains(&account) {
                        Error::in_use(
                            "account",
                            removed.label(account),
                            if names.is_empty() {
                                "its roles, stores, sources or channels".into()
                            } else {
                                names
                            },
                        )
                    } else {
                        Error::not_found("account", account)
                    },
                );
            }
            return;
        };

        let name = entry.account.name();
        // Store and channel names: what a person reads and a download writes (R18).
        for x in &m.stores {
            out.check_for(x.id(), validate_name("store name", x.name()));
        }
        for x in &m.channels {
            out.check_for(x.id(), validate_name("sales channel name", x.name()));
        }

        // Sources: external ids unique per account (they are how imports name sources). A
        // clash is put on the source the batch changed, in its own spelling: the other may be
        // one the actor does not see (R20).
        let mut external: HashMap<String, &Source> = HashMap::new();
        for s in m.sources.iter().copied() {
            out.check_for(s.id(), validate_external_id(s.external_id()));
            if let Some(other) = external.insert(s.external_id().to_ascii_lowercase(), s) {
                let blamed = if changed_sources.contains(&s.id())
                    || !changed_sources.contains(&other.id())
                {
                    s
                } else {
                    other
                };
                out.push_for(
                    blamed.id(),
                    Error::duplicate("source external id", blamed.external_id(), account, name)
                        .about_source(blamed.id()),
                );
            }
        }

        // Roles: references inside the account; names (and former names) unambiguous (R14).
        let mut role_names = HashMap::new();
        for r in &m.roles {
            let names =
                || core::iter::once(r.name()).chain(r.former_names().iter().map(String::as_str));
            if let Some(bad) = names().find_map(|name| validate_name("role name", name).err()) {
                out.push_for(r.id(), bad);
            }
            let ceiling = r.ceiling();
            out.check_for(
                r.id(),
                self.check_refs(
                    account,
                    &ceiling.stores,
                    &ceiling.sources,
                    &ceiling.channels,
                    removed,
                    || format!("role `{}`", r.name()),
                ),
            );
            // A mask built with `from_bits_retain` could carry bits of a future catalog.
            out.check_for(
                r.id(),
                P::from_stored_bits(r.permissions().bits()).map(|_| ()),
            );
            for role in names() {
                if let Some(other) = role_names.insert(folded(role), r.id())
                    && other != r.id()
                {
                    out.push_for(r.id(), Error::duplicate("role name", role, account, name));
                    break;
                }
            }
        }

        // Users: valid, unique, references inside the account; owner and seat invariants.
        let mut usernames: HashMap<String, UserId> = HashMap::new();
        let mut emails: HashMap<String, UserId> = HashMap::new();
        let mut owners = Vec::new();
        let mut enabled = 0usize;
        let mut any_user = false;
        // By id, so that which of two clashing users an error names does not depend on hashing.
        for u in m.users.iter().copied() {
            any_user = true;
            self.check_user(account, u, removed, out);
            let fields = [
                ("username", u.username(), &mut usernames),
                ("e-mail", u.email(), &mut emails),
            ];
            for (field, value, seen) in fields {
                if let Some(other) = seen.insert(folded(value), u.id()) {
                    // The later of two changed users, or the changed one of a pair.
                    let (blamed, holder) = if changed.contains(&u.id()) || !changed.contains(&other)
                    {
                        (u, other)
                    } else {
                        match self.users.get(&other) {
                            Some(o) => (o, u.id()),
                            None => (u, other),
                        }
                    };
                    let value = if field == "username" {
                        blamed.username()
                    } else {
                        blamed.email()
                    };
                    out.push(Error::user_clash(
                        field,
                        value,
                        (account, name),
                        blamed.id(),
                        holder,
                    ));
                }
            }
            if u.is_enabled() {
                enabled += 1;
            }
            if u.is_owner() {
                owners.push(u);
            }
        }
        self.check_account(entry, any_user, enabled, &owners, out);
    }

    /// A few changed users of an account whose roles, stores, sources and channels did not
    /// change: each is checked alone, and against the others only for clashes, without
    /// allocating per user (a write to a large account stays cheap). Adds what it finds to
    /// `out`, like [`validate`](Self::validate).
    pub(super) fn validate_users(
        &self,
        account: AccountId,
        changed: &BTreeSet<UserId>,
        out: &mut Findings,
    ) {
        let Some(entry) = self.accounts.get(&account) else {
            out.push_for(account, Error::not_found("account", account));
            return;
        };
        let none = Removed::default();
        let fresh: Vec<&User> = changed.iter().filter_map(|id| self.users.get(id)).collect();
        for u in fresh.iter().copied() {
            self.check_user(account, u, &none, out);
        }
        // Clashes through the name indexes, reported in the order a pass over the table would
        // find them: by the other user's position, then the changed user, username first.
        let mut clashes: Vec<(u32, usize, bool, &User, &User)> = Vec::new();
        for (i, c) in fresh.iter().copied().enumerate() {
            let by_name = self.users.named(account, c.username()).map(|p| (p, false));
            let by_email = self.users.with_email(account, c.email()).map(|p| (p, true));
            for (p, email) in by_name.chain(by_email) {
                let Some(u) = self.users.at(p as usize).filter(|u| u.id() != c.id()) else {
                    continue;
                };
                // A clash between two changed users is found twice: named once, on the later.
                if changed.contains(&u.id()) && c.id() < u.id() {
                    continue;
                }
                clashes.push((p, i, email, c, u));
            }
        }
        clashes.sort_unstable_by_key(|&(p, i, email, _, _)| (p, i, email));
        for (_, _, email, c, u) in clashes {
            let (field, value) = if email {
                ("e-mail", c.email())
            } else {
                ("username", c.username())
            };
            let name = entry.account.name();
            out.push(Error::user_clash(
                field,
                value,
                (account, name),
                c.id(),
                u.id(),
            ));
        }
        let counts = self.users.counts(account);
        let owners: Vec<&User> = counts
            .into_iter()
            .flat_map(|c| c.owners.iter())
            .filter_map(|id| self.users.get(id))
            .collect();
        let enabled = counts.map_or(0, |c| c.enabled as usize);
        let any_user = counts.is_some_and(|c| c.users > 0);
        self.check_account(entry, any_user, enabled, &owners, out);
    }

    /// One user's own rules: username and e-mail formats (R16), references inside the account;
    /// at most one problem for each.
    pub(super) fn check_user(
        &self,
        account: AccountId,
        u: &User,
        removed: &Removed,
        out: &mut Findings,
    ) {
        out.check_for(u.id(), validate_username(u.username()));
        out.check_for(u.id(), validate_email(u.email()));
        let what = || format!("user `{}`", u.username());
        for g in u.grants() {
            match self.roles.get(&g.role) {
                Some(r) if r.account() == account => {}
                // Another account's role is not found: ids are global, and naming the account
                // that holds one would tell one tenant about another.
                Some(_) => out.push_for(u.id(), Error::not_found("role", g.role)),
                None if removed.roles.contains(&g.role) => {
                    let role = removed.label(g.role);
                    let err = Error::in_use("role", role, format!("`{}`", u.username()));
                    out.push_for(u.id(), err);
                }
                None => out.push_for(u.id(), Error::not_found("role", g.role)),
            }
            out.check_for(
                u.id(),
                self.check_refs(
                    account,
                    &g.stores,
                    &Access::None,
                    &Access::None,
                    removed,
                    what,
                ),
            );
        }
        out.check_for(
            u.id(),
            self.check_refs(
                account,
                &Access::None,
                u.sources(),
                u.channels(),
                removed,
                what,
            ),
        );
    }

    /// R11 and R12 for an account, from its users' counts.
    pub(super) fn check_account(
        &self,
        entry: &AccountEntry<P>,
        any_user: bool,
        enabled: usize,
        owners: &[&User],
        out: &mut Findings,
    ) {
        let (account, name) = (entry.account.id(), entry.account.name());
        if any_user {
            // R11: exactly one owner, enabled, holding a top-level role.
            match owners {
                [] => out.push_for(
                    account,
                    Error::owner(account, name, "an account with users must have an owner"),
                ),
                [o] => {
                    if !o.is_enabled() {
                        out.push_for(
                            o.id(),
                            Error::owner(account, name, "the account owner cannot be disabled"),
                        );
                    } else if !o
                        .grants()
                        .iter()
                        .any(|g| self.roles.get(&g.role).is_some_and(|r| r.level().is_top()))
                    {
                        out.push_for(
                            o.id(),
                            Error::owner(
                                account,
                                name,
                                "the account owner must hold a level-1 role",
                            ),
                        );
                    }
                }
                _ => out.push_for(
                    account,
                    Error::owner(account, name, "an account has exactly one owner"),
                ),
            }
        }
        if let Some(limit) = entry.account.seat_limit()
            && enabled > limit as usize
        {
            out.push_for(
                account,
                Error::seats_exceeded(account, name, enabled, limit),
            );
        }
    }

    pub(super) fn check_refs(
        &self,
        account: AccountId,
        stores: &Access<StoreId>,
        sources: &Access<SourceId>,
        channels: &Access<ChannelId>,
        removed: &Removed,
        who: impl Fn() -> String,
    ) -> Result<(), Error> {
        if let Access::Specific(set) = stores {
            for id in set.iter() {
                check_ref(
                    "store",
                    id,
                    self.stores.get(&id).map(Store::account),
                    account,
                    removed.stores.contains(&id).then(|| removed.label(id)),
                    &who,
                )?;
            }
        }
        if let Access::Specific(set) = sources {
            for id in set.iter() {
                check_ref(
                    "source",
                    id,
                    self.sources.get(&id).map(Source::account),
                    account,
                    removed.sources.contains(&id).then(|| removed.label(id)),
                    &who,
                )?;
            }
        }
        if let Access::Specific(set) = channels {
            for id in set.iter() {
                check_ref(
                    "sales channel",
                    id,
                    self.channels.get(&id).map(Channel::account),
                    account,
                    removed.channels.contains(&id).then(|| removed.label(id)),
                    &who,
                )?;
            }
        }
        Ok(())
    }
}

pub(super) fn check_ref<I: core::fmt::Display + Into<crate::model::mutation::Key> + Copy>(
    what: &'static str,
    id: I,
    found: Option<AccountId>,
    account: AccountId,
    removed: Option<String>,
    who: &impl Fn() -> String,
) -> Result<(), Error> {
    match (found, removed) {
        (Some(a), _) if a == account => Ok(()),
        // Another account's object is not found, as in any check (R1): no tenant learns of
        // another.
        (Some(_), _) => Err(Error::not_found(what, id)),
        // Removed by this batch, which named it: its former name.
        (None, Some(name)) => Err(Error::in_use(what, name, who())),
        (None, None) => Err(Error::not_found(what, id)),
    }
}

pub(crate) fn name_list<I: Iterator<Item = String>>(names: I) -> String {
    let all: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    all.join(", ")
}

/// How many changed users of one account are validated one by one rather than by a full pass.
pub(super) const INCREMENTAL: usize = 32;

/// A name people read and a CSV file carries: non-empty, no white space at either end (a
/// padded name would not survive a download and upload, which trim cells), no control
/// characters (a tab or carriage return can start a spreadsheet formula).
pub(crate) fn validate_name(field: &'static str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, name, "must not be empty"));
    }
    if name.trim() != name {
        return Err(Error::invalid(
            field,
            name,
            "must not start or end with white space",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            name,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A source's external id: how the upload template names it, comma separated.
fn validate_external_id(id: &str) -> Result<(), Error> {
    validate_name("source external id", id)?;
    if id.contains(',') {
        return Err(Error::invalid(
            "source external id",
            id,
            "must not contain a comma: the upload template lists sources comma separated",
        ));
    }
    if id.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            "source external id",
            id,
            "must be non-empty without white space",
        ));
    }
    Ok(())
}

/// R16: non-empty, no white space or control characters.
pub(crate) fn validate_username(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid("username", name, "must not be empty"));
    }
    if name.len() > 255 {
        return Err(Error::invalid(
            "username",
            name,
            "must be at most 255 bytes",
        ));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            "username",
            name,
            "must not contain white space",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "username",
            name,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// R16: a valid e-mail address.
pub(crate) fn validate_email(email: &str) -> Result<(), Error> {
    // The crate accepts display forms such as `Name <a@b>`; a stored address is the bare form.
    let bare = !email.contains(['<', '>', ' '])
        && email.contains('@')
        && email.trim() == email
        && !email.chars().any(char::is_control);
    if bare && email_address::EmailAddress::is_valid(email) {
        Ok(())
    } else {
        Err(Error::invalid(
            "e-mail",
            email,
            "must be a valid address such as `name@example.com`",
        ))
    }
}
