//! Names in files and on a command line: a [`Ref`] to an object by name or id, access written
//! as `"all"`, `"none"` or a list, resolution against a file or an engine's account, and
//! [`Target`], a resource named by its parts.

use core::fmt;
use core::str::FromStr;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::engine::Snapshot;
use crate::engine::resource::{Place, Resource, Subject};
use crate::model::access::Access;
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::permission::Catalog;
use crate::{Error, ErrorKind};

/// An object named in a file or on a command line: by name (a username, a store's name, a
/// source's external id, a role's name or former name) or by id.
///
/// In TOML a string is a name and an integer an id; as text ([`FromStr`]), `#10` is an id and
/// anything else a name.
///
/// ```
/// use shopguard::policy::Ref;
///
/// assert_eq!("#10".parse::<Ref>()?, Ref::Id(10));
/// assert_eq!("North".parse::<Ref>()?, Ref::Name("North".into()));
/// assert!("".parse::<Ref>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Ref {
    /// The object's id: the host's 64-bit key.
    Id(u64),
    /// The object's name.
    Name(String),
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Id(id) => write!(f, "#{id}"),
            Ref::Name(name) => f.write_str(name),
        }
    }
}

impl FromStr for Ref {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        if text.trim().is_empty() {
            return Err(Error::invalid("name", text, "must not be empty"));
        }
        match text.strip_prefix('#') {
            Some(digits) => digits
                .parse()
                .map(Ref::Id)
                .map_err(|_| Error::invalid("id", text, "must be `#` and a number, such as `#10`")),
            None => Ok(Ref::Name(text.to_owned())),
        }
    }
}

impl Serialize for Ref {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Ref::Id(id) => s.serialize_u64(*id),
            Ref::Name(name) => s.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for Ref {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RefVisitor)
    }
}

struct RefVisitor;

impl Visitor<'_> for RefVisitor {
    type Value = Ref;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a name (a string) or an id (a non-negative integer)")
    }

    fn visit_u64<E: de::Error>(self, id: u64) -> Result<Ref, E> {
        Ok(Ref::Id(id))
    }

    fn visit_i64<E: de::Error>(self, id: i64) -> Result<Ref, E> {
        u64::try_from(id)
            .map(Ref::Id)
            .map_err(|_| E::custom(format!("`{id}` is not an id: ids are not negative")))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Ref, E> {
        if name.trim().is_empty() {
            return Err(E::custom("a name must not be empty"));
        }
        Ok(Ref::Name(name.to_owned()))
    }
}

/// Access on one dimension as a file writes it: `"all"`, `"none"` or a list of names and ids.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum AccessSpec {
    All,
    None,
    Some(Vec<Ref>),
}

impl Serialize for AccessSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AccessSpec::All => s.serialize_str("all"),
            AccessSpec::None => s.serialize_str("none"),
            AccessSpec::Some(refs) => s.collect_seq(refs),
        }
    }
}

impl<'de> Deserialize<'de> for AccessSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AccessVisitor)
    }
}

struct AccessVisitor;

impl<'de> Visitor<'de> for AccessVisitor {
    type Value = AccessSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`\"all\"`, `\"none\"` or a list of names and ids")
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<AccessSpec, E> {
        match word {
            "all" => Ok(AccessSpec::All),
            "none" => Ok(AccessSpec::None),
            _ => Err(E::custom(format!(
                "`{word}` is neither `all` nor `none`: write specific names as a list, `[\"{word}\"]`"
            ))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AccessSpec, A::Error> {
        let mut refs = Vec::new();
        while let Some(r) = seq.next_element::<Ref>()? {
            refs.push(r);
        }
        Ok(AccessSpec::Some(refs))
    }
}

/// A name that resolves to no object, or to two: the rule (`NotFound`, or `InvalidInput` for
/// an ambiguous name) and what to tell.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Miss {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

impl Miss {
    pub(crate) fn not_found(message: String) -> Self {
        Miss {
            kind: ErrorKind::NotFound,
            message,
        }
    }

    pub(crate) fn invalid(message: String) -> Self {
        Miss {
            kind: ErrorKind::InvalidInput,
            message,
        }
    }
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Miss> for Error {
    fn from(miss: Miss) -> Self {
        Error::lookup(miss.kind, miss.message)
    }
}

/// Resolves the names of one account's objects to ids: against a policy file's own objects,
/// or against an engine's account.
pub(crate) trait Resolve {
    fn store(&self, r: &Ref) -> Result<StoreId, Miss>;
    fn source(&self, r: &Ref) -> Result<SourceId, Miss>;
    fn channel(&self, r: &Ref) -> Result<ChannelId, Miss>;
    fn role(&self, r: &Ref) -> Result<RoleId, Miss>;
}

impl AccessSpec {
    /// The access this spec names, every name resolved by `one`.
    pub(crate) fn resolve<T: Ord + Copy>(
        &self,
        one: impl Fn(&Ref) -> Result<T, Miss>,
    ) -> Result<Access<T>, Miss> {
        match self {
            AccessSpec::All => Ok(Access::All),
            AccessSpec::None => Ok(Access::None),
            AccessSpec::Some(refs) => {
                let ids = refs.iter().map(one).collect::<Result<Vec<T>, Miss>>()?;
                Ok(Access::specific(ids))
            }
        }
    }

    /// How a file writes `access`, each id named by `name`.
    pub(crate) fn of<T: Ord + Copy>(access: &Access<T>, name: impl Fn(T) -> Ref) -> Self {
        match access {
            Access::All => AccessSpec::All,
            Access::None => AccessSpec::None,
            Access::Specific(set) => AccessSpec::Some(set.iter().map(name).collect()),
        }
    }
}

/// The objects of one account of an engine, found by name or id: for policy tests and command
/// lines, which name users, stores, sources, channels and roles as people know them.
///
/// A name matches as the engine looks names up: usernames and role names (current or former,
/// R14) by their case-folded form, sources by external id ignoring ASCII case, stores and
/// sales channels by their exact name. A name two stores (or channels) share is refused as
/// ambiguous: name it by id (`#10`). An id is taken as it is, whether or not it exists, so
/// that a check can be asked about an unknown store (R1).
///
/// ```
/// use shopguard::catalog::pos::{self, Pos};
/// use shopguard::policy::{Names, Ref};
/// use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId, Store, StoreId};
/// use shopguard::{User, UserId};
///
/// let engine = Engine::<Pos>::new();
/// let shop = AccountId::new(1);
/// engine.unchecked_apply([
///     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
///     Mutation::PutStore(Store::new(StoreId::new(10), shop, "North")),
///     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
///     Mutation::PutUser(User::new(UserId::new(1), shop, "olivia", "olivia@example.com")
///         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))),
/// ])?;
/// let snapshot = engine.snapshot();
/// let names = Names::new(&snapshot, shop);
/// assert_eq!(names.user(&"OLIVIA".parse()?)?, UserId::new(1));
/// assert_eq!(names.store(&Ref::Name("North".into()))?, StoreId::new(10));
/// assert_eq!(names.store(&Ref::Id(99))?, StoreId::new(99));
/// assert!(names.store(&Ref::Name("South".into())).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Names<'a, P: Catalog> {
    snapshot: &'a Snapshot<P>,
    account: AccountId,
}

impl<'a, P: Catalog> Names<'a, P> {
    /// The names of `account` in `snapshot`.
    pub fn new(snapshot: &'a Snapshot<P>, account: AccountId) -> Self {
        Names { snapshot, account }
    }

    /// The account names are looked up in.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// A user, by username (case folded) or id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] if no user of the account has that username.
    pub fn user(&self, r: &Ref) -> Result<UserId, Error> {
        Ok(self.user_id(r)?)
    }

    /// A store, by name or id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] if no store of the account has that name, or
    /// [`ErrorKind::InvalidInput`] if two have.
    pub fn store(&self, r: &Ref) -> Result<StoreId, Error> {
        Ok(Resolve::store(self, r)?)
    }

    /// A source, by external id or id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] if no source of the account has that external id.
    pub fn source(&self, r: &Ref) -> Result<SourceId, Error> {
        Ok(Resolve::source(self, r)?)
    }

    /// A sales channel, by name or id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] if no channel of the account has that name, or
    /// [`ErrorKind::InvalidInput`] if two have.
    pub fn channel(&self, r: &Ref) -> Result<ChannelId, Error> {
        Ok(Resolve::channel(self, r)?)
    }

    /// A role, by name, former name (R14) or id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] if no role of the account answers to that name.
    pub fn role(&self, r: &Ref) -> Result<RoleId, Error> {
        Ok(Resolve::role(self, r)?)
    }

    /// The username of a user of the account, or its id as `#id` if there is none.
    pub fn username(&self, id: UserId) -> String {
        self.snapshot
            .user(id)
            .filter(|u| u.account() == self.account)
            .map_or_else(|| format!("#{}", id.get()), |u| u.username().to_owned())
    }

    /// The name of a store of the account, or its id as `#id`.
    pub fn store_name(&self, id: StoreId) -> String {
        self.snapshot
            .store(id)
            .filter(|s| s.account() == self.account)
            .map_or_else(|| format!("#{}", id.get()), |s| s.name().to_owned())
    }

    /// The external id of a source of the account, or its id as `#id`.
    pub fn source_name(&self, id: SourceId) -> String {
        self.snapshot
            .source(id)
            .filter(|s| s.account() == self.account)
            .map_or_else(|| format!("#{}", id.get()), |s| s.external_id().to_owned())
    }

    /// The name of a sales channel of the account, or its id as `#id`.
    pub fn channel_name(&self, id: ChannelId) -> String {
        self.snapshot
            .channel(id)
            .filter(|c| c.account() == self.account)
            .map_or_else(|| format!("#{}", id.get()), |c| c.name().to_owned())
    }

    /// The name of a role of the account, or its id as `#id`.
    pub fn role_name(&self, id: RoleId) -> String {
        self.snapshot
            .role(id)
            .filter(|r| r.account() == self.account)
            .map_or_else(|| format!("#{}", id.get()), |r| r.name().to_owned())
    }

    pub(crate) fn user_id(&self, r: &Ref) -> Result<UserId, Miss> {
        match r {
            Ref::Id(id) => Ok(UserId::new(*id)),
            Ref::Name(name) => self
                .snapshot
                .users(self.account)
                .find(|u| crate::model::text::same_folded(u.username(), name))
                .map(|u| u.id())
                .ok_or_else(|| Miss::not_found(format!("no user is named `{name}`"))),
        }
    }
}

/// The one object of `candidates` whose name is `name`: none is not found, two are ambiguous.
fn unique<T: Copy>(
    what: &str,
    name: &str,
    mut candidates: impl Iterator<Item = T>,
) -> Result<T, Miss> {
    match (candidates.next(), candidates.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(Miss::invalid(format!(
            "two {what}s are named `{name}`: name the one meant by id (`#id`)"
        ))),
        (None, _) => Err(Miss::not_found(format!("no {what} is named `{name}`"))),
    }
}

impl<P: Catalog> Resolve for Names<'_, P> {
    fn store(&self, r: &Ref) -> Result<StoreId, Miss> {
        match r {
            Ref::Id(id) => Ok(StoreId::new(*id)),
            Ref::Name(name) => unique(
                "store",
                name,
                self.snapshot
                    .stores(self.account)
                    .filter(|s| s.name() == name)
                    .map(|s| s.id()),
            ),
        }
    }

    fn source(&self, r: &Ref) -> Result<SourceId, Miss> {
        match r {
            Ref::Id(id) => Ok(SourceId::new(*id)),
            Ref::Name(name) => self
                .snapshot
                .source_named(self.account, name)
                .map(|s| s.id())
                .ok_or_else(|| Miss::not_found(format!("no source has the external id `{name}`"))),
        }
    }

    fn channel(&self, r: &Ref) -> Result<ChannelId, Miss> {
        match r {
            Ref::Id(id) => Ok(ChannelId::new(*id)),
            Ref::Name(name) => unique(
                "sales channel",
                name,
                self.snapshot
                    .channels(self.account)
                    .filter(|c| c.name() == name)
                    .map(|c| c.id()),
            ),
        }
    }

    fn role(&self, r: &Ref) -> Result<RoleId, Miss> {
        match r {
            Ref::Id(id) => Ok(RoleId::new(*id)),
            Ref::Name(name) => self
                .snapshot
                .role_named(self.account, name)
                .map(|r| r.id())
                .ok_or_else(|| Miss::not_found(format!("no role is named `{name}`"))),
        }
    }
}

/// A resource put together from its parts: an account, and where it lies on each dimension,
/// and the role or user it is about. What a command line or a policy test checks when it
/// names a store, a source, a channel, a role or a user rather than a host type.
///
/// With no part, it is the account as a whole ([`OnAccount`](crate::OnAccount): unplaced on
/// stores). With a store, a source or a channel, it lies there and is unscoped on the
/// dimensions not given; [`pending_sourcing`](Self::pending_sourcing) makes it an order
/// pending sourcing (R5).
///
/// ```
/// use shopguard::policy::Target;
/// use shopguard::{AccountId, Place, Resource, SourceId, StoreId};
///
/// let shop = AccountId::new(1);
/// let order = Target::new(shop).at_store(StoreId::new(10)).pending_sourcing();
/// assert_eq!(order.store(), Place::At(StoreId::new(10)));
/// assert_eq!(order.source(), Place::Unplaced);
/// assert_eq!(Target::new(shop).store(), Place::Unplaced);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Target {
    account: AccountId,
    store: Place<StoreId>,
    source: Place<SourceId>,
    channel: Place<ChannelId>,
    subject: Subject,
    whole: bool,
}

impl Target {
    /// The account as a whole.
    pub fn new(account: AccountId) -> Self {
        Target {
            account,
            store: Place::Unscoped,
            source: Place::Unscoped,
            channel: Place::Unscoped,
            subject: Subject::None,
            whole: true,
        }
    }

    /// At a store.
    #[must_use]
    pub fn at_store(mut self, store: StoreId) -> Self {
        self.store = Place::At(store);
        self.whole = false;
        self
    }

    /// At a source.
    #[must_use]
    pub fn at_source(mut self, source: SourceId) -> Self {
        self.source = Place::At(source);
        self.whole = false;
        self
    }

    /// Not yet sourced: unplaced on sources (R5).
    #[must_use]
    pub fn pending_sourcing(mut self) -> Self {
        self.source = Place::Unplaced;
        self.whole = false;
        self
    }

    /// On a sales channel.
    #[must_use]
    pub fn on_channel(mut self, channel: ChannelId) -> Self {
        self.channel = Place::At(channel);
        self.whole = false;
        self
    }

    /// About a role (to see, edit or delete it).
    #[must_use]
    pub fn about_role(mut self, role: RoleId) -> Self {
        self.subject = Subject::Role(role);
        self.whole = false;
        self
    }

    /// About a user (to see, amend or remove them).
    #[must_use]
    pub fn about_user(mut self, user: UserId) -> Self {
        self.subject = Subject::User(user);
        self.whole = false;
        self
    }
}

impl Resource for Target {
    fn account(&self) -> AccountId {
        self.account
    }

    fn store(&self) -> Place<StoreId> {
        if self.whole {
            Place::Unplaced
        } else {
            self.store
        }
    }

    fn source(&self) -> Place<SourceId> {
        self.source
    }

    fn channel(&self) -> Place<ChannelId> {
        self.channel
    }

    fn subject(&self) -> Subject {
        self.subject
    }
}

/// A resource as a file writes it: the parts of a [`Target`], each by name or id.
#[derive(Clone, Default, PartialEq, Eq, Debug, Deserialize)]
pub(crate) struct TargetSpec {
    pub(crate) store: Option<Ref>,
    pub(crate) source: Option<Ref>,
    #[serde(default)]
    pub(crate) pending_sourcing: bool,
    pub(crate) channel: Option<Ref>,
    pub(crate) role: Option<Ref>,
    pub(crate) target_user: Option<Ref>,
}

impl TargetSpec {
    /// The target, every name resolved in `names`' account.
    pub(crate) fn resolve<P: Catalog>(&self, names: &Names<'_, P>) -> Result<Target, Miss> {
        if self.source.is_some() && self.pending_sourcing {
            return Err(Miss::invalid(
                "a resource is either at a source or pending sourcing, not both".into(),
            ));
        }
        let mut t = Target::new(names.account());
        if let Some(r) = &self.store {
            t = t.at_store(Resolve::store(names, r)?);
        }
        if let Some(r) = &self.source {
            t = t.at_source(Resolve::source(names, r)?);
        }
        if self.pending_sourcing {
            t = t.pending_sourcing();
        }
        if let Some(r) = &self.channel {
            t = t.on_channel(Resolve::channel(names, r)?);
        }
        if let Some(r) = &self.role {
            t = t.about_role(Resolve::role(names, r)?);
        }
        if let Some(r) = &self.target_user {
            t = t.about_user(names.user_id(r)?);
        }
        Ok(t)
    }
}
