//! Download of users in the upload template (R18): the file an upload by the same actor takes
//! back unchanged, with every cell a spreadsheet would run as a formula neutralised.

use super::{HEADER, needs_quote};
use crate::Error;
use crate::admin::authorize;
use crate::admin::listing::UserQuery;
use crate::engine::Snapshot;
use crate::model::access::Access;
use crate::model::ids::UserId;
use crate::model::permission::Catalog;

impl<P: Catalog> Snapshot<P> {
    /// The users `actor` may edit (R10, R11, R20), in the upload template, every row an
    /// `Update`: the file an upload by the same actor takes back, changing nothing. Users the
    /// actor may only see are in [`Snapshot::search_users`], not here.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if writing the CSV fails (it is written to memory, so only on a
    /// bug in the writer).
    pub fn download_users_csv(&self, actor: UserId) -> Result<String, Error> {
        let mut out = csv_row(&HEADER)?;
        let index = self.index();
        let Some(me) = index.user(actor).filter(|u| u.is_enabled()) else {
            return Ok(out);
        };
        let editable = self
            .search_users(actor, &UserQuery::new())
            .into_iter()
            .filter(|u| authorize::may_edit(index, me, u));
        for u in editable {
            let role = u
                .grants()
                .first()
                .and_then(|g| self.role(g.role))
                .map_or("", |r| r.name());
            let sources = match u.sources() {
                Access::Specific(set) => set
                    .iter()
                    .filter_map(|s| self.source(s).map(|x| x.external_id()))
                    .collect::<Vec<_>>()
                    .join(", "),
                Access::All | Access::None => String::new(),
            };
            let flag = |b: bool| if b { "1" } else { "0" };
            let row = [
                neutralise(u.username()),
                neutralise(u.email()),
                flag(u.is_enabled()).to_owned(),
                flag(u.channels().is_all()).to_owned(),
                flag(u.sources().is_all()).to_owned(),
                neutralise(u.timezone()),
                neutralise(role),
                neutralise(&sources),
                "Update".to_owned(),
            ];
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
