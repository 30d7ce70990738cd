//! Users: members of staff with one or more grants.

use core::fmt;

use chrono_tz::Tz;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::Error;
use crate::model::access::Access;
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};

/// One role held over a set of stores. Most users hold exactly one.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Grant {
    /// The role, by id: renaming the role keeps the grant (R14).
    pub role: RoleId,
    /// The stores the role is held at; narrowed further by the role's store ceiling.
    pub stores: Access<StoreId>,
}

impl Grant {
    /// `role` held at `stores`.
    pub fn new(role: RoleId, stores: Access<StoreId>) -> Self {
        Grant { role, stores }
    }
}

/// A member of staff.
///
/// A new user is enabled, in `UTC`, with no grants and no source or channel access (`None`, as in
/// seed 003's form).
///
/// ```
/// use shopguard::{Access, AccountId, Grant, RoleId, StoreId, User, UserId};
///
/// let ana = User::new(UserId::new(7), AccountId::new(1), "ana", "ana@example.com")
///     .with_grant(Grant::new(RoleId::new(3), Access::specific([StoreId::new(10)])))
///     .with_timezone("Europe/Madrid")?;
/// assert_eq!(ana.grants().len(), 1);
/// assert_eq!(ana.timezone(), "Europe/Madrid");
/// assert!(User::new(UserId::new(8), AccountId::new(1), "x", "x@example.com")
///     .with_timezone("Mars/Olympus")
///     .is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "UserRecord", try_from = "UserRecord")]
// The key and the fields a full check reads come first. The quick check path never reads the
// record (it keeps its own copy of what it needs), so records are not padded to cache lines.
#[repr(C)]
pub struct User {
    id: UserId,
    account: AccountId,
    enabled: bool,
    owner: bool,
    timezone: Tz,
    /// The username's length in `contact`.
    split: u32,
    grants: Grants,
    /// The sources and sales channels (R4, R5).
    scopes: Scopes,
    /// The username followed by the e-mail: one allocation per user instead of two.
    contact: Box<str>,
}

/// How a [`User`] is written: plain fields.
#[derive(Clone, Serialize, Deserialize)]
struct UserRecord {
    id: UserId,
    account: AccountId,
    username: String,
    email: String,
    timezone: String,
    enabled: bool,
    owner: bool,
    grants: SmallVec<[Grant; 1]>,
    sources: Access<SourceId>,
    channels: Access<ChannelId>,
}

impl From<User> for UserRecord {
    fn from(mut u: User) -> Self {
        let plain = Scopes::Plain([Plain::None, Plain::None]);
        let (sources, channels) = match core::mem::replace(&mut u.scopes, plain) {
            Scopes::Plain([s, c]) => (s.access().clone(), c.access().clone()),
            Scopes::Boxed(both) => *both,
        };
        UserRecord {
            id: u.id,
            account: u.account,
            username: u.username().to_owned(),
            email: u.email().to_owned(),
            timezone: u.timezone().to_owned(),
            enabled: u.enabled,
            owner: u.owner,
            grants: match u.grants {
                Grants::One(g) => SmallVec::from_buf([g]),
                Grants::Many(v) => SmallVec::from_vec(v.into_vec()),
            },
            sources,
            channels,
        }
    }
}

impl TryFrom<UserRecord> for User {
    type Error = Error;

    fn try_from(r: UserRecord) -> Result<Self, Error> {
        Ok(User {
            timezone: parse_timezone(&r.timezone)?,
            enabled: r.enabled,
            owner: r.owner,
            grants: r.grants.into_iter().collect(),
            scopes: Scopes::new(r.sources, r.channels),
            ..User::new(r.id, r.account, &r.username, &r.email)
        })
    }
}

/// R16: an IANA timezone name.
pub(crate) fn parse_timezone(name: &str) -> Result<Tz, Error> {
    name.parse::<Tz>().map_err(|_| {
        Error::invalid(
            "timezone",
            name,
            "must be an IANA name such as `Europe/Madrid`",
        )
    })
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("username", &self.username())
            .field("email", &self.email())
            .field("timezone", &self.timezone())
            .field("enabled", &self.enabled)
            .field("owner", &self.owner)
            .field("grants", &self.grants.as_slice())
            .field("sources", self.sources())
            .field("channels", self.channels())
            .finish()
    }
}

/// `username` and `email` as one string, and where the first ends. A username longer than
/// `u32::MAX` bytes is cut there; validation refuses it long before.
fn contact(username: &str, email: &str) -> (Box<str>, u32) {
    let split = u32::try_from(username.len()).unwrap_or(u32::MAX);
    let mut s = String::with_capacity(username.len() + email.len());
    s.push_str(username);
    s.push_str(email);
    (s.into_boxed_str(), split)
}

impl User {
    /// An enabled user with no grants.
    pub fn new(id: UserId, account: AccountId, username: &str, email: &str) -> Self {
        let (contact, split) = contact(username, email);
        User {
            id,
            account,
            contact,
            split,
            timezone: Tz::UTC,
            enabled: true,
            owner: false,
            grants: Grants::Many(Box::new([])),
            scopes: Scopes::Plain([Plain::None, Plain::None]),
        }
    }

    /// A new user that starts from `template`'s grants, sources and channels (copy-from, R17).
    pub fn copy_from(template: &User, id: UserId, username: &str, email: &str) -> Self {
        User {
            grants: template.grants.clone(),
            scopes: template.scopes.clone(),
            timezone: template.timezone,
            ..User::new(id, template.account, username, email)
        }
    }

    /// Adds a grant.
    #[must_use]
    pub fn with_grant(mut self, grant: Grant) -> Self {
        self.grants.push(grant);
        self
    }

    /// Replaces every grant.
    #[must_use]
    pub fn with_grants<I: IntoIterator<Item = Grant>>(mut self, grants: I) -> Self {
        self.grants = grants.into_iter().collect();
        self
    }

    /// Sets the source access.
    #[must_use]
    pub fn with_sources(mut self, sources: Access<SourceId>) -> Self {
        let channels = self.channels().clone();
        self.scopes = Scopes::new(sources, channels);
        self
    }

    /// Sets the sales-channel access.
    #[must_use]
    pub fn with_channels(mut self, channels: Access<ChannelId>) -> Self {
        let sources = self.sources().clone();
        self.scopes = Scopes::new(sources, channels);
        self
    }

    /// Sets the timezone (an IANA name such as `Europe/Madrid`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput), field `timezone`, if `timezone`
    /// is not an IANA name (R16).
    pub fn with_timezone(mut self, timezone: &str) -> Result<Self, Error> {
        self.timezone = parse_timezone(timezone)?;
        Ok(self)
    }

    /// Enables or disables the user. Disabled users are kept and do not count against the seat
    /// limit (R12).
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Marks the user as the account owner (R11).
    #[must_use]
    pub fn with_owner(mut self, owner: bool) -> Self {
        self.owner = owner;
        self
    }

    /// Sets the username.
    #[must_use]
    pub fn with_username(mut self, username: &str) -> Self {
        (self.contact, self.split) = contact(username, self.email());
        self
    }

    /// Sets the e-mail.
    #[must_use]
    pub fn with_email(mut self, email: &str) -> Self {
        (self.contact, self.split) = contact(self.username(), email);
        self
    }

    /// The user's id.
    #[inline]
    pub fn id(&self) -> UserId {
        self.id
    }

    /// The account the user belongs to.
    #[inline]
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The username (no white space, unique per account ignoring case, R16).
    pub fn username(&self) -> &str {
        self.contact
            .get(..self.split as usize)
            .unwrap_or(&self.contact)
    }

    /// The e-mail address.
    pub fn email(&self) -> &str {
        self.contact.get(self.split as usize..).unwrap_or_default()
    }

    /// Sets an already parsed timezone.
    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "the CSV import parses first")
    )]
    pub(crate) fn with_tz(mut self, timezone: Tz) -> Self {
        self.timezone = timezone;
        self
    }

    /// The IANA timezone name.
    pub fn timezone(&self) -> &'static str {
        self.timezone.name()
    }

    /// Whether the user is enabled (active).
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the user is the account owner.
    #[inline]
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// The grants.
    #[inline]
    pub fn grants(&self) -> &[Grant] {
        self.grants.as_slice()
    }

    /// The source access.
    #[inline]
    pub fn sources(&self) -> &Access<SourceId> {
        match &self.scopes {
            Scopes::Plain([sources, _]) => sources.access(),
            Scopes::Boxed(both) => &both.0,
        }
    }

    /// The sales-channel access.
    #[inline]
    pub fn channels(&self) -> &Access<ChannelId> {
        match &self.scopes {
            Scopes::Plain([_, channels]) => channels.access(),
            Scopes::Boxed(both) => &both.1,
        }
    }
}

/// A user's source and sales-channel access. Most users have `None` or `All` on both (every
/// user of the POS and payments catalogs has `None`): those two values are kept in two bytes,
/// and only specific sets go out of line. 16 bytes instead of 48 in every record.
///
/// INVARIANT: `Boxed` holds at least one `Specific` access, so equal scopes are equal values.
#[derive(Clone, PartialEq, Eq)]
enum Scopes {
    Plain([Plain; 2]),
    Boxed(Box<(Access<SourceId>, Access<ChannelId>)>),
}

/// `Access::None` or `Access::All`, of any dimension.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plain {
    None,
    All,
}

impl Plain {
    fn of<T>(access: &Access<T>) -> Option<Plain> {
        match access {
            Access::None => Some(Plain::None),
            Access::All => Some(Plain::All),
            Access::Specific(_) => None,
        }
    }

    fn access<T: PlainAccess>(self) -> &'static Access<T> {
        match self {
            Plain::None => T::NONE,
            Plain::All => T::ALL,
        }
    }
}

/// The two plain values of a dimension's access, as statics.
trait PlainAccess: Sized + 'static {
    const NONE: &'static Access<Self>;
    const ALL: &'static Access<Self>;
}

impl PlainAccess for SourceId {
    const NONE: &'static Access<Self> = &Access::None;
    const ALL: &'static Access<Self> = &Access::All;
}

impl PlainAccess for ChannelId {
    const NONE: &'static Access<Self> = &Access::None;
    const ALL: &'static Access<Self> = &Access::All;
}

impl Scopes {
    fn new(sources: Access<SourceId>, channels: Access<ChannelId>) -> Self {
        match (Plain::of(&sources), Plain::of(&channels)) {
            (Some(s), Some(c)) => Scopes::Plain([s, c]),
            _ => Scopes::Boxed(Box::new((sources, channels))),
        }
    }
}

/// A user's grants: the common single grant inline, more in one boxed slice. Unlike a
/// `SmallVec`, no capacity is kept, and the empty case shares the `Many` arm, so the enum is as
/// big as one [`Grant`] (the grant's scope tag leaves room for the discriminant).
///
/// INVARIANT: `Many` holds zero or two and more grants, so equal lists are equal values.
#[derive(Clone, PartialEq, Eq)]
enum Grants {
    One(Grant),
    Many(Box<[Grant]>),
}

impl FromIterator<Grant> for Grants {
    fn from_iter<I: IntoIterator<Item = Grant>>(grants: I) -> Self {
        let mut all: Vec<Grant> = grants.into_iter().collect();
        match all.pop() {
            Some(g) if all.is_empty() => Grants::One(g),
            Some(g) => {
                all.push(g);
                Grants::Many(all.into_boxed_slice())
            }
            None => Grants::Many(Box::new([])),
        }
    }
}

impl Grants {
    #[inline]
    fn as_slice(&self) -> &[Grant] {
        match self {
            Grants::One(g) => core::slice::from_ref(g),
            Grants::Many(v) => v,
        }
    }

    fn push(&mut self, grant: Grant) {
        let old = core::mem::replace(self, Grants::Many(Box::new([])));
        let mut all = match old {
            Grants::One(g) => Vec::from([g]),
            Grants::Many(v) => v.into_vec(),
        };
        all.push(grant);
        *self = all.into_iter().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::RoleId;

    fn grant(r: u64) -> Grant {
        Grant::new(RoleId::new(r), Access::All)
    }

    /// A loaded engine holds one record per user: keep it at 88 bytes, with the single grant
    /// inline and plain source and channel access in two bytes.
    #[test]
    fn a_user_record_is_88_bytes() {
        assert_eq!(
            core::mem::size_of::<Grants>(),
            core::mem::size_of::<Grant>()
        );
        assert_eq!(core::mem::size_of::<User>(), 88);
    }

    /// However sources and channels are set, the same access is the same value, and it reads
    /// back as set.
    #[test]
    fn scopes_have_one_representation() {
        use crate::model::ids::{ChannelId, SourceId};
        let base = User::new(UserId::new(1), AccountId::new(1), "ana", "ana@example.com");
        let specific = Access::specific([SourceId::new(4)]);
        let there_and_back = base
            .clone()
            .with_sources(specific.clone())
            .with_channels(Access::All)
            .with_sources(Access::None)
            .with_channels(Access::None);
        assert_eq!(there_and_back, base);
        let both = base
            .clone()
            .with_channels(Access::specific([ChannelId::new(2)]))
            .with_sources(specific.clone());
        assert_eq!(both.sources(), &specific);
        assert_eq!(both.channels(), &Access::specific([ChannelId::new(2)]));
        assert_eq!(
            base.clone().with_sources(Access::All).sources(),
            &Access::All
        );
        assert_eq!(base.with_sources(Access::All).channels(), &Access::None);
    }

    /// However grants are added, the same list is the same value (derived equality compares
    /// representations).
    #[test]
    fn grants_have_one_representation() {
        let base = User::new(UserId::new(1), AccountId::new(1), "ana", "ana@example.com");
        for n in 0..4u64 {
            let pushed = (0..n).fold(base.clone(), |u, r| u.with_grant(grant(r)));
            let replaced = base.clone().with_grants((0..n).map(grant));
            assert_eq!(pushed, replaced);
            assert_eq!(
                pushed.grants(),
                (0..n).map(grant).collect::<Vec<_>>().as_slice()
            );
            assert_eq!(
                pushed.grants().len() == 1,
                matches!(pushed.grants, Grants::One(_))
            );
            // The stored form reads back as the same value.
            let stored = UserRecord::from(pushed.clone());
            assert_eq!(stored.grants.len(), pushed.grants().len());
            assert_eq!(User::try_from(stored).ok(), Some(pushed));
        }
    }
}
