//! Download of users in the catalog's upload template (R18): the file an upload by the same
//! actor takes back unchanged, with every cell a spreadsheet would run as a formula
//! neutralised.

use super::row::StoreNames;
use super::{COLUMNS, layout, needs_quote};
use crate::Error;
use crate::admin::authorize;
use crate::admin::listing::UserQuery;
use crate::engine::Snapshot;
use crate::model::access::Access;
use crate::model::ids::UserId;
use crate::model::permission::Catalog;

impl<P: Catalog> Snapshot<P> {
    /// The users `actor` may edit (R10, R11, R20), in the catalog's upload template
    /// ([`Catalog::user_template`]), every row an `Update`: the file an upload by the same
    /// actor takes back, changing nothing. The Stores column, where the template has one,
    /// holds the first grant's stores: `All`, `None`, or their names (a store's id, `store#10`,
    /// where its name would not read back as that store alone). Users the actor may only see
    /// are in [`Snapshot::search_users`], not here.
    ///
    /// ```
    /// use shopguard::catalog::pos::{self, Pos};
    /// use shopguard::import::CsvLimits;
    /// use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId, Store, StoreId, User, UserId};
    ///
    /// let engine = Engine::<Pos>::new();
    /// let (shop, owner, north) = (AccountId::new(1), UserId::new(1), StoreId::new(10));
    /// engine.unchecked_apply([
    ///     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
    ///     Mutation::PutStore(Store::new(north, shop, "North")),
    ///     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
    ///     Mutation::PutRole(pos::cashier(RoleId::new(3), shop)),
    ///     Mutation::PutUser(User::new(owner, shop, "olga", "olga@shop.example")
    ///         .with_owner(true)
    ///         .with_grant(Grant::new(RoleId::new(1), Access::All))),
    ///     Mutation::PutUser(User::new(UserId::new(2), shop, "ana", "ana@shop.example")
    ///         .with_grant(Grant::new(RoleId::new(3), Access::specific([north])))),
    /// ])?;
    /// let file = engine.snapshot().download_users_csv(owner)?;
    /// assert_eq!(
    ///     file,
    ///     "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n\
    ///      olga,olga@shop.example,1,UTC,Admin,All,Update\n\
    ///      ana,ana@shop.example,1,UTC,Cashier,North,Update\n"
    /// );
    /// // Uploaded back, it changes nothing.
    /// let up = engine.upload_users_csv(owner, file.as_bytes(), &CsvLimits::default(), &mut || UserId::new(99))?;
    /// assert_eq!((up.created(), up.updated(), up.unchanged()), (0, 0, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if writing the CSV fails (it is written to memory, so only on a
    /// bug in the writer).
    pub fn download_users_csv(&self, actor: UserId) -> Result<String, Error> {
        let (at, _) = layout(P::user_template());
        let mut out = csv_row(P::user_template().columns())?;
        let index = self.index();
        let Some(me) = index.user(actor).filter(|u| u.is_enabled()) else {
            return Ok(out);
        };
        let stores = StoreNames::new(self.visible_stores(actor));
        // R20: a Sources cell lists only the sources the actor may see; an upload keeps the
        // others.
        let seen: std::collections::HashMap<_, _> = self
            .visible_sources(actor)
            .into_iter()
            .map(|s| (s.id(), s.external_id()))
            .collect();
        let editable = self
            .search_users(actor, &UserQuery::new())
            .into_iter()
            .filter(|u| authorize::may_edit(index, me, u));
        for u in editable {
            let first = u.grants().first();
            let role = first
                .and_then(|g| self.role(g.role))
                .map_or("", |r| r.name());
            let sources = match u.sources() {
                Access::Specific(set) => set
                    .iter()
                    .filter_map(|s| seen.get(&s).copied())
                    .collect::<Vec<_>>()
                    .join(", "),
                Access::All | Access::None => String::new(),
            };
            let store_cell = match first.map(|g| &g.stores) {
                None => String::new(),
                Some(Access::All) => "All".to_owned(),
                Some(Access::None) => "None".to_owned(),
                Some(Access::Specific(set)) => set
                    .iter()
                    .filter_map(|s| self.store(s).map(|x| stores.write(x)))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let flag = |b: bool| if b { "1" } else { "0" };
            let cells: [String; COLUMNS.len()] = [
                neutralise(u.username()),
                neutralise(u.email()),
                flag(u.is_enabled()).to_owned(),
                flag(u.channels().is_all()).to_owned(),
                flag(u.sources().is_all()).to_owned(),
                neutralise(u.timezone()),
                neutralise(role),
                neutralise(&store_cell),
                neutralise(&sources),
                "Update".to_owned(),
            ];
            let row: Vec<&str> = at
                .iter()
                .filter_map(|&i| cells.get(i).map(String::as_str))
                .collect();
            out.push_str(&csv_row(&row)?);
        }
        Ok(out)
    }
}

/// One CSV line. A cell holding a `;` is quoted, and so is the whole line then: a spreadsheet
/// set to a `;`-separated locale would split it there, and the part after the `;` could start
/// a formula (OWASP's CSV injection page). Other lines are quoted only where RFC 4180 needs it.
fn csv_row<T: AsRef<[u8]>>(cells: &[T]) -> Result<String, Error> {
    let style = if cells.iter().any(|c| c.as_ref().contains(&b';')) {
        csv::QuoteStyle::Always
    } else {
        csv::QuoteStyle::Necessary
    };
    let mut w = csv::WriterBuilder::new()
        .quote_style(style)
        .from_writer(Vec::new());
    w.write_record(cells).map_err(Error::storage)?;
    let bytes = w.into_inner().map_err(|e| Error::storage(e.to_string()))?;
    String::from_utf8(bytes).map_err(Error::storage)
}

/// A cell for download: a value a spreadsheet would run as a formula gets a leading `'` (OWASP's
/// advice); the writer quotes any cell with a comma, quote or line break.
fn neutralise(text: &str) -> String {
    if needs_quote(text) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}
