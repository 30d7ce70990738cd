//! The command line: every command, its options, help text and examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use shopguard::policy::Ref;

/// What every command's help ends with: the exit codes.
const EXIT_CODES: &str = "\
Exit codes:
  0  success; `check`: allowed; `diff`: nothing to change; `test`: every expectation met
  1  `check`/`explain`: denied; `diff`: changes pending; `test`: a mismatch
  2  usage: an unknown option, a missing value, no catalog or database named
  3  invalid input: a file with problems, a name that names nothing, an unknown permission
  4  refused: the engine refused a change, an upload or an actor; nothing was applied
  5  storage: the database could not be opened, read or written";

const EXAMPLES: &str = "\
Examples:
  export SHOPGUARD_DB=sqlite:shop.db SHOPGUARD_CATALOG=pos
  shopguard apply examples/policies/pos_outlets.toml --bootstrap
  shopguard check --user cara --permission SELL --store South
  shopguard explain --user cara --permission VIEW_REPORTS --store North
  shopguard users --as olivia --role Cashier
  shopguard import staff.csv --as olivia --dry-run
  shopguard audit --since 2025-01-01 --json
  shopguard test examples/policies/pos_outlets.test.toml";

/// shopguard from a shell: decisions and their reasons, listings, CSV import and export,
/// the audit trail, and policy files applied, diffed and tested.
///
/// Every command but `test`, `validate` and `permissions` works on a database: `--db
/// sqlite:PATH` (a SQLite file, created if missing) or `--db postgres://user@host/db` (or
/// `postgres:host=… dbname=…`, with `--schema`). The permission catalog is one of the four ready ones (`--catalog`); a policy
/// or test file may name it itself (`catalog = "pos"`). A database holding several accounts
/// needs `--account ID`. Users, stores, sources, channels and roles are named as people know
/// them (a username, a store's name, a source's external id), or by id as `#10`.
///
/// Output is a table; `--json` prints JSON instead (JSON lines for `audit`).
#[derive(Debug, Parser)]
#[command(name = "shopguard", version, after_help = format!("{EXAMPLES}\n\n{EXIT_CODES}"))]
pub(crate) struct Cli {
    /// The database: `sqlite:PATH`, `postgres://user:password@host:port/dbname`, or
    /// `postgres:host=… port=… user=… dbname=…`.
    // The URL may hold a password: help never prints the variable's value.
    #[arg(
        long,
        global = true,
        env = "SHOPGUARD_DB",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) db: Option<String>,

    /// The PostgreSQL schema holding shopguard's tables.
    #[arg(
        long,
        global = true,
        env = "SHOPGUARD_SCHEMA",
        default_value = "shopguard",
        value_name = "NAME"
    )]
    pub(crate) schema: String,

    /// The permission catalog the database was written with.
    #[arg(long, global = true, env = "SHOPGUARD_CATALOG", value_enum)]
    pub(crate) catalog: Option<CatalogName>,

    /// The account, by id: needed when the database holds more than one.
    #[arg(long, global = true, env = "SHOPGUARD_ACCOUNT", value_name = "ID")]
    pub(crate) account: Option<u64>,

    /// Print JSON instead of a table (JSON lines for `audit`).
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The four ready permission catalogs (`shopguard::catalog`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub(crate) enum CatalogName {
    /// Seed 000: a point-of-sale system with outlets and registers.
    Pos,
    /// Seed 001: an omnichannel marketplace back office.
    Omnichannel,
    /// Seed 002: a card-payments merchant portal.
    Payments,
    /// Seed 003: an order management system.
    Oms,
}

impl CatalogName {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        <Self as ValueEnum>::from_str(name, false).ok()
    }
}

impl core::fmt::Display for CatalogName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CatalogName::Pos => "pos",
            CatalogName::Omnichannel => "omnichannel",
            CatalogName::Payments => "payments",
            CatalogName::Oms => "oms",
        })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Whether a user may do something, and why (exit 0 allowed, 1 denied).
    #[command(after_help = "Examples:
  shopguard check --user cara --permission SELL --store North
  shopguard check --user marta --permission 'CS_MANAGE_ORDERS' --store Madrid --pending-sourcing
  shopguard check --user mia --permission MANAGE_USERS --target-user tom
  shopguard check --user '#102' --permission 'SELL | OPEN_REGISTER' --store '#10' --json")]
    Check(CheckArgs),

    /// A check with every grant's verdict: why a user was refused (exit 0 allowed, 1 denied).
    #[command(after_help = "Examples:
  shopguard explain --user cara --permission VIEW_REPORTS --store North
  shopguard explain --user sara --permission MANAGE_SHIP_FROM_STORE_ORDERS --source lisbon-store --json")]
    Explain(CheckArgs),

    /// Who may use a permission on a resource (R21).
    #[command(after_help = "Examples:
  shopguard who-can --permission VIEW_REPORTS --store North
  shopguard who-can --permission MANAGE_USERS --json")]
    WhoCan(WhoCanArgs),

    /// Where a user may use a permission, as filters or a SQL WHERE clause (R21).
    #[command(after_help = "Examples:
  shopguard scope-for --user mark --permission VIEW_REPORTS
  shopguard scope-for --user mark --permission VIEW_REPORTS --dialect postgres
  shopguard scope-for --user luis --permission MANAGE_ISPU_ORDERS --dialect sqlite \\
      --account-column o.account_id --store-column o.store_id --source-column o.source_id")]
    ScopeFor(ScopeForArgs),

    /// The users an actor may see, searched by username, e-mail, role and state (R20).
    #[command(after_help = "Examples:
  shopguard users --as olivia
  shopguard users --as olivia --search ca --role Cashier --enabled
  shopguard users --as mia --json")]
    Users(UsersArgs),

    /// The roles an actor may see (R6).
    #[command(after_help = "Examples:
  shopguard roles --as olivia
  shopguard roles --as marta --json")]
    Roles(ActorArgs),

    /// The stores an actor may see (R20).
    #[command(after_help = "Examples:
  shopguard stores --as mark
  shopguard stores --as mia --json")]
    Stores(ActorArgs),

    /// The sources an actor may see (R4, R20).
    #[command(after_help = "Examples:
  shopguard sources --as luis")]
    Sources(ActorArgs),

    /// The sales channels an actor may see (R20).
    #[command(after_help = "Examples:
  shopguard channels --as carl")]
    Channels(ActorArgs),

    /// The permissions of the catalog: names, areas, reach and descriptions.
    #[command(after_help = "Examples:
  shopguard permissions --catalog oms
  shopguard permissions --catalog payments --json")]
    Permissions,

    /// Creates and updates users from a CSV file in the upload template (R18), as an actor.
    #[command(
        after_help = "The catalog's template: for oms, Username, E-mail, Enabled, Access all sales
channels, Access all sources, Timezone, Role, Sources, Action; for pos and payments, Username,
E-mail, Enabled, Timezone, Role, Stores, Action (omnichannel adds Access all sales channels).
`export` writes the same template. Action is Create or Update. One bad row and nothing is
applied; every problem is listed with its line and column.

Examples:
  shopguard import staff.csv --as olivia --dry-run
  shopguard import staff.csv --as olivia
  shopguard import staff.csv --as root --first-id 500 --json"
    )]
    Import(ImportArgs),

    /// Writes the users an actor may edit as CSV (R18), or the account as a policy file.
    #[command(after_help = "Examples:
  shopguard export --as olivia > staff.csv
  shopguard export --as olivia --output staff.csv
  shopguard export --format policy --bootstrap > corner-shop.toml")]
    Export(ExportArgs),

    /// The audit trail: every attempted change, applied or refused, filtered and paged (R19).
    #[command(after_help = "Examples:
  shopguard audit
  shopguard audit --actor olivia --outcome refused
  shopguard audit --target user:cara --since 2025-03-01 --until 2025-04-01T12:00:00Z
  shopguard audit --kind role --limit 100 --json > page1.jsonl
  shopguard audit --kind role --limit 100 --json --after CURSOR > page2.jsonl

Records are listed newest first, a page at a time; the cursor of the next page is printed on
standard error.")]
    Audit(AuditArgs),

    /// Brings the account to what a policy file says, as an actor or as bootstrap.
    #[command(
        after_help = "As an actor (--as), every change is authorized like any other, and the file
is compared with what the actor sees. As bootstrap (--bootstrap), the whole account is
written without authorization, audited under --system-name. Applying the same file twice
changes nothing the second time.

Examples:
  shopguard apply examples/policies/pos_outlets.toml --bootstrap
  shopguard apply corner-shop.toml --as olivia
  shopguard apply corner-shop.toml --as olivia --dry-run --json"
    )]
    Apply(ApplyArgs),

    /// What applying a policy file would change (exit 0 nothing, 1 changes pending, 4 refused).
    #[command(after_help = "Examples:
  shopguard diff corner-shop.toml --bootstrap
  shopguard diff corner-shop.toml --as olivia --json")]
    Diff(DiffArgs),

    /// Runs a policy-test file against its policy file (or the database, with --live).
    #[command(after_help = "Examples:
  shopguard test examples/policies/pos_outlets.test.toml
  shopguard test checks.test.toml --policy corner-shop.toml
  shopguard test checks.test.toml --live --db sqlite:shop.db --catalog pos")]
    Test(TestArgs),

    /// Checks a policy file: its syntax, names and the engine's rules, with line numbers.
    #[command(after_help = "Examples:
  shopguard validate examples/policies/oms_hierarchy.toml")]
    Validate(FileArgs),
}

/// What a check is about: with no option, the account as a whole.
#[derive(Debug, Args, Default)]
pub(crate) struct On {
    /// At a store (by name, or `#id`).
    #[arg(long)]
    pub(crate) store: Option<Ref>,
    /// At a source (by external id, or `#id`).
    #[arg(long, conflicts_with = "pending_sourcing")]
    pub(crate) source: Option<Ref>,
    /// Not yet sourced: an order pending sourcing (R5).
    #[arg(long)]
    pub(crate) pending_sourcing: bool,
    /// On a sales channel (by name, or `#id`).
    #[arg(long)]
    pub(crate) channel: Option<Ref>,
    /// About a role (by name or former name, or `#id`).
    #[arg(long)]
    pub(crate) role: Option<Ref>,
    /// About a user (by username, or `#id`).
    #[arg(long)]
    pub(crate) target_user: Option<Ref>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The user asking (by username, or `#id`).
    #[arg(long, short)]
    pub(crate) user: Ref,
    /// The permission by catalog name (`SELL`, `View reports`), or several as `A | B`.
    #[arg(long, short)]
    pub(crate) permission: String,
    #[command(flatten)]
    pub(crate) on: On,
}

#[derive(Debug, Args)]
pub(crate) struct WhoCanArgs {
    /// The permission by catalog name.
    #[arg(long, short)]
    pub(crate) permission: String,
    #[command(flatten)]
    pub(crate) on: On,
}

/// A SQL dialect for `scope-for`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DialectName {
    /// PostgreSQL: `$n` placeholders, lists as `int8[]`.
    Postgres,
    /// SQLite: `?n` placeholders.
    Sqlite,
    /// MySQL and MariaDB: `?` placeholders.
    Mysql,
}

#[derive(Debug, Args)]
pub(crate) struct ScopeForArgs {
    /// The user (by username, or `#id`).
    #[arg(long, short)]
    pub(crate) user: Ref,
    /// The permission by catalog name.
    #[arg(long, short)]
    pub(crate) permission: String,
    /// Also print the SQL WHERE condition and its parameters in this dialect.
    #[arg(long, value_enum)]
    pub(crate) dialect: Option<DialectName>,
    /// The table's account column.
    #[arg(long, default_value = "account_id", requires = "dialect")]
    pub(crate) account_column: String,
    /// The table's store column (`-` for none).
    #[arg(long, default_value = "store_id", requires = "dialect")]
    pub(crate) store_column: String,
    /// The table's source column, if it has one.
    #[arg(long, requires = "dialect")]
    pub(crate) source_column: Option<String>,
    /// The table's sales-channel column, if it has one.
    #[arg(long, requires = "dialect")]
    pub(crate) channel_column: Option<String>,
    /// The number of the first placeholder.
    #[arg(long, default_value_t = 1, requires = "dialect")]
    pub(crate) first_param: usize,
}

#[derive(Debug, Args)]
pub(crate) struct ActorArgs {
    /// The actor whose view is listed (by username, or `#id`).
    #[arg(long = "as", value_name = "USER")]
    pub(crate) actor: Ref,
}

#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    /// The actor whose view is listed (by username, or `#id`).
    #[arg(long = "as", value_name = "USER")]
    pub(crate) actor: Ref,
    /// Usernames containing this text, case ignored.
    #[arg(long)]
    pub(crate) search: Option<String>,
    /// E-mails containing this text, case ignored.
    #[arg(long)]
    pub(crate) email: Option<String>,
    /// Users holding this role (by name, former name, or `#id`).
    #[arg(long)]
    pub(crate) role: Option<Ref>,
    /// Enabled users only.
    #[arg(long, conflicts_with = "disabled")]
    pub(crate) enabled: bool,
    /// Disabled users only.
    #[arg(long)]
    pub(crate) disabled: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The CSV file.
    pub(crate) file: PathBuf,
    /// The uploader (by username, or `#id`).
    #[arg(long = "as", value_name = "USER")]
    pub(crate) actor: Ref,
    /// List every problem, or what would be created and updated, and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// The id of the first new user (then counting up); by default one above the largest.
    #[arg(long, value_name = "ID")]
    pub(crate) first_id: Option<u64>,
}

/// What `export` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// The users an actor may edit, in the CSV upload template.
    #[default]
    Csv,
    /// The account as a policy file (TOML).
    Policy,
}

/// Who acts: a user, authorized like any change, or the system (bootstrap).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Acting {
    /// Act as this user (by username, or `#id`): every change is authorized.
    #[arg(long = "as", value_name = "USER")]
    pub(crate) actor: Option<Ref>,
    /// Act as the system: no authorization, audited under --system-name.
    #[arg(long)]
    pub(crate) bootstrap: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// CSV of users (as an actor), or a policy file of the account.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: ExportFormat,
    #[command(flatten)]
    pub(crate) acting: Acting,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
}

/// How an audit record ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutcomeName {
    /// Applied.
    Applied,
    /// Refused.
    Refused,
    /// The store could not say whether it stored the change.
    Unknown,
}

/// A kind of object an audit record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KindName {
    /// The account's settings.
    Account,
    /// Stores.
    Store,
    /// Sources.
    Source,
    /// Sales channels.
    Channel,
    /// Roles.
    Role,
    /// Users.
    User,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Changes by this user (username or `#id`) or system name.
    #[arg(long)]
    pub(crate) actor: Option<String>,
    /// Records about this object: `user:cara`, `role:Cashier`, `store:North`, `source:…`,
    /// `channel:…` (by name, or `#id`).
    #[arg(long, value_name = "KIND:NAME")]
    pub(crate) target: Option<String>,
    /// Records about objects of this kind.
    #[arg(long, value_enum)]
    pub(crate) kind: Option<KindName>,
    /// Applied, refused or unknown changes only.
    #[arg(long, value_enum)]
    pub(crate) outcome: Option<OutcomeName>,
    /// Records at or after this time (`2025-03-01`, `2025-03-01T09:30:00Z`, or Unix ms).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Records before this time (same forms).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Records a page (at most 1,000).
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// The next page: the cursor the previous page printed.
    #[arg(long, value_name = "CURSOR")]
    pub(crate) after: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The policy file.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) acting: Acting,
    /// The system name the audit records a bootstrap under.
    #[arg(long, default_value = "shopguard apply", value_name = "NAME")]
    pub(crate) system_name: String,
    /// Plan every change and report, changing nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The policy file.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) acting: Acting,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The policy-test file.
    pub(crate) file: PathBuf,
    /// The policy file (by default, the one the test file names).
    #[arg(long)]
    pub(crate) policy: Option<PathBuf>,
    /// Run against the database (--db) instead of a policy file.
    #[arg(long, conflicts_with = "policy")]
    pub(crate) live: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FileArgs {
    /// The policy file.
    pub(crate) file: PathBuf,
}
