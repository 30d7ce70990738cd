//! Users: members of staff with one or more grants.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

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
///     .with_timezone("Europe/Madrid");
/// assert_eq!(ana.grants().len(), 1);
/// assert!(ana.is_enabled());
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
// INVARIANT: the fields a check reads come first, so they share the first cache lines.
#[repr(C)]
pub struct User {
    account: AccountId,
    enabled: bool,
    owner: bool,
    grants: SmallVec<[Grant; 1]>,
    sources: Access<SourceId>,
    channels: Access<ChannelId>,
    id: UserId,
    username: Box<str>,
    email: Box<str>,
    timezone: Arc<str>,
}

impl User {
    /// An enabled user with no grants.
    pub fn new(id: UserId, account: AccountId, username: &str, email: &str) -> Self {
        User {
            id,
            account,
            username: username.into(),
            email: email.into(),
            timezone: Arc::from("UTC"),
            enabled: true,
            owner: false,
            grants: SmallVec::new(),
            sources: Access::None,
            channels: Access::None,
        }
    }

    /// A new user that starts from `template`'s grants, sources and channels (copy-from, R17).
    pub fn copy_from(template: &User, id: UserId, username: &str, email: &str) -> Self {
        User {
            grants: template.grants.clone(),
            sources: template.sources.clone(),
            channels: template.channels.clone(),
            timezone: template.timezone.clone(),
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
        self.sources = sources;
        self
    }

    /// Sets the sales-channel access.
    #[must_use]
    pub fn with_channels(mut self, channels: Access<ChannelId>) -> Self {
        self.channels = channels;
        self
    }

    /// Sets the timezone (an IANA name such as `Europe/Madrid`).
    #[must_use]
    pub fn with_timezone(mut self, timezone: &str) -> Self {
        self.timezone = Arc::from(timezone);
        self
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
        self.username = username.into();
        self
    }

    /// Sets the e-mail.
    #[must_use]
    pub fn with_email(mut self, email: &str) -> Self {
        self.email = email.into();
        self
    }

    /// The user's id.
    pub fn id(&self) -> UserId {
        self.id
    }

    /// The account the user belongs to.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The username (no white space, unique per account ignoring case, R16).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The e-mail address.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The IANA timezone name.
    pub fn timezone(&self) -> &str {
        &self.timezone
    }

    /// Whether the user is enabled (active).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the user is the account owner.
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// The grants.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The source access.
    pub fn sources(&self) -> &Access<SourceId> {
        &self.sources
    }

    /// The sales-channel access.
    pub fn channels(&self) -> &Access<ChannelId> {
        &self.channels
    }

    /// Shares one allocation per distinct timezone across a loaded engine.
    pub(crate) fn intern_timezone(&mut self, table: &mut std::collections::BTreeSet<Arc<str>>) {
        if let Some(tz) = table.get(&*self.timezone) {
            self.timezone = tz.clone();
        } else {
            table.insert(self.timezone.clone());
        }
    }

    /// Shrinks the grants' storage after a build.
    pub(crate) fn shrink(&mut self) {
        self.grants.shrink_to_fit();
    }
}
