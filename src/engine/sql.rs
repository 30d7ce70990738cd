//! The SQL `WHERE` condition that says what a [`ScopeFor`] says (R21), in the dialect of the
//! host's database, with the account column part of the condition by construction.

use core::fmt;

use crate::Error;
use crate::engine::reverse::{Filter, ScopeFor};
use crate::model::ids::{ChannelId, SourceId, StoreId};

/// The SQL dialect of a filter: how placeholders are written and how a list of ids is bound.
///
/// | dialect | account | a list of ids | parameters |
/// | --- | --- | --- | --- |
/// | [`Postgres`](Self::Postgres) | `col = $1::int8` | `col = ANY($2::int8[])` | one array per list |
/// | [`Sqlite`](Self::Sqlite) | `col = ?1` | `col IN (?2, ?3)` | one per id |
/// | [`MySql`](Self::MySql) | `col = ?` | `col IN (?, ?)` | one per id, in order |
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL (the `postgres` and `tokio-postgres` crates, sqlx): numbered `$n`
    /// placeholders, each list bound as one `int8[]` array ([`SqlParam::Ids`]). The casts let
    /// `integer` and `bigint` columns compare alike.
    Postgres,
    /// SQLite (`rusqlite`, sqlx): numbered `?n` placeholders, one per id. A statement takes at
    /// most 32,766 parameters (SQLite's default limit).
    Sqlite,
    /// MySQL and MariaDB (the `mysql` crate, sqlx): positional `?` placeholders, one per id, in
    /// the order of [`SqlFilter::params`]. Lists longer than the server's placeholder limit
    /// (65,535 per statement) cannot be bound.
    MySql,
}

/// The columns a table keeps its account and each dimension in. The account column is
/// required: a filter always names the user's account. Leave out the dimensions the table does
/// not have; they are not filtered.
///
/// Column names are pasted into SQL text, so they must be plain (optionally dotted)
/// identifiers; [`ScopeFor::to_sql`] refuses anything else.
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    account: &'a str,
    store: Option<&'a str>,
    source: Option<&'a str>,
    channel: Option<&'a str>,
}

impl<'a> Columns<'a> {
    /// The table's account column, and no dimension.
    pub fn new(account: &'a str) -> Self {
        Self {
            account,
            store: None,
            source: None,
            channel: None,
        }
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

/// One parameter of a [`SqlFilter`].
///
/// Ids are unsigned 64-bit numbers; SQL integers are signed, so drivers bind them as signed
/// 64-bit integers with the same bits ([`as_i64`](Self::as_i64)), as the storage adapters store
/// them. With feature `sqlite` it implements `rusqlite::ToSql`, with feature `postgres`
/// `postgres::types::ToSql` (`int8` and `int8[]`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum SqlParam {
    /// One id: the account, or one id of a list (SQLite, MySQL).
    Id(u64),
    /// A list of ids, bound as one array (PostgreSQL only). Never empty.
    Ids(Vec<u64>),
}

impl SqlParam {
    /// An id as the signed 64-bit integer with the same bits.
    pub fn as_i64(id: u64) -> i64 {
        i64::from_ne_bytes(id.to_ne_bytes())
    }
}

/// A SQL condition and its parameters, in placeholder order. Put it in a `WHERE` (it is
/// parenthesized, so it can be joined with `AND`) and bind [`params`](Self::params) from the
/// placeholder number given to [`ScopeFor::to_sql`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SqlFilter {
    condition: String,
    params: Vec<SqlParam>,
    next_param: usize,
}

impl SqlFilter {
    /// The condition: `FALSE`, or the account column's test joined by `AND` to the clauses.
    pub fn condition(&self) -> &str {
        &self.condition
    }

    /// The parameters, the first placeholder's first.
    pub fn params(&self) -> &[SqlParam] {
        &self.params
    }

    /// The number of the host's next placeholder after the filter's (numbered dialects).
    pub fn next_param(&self) -> usize {
        self.next_param
    }
}

impl fmt::Display for SqlFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.condition)?;
        for (i, p) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " -- " } else { ", " })?;
            match p {
                SqlParam::Id(id) => write!(f, "{id}")?,
                SqlParam::Ids(ids) => write!(f, "{ids:?}")?,
            }
        }
        Ok(())
    }
}

impl ScopeFor {
    /// Renders a SQL condition over the given columns: the row is in the user's account, and
    /// some clause reaches it. Placeholders are numbered from `first_param` (`$n` for
    /// PostgreSQL, `?n` for SQLite; MySQL's `?` are positional, and the number only counts).
    ///
    /// A row reached by the condition is one [`Snapshot::can`](crate::Snapshot::can) allows,
    /// given that the table's rows name stores, sources and channels of their own account (a
    /// foreign key): a row naming an id that does not exist in its account is denied by `can`
    /// but shown to a user with access to all of that dimension. A `NULL` in a dimension's
    /// column is a row not placed there ([`Place::Unplaced`](crate::Place::Unplaced)): only
    /// access to all of it reaches the row. A user who may not use the permission anywhere
    /// gets `FALSE`.
    ///
    /// ```
    /// use shopguard::catalog::pos::{self, Pos};
    /// use shopguard::scope::{Columns, Dialect, SqlParam};
    /// use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId};
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
    /// let columns = Columns::new("o.account_id").store("o.store_id");
    /// let snapshot = engine.snapshot();
    /// let mia = snapshot.scope_for(UserId::new(2), Pos::VIEW_REPORTS);
    /// let pg = mia.to_sql(Dialect::Postgres, &columns, 1)?;
    /// assert_eq!(pg.condition(), "(o.account_id = $1::int8 AND (o.store_id = ANY($2::int8[])))");
    /// assert_eq!(pg.params(), [SqlParam::Id(1), SqlParam::Ids(vec![11])]);
    /// assert_eq!(pg.next_param(), 3);
    /// let lite = mia.to_sql(Dialect::Sqlite, &columns, 1)?;
    /// assert_eq!(lite.condition(), "(o.account_id = ?1 AND (o.store_id IN (?2)))");
    /// assert_eq!(lite.params(), [SqlParam::Id(1), SqlParam::Id(11)]);
    ///
    /// let boss = snapshot.scope_for(UserId::new(1), Pos::VIEW_REPORTS);
    /// assert_eq!(boss.to_sql(Dialect::MySql, &columns, 1)?.condition(), "(o.account_id = ?)");
    /// let nobody = snapshot.scope_for(UserId::new(3), Pos::VIEW_REPORTS);
    /// assert_eq!(nobody.to_sql(Dialect::Postgres, &columns, 1)?.condition(), "FALSE");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if a column name is not a
    /// plain (optionally dotted) identifier, since column names are pasted into SQL text, or if
    /// `first_param` is 0 or leaves no room for the filter's placeholders.
    pub fn to_sql(
        &self,
        dialect: Dialect,
        columns: &Columns<'_>,
        first_param: usize,
    ) -> Result<SqlFilter, Error> {
        for c in [
            Some(columns.account),
            columns.store,
            columns.source,
            columns.channel,
        ]
        .into_iter()
        .flatten()
        {
            check_identifier(c)?;
        }
        if first_param == 0 {
            return Err(Error::invalid(
                "first parameter",
                first_param,
                "placeholders are numbered from 1",
            ));
        }
        let mut out = Writer {
            dialect,
            next: first_param,
            params: Vec::new(),
        };
        // Each reaching clause as the lists its columns must be in; `None` when some clause
        // reaches every row of the account.
        let mut reaching: Option<Vec<Lists<'_>>> = Some(Vec::new());
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
            // R5: with every source but only some channels, a row pending sourcing (no
            // source) is reached only if the account asks all sources alone of it.
            let placed_only = self.pending_needs_all_channels
                && matches!(clause.sources, Filter::Everything)
                && !matches!(clause.channels, Filter::Everything)
                && columns.channel.is_some();
            let lists: Lists<'_> = dims
                .into_iter()
                .filter_map(|(col, f)| Some((col?, f.ok()??)))
                .map(|(col, ids)| (col, Some(ids)))
                .chain(
                    columns
                        .source
                        .filter(|_| placed_only)
                        .map(|col| (col, None)),
                )
                .collect();
            if lists.is_empty() {
                reaching = None;
                break;
            }
            if let Some(r) = reaching.as_mut() {
                r.push(lists);
            }
        }
        let account = match self.account {
            Some(a) if reaching.as_ref().is_none_or(|r| !r.is_empty()) => a,
            _ => return Ok(out.finish("FALSE".to_owned())),
        };
        let account_test = format!("{} = {}", columns.account, out.one(account.get())?);
        let Some(reaching) = reaching else {
            return Ok(out.finish(format!("({account_test})")));
        };
        let mut parts: Vec<String> = Vec::with_capacity(reaching.len());
        for lists in reaching {
            let mut conds: Vec<String> = Vec::with_capacity(lists.len());
            for (col, list) in lists {
                conds.push(match list {
                    Some(ids) => out.list(col, ids)?,
                    None => format!("{col} IS NOT NULL"),
                });
            }
            parts.push(format!("({})", conds.join(" AND ")));
        }
        let condition = match parts.as_slice() {
            [one] => format!("({account_test} AND {one})"),
            _ => format!("({account_test} AND ({}))", parts.join(" OR ")),
        };
        Ok(out.finish(condition))
    }
}

/// What one clause asks of a row: each column is one of its ids (`None`: is not null).
type Lists<'c> = Vec<(&'c str, Option<Vec<u64>>)>;

/// Writes placeholders and collects their parameters.
struct Writer {
    dialect: Dialect,
    next: usize,
    params: Vec<SqlParam>,
}

impl Writer {
    fn finish(self, condition: String) -> SqlFilter {
        SqlFilter {
            condition,
            params: self.params,
            next_param: self.next,
        }
    }

    /// The next placeholder, bound to `param`.
    fn placeholder(&mut self, param: SqlParam) -> Result<String, Error> {
        let n = self.next;
        self.next = n.checked_add(1).ok_or_else(|| {
            Error::invalid(
                "first parameter",
                n,
                "leaves no room for the filter's placeholders",
            )
        })?;
        self.params.push(param);
        Ok(match self.dialect {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
            Dialect::MySql => "?".to_owned(),
        })
    }

    /// A placeholder for one id.
    fn one(&mut self, id: u64) -> Result<String, Error> {
        let p = self.placeholder(SqlParam::Id(id))?;
        Ok(match self.dialect {
            Dialect::Postgres => format!("{p}::int8"),
            Dialect::Sqlite | Dialect::MySql => p,
        })
    }

    /// `col` is one of `ids` (never empty).
    fn list(&mut self, col: &str, ids: Vec<u64>) -> Result<String, Error> {
        match self.dialect {
            Dialect::Postgres => Ok(format!(
                "{col} = ANY({}::int8[])",
                self.placeholder(SqlParam::Ids(ids))?
            )),
            Dialect::Sqlite | Dialect::MySql => {
                let mut marks: Vec<String> = Vec::with_capacity(ids.len());
                for id in ids {
                    marks.push(self.placeholder(SqlParam::Id(id))?);
                }
                Ok(format!("{col} IN ({})", marks.join(", ")))
            }
        }
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

#[cfg(feature = "sqlite")]
impl rusqlite::ToSql for SqlParam {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            SqlParam::Id(id) => Ok(SqlParam::as_i64(*id).into()),
            // Never in a SQLite filter: lists are bound one id at a time.
            SqlParam::Ids(_) => Err(rusqlite::Error::ToSqlConversionFailure(
                "an id list is a PostgreSQL array parameter, not a SQLite value".into(),
            )),
        }
    }
}

#[cfg(feature = "postgres")]
impl postgres::types::ToSql for SqlParam {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlParam::Id(id) => SqlParam::as_i64(*id).to_sql(ty, out),
            SqlParam::Ids(ids) => ids
                .iter()
                .map(|id| SqlParam::as_i64(*id))
                .collect::<Vec<i64>>()
                .to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        *ty == postgres::types::Type::INT8 || *ty == postgres::types::Type::INT8_ARRAY
    }

    fn to_sql_checked(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let expected = match self {
            SqlParam::Id(_) => postgres::types::Type::INT8,
            SqlParam::Ids(_) => postgres::types::Type::INT8_ARRAY,
        };
        if *ty != expected {
            return Err(Box::new(postgres::types::WrongType::new::<Self>(
                ty.clone(),
            )));
        }
        self.to_sql(ty, out)
    }
}
