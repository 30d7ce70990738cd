//! Planning a batch of changes by an actor: each change authorized on the state the ones
//! before it produce (R6–R11, R15, R17), the state after them all validated once (R11, R12,
//! R14, R16), and every problem collected — the one planner behind `apply`, `apply_all`,
//! `apply_based_on`, `dry_run` and the CSV upload.
//!
//! A change authorization refuses is left out and planning goes on, so that one refusal
//! lists every problem of the batch. Validation problems are put on the change that wrote the
//! object at fault; a seat-limit excess (R12) on the last changes that enabled a user.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use crate::admin::actor::Actor;
use crate::admin::audit::{AuditActor, AuditRecord, Object, Outcome};
use crate::admin::authorize;
use crate::admin::change::Change;
use crate::admin::commit::Staged;
use crate::engine::index::{Index, Pending, folded, validate_email, validate_username};
use crate::error::MAX_PROBLEMS;
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::mutation::{Key, Mutation, ObjectKind};
use crate::model::permission::Catalog;
use crate::model::user::User;
use crate::{Error, ErrorKind, Problem};

/// How a batch is planned.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options<'a> {
    /// The changes (by position) that are authorized like the others and then left out of
    /// the batch, neither stored nor audited: the CSV upload's rows that match the user as the
    /// file was read.
    pub(crate) unchanged: &'a [bool],
}

/// The batch's problems so far: the first error (what the refusal says), and every problem.
#[derive(Default)]
struct Report {
    first: Option<Error>,
    problems: Vec<Problem>,
    omitted: usize,
}

impl Report {
    /// The error that refused the change at `change`.
    fn refuse(&mut self, change: Option<usize>, err: Error) {
        self.problem(Problem::of(change, &err));
        self.first.get_or_insert(err);
    }

    fn problem(&mut self, p: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    fn into_error(self) -> Option<Error> {
        let Report {
            first,
            problems,
            omitted,
        } = self;
        first.map(|err| err.with_problems(problems, omitted))
    }
}

/// Plans every change of `changes` as `actor` on `current`, as revision `revision`.
///
/// # Errors
///
/// The first problem found, listing every one ([`Error::problems`]).
pub(crate) fn stage<P: Catalog>(
    current: &Index<P>,
    actor: UserId,
    changes: &[Change<P>],
    at: u64,
    revision: u64,
    options: Options<'_>,
) -> Result<Staged<'static, P>, Error> {
    let account = current.user(actor).map(User::account);
    let mut next = Index::clone(current);
    let mut mutations = Vec::new();
    let mut events = Vec::new();
    let mut records = Vec::with_capacity(changes.len());
    let mut pending = Pending::default();
    let mut report = Report::default();
    // Which change last wrote each object, and which changes enabled a user, in order.
    let mut writer_of: HashMap<Key, usize> = HashMap::new();
    let mut enabling: Vec<(AccountId, usize, UserId)> = Vec::new();
    let mut mutated = true;
    // New users authorization refused: their own rules are checked at the end all the same.
    let mut refused_new: Vec<(usize, &User)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let planned = match authorize::plan(&next, actor, change) {
            Ok(planned) => planned,
            Err(err) => {
                if let Change::CreateUser(u) = change
                    && Some(u.account()) == account
                    && !next.has_user(u.id())
                {
                    refused_new.push((i, u));
                }
                report.refuse(Some(i), err);
                continue;
            }
        };
        if options.unchanged.get(i).copied().unwrap_or(false) {
            continue;
        }
        for m in &planned.mutations {
            if let Mutation::PutUser(u) = m
                && u.is_enabled()
                && !next.user(u.id()).is_some_and(User::is_enabled)
            {
                enabling.push((u.account(), i, u.id()));
            }
            writer_of.insert(m.key(), i);
        }
        let before = affected(&next, &planned.mutations);
        if let Err(err) = next.mutate(&planned.mutations, &mut pending) {
            // Half applied: nothing after it can be judged on this state.
            report.refuse(Some(i), err);
            mutated = false;
            break;
        }
        let after = affected(&next, &planned.mutations);
        records.push(AuditRecord {
            at_unix_ms: at,
            actor: AuditActor::User(actor),
            account,
            change: change.clone(),
            before,
            after,
            outcome: Outcome::Applied { revision },
        });
        mutations.extend(planned.mutations);
        events.extend(planned.events);
    }
    if mutated {
        let (found, omitted) = next.settle_all(&pending).into_parts();
        // A seat is taken by a user enabled at the end: the last change that enabled it.
        let mut seen = std::collections::HashSet::new();
        let mut takes_seat: Vec<(AccountId, usize)> = enabling
            .iter()
            .rev()
            .filter(|(_, _, id)| seen.insert(*id) && next.user(*id).is_some_and(User::is_enabled))
            .map(|(a, i, _)| (*a, *i))
            .collect();
        takes_seat.reverse();
        for (object, err) in found {
            place(&mut report, object, err, &writer_of, &takes_seat);
        }
        report.omitted = report.omitted.saturating_add(omitted);
        // R9, R20: whether a name is taken is said only to an actor who may create users.
        let may_create =
            Actor::new(&next, actor).is_ok_and(|a| a.level_for(P::admin().create_users).is_some());
        if may_create {
            check_refused_new(&mut report, &next, &refused_new);
        }
    }
    if let Some(err) = report.into_error() {
        return Err(err);
    }
    next.set_revision(revision);
    Ok(Staged {
        next,
        mutations: Cow::Owned(mutations),
        events,
        records,
    })
}

/// Puts a validation problem on the change at fault: the one that last wrote `object`; for
/// a seat-limit excess of `n` users, the last `n` changes that enabled one in the account,
/// each told which enabled user it would be.
fn place(
    report: &mut Report,
    object: Option<Key>,
    err: Error,
    writer_of: &HashMap<Key, usize>,
    enabling: &[(AccountId, usize)],
) {
    if err.kind() == ErrorKind::SeatLimit
        && let (Some(account), Some(enabled), Some(limit)) =
            (err.account(), err.enabled_users(), err.seat_limit())
    {
        let excess = enabled.saturating_sub(limit as usize);
        let in_account: Vec<usize> = enabling
            .iter()
            .filter(|(a, _)| *a == account)
            .map(|(_, i)| *i)
            .collect();
        let blamed = in_account.len().min(excess);
        if blamed > 0 {
            let first = in_account.len() - blamed;
            let over = (limit as usize).saturating_add(excess - blamed);
            for (n, change) in in_account.iter().skip(first).enumerate() {
                let Some(one) = err.seats_at(over + n + 1) else {
                    break;
                };
                report.problem(Problem::of(Some(*change), &one.on_enabled()));
            }
            report.first.get_or_insert(err);
            return;
        }
    }
    let change = object.and_then(|k| writer_of.get(&k).copied());
    report.refuse(change, err);
}

/// The rules a refused new user would break besides authorization (R16: username and e-mail
/// formats, and clashes with the account's users after the batch), so that a refusal lists
/// every problem of the change. Only the actor's own account is looked at; the other user of
/// a clash is not named in the message (R20).
fn check_refused_new<P: Catalog>(report: &mut Report, next: &Index<P>, refused: &[(usize, &User)]) {
    let Some((_, first)) = refused.first() else {
        return;
    };
    let account = first.account();
    let name = next
        .account_entry(account)
        .map_or_else(|| account.to_string(), |a| a.account.name().to_owned());
    let account = (account, name.as_str());
    // One pass over the account's users, whatever the number of refused changes.
    let (mut usernames, mut emails) = (HashMap::new(), HashMap::new());
    for u in next.account_users(first.account()) {
        usernames.insert(folded(u.username()), u.id());
        emails.insert(folded(u.email()), u.id());
    }
    for (i, u) in refused {
        let mut one = |err: Error| report.problem(Problem::of(Some(*i), &err));
        if let Err(err) = validate_username(u.username()) {
            one(err);
        } else if let Some(other) = usernames.get(&folded(u.username())) {
            one(Error::user_clash(
                "username",
                u.username(),
                account,
                u.id(),
                *other,
            ));
        }
        if let Err(err) = validate_email(u.email()) {
            one(err);
        } else if let Some(other) = emails.get(&folded(u.email())) {
            one(Error::user_clash(
                "e-mail",
                u.email(),
                account,
                u.id(),
                *other,
            ));
        }
    }
}

/// The audit records of a refused batch: one per change, each with the refusal.
pub(crate) fn refused_records<P: Clone>(
    at: u64,
    actor: UserId,
    account: Option<AccountId>,
    changes: &[Change<P>],
    err: &Error,
) -> Vec<AuditRecord<P>> {
    changes
        .iter()
        .map(|c| AuditRecord {
            at_unix_ms: at,
            actor: AuditActor::User(actor),
            account,
            change: c.clone(),
            before: Vec::new(),
            after: Vec::new(),
            outcome: Outcome::refused(err),
        })
        .collect()
}

/// The objects a batch of mutations touches, as they are in `index`: accounts, stores,
/// sources, channels, roles, then users, each by id.
pub(crate) fn affected<P: Catalog>(index: &Index<P>, mutations: &[Mutation<P>]) -> Vec<Object<P>> {
    // Keys order by kind (parents first), then id.
    let keys: BTreeSet<Key> = mutations.iter().map(Mutation::key).collect();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let object = match k.kind {
            ObjectKind::Account => index
                .account_entry(AccountId::new(k.id))
                .map(|a| Object::Account(a.account.clone())),
            ObjectKind::Store => index.store(StoreId::new(k.id)).cloned().map(Object::Store),
            ObjectKind::Source => index
                .source(SourceId::new(k.id))
                .cloned()
                .map(Object::Source),
            ObjectKind::Channel => index
                .channel(ChannelId::new(k.id))
                .cloned()
                .map(Object::Channel),
            ObjectKind::Role => index.role(RoleId::new(k.id)).cloned().map(Object::Role),
            ObjectKind::User => index.user(UserId::new(k.id)).cloned().map(Object::User),
        };
        out.extend(object);
    }
    out
}
