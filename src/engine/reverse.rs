//! Reverse queries (R21): where may a user do something, and who may do it here.

use core::fmt;

use smallvec::SmallVec;

use crate::Error;
use crate::model::access::{Access, IdSet};
use crate::model::ids::{ChannelId, SourceId, StoreId};

/// Which ids of one dimension a user reaches.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Filter<T> {
    /// None at all.
    Nothing,
    /// Every id, including ones created later and rows not yet placed (an order pending
    /// sourcing): no filter.
    Everything,
    /// Exactly these ids (never empty).
    Only(IdSet<T>),
}

impl<T: Ord + Copy> Filter<T> {
    /// Whether `id` is reached.
    pub fn contains(&self, id: T) -> bool {
        match self {
            Filter::Nothing => false,
            Filter::Everything => true,
            Filter::Only(set) => set.contains(id),
        }
    }

    pub(crate) fn from_access(a: Access<T>) -> Self {
        match a {
            Access::All => Filter::Everything,
            Access::Specific(set) if !set.is_empty() => Filter::Only(set),
            Access::None | Access::Specific(_) => Filter::Nothing,
        }
    }
}

/// One way a user reaches rows: a grant's effective scope on each dimension. A row is reached
/// by the clause if it passes the filter of every dimension the row has.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Clause {
    /// Stores.
    pub stores: Filter<StoreId>,
    /// Sources.
    pub sources: Filter<SourceId>,
    /// Sales channels.
    pub channels: Filter<ChannelId>,
}

/// Where a user may use a permission: the answer to "which stores / sources / channels may U do
/// P in?" (R21), ready for a SQL `WHERE`.
///
/// A row is allowed iff **some** clause reaches it. Most users hold one grant, so one clause.
/// For a row of one dimension (a store, a source, a channel) this agrees with
/// [`Engine::can`](crate::Engine::can) on every id.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ScopeFor {
    pub(crate) clauses: SmallVec<[Clause; 1]>,
    pub(crate) no_sources: bool,
}

impl ScopeFor {
    /// The clauses; empty means nothing at all.
    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }

    /// Whether the user reaches nothing at all.
    pub fn is_nothing(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Whether the user is enabled and has source access `None` (R4): source-scoped pages
    /// should show an error rather than an empty list.
    pub fn no_sources(&self) -> bool {
        self.no_sources
    }

    /// Whether a row at this store (with no other dimension) is reached.
    pub fn allows_store(&self, id: StoreId) -> bool {
        self.clauses.iter().any(|c| c.stores.contains(id))
    }

    /// Whether a row at this source (with no other dimension) is reached.
    pub fn allows_source(&self, id: SourceId) -> bool {
        self.clauses.iter().any(|c| c.sources.contains(id))
    }

    /// Whether a row on this channel (with no other dimension) is reached.
    pub fn allows_channel(&self, id: ChannelId) -> bool {
        self.clauses.iter().any(|c| c.channels.contains(id))
    }

    /// The stores reached by rows that have only a store: the union over clauses.
    pub fn stores(&self) -> Filter<StoreId> {
        union(self.clauses.iter().map(|c| &c.stores))
    }

    /// The sources reached by rows that have only a source.
    pub fn sources(&self) -> Filter<SourceId> {
        union(self.clauses.iter().map(|c| &c.sources))
    }

    /// The channels reached by rows that have only a channel.
    pub fn channels(&self) -> Filter<ChannelId> {
        union(self.clauses.iter().map(|c| &c.channels))
    }

    /// Renders a SQL condition over the given columns, with one array parameter per filtered
    /// column, numbered from `$first_param` (PostgreSQL style: `store_id = ANY($1)`).
    ///
    /// Dimensions without a column are not filtered (the table does not have them). The
    /// condition does not filter by account: add `account_id = …` yourself.
    ///
    /// ```
    /// use shopguard::catalog::pos::{self, Pos};
    /// use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId};
    /// use shopguard::scope::Columns;
    /// use shopguard::{Store, StoreId, User, UserId};
    ///
    /// let engine = Engine::<Pos>::new();
    /// let (shop, admin, manager) = (AccountId::new(1), RoleId::new(1), RoleId::new(2));
    /// engine.unchecked_apply([
    ///     Mutation::PutAccount(Account::new(shop, "Shop")),
    ///     Mutation::PutStore(Store::new(StoreId::new(10), shop, "North")),
    ///     Mutation::PutStore(Store::new(StoreId::new(11), shop, "South")),
    ///     Mutation::PutRole(pos::admin(admin, shop)),
    ///     Mutation::PutRole(pos::manager(manager, shop)),
    ///     Mutation::PutUser(User::new(UserId::new(1), shop, "boss", "boss@example.com")
    ///         .with_owner(true).with_grant(Grant::new(admin, Access::All))),
    ///     Mutation::PutUser(User::new(UserId::new(2), shop, "mia", "mia@example.com")
    ///         .with_grant(Grant::new(manager, Access::specific([StoreId::new(11)])))),
    /// ])?;
    ///
    /// let columns = Columns::new().store("o.store_id");
    /// let mia = engine.snapshot().scope_for(UserId::new(2), Pos::VIEW_REPORTS).to_sql(&columns, 2)?;
    /// assert_eq!(mia.condition(), "(o.store_id = ANY($2))");
    /// assert_eq!(mia.params(), [vec![11]]);
    /// let boss = engine.snapshot().scope_for(UserId::new(1), Pos::VIEW_REPORTS).to_sql(&columns, 2)?;
    /// assert_eq!(boss.condition(), "TRUE");
    /// let nobody = engine.snapshot().scope_for(UserId::new(3), Pos::VIEW_REPORTS).to_sql(&columns, 2)?;
    /// assert_eq!(nobody.condition(), "FALSE");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if a column name is not a
    /// plain (optionally dotted) identifier: column names are pasted into SQL text.
    pub fn to_sql(&self, columns: &Columns<'_>, first_param: usize) -> Result<SqlFilter, Error> {
        for c in [columns.store, columns.source, columns.channel]
            .into_iter()
            .flatten()
        {
            check_identifier(c)?;
        }
        let mut params: Vec<Vec<u64>> = Vec::new();
        let mut parts: Vec<String> = Vec::new();
        for clause in &self.clauses {
            let dims = [
                (columns.store, ids(&clause.stores, StoreId::get)),
                (columns.source, ids(&clause.sources, SourceId::get)),
                (columns.channel, ids(&clause.channels, ChannelId::get)),
            ];
            // A clause with `Nothing` on a column of this table reaches no row of it.
            if dims.iter().any(|(col, f)| col.is_some() && f.is_err()) {
                continue;
            }
            let mut conds: Vec<String> = Vec::new();
            for (col, f) in dims {
                if let (Some(col), Ok(Some(list))) = (col, f) {
                    conds.push(format!("{col} = ANY(${})", first_param + params.len()));
                    params.push(list);
                }
            }
            if conds.is_empty() {
                // Unfiltered: every row is reached.
                return Ok(SqlFilter {
                    condition: "TRUE".to_owned(),
                    params: Vec::new(),
                });
            }
            parts.push(format!("({})", conds.join(" AND ")));
        }
        let condition = if parts.is_empty() {
            "FALSE".to_owned()
        } else {
            parts.join(" OR ")
        };
        Ok(SqlFilter { condition, params })
    }
}

/// The columns a table keeps each dimension in; leave out the ones it does not have.
#[derive(Clone, Copy, Debug, Default)]
pub struct Columns<'a> {
    store: Option<&'a str>,
    source: Option<&'a str>,
    channel: Option<&'a str>,
}

impl<'a> Columns<'a> {
    /// No columns.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store column.
    #[must_use]
    pub fn store(mut self, column: &'a str) -> Self {
        self.store = Some(column);
        self
    }

    /// The source column.
    #[must_use]
    pub fn source(mut self, column: &'a str) -> Self {
        self.source = Some(column);
        self
    }

    /// The sales-channel column.
    #[must_use]
    pub fn channel(mut self, column: &'a str) -> Self {
        self.channel = Some(column);
        self
    }
}

/// A SQL condition and its array parameters, in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SqlFilter {
    condition: String,
    params: Vec<Vec<u64>>,
}

impl SqlFilter {
    /// The condition: `TRUE`, `FALSE`, or clauses of `col = ANY($n)` joined by `AND` and `OR`.
    pub fn condition(&self) -> &str {
        &self.condition
    }

    /// The array parameters, `$first_param` first.
    pub fn params(&self) -> &[Vec<u64>] {
        &self.params
    }
}

impl fmt::Display for SqlFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.condition)?;
        for (i, p) in self.params.iter().enumerate() {
            write!(f, "{}{p:?}", if i == 0 { " -- " } else { ", " })?;
        }
        Ok(())
    }
}

/// `Ok(None)`: no filter; `Ok(Some)`: these ids; `Err`: nothing.
fn ids<T: Ord + Copy>(f: &Filter<T>, key: fn(T) -> u64) -> Result<Option<Vec<u64>>, ()> {
    match f {
        Filter::Nothing => Err(()),
        Filter::Everything => Ok(None),
        Filter::Only(set) => Ok(Some(set.iter().map(key).collect())),
    }
}

fn union<'a, T: Ord + Copy + 'a>(filters: impl Iterator<Item = &'a Filter<T>>) -> Filter<T> {
    let mut ids: Vec<T> = Vec::new();
    for f in filters {
        match f {
            Filter::Everything => return Filter::Everything,
            Filter::Nothing => {}
            Filter::Only(set) => ids.extend(set.iter()),
        }
    }
    if ids.is_empty() {
        Filter::Nothing
    } else {
        Filter::Only(ids.into_iter().collect())
    }
}

fn check_identifier(c: &str) -> Result<(), Error> {
    let ok = !c.is_empty()
        && c.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
                && part
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "column",
            c,
            "must be a plain SQL identifier such as `o.store_id`",
        ))
    }
}
