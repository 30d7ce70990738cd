//! The policy file: one account as TOML — its settings, stores, sources, sales channels,
//! roles and users — read into the model's own types, and written back from an engine.

use core::fmt;
use core::ops::Range;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use super::names::{AccessSpec, Miss, Ref, Resolve};
use crate::error::MAX_PROBLEMS;
use crate::model::account::{Account, Channel, PendingSourcing, Source, Store};
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::mutation::{Key, Mutation};
use crate::model::permission::Catalog;
use crate::model::role::{Level, Role, Scope};
use crate::model::text::folded;
use crate::model::user::{Grant, User};
use crate::{Error, ErrorKind, Problem};

/// The largest policy or policy-test file read, in bytes: a hostile file costs at most this
/// much, and a few times as much memory while it is parsed.
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// One account as a policy file describes it: its settings, stores, sources, sales channels,
/// roles (permissions by their catalog names, levels, ceilings, former names) and users.
///
/// A policy file is TOML:
///
/// ```toml
/// catalog = "pos"                      # which catalog the names are of (for tools)
///
/// [account]
/// id = 1
/// name = "Corner Shop"
/// seat_limit = 4                       # optional; also entity_level_billing, pending_sourcing
///
/// [[stores]]
/// id = 10
/// name = "North"
///
/// [[roles]]
/// id = 3
/// name = "Cashier"
/// level = 3
/// permissions = ["SELL", "OPEN_REGISTER", "CLOSE_REGISTER"]   # or "all", "none"
/// former_names = ["Till operator"]     # optional (R14)
/// stores = "all"                       # optional ceilings: stores, sources, channels
///
/// [[users]]
/// id = 102
/// username = "cara"
/// email = "cara@corner.example"
/// role = "Cashier"                     # one grant; or grants = [{ role = …, stores = … }]
/// stores = ["North"]                   # "all", "none" or names (or ids)
/// # optional: enabled = false, owner = true, timezone, sources, channels ("none" by default)
/// ```
///
/// Objects carry the host's ids, so that renaming one is an update, not a new object. Stores,
/// sales channels and roles are referred to by name (roles by a former name too), sources by
/// external id, or any of them by id; every name must be of an object the file describes.
/// Parsing checks the file itself — its syntax, unknown keys, permission names, references,
/// one id and name per object — and lists every problem with its line. The model's rules
/// (R11 owner, R12 seats, R16 names…) are the engine's: [`validate`](Self::validate) and
/// [`diff`](Self::diff) ask it.
///
/// ```
/// use shopguard::catalog::pos::Pos;
/// use shopguard::policy::Policy;
///
/// let policy = Policy::<Pos>::from_toml(r#"
///     [account]
///     id = 1
///     name = "Corner Shop"
///
///     [[roles]]
///     id = 1
///     name = "Admin"
///     level = 1
///     permissions = "all"
///
///     [[users]]
///     id = 100
///     username = "olivia"
///     email = "olivia@corner.example"
///     owner = true
///     role = "Admin"
///     stores = "all"
/// "#)?;
/// assert_eq!(policy.account().name(), "Corner Shop");
/// assert_eq!(policy.users().len(), 1);
/// policy.validate()?;
///
/// let err = Policy::<Pos>::from_toml("[account]\nid = 1\nname = \"Shop\"\n\n[[roles]]\nid = 1\nname = \"R\"\nlevel = 1\npermissions = [\"FLY\"]\n").unwrap_err();
/// assert_eq!(err.problems()[0].line(), 9);
/// assert_eq!(err.problems()[0].field(), Some("permissions"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Policy<P> {
    pub(crate) catalog: Option<String>,
    pub(crate) account: Account,
    pub(crate) stores: Vec<Store>,
    pub(crate) sources: Vec<Source>,
    pub(crate) channels: Vec<Channel>,
    pub(crate) roles: Vec<Role<P>>,
    pub(crate) users: Vec<User>,
    /// The line of each object's table in the file it was read from.
    pub(crate) lines: HashMap<Key, u64>,
}

impl<P> fmt::Debug for Policy<P> {
    /// Counts, never users: `Debug` is a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("account", &self.account.id())
            .field("stores", &self.stores.len())
            .field("sources", &self.sources.len())
            .field("channels", &self.channels.len())
            .field("roles", &self.roles.len())
            .field("users", &self.users.len())
            .finish()
    }
}

impl<P: Catalog> Policy<P> {
    /// Reads a policy file's text.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] (or [`ErrorKind::NotFound`] for a name that names nothing,
    /// [`ErrorKind::Duplicate`] for an id or name used twice), listing every problem of the
    /// file in [`Error::problems`], each with its line ([`Problem::line`]) and key
    /// ([`Problem::field`]). A syntax error stops the reading there: it is the one problem.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let raw = parse::<RawPolicy>(text, "policy file")?;
        resolve(&raw, &Lines::new(text))
    }

    /// Reads the policy file at `path`.
    ///
    /// # Errors
    ///
    /// As [`from_toml`](Self::from_toml); [`ErrorKind::InvalidInput`] if the file cannot be
    /// read or is larger than [`MAX_FILE_BYTES`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_toml(&read_text(path.as_ref())?)
    }

    /// The catalog the file says its names are of (`catalog = "pos"`), if it says.
    pub fn catalog(&self) -> Option<&str> {
        self.catalog.as_deref()
    }

    /// The account.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The stores, in file order.
    pub fn stores(&self) -> &[Store] {
        &self.stores
    }

    /// The sources, in file order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The sales channels, in file order.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// The roles, in file order.
    pub fn roles(&self) -> &[Role<P>] {
        &self.roles
    }

    /// The users, in file order.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The line of the table describing an object, if it was read from a file.
    pub fn line_of(&self, object: impl Into<Key>) -> Option<u64> {
        self.lines.get(&object.into()).copied()
    }

    /// The whole account as one batch of puts, parents first: what loading it into an engine
    /// that does not hold it writes.
    pub fn mutations(&self) -> Vec<Mutation<P>> {
        let mut out = Vec::with_capacity(
            1 + self.stores.len()
                + self.sources.len()
                + self.channels.len()
                + self.roles.len()
                + self.users.len(),
        );
        out.push(Mutation::PutAccount(self.account.clone()));
        out.extend(self.stores.iter().cloned().map(Mutation::PutStore));
        out.extend(self.sources.iter().cloned().map(Mutation::PutSource));
        out.extend(self.channels.iter().cloned().map(Mutation::PutChannel));
        out.extend(self.roles.iter().cloned().map(Mutation::PutRole));
        out.extend(self.users.iter().cloned().map(Mutation::PutUser));
        out
    }

    /// Writes the policy as a policy file: what [`from_toml`](Self::from_toml) reads back as
    /// the same policy. Names are written where they are unique in the account, ids
    /// elsewhere; defaults are left out.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] if a role holds a permission bit the catalog does not
    /// define.
    pub fn to_toml(&self) -> Result<String, Error> {
        let out = write(self)?;
        toml::to_string(&out).map_err(|e| {
            Error::invalid("policy file", "(not written)", "cannot be written as TOML")
                .with_source_text(&e.to_string())
        })
    }
}

impl Error {
    /// This error, with `text` appended as the reason of its single problem: for the rare
    /// failures of a writer, whose message is the only detail there is.
    fn with_source_text(self, text: &str) -> Self {
        let problem = Problem::in_policy(0, None, self.kind(), text);
        self.with_problems(vec![problem], 0)
    }
}

/// Reads a file of at most [`MAX_FILE_BYTES`] as text.
pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::read(path, e))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(Error::invalid(
            "file",
            path.display(),
            "is larger than 16 MiB",
        ));
    }
    std::fs::read_to_string(path).map_err(|e| Error::read(path, e))
}

/// Line numbers of a text's byte offsets: the offsets of its newlines, found once, so that
/// placing each of a file's objects costs a binary search, not a scan of the text before it.
pub(crate) struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    pub(crate) fn new(text: &str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect();
        Lines { newlines }
    }

    /// The 1-based line of the byte at `offset`.
    pub(crate) fn at(&self, offset: usize) -> u64 {
        let before = self.newlines.partition_point(|&n| n < offset);
        u64::try_from(before).map_or(u64::MAX, |n| n.saturating_add(1))
    }

    /// The line where `span` starts.
    pub(crate) fn of(&self, span: Range<usize>) -> u64 {
        self.at(span.start)
    }
}

/// Parses TOML text into `T`; a syntax or shape error is the file's one problem, at its line.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, Error> {
    if text.len() > MAX_FILE_BYTES {
        let p = Problem::in_policy(
            0,
            None,
            ErrorKind::InvalidInput,
            "the file is larger than 16 MiB",
        );
        return Err(Error::file(what, vec![p], 0));
    }
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| Lines::new(text).of(s));
        let p = Problem::in_policy(line, None, ErrorKind::InvalidInput, e.message());
        Error::file(what, vec![p], 0)
    })
}

/// Problems of a file, in the order found: the first [`MAX_PROBLEMS`] kept, the rest counted.
#[derive(Default)]
pub(crate) struct Problems {
    listed: Vec<Problem>,
    omitted: usize,
}

impl Problems {
    pub(crate) fn push(&mut self, p: Problem) {
        if self.listed.len() < MAX_PROBLEMS {
            self.listed.push(p);
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    /// A problem of `kind` at `line`, about `field`.
    pub(crate) fn at(
        &mut self,
        line: u64,
        field: &'static str,
        kind: ErrorKind,
        reason: impl Into<String>,
    ) {
        self.push(Problem::in_policy(line, Some(field), kind, reason));
    }

    /// A name that resolved to nothing or to two objects, at `line`, about `field`.
    pub(crate) fn miss(&mut self, line: u64, field: &'static str, miss: Miss) {
        self.at(line, field, miss.kind, miss.message);
    }

    /// An error of the model (a level, a timezone) at `line`, about `field`.
    pub(crate) fn error(&mut self, line: u64, field: &'static str, err: &Error) {
        self.at(line, field, err.kind(), err.to_string());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.omitted == 0
    }

    pub(crate) fn into_result(self, what: &'static str) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::file(what, self.listed, self.omitted))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file's shape.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    catalog: Option<String>,
    account: Spanned<RawAccount>,
    #[serde(default)]
    stores: Vec<Spanned<RawStore>>,
    #[serde(default)]
    sources: Vec<Spanned<RawSource>>,
    #[serde(default)]
    channels: Vec<Spanned<RawChannel>>,
    #[serde(default)]
    roles: Vec<Spanned<RawRole>>,
    #[serde(default)]
    users: Vec<Spanned<RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: u64,
    name: String,
    #[serde(default)]
    seat_limit: Option<u32>,
    #[serde(default)]
    entity_level_billing: bool,
    #[serde(default)]
    pending_sourcing: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub(crate) id: u64,
    pub(crate) name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub(crate) id: u64,
    pub(crate) external_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannel {
    pub(crate) id: u64,
    pub(crate) name: String,
}

/// A role as a file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) level: Spanned<u8>,
    pub(crate) permissions: Spanned<PermSpec>,
    #[serde(default)]
    pub(crate) former_names: Vec<String>,
    #[serde(default)]
    pub(crate) stores: Option<Spanned<AccessSpec>>,
    #[serde(default)]
    pub(crate) sources: Option<Spanned<AccessSpec>>,
    #[serde(default)]
    pub(crate) channels: Option<Spanned<AccessSpec>>,
}

/// A user as a file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUser {
    pub(crate) id: u64,
    pub(crate) username: String,
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    #[serde(default)]
    pub(crate) owner: Option<Spanned<bool>>,
    #[serde(default)]
    pub(crate) role: Option<Spanned<Ref>>,
    #[serde(default)]
    pub(crate) stores: Option<Spanned<AccessSpec>>,
    #[serde(default)]
    pub(crate) grants: Option<Spanned<Vec<RawGrant>>>,
    #[serde(default)]
    pub(crate) sources: Option<Spanned<AccessSpec>>,
    #[serde(default)]
    pub(crate) channels: Option<Spanned<AccessSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrant {
    role: Ref,
    stores: AccessSpec,
}

/// Permissions as a file writes them: `"all"`, `"none"` or a list of names.
pub(crate) enum PermSpec {
    All,
    Names(Vec<String>),
}

impl PermSpec {
    /// The permissions named, in catalog `P`; an unknown name is the error's text.
    pub(crate) fn resolve<P: Catalog>(&self) -> Result<P, String> {
        match self {
            PermSpec::All => Ok(P::all()),
            PermSpec::Names(names) => {
                let mut out = P::empty();
                for name in names {
                    if name.contains('|') {
                        return Err(format!("`{name}` is not one permission name"));
                    }
                    match P::parse(name) {
                        Ok(one) if !one.is_empty() => out = out.union(one),
                        Ok(_) => return Err("a permission name is empty".to_owned()),
                        Err(_) => {
                            return Err(format!("`{name}` names no permission of the catalog"));
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

impl<'de> Deserialize<'de> for PermSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PermVisitor)
    }
}

struct PermVisitor;

impl<'de> Visitor<'de> for PermVisitor {
    type Value = PermSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`\"all\"`, `\"none\"` or a list of permission names")
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<PermSpec, E> {
        match word {
            "all" => Ok(PermSpec::All),
            "none" => Ok(PermSpec::Names(Vec::new())),
            _ => Err(E::custom(format!(
                "`{word}` is neither `all` nor `none`: write permissions as a list, `[\"{word}\"]`"
            ))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PermSpec, A::Error> {
        let mut names = Vec::new();
        while let Some(name) = seq.next_element::<String>()? {
            names.push(name);
        }
        Ok(PermSpec::Names(names))
    }
}

// ---------------------------------------------------------------------------------------------
// Resolution: the file's names to the model's objects.

/// The names a policy file gives its own objects, hashed: resolving a file's references
/// costs one lookup each, whatever the file's size.
#[derive(Default)]
struct FileNames {
    stores: Table,
    sources: Table,
    channels: Table,
    roles: Table,
}

/// One kind of object of a file: the ids it describes, and the ids answering to each name (by
/// the kind's rule: exact, ASCII case ignored, or case folded).
#[derive(Default)]
struct Table {
    ids: std::collections::HashSet<u64>,
    by_name: HashMap<String, Vec<u64>>,
}

impl Table {
    fn add(&mut self, id: u64, names: impl IntoIterator<Item = String>) {
        self.ids.insert(id);
        for name in names {
            // An object's names are added together: comparing with the last id is enough,
            // and keeps a name many objects share from costing their count squared.
            let ids = self.by_name.entry(name).or_default();
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        }
    }

    /// The id `r` names, `key` turning a name into the table's form.
    fn find(&self, what: &str, r: &Ref, key: impl Fn(&str) -> String) -> Result<u64, Miss> {
        match r {
            Ref::Id(id) if self.ids.contains(id) => Ok(*id),
            Ref::Id(id) => Err(Miss::not_found(format!(
                "the file describes no {what} `#{id}`"
            ))),
            Ref::Name(name) => match self.by_name.get(&key(name)).map(Vec::as_slice) {
                Some([one]) => Ok(*one),
                Some([_, _, ..]) => Err(Miss::invalid(format!(
                    "two {what}s of the file answer to `{name}`: name the one meant by id"
                ))),
                _ => Err(Miss::not_found(format!(
                    "the file describes no {what} named `{name}`"
                ))),
            },
        }
    }
}

impl Resolve for FileNames {
    fn store(&self, r: &Ref) -> Result<StoreId, Miss> {
        self.stores
            .find("store", r, str::to_owned)
            .map(StoreId::new)
    }

    fn source(&self, r: &Ref) -> Result<SourceId, Miss> {
        self.sources
            .find("source", r, str::to_ascii_lowercase)
            .map(SourceId::new)
    }

    fn channel(&self, r: &Ref) -> Result<ChannelId, Miss> {
        self.channels
            .find("sales channel", r, str::to_owned)
            .map(ChannelId::new)
    }

    fn role(&self, r: &Ref) -> Result<RoleId, Miss> {
        self.roles.find("role", r, folded).map(RoleId::new)
    }
}

/// A role of `account` from its file form, its names resolved by `names`; its problems go to
/// `problems`, placed with `lines`.
pub(crate) fn role_from<P: Catalog>(
    raw: &RawRole,
    account: AccountId,
    names: &impl Resolve,
    lines: &Lines,
    problems: &mut Problems,
) -> Option<Role<P>> {
    let level = match Level::new(*raw.level.get_ref()) {
        Ok(level) => Some(level),
        Err(err) => {
            problems.error(lines.of(raw.level.span()), "level", &err);
            None
        }
    };
    let permissions = match raw.permissions.get_ref().resolve::<P>() {
        Ok(p) => Some(p),
        Err(reason) => {
            problems.at(
                lines.of(raw.permissions.span()),
                "permissions",
                ErrorKind::InvalidInput,
                reason,
            );
            None
        }
    };
    let mut ceiling = Scope::all();
    let mut ok = true;
    if let Some(spec) = &raw.stores {
        match spec.get_ref().resolve(|r| names.store(r)) {
            Ok(a) => ceiling.stores = a,
            Err(m) => {
                problems.miss(lines.of(spec.span()), "stores", m);
                ok = false;
            }
        }
    }
    if let Some(spec) = &raw.sources {
        match spec.get_ref().resolve(|r| names.source(r)) {
            Ok(a) => ceiling.sources = a,
            Err(m) => {
                problems.miss(lines.of(spec.span()), "sources", m);
                ok = false;
            }
        }
    }
    if let Some(spec) = &raw.channels {
        match spec.get_ref().resolve(|r| names.channel(r)) {
            Ok(a) => ceiling.channels = a,
            Err(m) => {
                problems.miss(lines.of(spec.span()), "channels", m);
                ok = false;
            }
        }
    }
    let (level, permissions) = (level?, permissions?);
    if !ok {
        return None;
    }
    let mut role = Role::new(
        RoleId::new(raw.id),
        account,
        raw.name.clone(),
        level,
        permissions,
    )
    .with_store_ceiling(ceiling.stores)
    .with_source_ceiling(ceiling.sources)
    .with_channel_ceiling(ceiling.channels);
    for former in &raw.former_names {
        role = role.with_former_name(former.clone());
    }
    Some(role)
}

/// A user of `account` from its file form, its names resolved by `names`; its problems go to
/// `problems`, placed with `lines`.
pub(crate) fn user_from(
    raw: &RawUser,
    account: AccountId,
    names: &impl Resolve,
    lines: &Lines,
    problems: &mut Problems,
) -> Option<User> {
    let mut ok = true;
    let mut user = User::new(UserId::new(raw.id), account, &raw.username, &raw.email)
        .with_enabled(raw.enabled.unwrap_or(true))
        .with_owner(raw.owner.as_ref().is_some_and(|o| *o.get_ref()));
    if let Some(tz) = &raw.timezone {
        match user.clone().with_timezone(tz.get_ref()) {
            Ok(u) => user = u,
            Err(err) => {
                problems.error(lines.of(tz.span()), "timezone", &err);
                ok = false;
            }
        }
    }
    let grants = match (&raw.role, &raw.stores, &raw.grants) {
        (Some(_), _, Some(g)) => {
            problems.at(
                lines.of(g.span()),
                "grants",
                ErrorKind::InvalidInput,
                "give either `role` and `stores` (one grant) or `grants`, not both",
            );
            None
        }
        (Some(role), Some(stores), None) => {
            let role_id = names.role(role.get_ref());
            let store_ids = stores.get_ref().resolve(|r| names.store(r));
            if let Err(m) = &role_id {
                problems.miss(lines.of(role.span()), "role", m.clone());
            }
            if let Err(m) = &store_ids {
                problems.miss(lines.of(stores.span()), "stores", m.clone());
            }
            match (role_id, store_ids) {
                (Ok(r), Ok(s)) => Some(vec![Grant::new(r, s)]),
                _ => None,
            }
        }
        (Some(role), None, None) => {
            problems.at(
                lines.of(role.span()),
                "stores",
                ErrorKind::InvalidInput,
                "`stores` is missing: the role is held at `\"all\"`, `\"none\"` or a list of stores",
            );
            None
        }
        (None, Some(stores), _) => {
            problems.at(
                lines.of(stores.span()),
                "role",
                ErrorKind::InvalidInput,
                "`stores` without `role`: name the role held at these stores",
            );
            None
        }
        (None, None, Some(grants)) => {
            let at = lines.of(grants.span());
            let mut out = Vec::with_capacity(grants.get_ref().len());
            for g in grants.get_ref() {
                let role_id = names.role(&g.role);
                let store_ids = g.stores.resolve(|r| names.store(r));
                match (role_id, store_ids) {
                    (Ok(r), Ok(s)) => out.push(Grant::new(r, s)),
                    (r, s) => {
                        for m in [r.err(), s.err()].into_iter().flatten() {
                            problems.miss(at, "grants", m);
                        }
                    }
                }
            }
            (out.len() == grants.get_ref().len()).then_some(out)
        }
        (None, None, None) => Some(Vec::new()),
    };
    match grants {
        Some(g) => user = user.with_grants(g),
        None => ok = false,
    }
    if let Some(spec) = &raw.sources {
        match spec.get_ref().resolve(|r| names.source(r)) {
            Ok(a) => user = user.with_sources(a),
            Err(m) => {
                problems.miss(lines.of(spec.span()), "sources", m);
                ok = false;
            }
        }
    }
    if let Some(spec) = &raw.channels {
        match spec.get_ref().resolve(|r| names.channel(r)) {
            Ok(a) => user = user.with_channels(a),
            Err(m) => {
                problems.miss(lines.of(spec.span()), "channels", m);
                ok = false;
            }
        }
    }
    ok.then_some(user)
}

/// Records the id `id` of the object at `line`; a second object of the same kind with the
/// same id is a problem.
fn first_of_id(
    seen: &mut HashMap<Key, u64>,
    key: Key,
    line: u64,
    what: &str,
    problems: &mut Problems,
) {
    if let Some(first) = seen.get(&key) {
        problems.at(
            line,
            "id",
            ErrorKind::Duplicate,
            format!("{what} id `{}` is used by line {first} too", key.id),
        );
    } else {
        seen.insert(key, line);
    }
}

/// A name two objects of the file share, which the file could not refer to.
fn first_of_name(
    seen: &mut HashMap<String, u64>,
    name: String,
    line: u64,
    field: &'static str,
    what: &str,
    problems: &mut Problems,
) {
    if let Some(first) = seen.get(&name) {
        problems.at(
            line,
            field,
            ErrorKind::Duplicate,
            format!(
                "the {what} of line {first} has this {field} too: a file refers to {what}s by it"
            ),
        );
    } else {
        seen.insert(name, line);
    }
}

fn resolve<P: Catalog>(raw: &RawPolicy, lines: &Lines) -> Result<Policy<P>, Error> {
    let mut problems = Problems::default();
    let a = raw.account.get_ref();
    let account_id = AccountId::new(a.id);
    let mut account =
        Account::new(account_id, a.name.clone()).with_entity_level_billing(a.entity_level_billing);
    if let Some(limit) = a.seat_limit {
        account = account.with_seat_limit(limit);
    }
    if let Some(rule) = &a.pending_sourcing {
        match rule.get_ref().as_str() {
            "all_sources_and_channels" => {
                account = account.with_pending_sourcing(PendingSourcing::AllSourcesAndChannels);
            }
            "all_sources" => {
                account = account.with_pending_sourcing(PendingSourcing::AllSources);
            }
            other => problems.at(
                lines.of(rule.span()),
                "pending_sourcing",
                ErrorKind::InvalidInput,
                format!("`{other}` is neither `all_sources_and_channels` nor `all_sources`"),
            ),
        }
    }
    let mut line_of: HashMap<Key, u64> = HashMap::new();
    line_of.insert(Key::from(account_id), lines.of(raw.account.span()));

    let mut names = FileNames::default();
    let (mut stores, mut sources, mut channels) = (Vec::new(), Vec::new(), Vec::new());
    let mut by_name: HashMap<String, u64> = HashMap::new();
    for s in &raw.stores {
        let line = lines.of(s.span());
        let s = s.get_ref();
        first_of_id(
            &mut line_of,
            StoreId::new(s.id).into(),
            line,
            "store",
            &mut problems,
        );
        first_of_name(
            &mut by_name,
            s.name.clone(),
            line,
            "name",
            "store",
            &mut problems,
        );
        names.stores.add(s.id, [s.name.clone()]);
        stores.push(Store::new(StoreId::new(s.id), account_id, s.name.clone()));
    }
    by_name.clear();
    for s in &raw.sources {
        let line = lines.of(s.span());
        let s = s.get_ref();
        first_of_id(
            &mut line_of,
            SourceId::new(s.id).into(),
            line,
            "source",
            &mut problems,
        );
        first_of_name(
            &mut by_name,
            s.external_id.to_ascii_lowercase(),
            line,
            "external_id",
            "source",
            &mut problems,
        );
        names
            .sources
            .add(s.id, [s.external_id.to_ascii_lowercase()]);
        sources.push(Source::new(
            SourceId::new(s.id),
            account_id,
            s.external_id.clone(),
        ));
    }
    by_name.clear();
    for c in &raw.channels {
        let line = lines.of(c.span());
        let c = c.get_ref();
        first_of_id(
            &mut line_of,
            ChannelId::new(c.id).into(),
            line,
            "sales channel",
            &mut problems,
        );
        first_of_name(
            &mut by_name,
            c.name.clone(),
            line,
            "name",
            "sales channel",
            &mut problems,
        );
        names.channels.add(c.id, [c.name.clone()]);
        channels.push(Channel::new(
            ChannelId::new(c.id),
            account_id,
            c.name.clone(),
        ));
    }
    for r in &raw.roles {
        let line = lines.of(r.span());
        let r = r.get_ref();
        first_of_id(
            &mut line_of,
            RoleId::new(r.id).into(),
            line,
            "role",
            &mut problems,
        );
        let all = core::iter::once(&r.name).chain(&r.former_names);
        names.roles.add(r.id, all.map(|n| folded(n)));
    }
    let mut roles = Vec::with_capacity(raw.roles.len());
    for r in &raw.roles {
        roles.extend(role_from::<P>(
            r.get_ref(),
            account_id,
            &names,
            lines,
            &mut problems,
        ));
    }
    let mut users = Vec::with_capacity(raw.users.len());
    let mut owner: Option<(String, u64)> = None;
    for u in &raw.users {
        let line = lines.of(u.span());
        let raw_user = u.get_ref();
        first_of_id(
            &mut line_of,
            UserId::new(raw_user.id).into(),
            line,
            "user",
            &mut problems,
        );
        if let Some(o) = raw_user.owner.as_ref().filter(|o| *o.get_ref()) {
            match &owner {
                Some((first, first_line)) => problems.at(
                    lines.of(o.span()),
                    "owner",
                    ErrorKind::Owner,
                    format!(
                        "`{first}` (line {first_line}) is the owner already: an account has one owner (R11)"
                    ),
                ),
                None => owner = Some((raw_user.username.clone(), line)),
            }
        }
        users.extend(user_from(
            raw_user,
            account_id,
            &names,
            lines,
            &mut problems,
        ));
    }
    problems.into_result("policy file")?;
    Ok(Policy {
        catalog: raw.catalog.clone(),
        account,
        stores,
        sources,
        channels,
        roles,
        users,
        lines: line_of,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing.

#[derive(Serialize)]
struct OutPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog: Option<String>,
    account: OutAccount,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stores: Vec<OutStore>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<OutSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    channels: Vec<OutStore>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<OutRole>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<OutUser>,
}

#[derive(Serialize)]
struct OutAccount {
    id: u64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    seat_limit: Option<u32>,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    entity_level_billing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_sourcing: Option<&'static str>,
}

#[derive(Serialize)]
struct OutStore {
    id: u64,
    name: String,
}

#[derive(Serialize)]
struct OutSource {
    id: u64,
    external_id: String,
}

#[derive(Serialize)]
struct OutRole {
    id: u64,
    name: String,
    level: u8,
    permissions: OutPerms,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    former_names: Vec<String>,
    #[serde(skip_serializing_if = "is_all")]
    stores: AccessSpec,
    #[serde(skip_serializing_if = "is_all")]
    sources: AccessSpec,
    #[serde(skip_serializing_if = "is_all")]
    channels: AccessSpec,
}

enum OutPerms {
    All,
    Names(Vec<&'static str>),
}

impl Serialize for OutPerms {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OutPerms::All => s.serialize_str("all"),
            OutPerms::Names(names) if names.is_empty() => s.serialize_str("none"),
            OutPerms::Names(names) => s.collect_seq(names),
        }
    }
}

#[derive(Serialize)]
struct OutUser {
    id: u64,
    username: String,
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stores: Option<AccessSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    grants: Vec<OutGrant>,
    #[serde(skip_serializing_if = "is_none")]
    sources: AccessSpec,
    #[serde(skip_serializing_if = "is_none")]
    channels: AccessSpec,
}

#[derive(Serialize)]
struct OutGrant {
    role: Ref,
    stores: AccessSpec,
}

fn is_all(a: &AccessSpec) -> bool {
    *a == AccessSpec::All
}

fn is_none(a: &AccessSpec) -> bool {
    *a == AccessSpec::None
}

/// How a file refers to the objects of one kind: by name where only one object has it.
struct Namer<T> {
    names: BTreeMap<T, String>,
    counts: HashMap<String, usize>,
    fold: fn(&str) -> String,
    key: fn(T) -> u64,
}

impl<T: Ord + Copy> Namer<T> {
    fn new(
        items: impl Iterator<Item = (T, String)>,
        fold: fn(&str) -> String,
        key: fn(T) -> u64,
    ) -> Self {
        let mut names = BTreeMap::new();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (id, name) in items {
            *counts.entry(fold(&name)).or_default() += 1;
            names.insert(id, name);
        }
        Namer {
            names,
            counts,
            fold,
            key,
        }
    }

    fn name(&self, id: T) -> Ref {
        match self.names.get(&id) {
            Some(n) if self.counts.get(&(self.fold)(n)) == Some(&1) => Ref::Name(n.clone()),
            _ => Ref::Id((self.key)(id)),
        }
    }
}

fn write<P: Catalog>(policy: &Policy<P>) -> Result<OutPolicy, Error> {
    let exact: fn(&str) -> String = str::to_owned;
    let ascii: fn(&str) -> String = str::to_ascii_lowercase;
    let stores = Namer::new(
        policy.stores.iter().map(|s| (s.id(), s.name().to_owned())),
        exact,
        StoreId::get,
    );
    let sources = Namer::new(
        policy
            .sources
            .iter()
            .map(|s| (s.id(), s.external_id().to_owned())),
        ascii,
        SourceId::get,
    );
    let channels = Namer::new(
        policy
            .channels
            .iter()
            .map(|c| (c.id(), c.name().to_owned())),
        exact,
        ChannelId::get,
    );
    // A role is named by its current name where no other role answers to it (by name or
    // former name, case folded).
    let mut answering: HashMap<String, usize> = HashMap::new();
    for r in &policy.roles {
        let mut names: Vec<String> = core::iter::once(r.name())
            .chain(r.former_names().iter().map(String::as_str))
            .map(folded)
            .collect();
        names.sort_unstable();
        names.dedup();
        for n in names {
            *answering.entry(n).or_default() += 1;
        }
    }
    let role_refs: HashMap<RoleId, Ref> = policy
        .roles
        .iter()
        .map(|r| {
            let unique = answering.get(&folded(r.name())) == Some(&1);
            let named = if unique {
                Ref::Name(r.name().to_owned())
            } else {
                Ref::Id(r.id().get())
            };
            (r.id(), named)
        })
        .collect();
    let role_name = |id: RoleId| -> Ref {
        role_refs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| Ref::Id(id.get()))
    };
    let a = &policy.account;
    let mut roles = Vec::with_capacity(policy.roles.len());
    for r in &policy.roles {
        let permissions = if r.permissions() == P::all() {
            OutPerms::All
        } else {
            OutPerms::Names(r.permissions().names()?)
        };
        roles.push(OutRole {
            id: r.id().get(),
            name: r.name().to_owned(),
            level: r.level().get(),
            permissions,
            former_names: r.former_names().to_vec(),
            stores: AccessSpec::of(&r.ceiling().stores, |id| stores.name(id)),
            sources: AccessSpec::of(&r.ceiling().sources, |id| sources.name(id)),
            channels: AccessSpec::of(&r.ceiling().channels, |id| channels.name(id)),
        });
    }
    let users = policy
        .users
        .iter()
        .map(|u| {
            let (role, store_access, grants) = match u.grants() {
                [one] => (
                    Some(role_name(one.role)),
                    Some(AccessSpec::of(&one.stores, |id| stores.name(id))),
                    Vec::new(),
                ),
                many => (
                    None,
                    None,
                    many.iter()
                        .map(|g| OutGrant {
                            role: role_name(g.role),
                            stores: AccessSpec::of(&g.stores, |id| stores.name(id)),
                        })
                        .collect(),
                ),
            };
            OutUser {
                id: u.id().get(),
                username: u.username().to_owned(),
                email: u.email().to_owned(),
                timezone: (u.timezone() != "UTC").then_some(u.timezone()),
                enabled: (!u.is_enabled()).then_some(false),
                owner: u.is_owner().then_some(true),
                role,
                stores: store_access,
                grants,
                sources: AccessSpec::of(u.sources(), |id| sources.name(id)),
                channels: AccessSpec::of(u.channels(), |id| channels.name(id)),
            }
        })
        .collect();
    Ok(OutPolicy {
        catalog: policy.catalog.clone(),
        account: OutAccount {
            id: a.id().get(),
            name: a.name().to_owned(),
            seat_limit: a.seat_limit(),
            entity_level_billing: a.entity_level_billing(),
            pending_sourcing: match a.pending_sourcing() {
                PendingSourcing::AllSources => Some("all_sources"),
                _ => None,
            },
        },
        stores: policy
            .stores
            .iter()
            .map(|s| OutStore {
                id: s.id().get(),
                name: s.name().to_owned(),
            })
            .collect(),
        sources: policy
            .sources
            .iter()
            .map(|s| OutSource {
                id: s.id().get(),
                external_id: s.external_id().to_owned(),
            })
            .collect(),
        channels: policy
            .channels
            .iter()
            .map(|c| OutStore {
                id: c.id().get(),
                name: c.name().to_owned(),
            })
            .collect(),
        roles,
        users,
    })
}

impl<P: Catalog> Policy<P> {
    /// The policy of one account as `snapshot` holds it — what [`to_toml`](Self::to_toml)
    /// writes as a policy file — from what `view` lists of it.
    pub(crate) fn from_view(view: &super::diff::View<'_, P>, catalog: Option<String>) -> Self {
        let mut stores: Vec<Store> = view.stores.iter().map(|s| (*s).clone()).collect();
        stores.sort_by_key(Store::id);
        let mut sources: Vec<Source> = view.sources.iter().map(|s| (*s).clone()).collect();
        sources.sort_by_key(Source::id);
        let mut channels: Vec<Channel> = view.channels.iter().map(|c| (*c).clone()).collect();
        channels.sort_by_key(Channel::id);
        let mut roles: Vec<Role<P>> = view.roles.iter().map(|r| (*r).clone()).collect();
        roles.sort_by_key(Role::id);
        let mut users: Vec<User> = view.users.iter().map(|u| (*u).clone()).collect();
        users.sort_by_key(User::id);
        Policy {
            catalog,
            account: view.account.clone(),
            stores,
            sources,
            channels,
            roles,
            users,
            lines: HashMap::new(),
        }
    }
}

/// The `catalog` a policy or policy-test file names, if it names one: read before anything
/// else, so that a tool can choose the catalog to read the rest with.
///
/// ```
/// assert_eq!(shopguard::policy::catalog_of("catalog = \"oms\"\n[account]\nid = 1\n")?, Some("oms".into()));
/// assert_eq!(shopguard::policy::catalog_of("[account]\nid = 1\n")?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`] if the text is not TOML, or `catalog` is not a string.
pub fn catalog_of(text: &str) -> Result<Option<String>, Error> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(default)]
        catalog: Option<String>,
    }
    parse::<Head>(text, "file").map(|h| h.catalog)
}
