//! How connections are made: in the clear, or over TLS with [`PgTls`] (feature `postgres-tls`).

use postgres::{Client, Config, NoTls};

#[cfg(feature = "postgres-tls")]
use crate::Error;

/// How connections are made: in the clear, or over TLS.
#[derive(Clone)]
pub(super) enum Connector {
    Plain,
    #[cfg(feature = "postgres-tls")]
    Tls(postgres_native_tls::MakeTlsConnector),
}

impl Connector {
    pub(super) fn connect(&self, config: &Config) -> Result<Client, postgres::Error> {
        match self {
            Connector::Plain => config.connect(NoTls),
            #[cfg(feature = "postgres-tls")]
            Connector::Tls(tls) => config.connect(tls.clone()),
        }
    }
}

/// TLS settings for [`PgStorage::connect_tls`](super::PgStorage::connect_tls) (feature
/// `postgres-tls`): which certificate authorities to trust. Uses the platform's TLS library
/// (OpenSSL on Linux).
///
/// # Example
///
/// ```no_run
/// use shopguard::catalog::pos::Pos;
/// use shopguard::storage::{PgStorage, PgTls};
/// use shopguard::Engine;
///
/// let ca = std::fs::read("/etc/shop/db-ca.pem")?;
/// let tls = PgTls::with_root_certificate(&ca)?;
/// let url = "host=db.shop.internal user=shop dbname=shop";
/// let engine = Engine::<Pos>::open(PgStorage::connect_tls(url, "shopguard", &tls)?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "postgres-tls")]
#[derive(Clone)]
pub struct PgTls(pub(super) postgres_native_tls::MakeTlsConnector);

#[cfg(feature = "postgres-tls")]
impl PgTls {
    /// Trusts the system's certificate authorities.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the TLS library cannot be set up.
    pub fn system_roots() -> Result<Self, Error> {
        Self::build(None)
    }

    /// Trusts the certificate authority in `pem` (a private CA, say), besides the system's.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if `pem` is not a PEM
    /// certificate; [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the TLS library cannot
    /// be set up.
    pub fn with_root_certificate(pem: &[u8]) -> Result<Self, Error> {
        let cert = native_tls::Certificate::from_pem(pem).map_err(|_| {
            Error::invalid("root certificate", "(not shown)", "not a PEM certificate")
        })?;
        Self::build(Some(cert))
    }

    fn build(root: Option<native_tls::Certificate>) -> Result<Self, Error> {
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(root) = root {
            builder.add_root_certificate(root);
        }
        let connector = builder.build().map_err(Error::storage)?;
        Ok(PgTls(postgres_native_tls::MakeTlsConnector::new(connector)))
    }
}

#[cfg(feature = "postgres-tls")]
impl core::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PgTls").finish_non_exhaustive()
    }
}
