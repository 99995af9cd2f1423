//! Where databases live: a SQLite file per tenant, or a PostgreSQL database per tenant.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use url::Url;

use crate::error::StoreError;
use crate::ids::TenantId;

/// Most connections a node holds to one database (the catalog, or one
/// tenant's); with the bound on open tenants, this bounds a node's total.
pub const CONNECTIONS_PER_DATABASE: u32 = 4;
/// A connection unused this long is closed: an idle tenant holds none.
const IDLE_CONNECTION_CLOSE: Duration = Duration::from_secs(60);

/// The storage backend, chosen by the database URL.
#[derive(Debug, Clone)]
pub enum Backend {
    /// `sqlite://DIR`: `DIR/catalog.db` and `DIR/tenants/{tenant}.db`.
    Sqlite {
        /// Folder holding the files.
        dir: PathBuf,
    },
    /// `postgres://…`: database `{prefix}` for the catalog and `{prefix}_t_{tenant}` per tenant.
    Postgres {
        /// Server URL (its path is replaced by each database name).
        server: Url,
        /// Database name prefix.
        prefix: String,
    },
}

impl Backend {
    /// Reads a database URL: `sqlite://DIR` or `postgres://user@host:port`.
    pub fn from_url(url: &str, prefix: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        if let Some(dir) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            return Ok(Self::Sqlite {
                dir: PathBuf::from(dir),
            });
        }
        let parsed = Url::parse(url)
            .map_err(|e| StoreError::Invalid(format!("invalid database url: {e}")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(StoreError::Invalid(format!(
                "unsupported database url scheme `{}` (use sqlite:// or postgres://)",
                parsed.scheme()
            )));
        }
        let valid_prefix = !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_prefix {
            return Err(StoreError::Invalid(format!(
                "invalid database prefix `{prefix}`"
            )));
        }
        Ok(Self::Postgres {
            server: parsed,
            prefix: prefix.to_owned(),
        })
    }

    /// The catalog database's URL on PostgreSQL, for a connection of its
    /// own (change wake-ups); `None` on SQLite.
    pub fn catalog_url(&self) -> Option<String> {
        let Self::Postgres { server, prefix } = self else {
            return None;
        };
        let mut url = server.clone();
        url.set_path(prefix);
        Some(url.to_string())
    }

    /// Opens (creating if needed) the tenant catalog; the caller migrates it
    /// ([`crate::migrate_catalog`]).
    pub async fn catalog_pool(&self) -> Result<AnyPool, StoreError> {
        let pool = match self {
            Self::Sqlite { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
                sqlite_pool(&dir.join("catalog.db")).await?
            }
            Self::Postgres { prefix, .. } => self.postgres_pool(prefix, true).await?,
        };
        Ok(pool)
    }

    /// Opens a tenant's database, creating it when `create` is set; the
    /// caller migrates it ([`crate::migrate_tenant`]).
    pub async fn tenant_pool(
        &self,
        tenant: &TenantId,
        create: bool,
    ) -> Result<AnyPool, StoreError> {
        let pool = match self {
            Self::Sqlite { dir } => {
                let tenants = dir.join("tenants");
                std::fs::create_dir_all(&tenants).map_err(|e| io_error(&tenants, e))?;
                let file = tenants.join(format!("{tenant}.db"));
                if !create && !file.exists() {
                    return Err(StoreError::NotFound(format!(
                        "database of tenant `{tenant}`"
                    )));
                }
                sqlite_pool(&file).await?
            }
            Self::Postgres { prefix, .. } => {
                let name = format!("{prefix}_t_{}", tenant.as_str().replace('-', "_"));
                self.postgres_pool(&name, create).await?
            }
        };
        Ok(pool)
    }

    async fn postgres_pool(&self, database: &str, create: bool) -> Result<AnyPool, StoreError> {
        let Self::Postgres { server, .. } = self else {
            return Err(StoreError::Invalid("not a PostgreSQL backend".into()));
        };
        if create {
            create_postgres_database(server, database).await?;
        }
        let mut url = server.clone();
        url.set_path(database);
        Ok(AnyPoolOptions::new()
            .max_connections(CONNECTIONS_PER_DATABASE)
            .min_connections(0)
            .idle_timeout(IDLE_CONNECTION_CLOSE)
            .acquire_timeout(Duration::from_secs(5))
            .after_release(|conn, _| Box::pin(reusable(conn)))
            .connect(url.as_str())
            .await?)
    }
}

async fn create_postgres_database(server: &Url, database: &str) -> Result<(), StoreError> {
    let mut admin_url = server.clone();
    admin_url.set_path("postgres");
    let admin = AnyPoolOptions::new()
        .max_connections(1)
        .connect(admin_url.as_str())
        .await?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(database)
        .fetch_optional(&admin)
        .await?;
    if exists.is_none() {
        // The name is built from a checked tenant id and prefix: safe to quote in.
        let created = admin
            .execute(format!("CREATE DATABASE \"{database}\"").as_str())
            .await;
        match created {
            Ok(_) => {}
            // Another node created it first.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e.into()),
        }
    }
    admin.close().await;
    Ok(())
}

async fn sqlite_pool(file: &Path) -> Result<AnyPool, StoreError> {
    let url = format!("sqlite://{}?mode=rwc", file.display());
    Ok(AnyPoolOptions::new()
        .max_connections(CONNECTIONS_PER_DATABASE)
        .min_connections(0)
        .idle_timeout(IDLE_CONNECTION_CLOSE)
        .acquire_timeout(Duration::from_secs(5))
        .after_release(|conn, _| Box::pin(reusable(conn)))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?)
}

/// How long a released connection's pending rollback may take before the
/// connection is closed instead of reused.
const RELEASE_PING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a connection handed back to the pool may serve again: not while a
/// transaction is still open on it once any rollback queued by a dropped
/// transaction has run. A failed write (a full disk, say) can leave the
/// database and the driver disagreeing about the transaction; the next
/// `begin` would then open a savepoint inside a transaction that never
/// commits, and writes reported as committed would be lost. Such a
/// connection is closed instead, which rolls back whatever it held.
async fn reusable(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // A server that stopped answering must not hold the connection's slot.
    match tokio::time::timeout(RELEASE_PING_WAIT, conn.ping()).await {
        Ok(pinged) => pinged?,
        Err(_) => return Ok(false),
    }
    if conn.is_in_transaction() {
        tracing::warn!("a database connection left inside a failed transaction is closed");
        return Ok(false);
    }
    Ok(true)
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("cannot use `{}`: {e}", path.display()))
}
