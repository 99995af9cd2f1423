//! One tenant at run time: its store, its PDP (swapped whole on change) and its API clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use hms_authz::{
    BundleError, BundleSource, EntityError, EntitySnapshot, Pdp, PolicyBundle, RequestTime,
};
use hms_directory::{
    ApiClient, Encounter, Patient, PolicyVersion, StaffMember, StoreError, TenantRecord,
    TenantStore,
};
use time::{OffsetDateTime, UtcOffset};

use super::bundles;
use super::snapshot::EntityMapper;
use crate::auth::{ClientTable, Scope, issue_credential};

/// Why a change to a tenant was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The policies do not compile.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The directory does not fit the new schema.
    #[error(transparent)]
    Entities(#[from] EntityError),
    /// A stored bundle could not be read back.
    #[error("stored policy version {0} is unreadable")]
    CorruptVersion(i64),
    /// A client name that cannot be used.
    #[error("a client name is 1 to 100 characters")]
    ClientName,
    /// The secret could not be hashed.
    #[error("cannot hash the client secret")]
    Hashing,
    /// A worker thread failed.
    #[error("background task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// A served tenant.
pub struct Tenant {
    /// Catalog entry.
    pub record: TenantRecord,
    /// Its database.
    pub store: TenantStore,
    pdp: ArcSwap<Pdp>,
    policy_version: AtomicI64,
    clients: ClientTable,
    /// Serialises changes so that each builds on the one before.
    writer: tokio::sync::Mutex<()>,
}

impl Tenant {
    /// Loads the tenant's policies (installing the HMS set on first use), directory and clients.
    pub async fn open(record: TenantRecord, store: TenantStore) -> Result<Self, ChangeError> {
        let version = match store.latest_policy_version().await? {
            Some(version) => version,
            None => {
                let source = serde_json::to_string(&bundles::hms_default()).unwrap_or_default();
                store
                    .insert_policy_version(&source, "system", "HMS base policy set")
                    .await?
            }
        };
        let bundle = compile_version(&version).await?;
        let mapper = EntityMapper::new(&record.id, bundle.options().namespace.as_deref());
        let records = if bundle.options().directory_entities {
            load_directory(&store, &mapper).await?
        } else {
            Vec::new()
        };
        let snapshot = build_snapshot(records, Arc::clone(&bundle)).await?;
        let clients = ClientTable::load(&store).await?;
        Ok(Self {
            pdp: ArcSwap::from_pointee(Pdp::new(bundle, Arc::new(snapshot))),
            policy_version: AtomicI64::new(version.version),
            clients,
            record,
            store,
            writer: tokio::sync::Mutex::new(()),
        })
    }

    /// The tenant id.
    pub fn id(&self) -> &str {
        self.record.id.as_str()
    }

    /// The PDP in force; a change after this call does not affect it.
    pub fn pdp(&self) -> Arc<Pdp> {
        self.pdp.load_full()
    }

    /// The policy version in force.
    pub fn policy_version(&self) -> i64 {
        self.policy_version.load(Ordering::Acquire)
    }

    /// The API clients.
    pub fn clients(&self) -> &ClientTable {
        &self.clients
    }

    /// Issues a new API client; the token is returned here and nowhere else.
    pub async fn create_client(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(ApiClient, String), ChangeError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ChangeError::ClientName);
        }
        let issued = tokio::task::spawn_blocking(issue_credential)
            .await?
            .map_err(|_| ChangeError::Hashing)?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let client = self
            .store
            .insert_client(&issued.client_id, name, &issued.secret_hash, &scopes)
            .await?;
        self.clients.reload(&self.store).await?;
        Ok((client, issued.token))
    }

    /// The PDP clock: now in UTC, and the hour in the tenant's local time.
    pub fn request_time(&self) -> RequestTime {
        let now = OffsetDateTime::now_utc();
        let offset = UtcOffset::from_whole_seconds((self.record.utc_offset_minutes * 60) as i32)
            .unwrap_or(UtcOffset::UTC);
        let utc = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        RequestTime {
            utc,
            local_hour: now.to_offset(offset).hour(),
        }
    }

    /// Compiles `source`, checks the directory still fits, stores it as a new version and puts it in force.
    pub async fn install_policies(
        &self,
        source: BundleSource,
        author: &str,
        comment: &str,
    ) -> Result<PolicyVersion, ChangeError> {
        let _guard = self.writer.lock().await;
        let bundle = compile(source.clone()).await?;
        let snapshot = self.snapshot_for(&bundle).await?;
        let text = serde_json::to_string(&source).unwrap_or_default();
        let version = self
            .store
            .insert_policy_version(&text, author, comment)
            .await?;
        self.pdp
            .store(Arc::new(Pdp::new(bundle, Arc::new(snapshot))));
        self.policy_version
            .store(version.version, Ordering::Release);
        Ok(version)
    }

    /// Compiles `source` against this tenant's directory without storing anything.
    pub async fn check_policies(
        &self,
        source: BundleSource,
    ) -> Result<Arc<PolicyBundle>, ChangeError> {
        let bundle = compile(source).await?;
        self.snapshot_for(&bundle).await?;
        Ok(bundle)
    }

    /// Puts an earlier version back in force, as a new version.
    pub async fn rollback_policies(
        &self,
        to: i64,
        author: &str,
    ) -> Result<PolicyVersion, ChangeError> {
        let old = self.store.policy_version(to).await?;
        let source: BundleSource =
            serde_json::from_str(&old.source).map_err(|_| ChangeError::CorruptVersion(to))?;
        self.install_policies(source, author, &format!("rollback to version {to}"))
            .await
    }

    /// Writes staff and puts the changed entities in force.
    pub async fn upsert_staff(
        &self,
        members: Vec<StaffMember>,
        source: &str,
    ) -> Result<usize, ChangeError> {
        let _guard = self.writer.lock().await;
        let written = self.store.upsert_staff(members, source).await?;
        let ids: Vec<String> = written.iter().map(|m| m.id.clone()).collect();
        let mapper = self.mapper();
        let records = self
            .store
            .load_staff(Some(&ids))
            .await?
            .iter()
            .map(|m| mapper.staff(m))
            .collect();
        self.apply(records).await?;
        Ok(ids.len())
    }

    /// Writes patients and puts the changed entities in force.
    pub async fn upsert_patients(&self, patients: Vec<Patient>) -> Result<usize, ChangeError> {
        let _guard = self.writer.lock().await;
        self.store.upsert_patients(&patients).await?;
        let ids: Vec<String> = patients.iter().map(|p| p.id.clone()).collect();
        self.refresh_patients(&ids).await?;
        Ok(ids.len())
    }

    /// Writes encounters and refreshes the patients they belong to.
    pub async fn upsert_encounters(
        &self,
        encounters: Vec<Encounter>,
    ) -> Result<usize, ChangeError> {
        let _guard = self.writer.lock().await;
        let patients = self.store.upsert_encounters(&encounters).await?;
        self.refresh_patients(&patients).await?;
        Ok(encounters.len())
    }

    async fn refresh_patients(&self, ids: &[String]) -> Result<(), ChangeError> {
        let mapper = self.mapper();
        let records = self
            .store
            .load_patients(Some(ids))
            .await?
            .iter()
            .map(|p| mapper.patient(p))
            .collect();
        self.apply(records).await
    }

    /// Swaps in a snapshot with `records` replaced, when the bundle uses directory entities.
    async fn apply(&self, records: Vec<hms_authz::EntityRecord>) -> Result<(), ChangeError> {
        let current = self.pdp();
        if !current.bundle().options().directory_entities {
            return Ok(());
        }
        let bundle = Arc::clone(current.bundle());
        let snapshot = Arc::clone(current.snapshot());
        let next =
            tokio::task::spawn_blocking(move || snapshot.with_changes(records, &bundle)).await??;
        self.pdp.store(Arc::new(Pdp::new(
            Arc::clone(current.bundle()),
            Arc::new(next),
        )));
        Ok(())
    }

    fn mapper(&self) -> EntityMapper {
        EntityMapper::new(
            &self.record.id,
            self.pdp().bundle().options().namespace.as_deref(),
        )
    }

    /// The directory as entities of `bundle`, validated against its schema.
    async fn snapshot_for(
        &self,
        bundle: &Arc<PolicyBundle>,
    ) -> Result<EntitySnapshot, ChangeError> {
        if !bundle.options().directory_entities {
            return Ok(EntitySnapshot::empty());
        }
        let mapper = EntityMapper::new(&self.record.id, bundle.options().namespace.as_deref());
        let records = load_directory(&self.store, &mapper).await?;
        build_snapshot(records, Arc::clone(bundle)).await
    }
}

async fn compile(source: BundleSource) -> Result<Arc<PolicyBundle>, ChangeError> {
    Ok(Arc::new(
        tokio::task::spawn_blocking(move || PolicyBundle::compile(source)).await??,
    ))
}

async fn compile_version(version: &PolicyVersion) -> Result<Arc<PolicyBundle>, ChangeError> {
    let source: BundleSource = serde_json::from_str(&version.source)
        .map_err(|_| ChangeError::CorruptVersion(version.version))?;
    compile(source).await
}

async fn load_directory(
    store: &TenantStore,
    mapper: &EntityMapper,
) -> Result<Vec<hms_authz::EntityRecord>, ChangeError> {
    let staff = store.load_staff(None).await?;
    let patients = store.load_patients(None).await?;
    Ok(staff
        .iter()
        .map(|m| mapper.staff(m))
        .chain(patients.iter().map(|p| mapper.patient(p)))
        .collect())
}

async fn build_snapshot(
    records: Vec<hms_authz::EntityRecord>,
    bundle: Arc<PolicyBundle>,
) -> Result<EntitySnapshot, ChangeError> {
    Ok(tokio::task::spawn_blocking(move || EntitySnapshot::build(records, &bundle)).await??)
}
