//! Permission catalogs: a `bitflags` type chosen by the host, with per-flag metadata.

use core::fmt;

/// How far a permission reaches once a role holds it (R13, R11).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Reach {
    /// Narrowed by the grant's store access: the usual case.
    Scoped,
    /// Not narrowed by store access: a store manager listing every team member (R13).
    AccountWide,
    /// Scoped, but account-wide when the account is billed and settled at entity level
    /// (accountant-style billing views, R13).
    EntityBilling,
    /// Scoped, and withheld altogether when the account is billed and settled at entity level
    /// (a store manager's view of store invoices, which then do not exist).
    StoreBilling,
    /// Only the account owner holds it, whatever the role says (signing documents, R11). Not
    /// narrowed by store access: the owner's grant covers every store.
    OwnerOnly,
}

/// One permission of a catalog: its flag, name, area (the tab or section an admin screen groups it
/// under), description and [`Reach`].
#[derive(Clone, Copy, Debug)]
pub struct PermissionInfo<P: 'static> {
    flag: P,
    name: &'static str,
    area: &'static str,
    description: &'static str,
    reach: Reach,
}

impl<P: Copy> PermissionInfo<P> {
    /// Describes one flag. Catalogs are normally written with [`permission_catalog!`](crate::permission_catalog).
    pub const fn new(
        flag: P,
        name: &'static str,
        area: &'static str,
        description: &'static str,
        reach: Reach,
    ) -> Self {
        Self {
            flag,
            name,
            area,
            description,
            reach,
        }
    }

    /// The flag (exactly one bit).
    pub fn flag(&self) -> P {
        self.flag
    }

    /// The flag's name, as written in text (`MANAGE_USERS`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The name an admin screen shows: the flag's name in words (`Manage users`).
    /// [`Catalog::parse`] takes it as well as the flag's name.
    ///
    /// ```
    /// use shopguard::Catalog;
    /// use shopguard::catalog::pos::Pos;
    ///
    /// let info = Pos::info(Pos::VIEW_REPORTS).ok_or("no such flag")?;
    /// assert_eq!(info.display_name(), "View reports");
    /// assert_eq!(Pos::parse("view reports")?, Pos::VIEW_REPORTS);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn display_name(&self) -> String {
        let words = self.name.replace('_', " ").to_lowercase();
        let mut chars = words.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => words,
        }
    }

    /// Whether `text` names this flag: its name or its display name, ignoring ASCII case.
    fn is_named(&self, text: &str) -> bool {
        let (name, text) = (self.name.as_bytes(), text.as_bytes());
        name.len() == text.len()
            && name
                .iter()
                .zip(text)
                .all(|(&n, &t)| n.eq_ignore_ascii_case(&t) || (n == b'_' && t == b' '))
    }

    /// The area (tab, section) the permission belongs to.
    pub fn area(&self) -> &'static str {
        self.area
    }

    /// What the permission lets its holder do.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// How far the permission reaches.
    pub fn reach(&self) -> Reach {
        self.reach
    }
}

/// Which permissions of a catalog administer users, roles, stores, sources and sales channels
/// (R6–R10, R20).
///
/// An empty field means no one can do that through [`Engine::apply`](crate::Engine::apply).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AdminPermissions<P> {
    /// See users (listings and search, R20); store-scoped unless account-wide.
    pub view_users: P,
    /// Create and invite users (R9).
    pub create_users: P,
    /// Amend, enable and disable users.
    pub edit_users: P,
    /// Delete users.
    pub delete_users: P,
    /// See, create, edit, rename and delete roles (R6, R7).
    pub manage_roles: P,
    /// See every store's name, whatever the holder's store access (a store directory, R20).
    pub view_stores: P,
    /// Open, rename and close (delete) stores. Renaming or closing a store needs the permission
    /// at that store; opening one needs it at all stores (a store-limited holder manages only
    /// its own stores).
    pub manage_stores: P,
    /// Create, edit and delete sources: at that source, or at all sources to create one.
    pub manage_sources: P,
    /// Create, edit and delete sales channels: at that channel, or at all channels to create
    /// one.
    pub manage_channels: P,
}

impl<P: bitflags::Flags> AdminPermissions<P> {
    /// Nothing administers anything.
    pub fn none() -> Self {
        AdminPermissions {
            view_users: P::empty(),
            create_users: P::empty(),
            edit_users: P::empty(),
            delete_users: P::empty(),
            manage_roles: P::empty(),
            view_stores: P::empty(),
            manage_stores: P::empty(),
            manage_sources: P::empty(),
            manage_channels: P::empty(),
        }
    }
}

/// The CSV template a catalog's users are uploaded and downloaded in (R18, the `csv`
/// feature's `import` module): its columns, in order.
///
/// Seed 003's OMS assigns no stores to users (a role's store ceiling narrows it), so its
/// template has no Stores column and a user it creates holds its role at every store. A
/// catalog whose users are assigned to stores (a POS cashier at one outlet) uses a template
/// with a Stores column: store names or ids, or `All` spelled out; an empty cell is never all
/// stores.
///
/// ```
/// use shopguard::{Catalog, UserTemplate};
/// use shopguard::catalog::{oms::Oms, pos::Pos};
///
/// assert_eq!(Oms::user_template(), UserTemplate::Oms);
/// assert_eq!(
///     Pos::user_template().columns(),
///     ["Username", "E-mail", "Enabled", "Timezone", "Role", "Stores", "Action"]
/// );
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum UserTemplate {
    /// Seed 003's template, exactly: Username, E-mail, Enabled, Access all sales channels,
    /// Access all sources, Timezone, Role, Sources, Action. The default.
    Oms,
    /// Username, E-mail, Enabled, Timezone, Role, Stores, Action: users assigned to stores,
    /// with no sources or sales channels (the POS and the payments portal).
    Stores,
    /// Username, E-mail, Enabled, Access all sales channels, Timezone, Role, Stores, Action:
    /// users assigned to stores, with all sales channels or none (the omnichannel back
    /// office).
    StoresAndChannels,
}

impl UserTemplate {
    /// The template's columns, in order: its header line.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            UserTemplate::Oms => &[
                "Username",
                "E-mail",
                "Enabled",
                "Access all sales channels",
                "Access all sources",
                "Timezone",
                "Role",
                "Sources",
                "Action",
            ],
            UserTemplate::Stores => &[
                "Username", "E-mail", "Enabled", "Timezone", "Role", "Stores", "Action",
            ],
            UserTemplate::StoresAndChannels => &[
                "Username",
                "E-mail",
                "Enabled",
                "Access all sales channels",
                "Timezone",
                "Role",
                "Stores",
                "Action",
            ],
        }
    }
}

/// A permission catalog: a `bitflags` type over `u64` whose flags each carry a
/// [`PermissionInfo`].
///
/// Names and bit positions are both storage formats. Records, audit records and API bodies
/// hold the flags' names (`["SELL", "VIEW_REPORTS"]`): never rename a flag. Stores written
/// before names were hold bit masks, read as well: never renumber a flag either, only append
/// new ones. Unknown names are refused, and stored masks are decoded with
/// [`Catalog::from_stored_bits`], which refuses unknown bits (an unknown name or bit could
/// grant a permission from a future version).
///
/// Write one with [`permission_catalog!`](crate::permission_catalog); ready catalogs for the
/// four seed systems are in [`catalog`](crate::catalog).
pub trait Catalog:
    bitflags::Flags<Bits = u64> + Copy + Eq + fmt::Debug + Send + Sync + 'static
{
    /// Every permission, in bit order.
    fn permissions() -> &'static [PermissionInfo<Self>];

    /// Which permissions administer users and roles.
    fn admin() -> AdminPermissions<Self> {
        AdminPermissions::none()
    }

    /// The CSV template its users are uploaded and downloaded in (R18): seed 003's unless the
    /// catalog names another (`csv_template: Stores;` in
    /// [`permission_catalog!`](crate::permission_catalog)).
    fn user_template() -> UserTemplate {
        UserTemplate::Oms
    }

    /// The metadata of a single flag, or `None` if `flag` is not exactly one known flag.
    fn info(flag: Self) -> Option<&'static PermissionInfo<Self>> {
        Self::permissions().iter().find(|p| p.flag == flag)
    }

    /// The union of every permission with the given reach.
    fn with_reach(reach: Reach) -> Self {
        Self::permissions()
            .iter()
            .filter(|p| p.reach == reach)
            .fold(Self::empty(), |acc, p| acc.union(p.flag))
    }

    /// Decodes a stored mask.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if `bits` has a bit this
    /// catalog does not define.
    fn from_stored_bits(bits: u64) -> Result<Self, crate::Error> {
        Self::from_bits(bits).ok_or_else(|| crate::Error::unknown_permission_bits(bits))
    }

    /// Parses `A | B` text of permission names: each the flag's name (`VIEW_REPORTS`) or its
    /// [display name](PermissionInfo::display_name) (`View reports`), ignoring ASCII case.
    /// Strict: an unknown or empty name, raw hex bits, or a name that fits two flags (a
    /// catalog whose names differ only by case) are refused. Blank text is no permission.
    ///
    /// ```
    /// use shopguard::Catalog;
    /// use shopguard::catalog::pos::Pos;
    ///
    /// assert_eq!(Pos::parse("SELL | view reports")?, Pos::SELL | Pos::VIEW_REPORTS);
    /// assert_eq!(Pos::parse("Open register")?, Pos::OPEN_REGISTER);
    /// assert!(Pos::parse("SELL | 0x8").is_err());
    /// assert!(Pos::parse("view  reports").is_err());
    /// assert!(Pos::parse("SELL |").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the text that did not
    /// parse.
    fn parse(text: &str) -> Result<Self, crate::Error> {
        let refuse = |reason: String| crate::Error::invalid_permission_text(text, &reason);
        if text.trim().is_empty() {
            return Ok(Self::empty());
        }
        let mut out = Self::empty();
        for part in text.split('|').map(str::trim) {
            if part.is_empty() {
                return Err(refuse("a permission name is empty".to_owned()));
            }
            let mut named = Self::permissions().iter().filter(|p| p.is_named(part));
            match (named.next(), named.next()) {
                (Some(info), None) => out = out.union(info.flag),
                (Some(_), Some(_)) => {
                    return Err(refuse(format!("`{part}` names more than one permission")));
                }
                (None, _) => return Err(refuse(format!("`{part}` names no permission"))),
            }
        }
        Ok(out)
    }

    /// The names of the flags in `self`, in bit order (`["SELL", "VIEW_REPORTS"]`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if `self` has a bit the
    /// catalog does not define (made with `from_bits_retain`): it has no name.
    fn names(self) -> Result<Vec<&'static str>, crate::Error> {
        Self::from_stored_bits(self.bits())?;
        Ok(Self::permissions()
            .iter()
            .filter(|p| self.contains(p.flag))
            .map(|p| p.name)
            .collect())
    }
}

/// Serde for permissions by their catalog names: a list of names
/// (`["SELL", "VIEW_REPORTS"]`), for a host's own JSON with `#[serde(with =
/// "shopguard::permission_names")]`. Reading also takes the stored bit mask (`9`) and `A | B`
/// text; unknown names and bits are refused either way.
///
/// A catalog's own serde form is the same in text formats such as JSON (stored records, the
/// audit, API bodies): names are written, and names, text and masks are read. Binary formats
/// (where `is_human_readable` is false) write and read the bit mask.
///
/// ```
/// use shopguard::catalog::pos::Pos;
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Grant {
///     #[serde(with = "shopguard::permission_names")]
///     permissions: Pos,
/// }
///
/// let json = serde_json::to_string(&Grant { permissions: Pos::SELL | Pos::VIEW_REPORTS })?;
/// assert_eq!(json, r#"{"permissions":["SELL","VIEW_REPORTS"]}"#);
/// let old: Grant = serde_json::from_str(r#"{"permissions":9}"#)?;
/// assert_eq!(old.permissions, Pos::SELL | Pos::VIEW_REPORTS);
/// assert!(serde_json::from_str::<Grant>(r#"{"permissions":["SELL","FLY"]}"#).is_err());
/// assert!(serde_json::from_str::<Grant>(r#"{"permissions":256}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod permission_names {
    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::ser::{Error as _, Serializer};

    use super::Catalog;

    /// Writes the permissions as a list of their names.
    ///
    /// # Errors
    ///
    /// The serializer's, or an error if `permissions` has a bit the catalog does not define.
    pub fn serialize<P: Catalog, S: Serializer>(permissions: &P, s: S) -> Result<S::Ok, S::Error> {
        let names = permissions.names().map_err(S::Error::custom)?;
        s.collect_seq(names)
    }

    /// Reads a list of names, `A | B` text, or a bit mask.
    ///
    /// # Errors
    ///
    /// The deserializer's, or an error naming an unknown name or bit.
    pub fn deserialize<'de, P: Catalog, D: Deserializer<'de>>(d: D) -> Result<P, D::Error> {
        if d.is_human_readable() {
            d.deserialize_any(Permissions(core::marker::PhantomData))
        } else {
            d.deserialize_u64(Permissions(core::marker::PhantomData))
        }
    }

    struct Permissions<P>(core::marker::PhantomData<P>);

    impl<'de, P: Catalog> Visitor<'de> for Permissions<P> {
        type Value = P;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("permission names, `A | B` text, or a permission bit mask")
        }

        fn visit_u64<E: de::Error>(self, bits: u64) -> Result<P, E> {
            P::from_stored_bits(bits).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, bits: i64) -> Result<P, E> {
            let bits = u64::try_from(bits).map_err(|_| E::custom("negative permission mask"))?;
            self.visit_u64(bits)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<P, E> {
            P::parse(text).map_err(E::custom)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<P, A::Error> {
            let mut out = P::empty();
            while let Some(name) = seq.next_element::<String>()? {
                if name.contains('|') {
                    return Err(de::Error::custom(format!("`{name}` is not one name")));
                }
                let one = P::parse(&name).map_err(de::Error::custom)?;
                if one.is_empty() {
                    return Err(de::Error::custom("a permission name is empty"));
                }
                out = out.union(one);
            }
            Ok(out)
        }
    }
}

/// Defines a permission catalog: a `bitflags` type over `u64` with a [`Catalog`] impl.
///
/// Each line is `NAME = bit, "Area", Reach, "description";`. Names and bits are storage
/// formats: append, never rename or renumber. An optional `admin { … }` block names the
/// [`AdminPermissions`], and an optional `csv_template: Stores;` line the [`UserTemplate`]
/// (seed 003's by default).
///
/// ```
/// use shopguard::{permission_catalog, Catalog, Reach};
///
/// permission_catalog! {
///     /// What staff of a kiosk may do.
///     pub struct Kiosk {
///         SELL = 0, "Register", Scoped, "Make sales";
///         LIST_STAFF = 1, "Staff", AccountWide, "See every member of staff";
///         STAFF = 2, "Staff", Scoped, "Hire, amend and let go of staff";
///     }
///     admin {
///         view_users: LIST_STAFF,
///         create_users: STAFF,
///         edit_users: STAFF,
///         delete_users: STAFF,
///     }
///     csv_template: Stores;
/// }
///
/// assert_eq!(Kiosk::permissions().len(), 3);
/// assert_eq!(Kiosk::info(Kiosk::LIST_STAFF).map(|p| p.reach()), Some(Reach::AccountWide));
/// assert_eq!(Kiosk::parse("SELL | LIST_STAFF")?, Kiosk::SELL | Kiosk::LIST_STAFF);
/// assert_eq!(Kiosk::admin().create_users, Kiosk::STAFF);
/// assert!(Kiosk::admin().manage_roles.is_empty());
/// assert_eq!(Kiosk::user_template(), shopguard::UserTemplate::Stores);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[macro_export]
macro_rules! permission_catalog {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $flag:ident = $bit:literal, $area:literal, $reach:ident, $desc:literal; )*
        }
        $( admin { $( $what:ident : $( $admin_flag:ident )|+ ),* $(,)? } )?
        $( csv_template: $template:ident; )?
    ) => {
        $crate::__private::bitflags::bitflags! {
            $(#[$meta])*
            #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
            $vis struct $name: u64 {
                $(
                    #[doc = $desc]
                    const $flag = 1u64 << $bit;
                )*
            }
        }

        impl $crate::Catalog for $name {
            fn permissions() -> &'static [$crate::PermissionInfo<Self>] {
                const PERMISSIONS: &[$crate::PermissionInfo<$name>] = &[
                    $(
                        $crate::PermissionInfo::new(
                            $name::$flag,
                            stringify!($flag),
                            $area,
                            $desc,
                            $crate::Reach::$reach,
                        ),
                    )*
                ];
                PERMISSIONS
            }

            $(
                #[allow(
                    clippy::needless_update,
                    reason = "a catalog may name every field or only some"
                )]
                fn admin() -> $crate::AdminPermissions<Self> {
                    $crate::AdminPermissions {
                        $( $what: $( $name::$admin_flag )|+ , )*
                        ..$crate::AdminPermissions::none()
                    }
                }
            )?

            $(
                fn user_template() -> $crate::UserTemplate {
                    $crate::UserTemplate::$template
                }
            )?
        }

        // Stored, audited and sent by the flags' names in text formats (JSON); the bit mask in
        // binary ones. A name or bit the catalog does not define is refused either way.
        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    $crate::permission_names::serialize(self, serializer)
                } else {
                    serializer.serialize_u64(self.bits())
                }
            }
        }

        // Reads names, `A | B` text and the bit mask that stores written before names were
        // (and binary formats) hold.
        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                $crate::permission_names::deserialize(deserializer)
            }
        }
    };
}
