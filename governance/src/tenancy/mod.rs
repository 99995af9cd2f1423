//! Tenancy: the catalog of organisations and each one's loaded state, looked up per request.

mod bundles;
mod bus;
mod changes;
mod entities;
mod identity;
mod snapshot;
mod stored;
mod tenant;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hms_audit_ledger::store::{Ledger, LedgerError, WriterOptions};
use hms_directory::{Backend, Catalog, StoreError, TenantId, TenantRecord, TenantStore};
use hms_keys::MasterKey;

pub use bundles::{from_dir as bundle_from_dir, hms_default as hms_bundle};
pub use bus::ChangeBus;
pub use entities::EntityBatchOutcome;
pub use identity::IdentityState;
pub use snapshot::EntityMapper;
pub use stored::{EntityBatch, VersionedEntity};
pub use tenant::{ChangeError, DirectoryChange, Tenant, request_time_at};

use crate::audit::{self, Provenance};

/// What every tenant is opened with.
#[derive(Debug, Clone)]
pub struct TenancySettings {
    /// Seals each tenant's signing keys and secrets at rest.
    pub master_key: MasterKey,
    /// Most tenants open at once on a node.
    pub max_open: usize,
    /// A tenant unused this long is closed on the node.
    pub idle_close: Duration,
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

/// Every tenant this node serves. A tenant is opened when a request (or
/// scheduled work) first names it and closed again when unused for
/// [`TenancySettings::idle_close`]; at most [`TenancySettings::max_open`]
/// are open at once (the least recently used is closed first), so a node's
/// database connections stay bounded whatever the number of tenants.
pub struct Tenants {
    backend: Backend,
    settings: TenancySettings,
    catalog: Catalog,
    bus: Arc<ChangeBus>,
    /// The platform's own ledger, in the catalog database: tenants created,
    /// suspended and resumed, operator credentials issued.
    platform: Ledger,
    loaded: ArcSwap<HashMap<String, Arc<Tenant>>>,
    /// One lock per tenant being opened, so that each is opened once and a
    /// slow or unreachable tenant database delays no other tenant.
    opening: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Tenants {
    /// Opens the catalog; tenants are opened when first used.
    pub async fn open(backend: Backend, settings: TenancySettings) -> Result<Self, ChangeError> {
        let pool = backend.catalog_pool().await?;
        hms_directory::migrate_catalog(&pool, &[hms_audit_ledger::store::migrations]).await?;
        let origin = format!("{}/{PLATFORM_LEDGER}", settings.origin_prefix);
        let platform = Ledger::open(
            pool.clone(),
            &origin,
            &settings.master_key,
            WriterOptions::default(),
        )
        .await?;
        let catalog = Catalog::new(pool);
        let bus = Arc::new(ChangeBus::new(&backend, catalog.clone()));
        Ok(Self {
            backend,
            settings,
            catalog,
            bus,
            platform,
            loaded: ArcSwap::from_pointee(HashMap::new()),
            opening: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The catalog database's URL on PostgreSQL (where nodes coordinate); `None` on SQLite.
    pub fn catalog_url(&self) -> Option<String> {
        self.backend.catalog_url()
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The platform's ledger.
    pub fn platform(&self) -> &Ledger {
        &self.platform
    }

    /// The master key sealing the tenants' signing keys.
    pub fn master_key(&self) -> &MasterKey {
        &self.settings.master_key
    }

    /// The tenant named in a request path, if it exists; opened if it is not yet.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<Tenant>>, ChangeError> {
        if let Some(tenant) = self.served_tenant(id) {
            tenant.touch();
            return Ok(Some(tenant));
        }
        let Ok(id) = id.parse::<TenantId>() else {
            return Ok(None);
        };
        let turn = self.opening_turn(id.as_str());
        let _opening = turn.lock().await;
        let opened = self.open_once(&id).await;
        self.opening_done(id.as_str(), &turn);
        opened
    }

    /// The lock that whoever opens tenant `id` holds.
    fn opening_turn(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut opening = self.opening.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(opening.entry(id.to_owned()).or_default())
    }

    /// Forgets the lock of tenant `id` once no one else waits on it.
    fn opening_done(&self, id: &str, turn: &Arc<tokio::sync::Mutex<()>>) {
        let mut opening = self.opening.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and the caller's: nobody else is waiting.
        if Arc::strong_count(turn) <= 2 {
            opening.remove(id);
        }
    }

    /// Opens tenant `id` unless another request just did; under its opening lock.
    async fn open_once(&self, id: &TenantId) -> Result<Option<Arc<Tenant>>, ChangeError> {
        if let Some(tenant) = self.served_tenant(id.as_str()) {
            return Ok(Some(tenant));
        }
        let Some(record) = self.catalog.get(id).await? else {
            return Ok(None);
        };
        if record.suspended_at.is_some() {
            return Err(ChangeError::Suspended(id.to_string()));
        }
        let pool = self.backend.tenant_pool(&record.id, false).await?;
        migrate(&pool).await?;
        let store = TenantStore::new(pool);
        let tenant =
            Arc::new(Tenant::open(record, store, &self.settings, Arc::clone(&self.bus)).await?);
        self.insert(Arc::clone(&tenant)).await;
        Ok(Some(tenant))
    }

    /// Registers a tenant, creates its database, keys and ledger and starts serving it.
    pub async fn create(
        &self,
        id: &TenantId,
        display_name: &str,
        utc_offset_minutes: i64,
        by: &Provenance,
    ) -> Result<Arc<Tenant>, ChangeError> {
        if self.catalog.get(id).await?.is_some() {
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
        let created = audit::tenant_created_event(by, id.as_str(), display_name);
        tenant.ledger.append(created.clone()).await?;
        self.platform.append(created).await?;
        self.insert(Arc::clone(&tenant)).await;
        Ok(tenant)
    }

    /// Every tenant in the catalog.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, ChangeError> {
        Ok(self.catalog.list().await?)
    }

    /// Every tenant open on this node now.
    pub fn served(&self) -> Vec<Arc<Tenant>> {
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

    /// Serves `tenant`, closing the least recently used tenants beyond the bound.
    async fn insert(&self, tenant: Arc<Tenant>) {
        self.loaded.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.insert(tenant.id().to_owned(), Arc::clone(&tenant));
            next
        });
        let served = self.served();
        let excess = served.len().saturating_sub(self.settings.max_open);
        let mut by_use: Vec<Arc<Tenant>> = served
            .into_iter()
            .filter(|t| t.id() != tenant.id())
            .collect();
        by_use.sort_by_key(|t| t.last_used());
        for idle in by_use.into_iter().take(excess) {
            self.close(&idle).await;
        }
    }

    /// Suspends tenant `id` (`Some(reason)`) or serves it again (`None`) on
    /// every node; whether that changed anything.
    pub async fn set_suspended(
        &self,
        id: &TenantId,
        reason: Option<&str>,
    ) -> Result<bool, ChangeError> {
        if self.catalog.get(id).await?.is_none() {
            return Err(StoreError::NotFound(format!("tenant `{id}`")).into());
        }
        let changed = self.catalog.set_suspended(id, reason).await?;
        if changed && reason.is_some() {
            if let Some(tenant) = self.served_tenant(id.as_str()) {
                self.close(&tenant).await;
            }
            self.bus.announce_suspension(id.as_str()).await;
        }
        Ok(changed)
    }

    /// Closes the tenants open here that have been suspended (on any node).
    pub(super) async fn close_suspended(&self) -> Result<(), StoreError> {
        let suspended = self.catalog.suspended().await?;
        for tenant in self.served() {
            if suspended.iter().any(|id| id == tenant.id()) {
                self.close(&tenant).await;
            }
        }
        Ok(())
    }

    /// Closes every tenant unused for [`TenancySettings::idle_close`].
    pub async fn close_idle(&self) {
        let idle_close = i64::try_from(self.settings.idle_close.as_secs()).unwrap_or(i64::MAX);
        let cutoff = time::OffsetDateTime::now_utc().unix_timestamp() - idle_close;
        for tenant in self.served() {
            if tenant.last_used() < cutoff {
                self.close(&tenant).await;
            }
        }
    }

    /// Stops serving `tenant`: what its ledger has queued is written first;
    /// its connections close once the requests still using it are done.
    pub(super) async fn close(&self, tenant: &Arc<Tenant>) {
        self.loaded.rcu(|current| {
            let mut next = HashMap::clone(current);
            if next
                .get(tenant.id())
                .is_some_and(|t| Arc::ptr_eq(t, tenant))
            {
                next.remove(tenant.id());
            }
            next
        });
        if let Err(error) = tenant.ledger.flush().await {
            tracing::error!(tenant = tenant.id(), %error, "queued ledger entries not recorded");
        }
        let closing = Arc::clone(tenant);
        tokio::spawn(async move {
            // Requests still holding it finish first (within the grace).
            let started = tokio::time::Instant::now();
            while Arc::strong_count(&closing) > 1 && started.elapsed() < CLOSE_GRACE {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            closing.store.pool().close().await;
        });
        tracing::info!(tenant = tenant.id(), "tenant closed on this node");
    }

    /// Closes idle tenants every minute, for as long as the service runs.
    pub fn close_idle_regularly(self: &Arc<Self>) {
        let tenants = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(60));
            loop {
                interval.tick().await;
                tenants.close_idle().await;
            }
        });
    }
}

/// The platform ledger's name under the ledger origin (no tenant id starts with `_`).
const PLATFORM_LEDGER: &str = "_platform";

/// How long requests still running on a closed tenant may go on using its database.
const CLOSE_GRACE: Duration = Duration::from_secs(30);
