//! Retention: pruning old batches and audit records ([`Storage::prune`]), exported first as
//! JSON lines ([`Archived`]), and the followers' registrations that keep what they still need.
//!
//! [`Storage::prune`]: crate::storage::Storage::prune

use std::io::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::admin::audit::{AuditRecord, now_unix_ms};
use crate::storage::Mutation;

/// What [`Storage::prune`](crate::storage::Storage::prune) removes: batches and audit records
/// made before a horizon, except the batches a registered follower still needs.
///
/// - **Batches** made before the horizon go, oldest first, up to the first one made at or
///   after it, and never past the revision of a live follower
///   ([`Engine::follow`](crate::Engine::follow) registers its engine and refreshes the
///   registration every few seconds). A registration not refreshed within the
///   [follower timeout](Self::follower_timeout) is dropped and no longer holds anything back.
///   An engine whose next batches were pruned (a follower stopped for long, a replica that
///   never follows) reloads the whole state from the store on its next read, instead of
///   missing them.
/// - **Audit records** made before the horizon go. Nothing else depends on them.
///
/// The state itself is never pruned: only the history of how it came about.
///
/// ```
/// use std::time::Duration;
/// use shopguard::storage::Retention;
///
/// // Keep 90 days of batches and a year of audit records (PCI DSS 10.5.1).
/// let day = Duration::from_secs(86_400);
/// let batches = Retention::older_than(90 * day).keep_audit();
/// let audit = Retention::older_than(365 * day).keep_batches();
/// assert_ne!(batches, audit);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Retention {
    pub(crate) batches_before: Option<u64>,
    pub(crate) audit_before: Option<u64>,
    pub(crate) follower_timeout: Duration,
}

impl Retention {
    /// How long a follower's registration holds batches back without being refreshed, unless
    /// set otherwise: ten minutes.
    pub const DEFAULT_FOLLOWER_TIMEOUT: Duration = Duration::from_secs(600);

    /// Batches and audit records made before `horizon` (milliseconds since the Unix epoch).
    pub fn before_unix_ms(horizon: u64) -> Self {
        Retention {
            batches_before: Some(horizon),
            audit_before: Some(horizon),
            follower_timeout: Self::DEFAULT_FOLLOWER_TIMEOUT,
        }
    }

    /// Batches and audit records older than `age`, from now.
    pub fn older_than(age: Duration) -> Self {
        let age = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
        Self::before_unix_ms(now_unix_ms().saturating_sub(age))
    }

    /// Prunes no audit record.
    #[must_use]
    pub fn keep_audit(mut self) -> Self {
        self.audit_before = None;
        self
    }

    /// Prunes no batch.
    #[must_use]
    pub fn keep_batches(mut self) -> Self {
        self.batches_before = None;
        self
    }

    /// Audit records made before `horizon`, whatever the batches' horizon.
    #[must_use]
    pub fn audit_before_unix_ms(mut self, horizon: u64) -> Self {
        self.audit_before = Some(horizon);
        self
    }

    /// Batches made before `horizon`, whatever the audit's horizon.
    #[must_use]
    pub fn batches_before_unix_ms(mut self, horizon: u64) -> Self {
        self.batches_before = Some(horizon);
        self
    }

    /// A follower's registration not refreshed within `timeout` holds nothing back (and is
    /// removed). Keep it well above a few seconds, the refresh interval, and above the clock
    /// differences between the hosts.
    #[must_use]
    pub fn follower_timeout(mut self, timeout: Duration) -> Self {
        self.follower_timeout = timeout;
        self
    }

    /// Registrations last refreshed at or before this time (milliseconds) are stale.
    pub(crate) fn stale_at_or_before(&self, now: u64) -> u64 {
        let timeout = u64::try_from(self.follower_timeout.as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(timeout)
    }
}

/// What a [`Storage::prune`](crate::storage::Storage::prune) removed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pruned {
    /// Batches removed.
    pub batches: u64,
    /// Audit records removed.
    pub audit_records: u64,
    /// Every batch up to this revision is gone now (0: none ever was); the later ones are kept.
    pub through_revision: u64,
}

/// One line of a prune's export: a batch or an audit record, as JSON, one a line, batches
/// first (oldest first), then audit records (oldest first).
///
/// ```text
/// {"type":"batch","revision":4,"at_unix_ms":1767225600000,"mutations":[…]}
/// {"type":"audit","seq":17,"record":{"at_unix_ms":1767225600000,"actor":1,…}}
/// ```
///
/// Read an export back line by line with `serde_json::from_str::<Archived<P>>`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>")
)]
#[non_exhaustive]
pub enum Archived<P> {
    /// A pruned batch.
    Batch {
        /// Its revision.
        revision: u64,
        /// When it was stored: its first audit record's time, or the commit's.
        at_unix_ms: u64,
        /// Its mutations, in order.
        mutations: Vec<Mutation<P>>,
    },
    /// A pruned audit record.
    Audit {
        /// Its sequence number ([`AuditEntry::seq`](crate::audit::AuditEntry::seq)).
        seq: u64,
        /// The record (boxed: it is much larger than a batch's line).
        record: Box<AuditRecord<P>>,
    },
}

/// [`Archived`], borrowed, for writing: the same JSON.
#[derive(Serialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    bound(serialize = "P: Serialize")
)]
pub(crate) enum Line<'a, P> {
    Batch {
        revision: u64,
        at_unix_ms: u64,
        mutations: &'a [Mutation<P>],
    },
    Audit {
        seq: u64,
        record: &'a AuditRecord<P>,
    },
}

/// Writes one export line.
///
/// # Errors
///
/// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if it cannot be written: the prune then
/// removes nothing.
pub(crate) fn export<P: Serialize>(out: &mut dyn Write, line: &Line<'_, P>) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, line)
        .map_err(|e| export_failed(&e))
        .and_then(|()| out.write_all(b"\n").map_err(|e| export_failed(&e)))
}

/// Flushes the export: the last step before anything is removed.
///
/// # Errors
///
/// As [`export`].
pub(crate) fn finish_export(out: &mut dyn Write) -> Result<(), Error> {
    out.flush().map_err(|e| export_failed(&e))
}

fn export_failed(err: &dyn std::error::Error) -> Error {
    Error::storage(format!(
        "cannot export the records to prune, so none was pruned: {err}"
    ))
}
