//! Queries over the stored audit trail (R19): [`AuditQuery`] filters one account's records,
//! newest first, a page at a time, and [`AuditCursor`] continues where a page ended.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::admin::audit::{AuditActor, AuditRecord, OutcomeKind};
use crate::model::ids::AccountId;
use crate::model::mutation::{Key, ObjectKind};

/// One account's audit records, filtered, newest first, a page at a time: what
/// [`Storage::audit_query`](crate::storage::Storage::audit_query) and
/// [`Engine::query_audit`](crate::Engine::query_audit) answer.
///
/// The account is always required; every other filter is optional, and a record must pass
/// all of those set. Records are listed newest first, in the order the store wrote them
/// (which is also time order, up to the clocks of the replicas writing). A page holds at most
/// [`limit`](Self::limit) records; [`AuditPage::next`] is the cursor for the next page, set
/// only if more records match. Paging is stable while others write: records written after the
/// first page never appear on a later one, and no record is listed twice or skipped.
///
/// The query and the page are serde types, so a command-line tool or an HTTP handler can take
/// a query as JSON and print a page as JSON lines.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use shopguard::audit::{AuditQuery, OutcomeKind};
/// use shopguard::catalog::pos::{self, Pos};
/// use shopguard::storage::{MemoryStorage, ObjectKind};
/// use shopguard::{Access, Account, AccountId, Change, Engine, Grant, Mutation, RoleId, User, UserId};
///
/// let shop = AccountId::new(1);
/// let (owner, ana) = (UserId::new(1), UserId::new(2));
/// let engine = Engine::open(Arc::new(MemoryStorage::<Pos>::new()))?;
/// engine.unchecked_apply([
///     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
///     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
///     Mutation::PutRole(pos::cashier(RoleId::new(3), shop)),
///     Mutation::PutUser(User::new(owner, shop, "owner", "owner@example.com")
///         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))),
///     Mutation::PutUser(User::new(ana, shop, "ana", "ana@example.com")
///         .with_grant(Grant::new(RoleId::new(3), Access::All))),
/// ])?;
/// engine.apply(owner, Change::DisableUser(ana))?;
/// engine.apply(owner, Change::EnableUser(ana))?;
/// // Refused: ana may not manage users.
/// assert!(engine.apply(ana, Change::DisableUser(owner)).is_err());
///
/// // What the owner did to ana, newest first, one record a page.
/// let query = AuditQuery::new(shop).actor(owner).target(ana).limit(1);
/// let first = engine.query_audit(&query)?;
/// assert_eq!(first.entries[0].record.change, Change::EnableUser(ana));
/// let next = first.next.ok_or("a second page")?;
/// let second = engine.query_audit(&query.clone().after(next))?;
/// assert_eq!(second.entries[0].record.change, Change::DisableUser(ana));
/// assert!(second.next.is_none());
///
/// // Every refusal about users in the account.
/// let refused = AuditQuery::new(shop).kind(ObjectKind::User).outcome(OutcomeKind::Refused);
/// let page = engine.query_audit(&refused)?;
/// assert_eq!(page.entries.len(), 1);
/// assert_eq!(page.entries[0].record.actor.user(), Some(ana));
///
/// // A cursor travels as text; it only continues the query it was made for.
/// let token = first.next.ok_or("a cursor")?.to_string();
/// let parsed: shopguard::audit::AuditCursor = token.parse()?;
/// assert!(engine.query_audit(&AuditQuery::new(AccountId::new(2)).after(parsed)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub(crate) account: AccountId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) actor: Option<AuditActor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<Key>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<ObjectKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) outcome: Option<OutcomeKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) since_unix_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) before_unix_ms: Option<u64>,
    #[serde(default = "default_limit")]
    pub(crate) limit: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) after: Option<AuditCursor>,
}

fn default_limit() -> usize {
    AuditQuery::DEFAULT_LIMIT
}

impl AuditQuery {
    /// The page size when none is set.
    pub const DEFAULT_LIMIT: usize = 100;

    /// The largest page: a larger [`limit`](Self::limit) is cut to it, so that no request can
    /// make a backend hold more than this many records at once.
    pub const MAX_LIMIT: usize = 1000;

    /// Every record of `account`, [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) a page. Records
    /// that name no account (an unknown actor's attempt, an unchecked batch writing several
    /// accounts) are in no account's query.
    pub fn new(account: AccountId) -> Self {
        AuditQuery {
            account,
            actor: None,
            target: None,
            kind: None,
            outcome: None,
            since_unix_ms: None,
            before_unix_ms: None,
            limit: Self::DEFAULT_LIMIT,
            after: None,
        }
    }

    /// Only changes attempted by `actor`: a [`UserId`](crate::UserId), or an
    /// [`AuditActor::System`] for unchecked writes.
    #[must_use]
    pub fn actor(mut self, actor: impl Into<AuditActor>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Only records about this object ([`AuditRecord::targets`]): an id of any kind
    /// (`UserId`, `RoleId`, `StoreId`, …) or a [`Key`].
    #[must_use]
    pub fn target(mut self, target: impl Into<Key>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Only records about objects of this kind ([`AuditRecord::concerns`]).
    #[must_use]
    pub fn kind(mut self, kind: ObjectKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only applied, or only refused, changes.
    #[must_use]
    pub fn outcome(mut self, outcome: OutcomeKind) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Only records made at or after this time (milliseconds since the Unix epoch).
    #[must_use]
    pub fn since_unix_ms(mut self, at: u64) -> Self {
        self.since_unix_ms = Some(at);
        self
    }

    /// Only records made before this time (milliseconds since the Unix epoch, exclusive).
    #[must_use]
    pub fn before_unix_ms(mut self, at: u64) -> Self {
        self.before_unix_ms = Some(at);
        self
    }

    /// At most `limit` records a page, cut to [`MAX_LIMIT`](Self::MAX_LIMIT). A page may hold
    /// fewer while more follow, when its records are very large (bulk loads); follow
    /// [`AuditPage::next`] to the end.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continues after the page that returned `cursor`. The cursor must come from the same
    /// query (the same account and filters; the limit may change).
    #[must_use]
    pub fn after(mut self, cursor: AuditCursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// The account queried.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// Whether `record` passes every filter of the query (the cursor and limit aside).
    pub fn matches<P: Copy>(&self, record: &AuditRecord<P>) -> bool {
        record.account == Some(self.account)
            && self.actor.as_ref().is_none_or(|a| *a == record.actor)
            && self
                .since_unix_ms
                .is_none_or(|since| record.at_unix_ms >= since)
            && self
                .before_unix_ms
                .is_none_or(|before| record.at_unix_ms < before)
            && self.outcome.is_none_or(|o| record.outcome.kind() == o)
            && self.kind.is_none_or(|k| record.concerns(k))
            && self
                .target
                .is_none_or(|t| record.targets().binary_search(&t).is_ok())
    }

    /// One page from `entries`: every stored record with its sequence number, **newest first**
    /// (sequence numbers decreasing). For a [`Storage`](crate::storage::Storage) backend that
    /// holds its records in memory; the default
    /// [`Storage::audit_query`](crate::storage::Storage::audit_query) uses it.
    ///
    /// # Errors
    ///
    /// As [`Storage::audit_query`](crate::storage::Storage::audit_query): an invalid cursor or
    /// a zero limit.
    pub fn select<'a, P: Copy + 'a>(
        &self,
        entries: impl IntoIterator<Item = (u64, &'a AuditRecord<P>)>,
    ) -> Result<AuditPage<P>, Error> {
        let below = self.below()?;
        let limit = self.page_limit()?;
        let mut page = Vec::new();
        for (seq, record) in entries {
            if seq >= below || !self.matches(record) {
                continue;
            }
            if page.len() == limit {
                return Ok(self.page(page, true));
            }
            page.push(AuditEntry {
                seq,
                record: record.clone(),
            });
        }
        Ok(self.page(page, false))
    }

    /// The page size asked for, cut to [`MAX_LIMIT`](Self::MAX_LIMIT).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (field `limit`) for 0.
    pub(crate) fn page_limit(&self) -> Result<usize, Error> {
        if self.limit == 0 {
            return Err(Error::invalid(
                "limit",
                0,
                "a page holds at least one record",
            ));
        }
        Ok(self.limit.min(Self::MAX_LIMIT))
    }

    /// Records listed on this query's page have a sequence number below this: the cursor's,
    /// once checked against the query, or `u64::MAX` on the first page.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (field `cursor`) for a
    /// cursor made for another account or other filters.
    pub(crate) fn below(&self) -> Result<u64, Error> {
        let Some(cursor) = self.after else {
            return Ok(u64::MAX);
        };
        if cursor.account != self.account {
            return Err(Error::invalid(
                "cursor",
                cursor,
                "it continues a query of another account",
            ));
        }
        if cursor.tag != tag(self.account, cursor.seq, self.fingerprint()) {
            return Err(Error::invalid(
                "cursor",
                cursor,
                "it continues a query with other filters",
            ));
        }
        Ok(cursor.seq)
    }

    /// A page of `entries`, with a cursor after the last one if `more` follow.
    pub(crate) fn page<P>(&self, entries: Vec<AuditEntry<P>>, more: bool) -> AuditPage<P> {
        let next = entries
            .last()
            .filter(|_| more)
            .map(|last| AuditCursor::new(self.account, last.seq, self.fingerprint()));
        AuditPage { entries, next }
    }

    /// A stable hash of the filters (not of the limit or cursor), for the cursor's tag.
    fn fingerprint(&self) -> u64 {
        let mut h = Fnv::new();
        h.u64(self.account.get());
        match &self.actor {
            None => h.byte(0),
            Some(AuditActor::User(id)) => {
                h.byte(1);
                h.u64(id.get());
            }
            Some(AuditActor::System(name)) => {
                h.byte(2);
                h.u64(name.len() as u64);
                h.bytes(name.as_bytes());
            }
        }
        match self.target {
            None => h.byte(0),
            Some(key) => {
                h.byte(1 + key.kind.code());
                h.u64(key.id);
            }
        }
        h.byte(self.kind.map_or(0, |k| 1 + k.code()));
        h.byte(self.outcome.map_or(0, |o| 1 + o.code()));
        for bound in [self.since_unix_ms, self.before_unix_ms] {
            match bound {
                None => h.byte(0),
                Some(at) => {
                    h.byte(1);
                    h.u64(at);
                }
            }
        }
        h.finish()
    }
}

/// One page of an [`AuditQuery`]: the records, newest first, and the cursor for the next
/// page if more match.
///
/// `Debug` prints how many records the page holds and its cursor, not the records (they hold
/// users' e-mails).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
#[non_exhaustive]
pub struct AuditPage<P> {
    /// The records, newest first.
    pub entries: Vec<AuditEntry<P>>,
    /// Where the next page starts ([`AuditQuery::after`]); `None` on the last page.
    pub next: Option<AuditCursor>,
}

impl<P> fmt::Debug for AuditPage<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditPage")
            .field("entries", &self.entries.len())
            .field("next", &self.next)
            .finish()
    }
}

/// One stored audit record and its sequence number, which orders a store's records (a later
/// record has a greater number; numbers may skip).
///
/// `Debug` prints the number, the actor, the change's name and the outcome's kind, not the
/// objects.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
#[non_exhaustive]
pub struct AuditEntry<P> {
    /// The record's place in the store's audit trail.
    pub seq: u64,
    /// The record.
    pub record: AuditRecord<P>,
}

impl<P> AuditEntry<P> {
    /// An entry, for a [`Storage`](crate::storage::Storage) backend's answer.
    pub fn new(seq: u64, record: AuditRecord<P>) -> Self {
        AuditEntry { seq, record }
    }
}

impl<P> fmt::Debug for AuditEntry<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditEntry")
            .field("seq", &self.seq)
            .field("at_unix_ms", &self.record.at_unix_ms)
            .field("actor", &self.record.actor)
            .field("change", &self.record.change.name())
            .field("outcome", &self.record.outcome.kind())
            .finish()
    }
}

/// Where the next page of an [`AuditQuery`] starts: an opaque token, written and read as text
/// (`Display` and `FromStr`, and its serde form), so it can travel through a command line or
/// a URL.
///
/// A cursor continues only the query it was made for: a query of another account, or with
/// other filters, refuses it with [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
/// (field `cursor`), as it refuses a token that is not a cursor. The token carries a check
/// over the account, the filters and the position, so a cursor edited by hand is refused too.
/// The check is not a secret: whoever may query an account decides that before querying; a
/// cursor never reaches records outside its query's account, since the account is a filter of
/// the query itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuditCursor {
    account: AccountId,
    seq: u64,
    tag: u64,
}

/// The token's version byte, its first two hex digits.
const CURSOR_VERSION: u8 = 1;

/// Bytes in a token: version, account, position, check.
const CURSOR_BYTES: usize = 1 + 8 + 8 + 8;

impl AuditCursor {
    fn new(account: AccountId, seq: u64, fingerprint: u64) -> Self {
        AuditCursor {
            account,
            seq,
            tag: tag(account, seq, fingerprint),
        }
    }

    fn to_bytes(self) -> [u8; CURSOR_BYTES] {
        let mut out = [0u8; CURSOR_BYTES];
        let parts = [
            self.account.get().to_be_bytes(),
            self.seq.to_be_bytes(),
            self.tag.to_be_bytes(),
        ];
        for (slot, byte) in out
            .iter_mut()
            .zip(core::iter::once(CURSOR_VERSION).chain(parts.into_iter().flatten()))
        {
            *slot = byte;
        }
        out
    }
}

/// The check of a cursor at `seq` in the query of `account` whose filters hash to
/// `fingerprint`.
fn tag(account: AccountId, seq: u64, fingerprint: u64) -> u64 {
    let mut h = Fnv::new();
    h.bytes(b"shopguard audit cursor");
    h.byte(CURSOR_VERSION);
    h.u64(account.get());
    h.u64(seq);
    h.u64(fingerprint);
    h.finish()
}

impl fmt::Display for AuditCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.to_bytes() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for AuditCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditCursor({self})")
    }
}

impl FromStr for AuditCursor {
    type Err = Error;

    /// Reads a token written by `Display`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (field `cursor`) if `text`
    /// is not a cursor token of this release.
    fn from_str(text: &str) -> Result<Self, Error> {
        // Checked before anything is decoded: a hostile token costs nothing.
        let shown = || text.chars().take(64).collect::<String>();
        if text.len() != 2 * CURSOR_BYTES {
            return Err(Error::invalid(
                "cursor",
                shown(),
                "not a cursor: a cursor has 50 hex digits",
            ));
        }
        let mut bytes = [0u8; CURSOR_BYTES];
        for (slot, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let digits = core::str::from_utf8(pair).ok();
            *slot = digits
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| Error::invalid("cursor", shown(), "not a cursor: not hex"))?;
        }
        let word = |at: usize| -> u64 {
            let mut w = [0u8; 8];
            if let Some(src) = bytes.get(at..at + 8) {
                w.copy_from_slice(src);
            }
            u64::from_be_bytes(w)
        };
        if bytes.first() != Some(&CURSOR_VERSION) {
            return Err(Error::invalid(
                "cursor",
                shown(),
                "not a cursor of this release",
            ));
        }
        Ok(AuditCursor {
            account: AccountId::new(word(1)),
            seq: word(9),
            tag: word(17),
        })
    }
}

impl Serialize for AuditCursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuditCursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// 64-bit FNV-1a: a stable hash (the same in every build and release, unlike the standard
/// library's), for the cursor's check.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn byte(&mut self, b: u8) {
        self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.byte(*b);
        }
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_from_its_text() {
        let q = AuditQuery::new(AccountId::new(7)).kind(ObjectKind::Role);
        let c = AuditCursor::new(q.account, 42, q.fingerprint());
        let text = c.to_string();
        assert_eq!(text.len(), 50);
        assert_eq!(text.parse::<AuditCursor>().unwrap(), c);
        assert_eq!(q.clone().after(c).below().unwrap(), 42);
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let q = AuditQuery::new(AccountId::new(7));
        let c = AuditCursor::new(q.account, 42, q.fingerprint());
        let mut text = c.to_string().into_bytes();
        // The position's last digit: 42 = 0x2a becomes 0x2b.
        text[33] = b'b';
        let edited: AuditCursor = String::from_utf8(text).unwrap().parse().unwrap();
        let err = q.after(edited).below().unwrap_err();
        assert_eq!(err.field(), Some("cursor"));
    }

    #[test]
    fn a_query_read_without_a_limit_gets_the_default_limit() {
        let q = AuditQuery::new(AccountId::new(7)).outcome(OutcomeKind::Refused);
        let mut json = serde_json::to_value(&q).unwrap();
        let fields = json.as_object_mut().unwrap();
        assert_eq!(
            fields.remove("limit"),
            Some(AuditQuery::DEFAULT_LIMIT.into())
        );
        let read: AuditQuery = serde_json::from_value(json).unwrap();
        assert_eq!(read.limit, 100);
        assert_eq!(read, q);
    }

    /// A cursor is bound to its query's filters: no two of these queries, each differing from
    /// the plain one in one filter, share a fingerprint (found by mutation testing: the first
    /// kind and outcome, numbered 0, read as no filter at all).
    #[test]
    fn every_filter_value_gives_its_own_fingerprint() {
        let plain = AuditQuery::new(AccountId::new(7));
        let kinds = [
            ObjectKind::Account,
            ObjectKind::Store,
            ObjectKind::Source,
            ObjectKind::Channel,
            ObjectKind::Role,
            ObjectKind::User,
        ];
        let outcomes = [
            OutcomeKind::Applied,
            OutcomeKind::Refused,
            OutcomeKind::Unknown,
        ];
        let mut queries = vec![plain.clone(), AuditQuery::new(AccountId::new(8))];
        queries.extend(kinds.map(|k| plain.clone().kind(k)));
        queries.extend(outcomes.map(|o| plain.clone().outcome(o)));
        queries.extend(kinds.map(|k| plain.clone().target(Key { kind: k, id: 3 })));
        queries.push(plain.clone().since_unix_ms(5));
        queries.push(plain.clone().before_unix_ms(5));
        queries.push(plain.clone().actor(crate::model::ids::UserId::new(3)));
        queries.push(plain.clone().actor(AuditActor::System("3".into())));
        let mut prints: Vec<u64> = queries.iter().map(AuditQuery::fingerprint).collect();
        prints.sort_unstable();
        prints.dedup();
        assert_eq!(prints.len(), queries.len());
        // And so a cursor of one is refused by every other.
        let cursor = AuditCursor::new(plain.account, 42, plain.fingerprint());
        for q in &queries[1..] {
            assert!(q.clone().after(cursor).below().is_err(), "{q:?}");
        }
    }

    #[test]
    fn a_zero_limit_is_refused_and_a_huge_one_is_cut() {
        let q = AuditQuery::new(AccountId::new(1));
        assert_eq!(
            q.clone().limit(0).page_limit().unwrap_err().field(),
            Some("limit")
        );
        assert_eq!(
            q.limit(usize::MAX).page_limit().unwrap(),
            AuditQuery::MAX_LIMIT
        );
    }
}
