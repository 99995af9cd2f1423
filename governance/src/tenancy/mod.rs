//! Tenancy: the catalog of organisations and each one's loaded state, looked up per request.

mod bundles;
mod bus;
mod changes;
mod identity;
mod snapshot;
mod tenant;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hms_audit_ledger::store::{Ledger, LedgerError, WriterOptions};
use hms_directory::{Backend, Catalog, StoreError, TenantId, TenantRecord, TenantStore};
use hms_keys::MasterKey;

pub use bundles::{from_dir as bundle_from_dir, hms_default as hms_bundle};
pub use bus::ChangeBus;
pub use changes::FEED_RETENTION;
pub use identity::IdentityState;
pub use snapshot::EntityMapper;
pub use tenant::{ChangeError, DirectoryChange, Tenant};

use crate::audit::{self, Provenance};

/// What every tenant is opened with.
#[derive(Debug, Clone)]
pub struct TenancySettings {
    /// Seals each tenant's signing keys and secrets at rest.
    pub master_key: MasterKey,
    /// Tenant `t`'s ledger is named `{origin_prefix}/t` in its checkpoints.
    pub origin_prefix: String,
    /// Where callers reach the service: tenant `t` issues its tokens as `{public_base}/t`.
    pub public_base: String,
}

impl TenancySettings {
    /// Opens a tenant's ledger in its database.
    pub async fn open(&self, store: &TenantStore, tenant: &str) -> Result<Ledger, LedgerError> {
        let origin = format!("{}/{tenant}", self.origin_prefix);
        let pool = store.pool().clone();
        Ledger::open(pool, &origin, &self.master_key, WriterOptions::default()).await
    }
}

/// Brings a tenant database up to date: the directory's, the ledger's, the
/// provisioning and the identity tables, in one migration run.
pub async fn migrate(pool: &sqlx::AnyPool) -> Result<(), StoreError> {
    hms_directory::migrate_tenant(
        pool,
        &[
            hms_audit_ledger::store::migrations,
            hms_scim::store::migrations,
            hms_idp_bridge::store::migrations,
        ],
    )
    .await
}

/// How often an unknown tenant id may trigger a catalog re-read.
const CATALOG_RECHECK: Duration = Duration::from_secs(2);

/// Every tenant this node serves.
pub struct Tenants {
    backend: Backend,
    settings: TenancySettings,
    catalog: Catalog,
    bus: Arc<ChangeBus>,
    loaded: ArcSwap<HashMap<String, Arc<Tenant>>>,
    last_catalog_read: tokio::sync::Mutex<Option<Instant>>,
}

impl Tenants {
    /// Opens the catalog and every tenant in it.
    pub async fn open(backend: Backend, settings: TenancySettings) -> Result<Self, ChangeError> {
        let catalog_pool = backend.catalog_pool().await?;
        let bus = Arc::new(ChangeBus::new(&backend, &catalog_pool));
        let catalog = Catalog::new(catalog_pool);
        let tenants = Self {
            backend,
            settings,
            catalog,
            bus,
            loaded: ArcSwap::from_pointee(HashMap::new()),
            last_catalog_read: tokio::sync::Mutex::new(None),
        };
        tenants.load_new_tenants().await?;
        Ok(tenants)
    }

    /// The catalog database's URL on PostgreSQL (where nodes coordinate); `None` on SQLite.
    pub fn catalog_url(&self) -> Option<String> {
        self.backend.catalog_url()
    }

    /// The master key sealing the tenants' signing keys.
    pub fn master_key(&self) -> &MasterKey {
        &self.settings.master_key
    }

    /// The tenant named in a request path, if it exists.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<Tenant>>, ChangeError> {
        if let Some(tenant) = self.loaded.load().get(id) {
            return Ok(Some(Arc::clone(tenant)));
        }
        if id.parse::<TenantId>().is_err() {
            return Ok(None);
        }
        // Another process (the CLI, another node) may have created it.
        let mut last = self.last_catalog_read.lock().await;
        if last.is_none_or(|at| at.elapsed() >= CATALOG_RECHECK) {
            *last = Some(Instant::now());
            self.load_new_tenants().await?;
        }
        Ok(self.loaded.load().get(id).cloned())
    }

    /// Registers a tenant, creates its database, keys and ledger and starts serving it.
    pub async fn create(
        &self,
        id: &TenantId,
        display_name: &str,
        utc_offset_minutes: i64,
        by: &Provenance,
    ) -> Result<Arc<Tenant>, ChangeError> {
        if self.catalog.list().await?.iter().any(|t| &t.id == id) {
            return Err(StoreError::Conflict(format!("tenant `{id}`")).into());
        }
        let pool = self.backend.tenant_pool(id, true).await?;
        migrate(&pool).await?;
        let store = TenantStore::new(pool);
        let record = self
            .catalog
            .insert(id, display_name, utc_offset_minutes)
            .await?;
        let tenant =
            Arc::new(Tenant::open(record, store, &self.settings, Arc::clone(&self.bus)).await?);
        tenant
            .ledger
            .append(audit::tenant_created_event(by, id.as_str(), display_name))
            .await?;
        self.insert(Arc::clone(&tenant));
        Ok(tenant)
    }

    /// Every tenant in the catalog.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, ChangeError> {
        Ok(self.catalog.list().await?)
    }

    /// Every tenant this node serves now.
    fn served(&self) -> Vec<Arc<Tenant>> {
        self.loaded.load().values().cloned().collect()
    }

    /// Tenant `id` if this node serves it now.
    fn served_tenant(&self, id: &str) -> Option<Arc<Tenant>> {
        self.loaded.load().get(id).cloned()
    }

    /// Whether the catalog and every tenant database answer.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.catalog.ping().await?;
        for tenant in self.loaded.load().values() {
            tenant.store.ping().await?;
        }
        Ok(())
    }

    /// Waits until everything queued for any tenant's ledger is durable; at shutdown.
    pub async fn flush_ledgers(&self) {
        for tenant in self.loaded.load().values() {
            if let Err(error) = tenant.ledger.flush().await {
                tracing::error!(tenant = tenant.id(), %error, "queued ledger entries not recorded");
            }
        }
    }

    async fn load_new_tenants(&self) -> Result<(), ChangeError> {
        for record in self.catalog.list().await? {
            if self.loaded.load().contains_key(record.id.as_str()) {
                continue;
            }
            let pool = self.backend.tenant_pool(&record.id, false).await?;
            migrate(&pool).await?;
            let store = TenantStore::new(pool);
            let tenant =
                Arc::new(Tenant::open(record, store, &self.settings, Arc::clone(&self.bus)).await?);
            self.insert_if_absent(tenant);
        }
        Ok(())
    }

    /// Serves `tenant` unless it is served already: a tenant that
    /// [`Tenants::create`] finished while this node was opening it keeps the
    /// instance create made (and the clients created on it).
    fn insert_if_absent(&self, tenant: Arc<Tenant>) {
        self.loaded.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.entry(tenant.id().to_owned())
                .or_insert_with(|| Arc::clone(&tenant));
            next
        });
    }

    fn insert(&self, tenant: Arc<Tenant>) {
        self.loaded.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.insert(tenant.id().to_owned(), Arc::clone(&tenant));
            next
        });
    }
}
