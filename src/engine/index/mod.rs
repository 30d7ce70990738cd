//! The engine's immutable index: one snapshot of every account, answered from memory.
//!
//! A write clones the index, applies a batch to the clone, validates the accounts it touched, and
//! publishes the clone. Readers keep whatever snapshot they loaded, so they never wait on a
//! writer. The clone is shallow: every table is shared between versions in chunks or parts
//! (user records and their quick-path entries per chunk of 512, the id and name tables, the
//! grant holders and the per-account counts in parts), and the maps of accounts, stores,
//! sources, channels and roles whole; a write copies what it changes, so one user's change
//! costs about the same among a thousand users or a million. Everything a check needs that can be computed at write time (the per-account masks of
//! account-wide, owner-only and withheld permissions) is computed here, never on `can`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::Error;
use smallvec::SmallVec;

use crate::engine::decision::{Allowed, Decision, DenyReason, Dimension};
use crate::engine::explain::{Explanation, GrantExplanation, Verdict};
use crate::engine::key::Sealed;
use crate::engine::resource::{Place, Resource, Subject};
use crate::engine::reverse::{Clause, Filter, ScopeFor};
use crate::engine::users::{Found, Quick, UserTable};
use crate::model::access::Access;
use crate::model::account::{Account, Channel, PendingSourcing, Source, Store};
use crate::model::ids::{AccountId, ChannelId, IdHash, IdMap, RoleId, SourceId, StoreId, UserId};
use crate::model::mutation::{Mutation, ObjectKind};
use crate::model::permission::{Catalog, Reach};
use crate::model::role::{Role, Scope};
pub(crate) use crate::model::text::{folded, same_folded};
use crate::model::user::{Grant, User};

mod check;
mod directory;
mod queries;
mod validate;
mod write;

use directory::{Directory, Holders};
use validate::INCREMENTAL;
pub(crate) use validate::{name_list, validate_name};
pub(crate) use validate::{validate_email, validate_username};
pub(crate) use write::Pending;
use write::Removed;

#[derive(Clone, Debug)]
pub(crate) struct AccountEntry<P> {
    pub(crate) account: Account,
    /// Permissions not narrowed by store access in this account (R13, R11).
    account_wide: P,
    /// Permissions only the owner holds (R11).
    owner_only: P,
    /// Permissions no role holds in this account (store billing under entity billing, R13).
    withheld: P,
}

impl<P: Catalog> AccountEntry<P> {
    /// Permissions no role holds in this account.
    pub(crate) fn withheld(&self) -> P {
        self.withheld
    }

    /// Permissions only the owner holds.
    pub(crate) fn owner_only(&self) -> P {
        self.owner_only
    }

    fn new(account: Account) -> Self {
        let entity = account.entity_level_billing();
        let mut account_wide =
            P::with_reach(Reach::AccountWide).union(P::with_reach(Reach::OwnerOnly));
        let mut withheld = P::empty();
        if entity {
            account_wide = account_wide.union(P::with_reach(Reach::EntityBilling));
            withheld = P::with_reach(Reach::StoreBilling);
        }
        AccountEntry {
            account,
            account_wide,
            owner_only: P::with_reach(Reach::OwnerOnly),
            withheld,
        }
    }
}

/// A user and a permission that passed every resource-independent rule.
#[derive(Debug)]
pub(crate) struct Asker<'a, P> {
    pub(crate) user: &'a User,
    pub(crate) acct: &'a AccountEntry<P>,
    pub(crate) permission: P,
    /// Every asked permission skips store access (R13).
    pub(crate) account_wide: bool,
}

/// A resource whose ids all exist in the asker's account.
#[derive(Debug)]
pub(crate) struct Located<'a> {
    account: AccountId,
    store: Place<StoreId>,
    source: Place<SourceId>,
    channel: Place<ChannelId>,
    target: Option<&'a User>,
    /// The level of the role the resource is, if it is one.
    target_level: Option<crate::Level>,
}

/// What one grant says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GrantOutcome<P> {
    Allows { role: RoleId, store_proven: bool },
    RoleMissing,
    PermissionMissing(P),
    Denies(DenyReason),
}

/// `Debug` prints the revision and counts: a stray log line must not write every tenant's staff
/// list (usernames, e-mails) to the logs.
#[derive(Clone)]
pub(crate) struct Index<P> {
    // The read side's own: the write side asks through methods. Accounts, stores, sources,
    // channels and roles are shared between versions until a write changes one of them.
    pub(in crate::engine) revision: u64,
    pub(in crate::engine) accounts: Arc<IdMap<AccountId, AccountEntry<P>>>,
    pub(in crate::engine) stores: Arc<IdMap<StoreId, Store>>,
    /// Each store's account, in one probe: the quick path's proof that a store exists in the
    /// user's account (the map of stores finds an index first, then the entry).
    store_accounts: Arc<hashbrown::HashMap<StoreId, AccountId, IdHash>>,
    pub(in crate::engine) sources: Arc<IdMap<SourceId, Source>>,
    pub(in crate::engine) channels: Arc<IdMap<ChannelId, Channel>>,
    pub(in crate::engine) roles: Arc<IdMap<RoleId, Role<P>>>,
    pub(in crate::engine) users: UserTable<P>,
    holders: Holders,
    directory: Directory,
    /// The highest id put of each kind ([`ObjectKind::code`] order), removed ones included:
    /// where allocating new ids starts ([`Engine::next_id`](crate::Engine::next_id)).
    highest: [u64; 6],
}

impl<P: Catalog> core::fmt::Debug for Index<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Index")
            .field("revision", &self.revision)
            .field("accounts", &self.accounts.len())
            .field("stores", &self.stores.len())
            .field("sources", &self.sources.len())
            .field("channels", &self.channels.len())
            .field("roles", &self.roles.len())
            .field("users", &self.users.len())
            .finish()
    }
}

impl<P: Catalog> Index<P> {
    pub(crate) fn empty() -> Self {
        Index {
            revision: 0,
            accounts: Arc::default(),
            stores: Arc::default(),
            store_accounts: Arc::default(),
            sources: Arc::default(),
            channels: Arc::default(),
            roles: Arc::default(),
            users: UserTable::default(),
            holders: Holders::default(),
            directory: Directory::default(),
            highest: [0; 6],
        }
    }

    /// The highest id of `kind` this index was ever given (0 if none): every id it holds is at
    /// most that.
    pub(crate) fn highest_id(&self, kind: ObjectKind) -> u64 {
        self.highest
            .get(usize::from(kind.code()))
            .copied()
            .unwrap_or(u64::MAX)
    }

    /// The revision of the last batch this index holds.
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    /// Names the revision a staged index will be published as.
    pub(crate) fn set_revision(&mut self, revision: u64) {
        self.revision = revision;
    }

    /// The user with this id, in any account.
    pub(crate) fn user(&self, id: UserId) -> Option<&User> {
        self.users.get(&id)
    }

    /// Whether a user has this id, in any account.
    pub(crate) fn has_user(&self, id: UserId) -> bool {
        self.users.contains_key(&id)
    }

    /// The role with this id, in any account.
    pub(crate) fn role(&self, id: RoleId) -> Option<&Role<P>> {
        self.roles.get(&id)
    }

    /// Whether a role has this id, in any account.
    pub(crate) fn has_role(&self, id: RoleId) -> bool {
        self.roles.contains_key(&id)
    }

    /// The account with this id and the masks computed for it.
    pub(crate) fn account_entry(&self, id: AccountId) -> Option<&AccountEntry<P>> {
        self.accounts.get(&id)
    }

    /// The users of one account, in no particular order (one pass, no allocation).
    pub(crate) fn users_in(&self, account: AccountId) -> impl Iterator<Item = &User> {
        self.users.values().filter(move |u| u.account() == account)
    }

    /// The roles of one account.
    pub(crate) fn account_roles(&self, account: AccountId) -> impl Iterator<Item = &Role<P>> {
        self.roles.values().filter(move |r| r.account() == account)
    }

    /// The stores of one account.
    pub(crate) fn account_stores(&self, account: AccountId) -> impl Iterator<Item = &Store> {
        self.stores.values().filter(move |s| s.account() == account)
    }

    /// The store with this id, in any account.
    pub(crate) fn store(&self, id: StoreId) -> Option<&Store> {
        self.stores.get(&id)
    }

    /// The source with this id, in any account.
    pub(crate) fn source(&self, id: SourceId) -> Option<&Source> {
        self.sources.get(&id)
    }

    /// The sales channel with this id, in any account.
    pub(crate) fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.channels.get(&id)
    }

    /// The sources of one account.
    pub(crate) fn account_sources(&self, account: AccountId) -> impl Iterator<Item = &Source> {
        self.sources
            .values()
            .filter(move |s| s.account() == account)
    }

    /// The sales channels of one account.
    pub(crate) fn account_channels(&self, account: AccountId) -> impl Iterator<Item = &Channel> {
        self.channels
            .values()
            .filter(move |c| c.account() == account)
    }

    /// The one account a batch writes (an object's own account, or the account a removed
    /// object belongs to here), if it writes exactly one.
    pub(crate) fn account_written(&self, batch: &[Mutation<P>]) -> Option<AccountId> {
        let mut found = None;
        for m in batch {
            let account = match m {
                Mutation::PutAccount(a) => Some(a.id()),
                Mutation::RemoveAccount(id) => Some(*id),
                Mutation::PutStore(x) => Some(x.account()),
                Mutation::RemoveStore(id) => self.store(*id).map(Store::account),
                Mutation::PutSource(x) => Some(x.account()),
                Mutation::RemoveSource(id) => self.source(*id).map(Source::account),
                Mutation::PutChannel(x) => Some(x.account()),
                Mutation::RemoveChannel(id) => self.channel(*id).map(Channel::account),
                Mutation::PutRole(x) => Some(x.account()),
                Mutation::RemoveRole(id) => self.role(*id).map(Role::account),
                Mutation::PutUser(x) => Some(x.account()),
                Mutation::RemoveUser(id) => self.user(*id).map(User::account),
            };
            match (found, account) {
                (_, None) => return None,
                (None, a) => found = a,
                (Some(f), Some(a)) if f != a => return None,
                _ => {}
            }
        }
        found
    }

    /// The users of one account, by id.
    pub(crate) fn account_users(&self, account: AccountId) -> impl Iterator<Item = &User> {
        // One pass over the user table, then the account's users sorted by id: listings show
        // them in that order, and which of two clashing users an error names must not depend
        // on the table's order.
        let mut mine: Vec<&User> = self
            .users
            .values()
            .filter(|u| u.account() == account)
            .collect();
        mine.sort_unstable_by_key(|u| u.id());
        mine.into_iter()
    }

    /// The role of `account` named `name` now or formerly (case ignored, R14).
    pub(crate) fn role_named(&self, account: AccountId, name: &str) -> Option<&Role<P>> {
        let roles = &self.directory.accounts.get(&account)?.roles;
        let ids = if name.is_ascii() {
            // Folding an ASCII name is ASCII lowercasing: no allocation for the common case.
            with_ascii_lowercase(name, |key| roles.get(key))?
        } else {
            roles.get(&folded(name))?
        };
        ids.iter()
            .filter_map(|id| self.roles.get(id))
            .find(|r| r.account() == account && r.answers_to(name))
    }

    /// The source of `account` with external id `external_id` (ASCII case ignored).
    pub(crate) fn source_named(&self, account: AccountId, external_id: &str) -> Option<&Source> {
        let names = self.directory.accounts.get(&account)?;
        let ids = with_ascii_lowercase(external_id, |key| names.sources.get(key))?;
        ids.iter()
            .filter_map(|id| self.sources.get(id))
            .find(|s| s.account() == account)
    }
}

/// Calls `f` with `text` ASCII-lowercased, on the stack when it is short (a name looked up per
/// upload cell should not cost an allocation).
fn with_ascii_lowercase<R>(text: &str, f: impl FnOnce(&str) -> R) -> R {
    const SHORT: usize = 64;
    let mut buf = [0u8; SHORT];
    match buf.get_mut(..text.len()) {
        Some(short) => {
            short.copy_from_slice(text.as_bytes());
            short.make_ascii_lowercase();
            // ASCII lowercasing keeps UTF-8 valid: the second arm is never taken.
            match core::str::from_utf8(short) {
                Ok(key) => f(key),
                Err(_) => f(&text.to_ascii_lowercase()),
            }
        }
        None => f(&text.to_ascii_lowercase()),
    }
}
