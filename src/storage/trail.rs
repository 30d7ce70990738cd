//! What the SQL backends share for the audit trail: the columns an audit record is indexed by,
//! the `WHERE` clause of an [`AuditQuery`], the page loop, and the prune protocol.

use std::io::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::admin::audit_query::{AuditEntry, AuditPage, AuditQuery};
use crate::model::ids::UserId;
use crate::storage::record::{decode, from_sql, revision_from_sql, to_sql};
use crate::storage::retention::{Line, export, finish_export};
use crate::storage::{Mutation, Pruned, Retention};

/// A record naming more objects than this (an unchecked bulk load) gets no target rows: it is
/// marked incomplete, a target query reads it and checks it in memory.
const MAX_TARGET_ROWS: usize = 64;

/// Rows a page reads from the database at a time: with [`MAX_PAGE_BYTES`], what bounds a
/// page's memory whatever its limit.
const FETCH_ROWS: usize = 64;

/// A page stops growing once its records' stored text passes this many bytes (16 MiB); it
/// then ends with a cursor, and the next page goes on.
const MAX_PAGE_BYTES: usize = 16 << 20;

/// Rows the prune's export reads at a time.
const EXPORT_ROWS: usize = 256;

/// The columns of one audit row besides its record, the ones queries filter on.
#[derive(Debug)]
pub(crate) struct AuditColumns {
    pub(crate) at: i64,
    /// The acting user's id; 0 for a system (an unchecked write), which `system` names.
    pub(crate) actor: i64,
    pub(crate) system: Option<String>,
    pub(crate) account: Option<i64>,
    pub(crate) applied: bool,
    pub(crate) outcome: i16,
    /// Bit `k` set: the record concerns objects of kind code `k`.
    pub(crate) kinds: i16,
    /// Every target has a row (false: too many; the record is checked in memory).
    pub(crate) complete: bool,
    /// `(kind, id)` of every target, if `complete`.
    pub(crate) targets: Vec<(i16, i64)>,
}

impl AuditColumns {
    pub(crate) fn of<P: Copy>(r: &AuditRecord<P>) -> Self {
        let targets = r.targets();
        let kinds = r.kinds_of(&targets);
        let complete = targets.len() <= MAX_TARGET_ROWS;
        AuditColumns {
            at: to_sql(r.at_unix_ms),
            actor: to_sql(r.actor.user().map_or(0, UserId::get)),
            system: r.actor.system().map(str::to_owned),
            account: r.account.map(|a| to_sql(a.get())),
            applied: r.outcome.is_applied(),
            outcome: i16::from(r.outcome.kind().code()),
            kinds: i16::from(kinds),
            complete,
            targets: if complete {
                targets
                    .iter()
                    .map(|k| (i16::from(k.kind.code()), to_sql(k.id)))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// A value bound to a query parameter.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    /// `bigint`.
    Int(i64),
    /// `smallint`.
    Small(i16),
    /// `text`.
    Text(String),
}

/// The conditions of `query` on the audit table aliased `a`, for the rows listed after
/// `below` (newest first); `audit` and `targets` are the tables' names and `mark(n)` the
/// dialect's `n`-th placeholder. The first two parameters are the account and `below`.
///
/// The conditions may keep more rows than the query (records with too many targets to index);
/// every row read is checked with [`AuditQuery::matches`] as well.
pub(crate) fn audit_where(
    query: &AuditQuery,
    below: i64,
    audit: &str,
    targets: &str,
    mark: fn(usize) -> String,
) -> (String, Vec<Arg>) {
    let mut args = vec![Arg::Int(to_sql(query.account.get())), Arg::Int(below)];
    let mut sql = format!("a.account = {} AND a.seq < {}", mark(1), mark(2));
    let mut add = |sql: &mut String, text: &str, values: Vec<Arg>| {
        let mut text = text.to_owned();
        for (n, value) in values.into_iter().enumerate() {
            args.push(value);
            text = text.replace(&format!("#{n}"), &mark(args.len()));
        }
        sql.push_str(" AND ");
        sql.push_str(&text);
    };
    match &query.actor {
        None => {}
        Some(a) => match (a.user(), a.system()) {
            (Some(user), _) => add(
                &mut sql,
                "a.system IS NULL AND a.actor = #0",
                vec![Arg::Int(to_sql(user.get()))],
            ),
            // A system acts as user 0: the actor index narrows to unchecked writes.
            (None, Some(system)) => add(
                &mut sql,
                "a.actor = 0 AND a.system = #0",
                vec![Arg::Text(system.to_owned())],
            ),
            // An actor of a kind this release does not know matches nothing.
            (None, None) => add(&mut sql, "1 = 0", Vec::new()),
        },
    }
    if let Some(outcome) = query.outcome {
        add(
            &mut sql,
            "a.outcome = #0",
            vec![Arg::Small(i16::from(outcome.code()))],
        );
    }
    if let Some(kind) = query.kind {
        let bit = i16::from(crate::admin::audit::kind_bit(kind));
        add(&mut sql, "(a.kinds & #0) <> 0", vec![Arg::Small(bit)]);
    }
    // Times past `i64::MAX` ms (the year 292 million) are cut to it.
    let clamp = |at: u64| i64::try_from(at).unwrap_or(i64::MAX);
    if let Some(since) = query.since_unix_ms {
        add(&mut sql, "a.at_unix_ms >= #0", vec![Arg::Int(clamp(since))]);
    }
    if let Some(before) = query.before_unix_ms {
        add(&mut sql, "a.at_unix_ms < #0", vec![Arg::Int(clamp(before))]);
    }
    if let Some(key) = query.target {
        // Driven from the target index; the few records with too many targets to index (bulk
        // loads) come from a partial index, and are checked in memory.
        add(
            &mut sql,
            &format!(
                "a.seq IN (SELECT t.seq FROM {targets} t \
                 WHERE t.kind = #0 AND t.id = #1 AND t.seq < #2 \
                 UNION ALL SELECT i.seq FROM {audit} i \
                 WHERE NOT i.targets_complete AND i.account = #3 AND i.seq < #2)"
            ),
            vec![
                Arg::Small(i16::from(key.kind.code())),
                Arg::Int(to_sql(key.id)),
                Arg::Int(below),
                Arg::Int(to_sql(query.account.get())),
            ],
        );
    }
    (sql, args)
}

/// One page of `query`: `fetch(below, n)` reads at most `n` rows `(seq, record)` of the
/// query's conditions ([`audit_where`]) with `seq < below`, newest first.
pub(crate) fn audit_page<P: Copy + DeserializeOwned>(
    query: &AuditQuery,
    mut fetch: impl FnMut(i64, usize) -> Result<Vec<(i64, String)>, Error>,
) -> Result<AuditPage<P>, Error> {
    let limit = query.page_limit()?;
    let mut below = i64::try_from(query.below()?).unwrap_or(i64::MAX);
    let mut entries = Vec::new();
    let mut bytes = 0usize;
    loop {
        let want = (limit + 1).saturating_sub(entries.len()).min(FETCH_ROWS);
        let rows = fetch(below, want)?;
        let got = rows.len();
        for (seq, text) in rows {
            // INVARIANT: each row is older than the last, so the loop ends.
            if seq >= below {
                return Err(Error::storage(format!(
                    "the audit rows came back out of order: {seq} after {below}"
                )));
            }
            below = seq;
            let record: AuditRecord<P> = decode(&text, "audit record")?;
            if !query.matches(&record) {
                continue;
            }
            if entries.len() == limit || bytes >= MAX_PAGE_BYTES {
                return Ok(query.page(entries, true));
            }
            bytes = bytes.saturating_add(text.len());
            entries.push(AuditEntry::new(revision_from_sql(seq)?, record));
        }
        if got < want {
            return Ok(query.page(entries, false));
        }
    }
}

/// What a prune removes, decided before the export.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PrunePlan {
    /// Batches were pruned up to this revision before.
    pub(crate) from: i64,
    /// Batches up to this revision go (none if it is `from`).
    pub(crate) cut: i64,
}

/// The steps of a prune, on one SQL backend.
pub(crate) trait PruneSteps {
    /// The batches to prune: up to the first batch made at or after the horizon, the head if
    /// none is, no further than the least revision of a follower seen after `stale`.
    fn plan(&self, retention: &Retention, stale: i64) -> Result<PrunePlan, Error>;
    /// At most `n` batches `(revision, at, mutations)` with `after < revision <= through`,
    /// oldest first.
    fn batches(&self, after: i64, through: i64, n: usize)
    -> Result<Vec<(i64, i64, String)>, Error>;
    /// At most `n` audit rows `(seq, record)` with `seq > after` made before `horizon`, in
    /// `seq` order.
    fn audit(&self, after: i64, horizon: i64, n: usize) -> Result<Vec<(i64, String)>, Error>;
    /// In one transaction, serialized with commits: removes the batches up to `cut`, no
    /// further than the least revision of a follower seen after `stale` (it may have
    /// registered since the plan), and moves the pruned mark there; removes the audit rows
    /// `(last_seq, horizon)` name (`seq <= last_seq`, made before `horizon`) and their target
    /// rows; drops the followers' registrations seen at or before `stale`.
    fn remove(
        &self,
        cut: Option<i64>,
        audit: Option<(i64, i64)>,
        stale: i64,
    ) -> Result<Pruned, Error>;
}

/// [`Storage::prune`](crate::storage::Storage::prune) on a SQL backend: plan; export every
/// batch and audit row to remove, a page at a time, without holding any lock; then remove
/// exactly those, in one transaction.
///
/// Audit rows are numbered in the order they became visible (every insert holds the writers'
/// lock), so rows read in `seq` order are all there is up to the last one read: the removal
/// by `seq <= last` takes no row the export lacks.
pub(crate) fn prune<P: Copy + Serialize + DeserializeOwned>(
    steps: &impl PruneSteps,
    retention: &Retention,
    out: &mut dyn Write,
) -> Result<Pruned, Error> {
    let stale = to_sql(retention.stale_at_or_before(crate::admin::audit::now_unix_ms()));
    let plan = steps.plan(retention, stale)?;
    let mut after = plan.from;
    while after < plan.cut {
        let rows = steps.batches(after, plan.cut, EXPORT_ROWS)?;
        let Some(last) = rows.last().map(|r| r.0) else {
            break;
        };
        for (revision, at, text) in &rows {
            let mutations: Vec<Mutation<P>> = decode(text, "batch")?;
            export(
                out,
                &Line::Batch {
                    revision: revision_from_sql(*revision)?,
                    at_unix_ms: from_sql(*at),
                    mutations: &mutations,
                },
            )?;
        }
        after = last;
    }
    let mut audit = None;
    if let Some(horizon) = retention.audit_before {
        let horizon = i64::try_from(horizon).unwrap_or(i64::MAX);
        let mut after = 0;
        loop {
            let rows = steps.audit(after, horizon, EXPORT_ROWS)?;
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            for (seq, text) in &rows {
                let record: AuditRecord<P> = decode(text, "audit record")?;
                export(
                    out,
                    &Line::Audit {
                        seq: revision_from_sql(*seq)?,
                        record: &record,
                    },
                )?;
            }
            after = last;
            audit = Some((last, horizon));
        }
    }
    // INVARIANT: nothing is removed unless all of it was exported and flushed.
    finish_export(out)?;
    let cut = (plan.cut > plan.from).then_some(plan.cut);
    steps.remove(cut, audit, stale)
}
