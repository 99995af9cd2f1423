//! Tenancy: the catalog of organisations and each one's loaded state, looked up per request.

mod bundles;
mod snapshot;
mod tenant;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hms_directory::{Backend, Catalog, StoreError, TenantId, TenantRecord, TenantStore};

pub use bundles::{from_dir as bundle_from_dir, hms_default as hms_bundle};
pub use snapshot::EntityMapper;
pub use tenant::{ChangeError, Tenant};

/// How often an unknown tenant id may trigger a catalog re-read.
const CATALOG_RECHECK: Duration = Duration::from_secs(2);

/// Every tenant this node serves.
pub struct Tenants {
    backend: Backend,
    catalog: Catalog,
    loaded: ArcSwap<HashMap<String, Arc<Tenant>>>,
    last_catalog_read: tokio::sync::Mutex<Option<Instant>>,
}

impl Tenants {
    /// Opens the catalog and every tenant in it.
    pub async fn open(backend: Backend) -> Result<Self, ChangeError> {
        let catalog = Catalog::new(backend.catalog_pool().await?);
        let tenants = Self {
            backend,
            catalog,
            loaded: ArcSwap::from_pointee(HashMap::new()),
            last_catalog_read: tokio::sync::Mutex::new(None),
        };
        tenants.load_new_tenants().await?;
        Ok(tenants)
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

    /// Registers a tenant, creates its database and starts serving it.
    pub async fn create(
        &self,
        id: &TenantId,
        display_name: &str,
        utc_offset_minutes: i64,
    ) -> Result<Arc<Tenant>, ChangeError> {
        if self.catalog.list().await?.iter().any(|t| &t.id == id) {
            return Err(StoreError::Conflict(format!("tenant `{id}`")).into());
        }
        let store = TenantStore::new(self.backend.tenant_pool(id, true).await?);
        let record = self
            .catalog
            .insert(id, display_name, utc_offset_minutes)
            .await?;
        let tenant = Arc::new(Tenant::open(record, store).await?);
        self.insert(Arc::clone(&tenant));
        Ok(tenant)
    }

    /// Every tenant in the catalog.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, ChangeError> {
        Ok(self.catalog.list().await?)
    }

    /// Whether the catalog and every tenant database answer.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.catalog.ping().await?;
        for tenant in self.loaded.load().values() {
            tenant.store.ping().await?;
        }
        Ok(())
    }

    async fn load_new_tenants(&self) -> Result<(), ChangeError> {
        for record in self.catalog.list().await? {
            if self.loaded.load().contains_key(record.id.as_str()) {
                continue;
            }
            let store = TenantStore::new(self.backend.tenant_pool(&record.id, false).await?);
            self.insert(Arc::new(Tenant::open(record, store).await?));
        }
        Ok(())
    }

    fn insert(&self, tenant: Arc<Tenant>) {
        self.loaded.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.insert(tenant.id().to_owned(), Arc::clone(&tenant));
            next
        });
    }
}
