//! The SQL filter (R21) run on real databases: random worlds (the read-side property test's),
//! random order rows of every account (and of an account the engine does not know), every user
//! and permission, four table layouts. The rows a filter selects in SQLite (feature `sqlite`)
//! and in PostgreSQL (feature `postgres`, the server of `SHOPGUARD_PG`; missing is a failure)
//! must be exactly the rows `can_each` allows. MySQL has no server here: its text is checked
//! against SQLite's, placeholder for placeholder.

use proptest::prelude::*;
use shopguard::UserId;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use shopguard::scope::SqlFilter;
use shopguard::scope::{Columns, Dialect, SqlParam};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use shopguard::{AccountId, ChannelId, Engine, Place, Resource, SourceId, StoreId};

use crate::fixture::T;
use crate::properties::{World, build, load};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// An order row. `None` in a dimension is SQL `NULL`: not placed there (R5).
#[derive(Clone, Copy, Debug)]
struct Row {
    id: i64,
    account: u64,
    store: Option<u64>,
    source: Option<u64>,
    channel: Option<u64>,
}

/// Which dimension columns a table has.
#[derive(Clone, Copy, Debug)]
struct Layout {
    store: bool,
    source: bool,
    channel: bool,
}

const LAYOUTS: [Layout; 4] = [
    Layout {
        store: true,
        source: true,
        channel: true,
    },
    Layout {
        store: true,
        source: false,
        channel: false,
    },
    Layout {
        store: false,
        source: true,
        channel: true,
    },
    Layout {
        store: true,
        source: false,
        channel: true,
    },
];

impl Layout {
    fn columns(self) -> Columns<'static> {
        let mut c = Columns::new("o.account_id");
        if self.store {
            c = c.store("o.store_id");
        }
        if self.source {
            c = c.source("o.source_id");
        }
        if self.channel {
            c = c.channel("o.channel_id");
        }
        c
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// A row as the resource the engine checks, seen through a layout: a dimension the table does
/// not have is unscoped.
struct Seen(Row, Layout);

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn place<I>(has: bool, id: Option<u64>, f: fn(u64) -> I) -> Place<I> {
    match (has, id) {
        (false, _) => Place::Unscoped,
        (true, None) => Place::Unplaced,
        (true, Some(x)) => Place::At(f(x)),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Resource for Seen {
    fn account(&self) -> AccountId {
        AccountId::new(self.0.account)
    }
    fn store(&self) -> Place<StoreId> {
        place(self.1.store, self.0.store, StoreId::new)
    }
    fn source(&self) -> Place<SourceId> {
        place(self.1.source, self.0.source, SourceId::new)
    }
    fn channel(&self) -> Place<ChannelId> {
        place(self.1.channel, self.0.channel, ChannelId::new)
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// Rows of each account naming that account's own stores, sources and channels (the foreign
/// keys a host's table has), or `NULL`; and rows of account 3, unknown to the engine, naming
/// anyone's ids.
fn rows(w: &World, tape: &[u32]) -> Vec<Row> {
    let mut t = tape.iter().copied();
    let mut pick = move |n: usize| t.next().map_or(0, |x| x as usize % n.max(1));
    let every = |f: fn(&crate::properties::RAccount) -> Vec<u64>| -> Vec<u64> {
        w.accounts.values().flat_map(f).collect()
    };
    let (all_stores, all_sources, all_channels) = (
        every(|a| a.stores.iter().copied().collect()),
        every(|a| a.sources.iter().copied().collect()),
        every(|a| a.channels.iter().copied().collect()),
    );
    let mut out = Vec::new();
    for id in 0..40 {
        let account = [1, 2, 3][pick(7).min(2)];
        let (stores, sources, channels): (Vec<u64>, Vec<u64>, Vec<u64>) =
            match w.accounts.get(&account) {
                Some(a) => (
                    a.stores.iter().copied().collect(),
                    a.sources.iter().copied().collect(),
                    a.channels.iter().copied().collect(),
                ),
                None => (
                    all_stores.clone(),
                    all_sources.clone(),
                    all_channels.clone(),
                ),
            };
        let mut one = |ids: &[u64]| match pick(5) {
            0 => None,
            _ => ids.get(pick(ids.len())).copied(),
        };
        out.push(Row {
            id,
            account,
            store: one(&stores),
            source: one(&sources),
            channel: one(&channels),
        });
    }
    out
}

/// Every (user, permission) to filter for: each user of the world and an unknown one; each
/// single permission, none, and some random sets.
fn askers(w: &World, perm_sets: &[u64]) -> Vec<(UserId, T)> {
    let perms: Vec<T> = (0..7)
        .map(|b| 1u64 << b)
        .chain([0])
        .chain(perm_sets.iter().copied())
        .map(T::from_bits_retain)
        .collect();
    let users = w.users.keys().copied().chain([4040]).map(UserId::new);
    users
        .flat_map(|u| perms.iter().map(move |&p| (u, p)))
        .collect()
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The ids of the rows `can_each` allows, in id order.
fn allowed(e: &Engine<T>, user: UserId, p: T, rows: &[Row], layout: Layout) -> Vec<i64> {
    let seen: Vec<Seen> = rows.iter().map(|r| Seen(*r, layout)).collect();
    let verdicts = e.snapshot().can_each(user, p, &seen);
    rows.iter()
        .zip(verdicts)
        .filter(|(_, ok)| *ok)
        .map(|(r, _)| r.id)
        .collect()
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// A random world, a tape of rows, and random permission sets.
fn inputs() -> impl Strategy<Value = (Vec<u32>, Vec<u32>, Vec<u64>)> {
    (
        prop::collection::vec(any::<u32>(), 200),
        prop::collection::vec(any::<u32>(), 200),
        prop::collection::vec(0u64..128, 3),
    )
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// How varied the compared filters were, so that a run of empty answers cannot pass unseen.
#[derive(Default)]
struct Coverage {
    /// Filters selecting some rows but not every row of the account.
    partial: std::cell::Cell<usize>,
    /// Filters selecting every row of the account.
    whole_account: std::cell::Cell<usize>,
    /// Filters with a list of ids.
    lists: std::cell::Cell<usize>,
    /// Filters selecting nothing.
    empty: std::cell::Cell<usize>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Coverage {
    fn count(&self, filter: &SqlFilter, allowed: &[i64], rows: &[Row]) {
        let bump = |c: &std::cell::Cell<usize>| c.set(c.get() + 1);
        if allowed.is_empty() {
            bump(&self.empty);
        } else {
            let account = rows.iter().find(|r| r.id == allowed[0]).unwrap().account;
            let of_account = rows.iter().filter(|r| r.account == account).count();
            bump(if allowed.len() == of_account {
                &self.whole_account
            } else {
                &self.partial
            });
        }
        if filter.params().len() > 1 {
            bump(&self.lists);
        }
    }

    fn assert_varied(&self) {
        let counts = [
            self.partial.get(),
            self.whole_account.get(),
            self.lists.get(),
            self.empty.get(),
        ];
        eprintln!("partial, whole account, lists, empty: {counts:?}");
        assert!(counts.iter().all(|&n| n > 100), "{counts:?}");
    }
}

#[test]
fn mysql_text_is_sqlite_text_with_positional_placeholders() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(
            &(
                prop::collection::vec(any::<u32>(), 200),
                prop::collection::vec(0u64..128, 3),
            ),
            |(world, perm_sets)| {
                let w = build(&world);
                let e = load(&w);
                for (user, p) in askers(&w, &perm_sets) {
                    let scope = e.snapshot().scope_for(user, p);
                    for layout in LAYOUTS {
                        let lite = scope.to_sql(Dialect::Sqlite, &layout.columns(), 1).unwrap();
                        let my = scope.to_sql(Dialect::MySql, &layout.columns(), 1).unwrap();
                        prop_assert_eq!(my.condition(), positional(lite.condition()));
                        prop_assert_eq!(my.params(), lite.params());
                        prop_assert!(my.params().iter().all(|p| matches!(p, SqlParam::Id(_))));
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

/// `?12` becomes `?`.
fn positional(sqlite: &str) -> String {
    let mut out = String::new();
    let mut chars = sqlite.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '?' {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        }
    }
    out
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    fn database(rows: &[Row]) -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL,
             store_id INTEGER, source_id INTEGER, channel_id INTEGER)",
        )
        .unwrap();
        for r in rows {
            let id = |x: Option<u64>| x.map(SqlParam::as_i64);
            db.execute(
                "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    r.id,
                    SqlParam::as_i64(r.account),
                    id(r.store),
                    id(r.source),
                    id(r.channel)
                ],
            )
            .unwrap();
        }
        db
    }

    /// The ids the filter selects, after a host parameter of its own (`?1`).
    fn selected(db: &rusqlite::Connection, filter: &SqlFilter) -> Vec<i64> {
        let sql = format!(
            "SELECT o.id FROM orders o WHERE o.id >= ?1 AND {} ORDER BY o.id",
            filter.condition()
        );
        let mut stmt = db.prepare(&sql).unwrap();
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&0i64];
        params.extend(filter.params().iter().map(|p| p as &dyn rusqlite::ToSql));
        stmt.query_map(params.as_slice(), |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// R21: on SQLite, a filter selects exactly the rows `can_each` allows.
    #[test]
    fn r21_sqlite_filter_selects_exactly_what_can_each_allows() {
        let seen = Coverage::default();
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
        runner
            .run(&inputs(), |(world, row_tape, perm_sets)| {
                let w = build(&world);
                let e = load(&w);
                let rows = rows(&w, &row_tape);
                let db = database(&rows);
                for (user, p) in askers(&w, &perm_sets) {
                    let scope = e.snapshot().scope_for(user, p);
                    for layout in LAYOUTS {
                        let filter = scope.to_sql(Dialect::Sqlite, &layout.columns(), 2).unwrap();
                        prop_assert_eq!(filter.next_param(), 2 + filter.params().len());
                        let want = allowed(&e, user, p, &rows, layout);
                        prop_assert_eq!(
                            selected(&db, &filter),
                            want.clone(),
                            "{:?} {:?} {:?}: {}",
                            user,
                            p,
                            layout,
                            filter
                        );
                        seen.count(&filter, &want, &rows);
                    }
                }
                Ok(())
            })
            .unwrap();
        seen.assert_varied();
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use ::postgres::types::ToSql;

    use super::*;
    use crate::conformance::pg_url;

    fn database() -> ::postgres::Client {
        let mut db = ::postgres::Client::connect(&pg_url(), ::postgres::NoTls).unwrap();
        db.batch_execute(
            "DROP SCHEMA IF EXISTS t_sql_filter CASCADE;
             CREATE SCHEMA t_sql_filter;
             SET search_path TO t_sql_filter;
             CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint NOT NULL,
                 store_id bigint, source_id bigint, channel_id bigint)",
        )
        .unwrap();
        db
    }

    fn fill(db: &mut ::postgres::Client, rows: &[Row]) {
        let mut tx = db.transaction().unwrap();
        tx.batch_execute("TRUNCATE orders").unwrap();
        let insert = tx
            .prepare("INSERT INTO orders VALUES ($1, $2, $3, $4, $5)")
            .unwrap();
        for r in rows {
            let id = |x: Option<u64>| x.map(SqlParam::as_i64);
            tx.execute(
                &insert,
                &[
                    &r.id,
                    &SqlParam::as_i64(r.account),
                    &id(r.store),
                    &id(r.source),
                    &id(r.channel),
                ],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    /// The ids the filter selects, after a host parameter of its own (`$1`).
    fn selected(db: &mut ::postgres::Client, filter: &SqlFilter) -> Vec<i64> {
        let sql = format!(
            "SELECT o.id FROM orders o WHERE o.id >= $1 AND {} ORDER BY o.id",
            filter.condition()
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&0i64];
        params.extend(filter.params().iter().map(|p| p as &(dyn ToSql + Sync)));
        db.query(&sql, &params)
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    /// R21: on PostgreSQL, a filter selects exactly the rows `can_each` allows.
    #[test]
    fn r21_postgres_filter_selects_exactly_what_can_each_allows() {
        // The runner wants a `Fn`: the connection is borrowed anew in each case.
        let db = std::cell::RefCell::new(database());
        let seen = Coverage::default();
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
        runner
            .run(&inputs(), |(world, row_tape, perm_sets)| {
                let w = build(&world);
                let e = load(&w);
                let rows = rows(&w, &row_tape);
                let mut db = db.borrow_mut();
                fill(&mut db, &rows);
                for (user, p) in askers(&w, &perm_sets) {
                    let scope = e.snapshot().scope_for(user, p);
                    for layout in LAYOUTS {
                        let filter = scope
                            .to_sql(Dialect::Postgres, &layout.columns(), 2)
                            .unwrap();
                        let want = allowed(&e, user, p, &rows, layout);
                        prop_assert_eq!(
                            selected(&mut db, &filter),
                            want.clone(),
                            "{:?} {:?} {:?}: {}",
                            user,
                            p,
                            layout,
                            filter
                        );
                        seen.count(&filter, &want, &rows);
                    }
                }
                Ok(())
            })
            .unwrap();
        seen.assert_varied();
        db.into_inner()
            .batch_execute("DROP SCHEMA t_sql_filter CASCADE")
            .unwrap();
    }
}
