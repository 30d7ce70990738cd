//! Opening the database a command works on, and finding the account it is about.

use shopguard::storage::{PgStorage, SqliteStorage};
use shopguard::{AccountId, Engine, Snapshot};

use crate::Perms;
use crate::args::Cli;
use crate::failure::Failure;

/// The engine on the database `--db` names, every record loaded: `sqlite:PATH`,
/// `postgres://…` (or `postgresql://…`), or `postgres:host=… port=… user=… dbname=…`.
///
/// Opened without a follower (`Engine::open_unfollowed`): a command reads the store once and
/// exits, and its writes catch up first; a follower would only register in the store and poll.
pub(crate) fn open<P: Perms>(cli: &Cli) -> Result<Engine<P>, Failure> {
    let Some(url) = cli.db.as_deref() else {
        return Err(Failure::Usage(
            "name the database: --db sqlite:PATH or --db postgres://… (or SHOPGUARD_DB)".to_owned(),
        ));
    };
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(Failure::Usage(
                "`sqlite:` needs a path: sqlite:shop.db".to_owned(),
            ));
        }
        let storage = SqliteStorage::open(path).map_err(Failure::of)?;
        return Engine::open_unfollowed(storage).map_err(Failure::of);
    }
    // A URL, or libpq's key=value parameters after `postgres:`.
    let params = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(url)
    } else {
        url.strip_prefix("postgres:")
    };
    if let Some(params) = params {
        let storage = PgStorage::connect(params, &cli.schema).map_err(Failure::input_or_storage)?;
        return Engine::open_unfollowed(storage).map_err(Failure::of);
    }
    Err(Failure::Usage(format!(
        "`{}` is not a database URL: use sqlite:PATH or postgres://…",
        redact(url)
    )))
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let (head, tail) = url.split_at(at);
            match head.rfind(':') {
                Some(colon) if colon > scheme + 2 => {
                    format!("{}:***{tail}", head.get(..colon).unwrap_or(head))
                }
                _ => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Failure {
    /// A connection or query error: bad parameters are input, the rest the database's.
    pub(crate) fn input_or_storage(err: shopguard::Error) -> Self {
        match err.kind() {
            shopguard::ErrorKind::InvalidInput => Failure::Input(err),
            _ => Failure::Storage(err),
        }
    }
}

/// The account a command is about: `--account`, or the database's only one.
pub(crate) fn account<P: Perms>(cli: &Cli, snapshot: &Snapshot<P>) -> Result<AccountId, Failure> {
    if let Some(id) = cli.account {
        let id = AccountId::new(id);
        return match snapshot.account(id) {
            Some(_) => Ok(id),
            None => Err(Failure::Usage(format!(
                "the database holds no account `#{}`",
                id.get()
            ))),
        };
    }
    let mut accounts = snapshot.accounts();
    match (accounts.next(), accounts.next()) {
        (Some(one), None) => Ok(one.id()),
        (None, _) => Err(Failure::Usage(
            "the database holds no account yet: apply a policy file with --bootstrap first"
                .to_owned(),
        )),
        (Some(_), Some(_)) => Err(Failure::Usage(format!(
            "the database holds {} accounts: name one with --account ID",
            snapshot.accounts().count()
        ))),
    }
}
