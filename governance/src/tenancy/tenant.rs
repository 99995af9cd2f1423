//! One tenant at run time: its store, its PDP (swapped whole on change) and its API clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use arc_swap::ArcSwap;
use hms_audit_ledger::store::{ChangeTransaction, Ledger, LedgerError, PublishedKey};
use hms_audit_ledger::{Event, EventKind, Timestamp};
use hms_authz::{
    BundleError, BundleSource, EntityError, EntitySnapshot, Pdp, PolicyBundle, RequestTime,
};
use hms_directory::changes::{self, Change};
use hms_directory::precondition::{self, Precondition};
use hms_directory::{
    ApiClient, ChangeSource, DecisionRecording, Encounter, Patient, PolicyVersion,
    RecordingSettings, StaffChange, StaffMember, StoreError, TenantId, TenantRecord, TenantStore,
};
use hms_keys::ShownOnce;
use time::{OffsetDateTime, UtcOffset};

use hms_idp_bridge::IdentityError;
use hms_scim::store::ProvisioningError;

use hms_keys::MasterKey;

use super::TenancySettings;
use super::bundles;
use super::bus::ChangeBus;
use super::identity::IdentityState;
use super::snapshot::EntityMapper;
use crate::audit::{self, Actor, Provenance};
use crate::credentials::{ClientTable, Scope, issue_credential};

/// Why a change to a tenant was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change could not be recorded in the audit ledger, so it was not made.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The policies do not compile.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The directory or the entity store does not fit the new schema.
    #[error(transparent)]
    Entities(#[from] EntityError),
    /// An entity written does not fit the schema in force; nothing was written.
    #[error("{0}")]
    InvalidEntity(EntityError),
    /// A batch of entity writes that cannot be taken as it is; nothing was written.
    #[error("{0}")]
    EntityBatch(String),
    /// Other nodes kept changing what the change depends on; nothing was written.
    #[error("the entity store or the policies kept changing on other nodes; try again")]
    Contended,
    /// A stored bundle could not be read back.
    #[error("stored policy version {0} is unreadable")]
    CorruptVersion(i64),
    /// A client name that cannot be used.
    #[error("a client name is 1 to 100 characters")]
    ClientName,
    /// Scopes that cannot go together.
    #[error("a provisioning client holds the `scim` scope alone")]
    ScimScopeAlone,
    /// The secret could not be hashed.
    #[error("cannot hash the client secret")]
    Hashing,
    /// A worker thread failed.
    #[error("background task failed")]
    Task(#[from] tokio::task::JoinError),
    /// A provisioning request was refused or failed.
    #[error(transparent)]
    Provisioning(#[from] ProvisioningError),
    /// A login, session or identity configuration was refused or failed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The tenant is suspended: every request to it is refused.
    #[error("tenant `{0}` is suspended")]
    Suspended(String),
}

/// A directory change in progress: the tenant's change turn and the
/// transaction that will carry both the change and its ledger entries.
pub struct DirectoryChange<'a> {
    _turn: tokio::sync::MutexGuard<'a, ()>,
    /// The transaction; the ledger's head is locked in it.
    pub tx: ChangeTransaction,
}

/// A served tenant.
pub struct Tenant {
    /// Catalog entry.
    pub record: TenantRecord,
    /// Its database.
    pub store: TenantStore,
    /// Its audit ledger, in the same database.
    pub ledger: Ledger,
    /// Its identity providers' state, sessions and token keys.
    pub identity: IdentityState,
    /// Seals its signing keys and secrets at rest.
    master_key: MasterKey,
    /// Its base URL as callers reach it: the issuer of its tokens.
    issuer: String,
    pub(super) pdp: ArcSwap<Pdp>,
    policy_version: AtomicI64,
    /// The entity store revision the PDP's entities reflect.
    pub(super) entity_revision: AtomicI64,
    /// Whether decisions are answered once their entries are queued rather than durable.
    decisions_queued: AtomicBool,
    pub(super) clients: ClientTable,
    /// Serialises changes (and the catching up with other nodes' changes)
    /// so that each builds on the one before.
    pub(super) writer: tokio::sync::Mutex<()>,
    /// How this node shares changes with the others.
    pub(super) bus: Arc<ChangeBus>,
    /// The last change of the feed this node has applied.
    pub(super) applied: AtomicI64,
    /// When a request last named it (Unix seconds), for closing idle tenants.
    last_used: AtomicI64,
    /// SCIM writes since the service started, for refreshing statistics.
    scim_writes: std::sync::atomic::AtomicU64,
}

impl Tenant {
    /// Loads the tenant's policies (installing the HMS set on first use),
    /// directory and clients from a database [`super::migrate`] brought up to date.
    pub async fn open(
        record: TenantRecord,
        store: TenantStore,
        settings: &TenancySettings,
        bus: Arc<ChangeBus>,
    ) -> Result<Self, ChangeError> {
        // Read first: a change made while the rest loads is applied again.
        let applied = store.change_head().await?;
        let identity =
            IdentityState::open(store.pool(), &settings.master_key, record.id.as_str()).await?;
        let ledger = settings.open(&store, record.id.as_str()).await?;
        let version = match store.latest_policy_version().await? {
            Some(version) => version,
            None => install_base_policies(&store, &ledger).await?,
        };
        let bundle = compile_version(&version).await?;
        let (snapshot, entity_revision) = load_snapshot(&store, &record.id, &bundle).await?;
        let clients = ClientTable::load(&store).await?;
        let recording = store.ledger_settings().await?.decisions;
        Ok(Self {
            issuer: format!("{}/{}", settings.public_base, record.id),
            master_key: settings.master_key.clone(),
            pdp: ArcSwap::from_pointee(Pdp::new(bundle, Arc::new(snapshot))),
            policy_version: AtomicI64::new(version.version),
            entity_revision: AtomicI64::new(entity_revision),
            decisions_queued: AtomicBool::new(recording == DecisionRecording::Asynchronous),
            clients,
            record,
            store,
            ledger,
            identity,
            writer: tokio::sync::Mutex::new(()),
            bus,
            applied: AtomicI64::new(applied),
            last_used: AtomicI64::new(OffsetDateTime::now_utc().unix_timestamp()),
            scim_writes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Counts a committed SCIM write and, as a bulk load grows, refreshes the
    /// planner's statistics of the SCIM tables in the background.
    pub fn note_scim_write(&self) {
        let n = self
            .scim_writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if hms_scim::store::statistics_due(n) {
            let pool = self.store.pool().clone();
            let tenant = self.id().to_owned();
            tokio::spawn(async move {
                if let Err(error) = hms_scim::store::refresh_statistics(&pool).await {
                    tracing::warn!(tenant, %error, "SCIM statistics not refreshed");
                }
            });
        }
    }

    /// The tenant id.
    pub fn id(&self) -> &str {
        self.record.id.as_str()
    }

    /// The key its secrets are sealed under.
    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// Its base URL as callers reach it (`{public base}/{tenant}`): its tokens' issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The PDP in force; a change after this call does not affect it.
    pub fn pdp(&self) -> Arc<Pdp> {
        self.pdp.load_full()
    }

    /// The policy version in force.
    pub fn policy_version(&self) -> i64 {
        self.policy_version.load(Ordering::Acquire)
    }

    /// Records PDP decisions as the tenant chose: returns once they are
    /// durable, or once they are queued for the ledger's writer.
    pub async fn record_decisions(&self, events: Vec<Event>) -> Result<(), LedgerError> {
        if self.decisions_queued.load(Ordering::Acquire) {
            self.ledger.append_queued(events).await
        } else {
            self.ledger.append_all(events).await.map(drop)
        }
    }

    /// Changes how decisions are recorded, recording the change with its before and after.
    pub async fn set_ledger_settings(
        &self,
        settings: &RecordingSettings,
        based_on: &Precondition,
        by: &Provenance,
    ) -> Result<(), ChangeError> {
        let mut change = self.begin_directory_change().await?;
        let before = self.store.ledger_settings().await?;
        based_on.check(&precondition::tag_of(&before))?;
        self.store
            .set_ledger_settings(&mut change.tx, settings)
            .await?;
        let event = Event {
            action: Some("update_ledger_settings".into()),
            resource: Some("ledger:settings".into()),
            details: serde_json::json!({ "before": before, "after": settings }),
            ..by.event(EventKind::LedgerSettingsUpdate)
        };
        let DirectoryChange { _turn, tx } = change;
        self.record_and_commit(tx, vec![event], &[Change::RecordingSettings])
            .await?;
        self.set_decisions_queued(settings.decisions);
        Ok(())
    }

    pub(super) fn set_decisions_queued(&self, recording: DecisionRecording) {
        let queued = recording == DecisionRecording::Asynchronous;
        self.decisions_queued.store(queued, Ordering::Release);
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
        by: &Provenance,
    ) -> Result<(ApiClient, ShownOnce), ChangeError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ChangeError::ClientName);
        }
        if scopes.contains(&Scope::Scim) && scopes.len() > 1 {
            return Err(ChangeError::ScimScopeAlone);
        }
        let issued = tokio::task::spawn_blocking(issue_credential)
            .await?
            .map_err(|_| ChangeError::Hashing)?;
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let mut tx = self.ledger.begin_change().await?;
        let client = self
            .store
            .insert_client(
                &mut tx,
                &issued.client_id,
                name,
                &issued.secret_hash,
                &scopes,
            )
            .await?;
        self.record_and_commit(
            tx,
            vec![audit::client_created_event(by, &client)],
            &[Change::Clients],
        )
        .await?;
        self.clients.reload(&self.store).await?;
        Ok((client, issued.token))
    }

    /// Revokes an API client; it can no longer authenticate, on any node.
    pub async fn revoke_client(&self, id: &str, by: &Provenance) -> Result<(), ChangeError> {
        let mut tx = self.ledger.begin_change().await?;
        self.store.revoke_client(&mut tx, id).await?;
        self.record_and_commit(
            tx,
            vec![audit::client_revoked_event(by, id)],
            &[Change::Clients],
        )
        .await?;
        self.clients.reload(&self.store).await?;
        Ok(())
    }

    /// A new ledger signing key (the old one stays published), in use on every node.
    pub async fn rotate_ledger_key(&self, by: &Provenance) -> Result<PublishedKey, ChangeError> {
        let key = self
            .ledger
            .rotate_key(&self.master_key, &by.actor_name())
            .await?;
        self.publish(&[Change::LedgerKey]).await?;
        Ok(key)
    }

    /// Notes that a request named the tenant now.
    pub(super) fn touch(&self) {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        if self.last_used.load(Ordering::Relaxed) != now {
            self.last_used.store(now, Ordering::Relaxed);
        }
    }

    /// When a request last named it (Unix seconds).
    pub(super) fn last_used(&self) -> i64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Tells the scheduler (on whichever node) that the tenant has work at `at`.
    pub async fn schedule_work_at(&self, at: Timestamp) -> Result<(), ChangeError> {
        Ok(self.bus.schedule(self.id(), at).await?)
    }

    /// The PDP clock: now in UTC, and the hour in the tenant's local time.
    pub fn request_time(&self) -> RequestTime {
        request_time_at(OffsetDateTime::now_utc(), self.record.utc_offset_minutes)
    }

    /// Compiles `source`, checks the directory still fits, stores it as a new version and puts it in force.
    pub async fn install_policies(
        &self,
        source: BundleSource,
        based_on: &Precondition,
        by: &Provenance,
        comment: &str,
    ) -> Result<PolicyVersion, ChangeError> {
        let _guard = self.writer.lock().await;
        let bundle = compile(source.clone()).await?;
        let mut snapshot = self.snapshot_for(&bundle).await?;
        let text = serde_json::to_string(&source).unwrap_or_default();
        let previous = self.policy_version();
        let mut tx = self.ledger.begin_change().await?;
        // Another node wrote to the entity store while it loaded: the new
        // schema must fit what is committed (no one commits while the head is locked).
        if self.store.entity_revision().await? != snapshot.1 {
            snapshot = self.snapshot_for(&bundle).await?;
        }
        let version = self
            .store
            .insert_policy_version(&mut tx, &text, &by.actor_name(), comment, based_on)
            .await?;
        let event = audit::policy_event(by, &version, Some(previous));
        self.record_and_commit(tx, vec![event], &[Change::Policies])
            .await?;
        self.put_in_force(bundle, snapshot, version.version);
        Ok(version)
    }

    fn put_in_force(&self, bundle: Arc<PolicyBundle>, loaded: Loaded, version: i64) {
        let (snapshot, entity_revision) = loaded;
        self.pdp
            .store(Arc::new(Pdp::new(bundle, Arc::new(snapshot))));
        self.policy_version.store(version, Ordering::Release);
        self.entity_revision
            .store(entity_revision, Ordering::Release);
    }

    /// Puts the latest stored policy version in force over the directory as
    /// it is now (another node installed it).
    pub(super) async fn reread_policies(&self) -> Result<(), ChangeError> {
        let Some(version) = self.store.latest_policy_version().await? else {
            return Ok(());
        };
        let bundle = compile_version(&version).await?;
        let snapshot = self.snapshot_for(&bundle).await?;
        self.put_in_force(bundle, snapshot, version.version);
        Ok(())
    }

    /// Puts staff and patients as stored now in force (another node changed them).
    pub(super) async fn reread_entities(
        &self,
        staff: &[String],
        patients: &[String],
    ) -> Result<(), ChangeError> {
        if !staff.is_empty() {
            let mapper = self.mapper();
            let members = self.store.load_staff(Some(staff)).await?;
            self.apply(members.iter().map(|m| mapper.staff(m)).collect())
                .await?;
        }
        if !patients.is_empty() {
            self.refresh_patients(patients).await?;
        }
        Ok(())
    }

    /// Compiles `source` against this tenant's directory without storing anything.
    pub async fn check_policies(
        &self,
        source: BundleSource,
    ) -> Result<Arc<PolicyBundle>, ChangeError> {
        Ok(Arc::clone(self.candidate_pdp(source).await?.bundle()))
    }

    /// A PDP for `source` over the directory and entity store as they are
    /// now, as it would be once installed; nothing is stored.
    pub async fn candidate_pdp(&self, source: BundleSource) -> Result<Pdp, ChangeError> {
        let bundle = compile(source).await?;
        let (snapshot, _) = self.snapshot_for(&bundle).await?;
        Ok(Pdp::new(bundle, Arc::new(snapshot)))
    }

    /// Puts an earlier version back in force, as a new version.
    pub async fn rollback_policies(
        &self,
        to: i64,
        based_on: &Precondition,
        by: &Provenance,
    ) -> Result<PolicyVersion, ChangeError> {
        let old = self.store.policy_version(to).await?;
        let source: BundleSource =
            serde_json::from_str(&old.source).map_err(|_| ChangeError::CorruptVersion(to))?;
        let comment = format!("rollback to version {to}");
        self.install_policies(source, based_on, by, &comment).await
    }

    /// Writes staff and puts the changed entities in force.
    pub async fn upsert_staff(
        &self,
        members: Vec<StaffMember>,
        source: ChangeSource,
        by: &Provenance,
    ) -> Result<usize, ChangeError> {
        let mut change = self.begin_directory_change().await?;
        let changes = self
            .store
            .upsert_staff(&mut change.tx, members, source)
            .await?;
        let events = changes
            .iter()
            .map(|change| audit::staff_event(by, change, source))
            .collect();
        let count = changes.len();
        self.commit_directory_change(change, events, &changes)
            .await?;
        Ok(count)
    }

    /// Starts a directory change: waits for this tenant's change turn and
    /// opens the transaction that will also carry its ledger entries.
    pub async fn begin_directory_change(&self) -> Result<DirectoryChange<'_>, ChangeError> {
        let turn = self.writer.lock().await;
        let tx = self.ledger.begin_change().await?;
        Ok(DirectoryChange { _turn: turn, tx })
    }

    /// Records `events` with the change, commits both, and puts the changed
    /// staff members in force at the PDP before returning.
    pub async fn commit_directory_change(
        &self,
        change: DirectoryChange<'_>,
        events: Vec<Event>,
        staff: &[StaffChange],
    ) -> Result<(), ChangeError> {
        let DirectoryChange { _turn, tx } = change;
        let touched: Vec<Change> = staff
            .iter()
            .map(|c| Change::Staff(c.member.id.clone()))
            .collect();
        self.record_and_commit(tx, events, &touched).await?;
        if staff.is_empty() {
            return Ok(());
        }
        let mapper = self.mapper();
        let records = staff.iter().map(|c| mapper.staff(&c.member)).collect();
        self.apply(records).await?;
        self.end_sessions_of_disabled(staff).await
    }

    /// Deprovisioning: every session of a person just disabled ends now,
    /// and each ending is recorded.
    async fn end_sessions_of_disabled(&self, staff: &[StaffChange]) -> Result<(), ChangeError> {
        let disabled = staff
            .iter()
            .filter(|c| c.was_active == Some(true) && !c.member.active);
        let mut events = Vec::new();
        let mut ended_sessions = Vec::new();
        for change in disabled {
            let staff_id = &change.member.id;
            let ended = self
                .identity
                .sessions
                .revoke_staff(self.store.pool(), staff_id, "deprovisioned")
                .await?;
            events.extend(ended.iter().map(|sid| {
                audit::session_revoked_event(
                    &Provenance::local(Actor::System),
                    staff_id,
                    sid,
                    "deprovisioned",
                )
            }));
            ended_sessions.extend(ended.into_iter().map(Change::Session));
        }
        if events.is_empty() {
            return Ok(());
        }
        self.ledger.append_all(events).await?;
        self.publish(&ended_sessions).await
    }

    /// Writes patients and puts the changed entities in force.
    pub async fn upsert_patients(
        &self,
        patients: Vec<Patient>,
        by: &Provenance,
    ) -> Result<usize, ChangeError> {
        let _guard = self.writer.lock().await;
        let mut tx = self.ledger.begin_change().await?;
        self.store.upsert_patients(&mut tx, &patients).await?;
        let events = patients
            .iter()
            .map(|p| audit::patient_event(by, p))
            .collect();
        let ids: Vec<String> = patients.iter().map(|p| p.id.clone()).collect();
        let touched: Vec<Change> = ids.iter().cloned().map(Change::Patient).collect();
        self.record_and_commit(tx, events, &touched).await?;
        self.refresh_patients(&ids).await?;
        Ok(ids.len())
    }

    /// Writes encounters and refreshes the patients they belong to.
    pub async fn upsert_encounters(
        &self,
        encounters: Vec<Encounter>,
        by: &Provenance,
    ) -> Result<usize, ChangeError> {
        let _guard = self.writer.lock().await;
        let mut tx = self.ledger.begin_change().await?;
        let patients = self.store.upsert_encounters(&mut tx, &encounters).await?;
        let events = encounters
            .iter()
            .map(|e| audit::encounter_event(by, e))
            .collect();
        let touched: Vec<Change> = patients.iter().cloned().map(Change::Patient).collect();
        self.record_and_commit(tx, events, &touched).await?;
        self.refresh_patients(&patients).await?;
        Ok(encounters.len())
    }

    /// Records `events` in the change's transaction, lists in the change
    /// feed what it `touched` of what nodes hold in memory, commits all
    /// together and wakes the other nodes.
    pub async fn record_and_commit(
        &self,
        mut tx: ChangeTransaction,
        events: Vec<Event>,
        touched: &[Change],
    ) -> Result<(), ChangeError> {
        if !events.is_empty() {
            self.ledger.record_in(&mut tx, events).await?;
        }
        let numbered = changes::record(&mut tx, self.bus.node(), touched).await?;
        tx.commit().await.map_err(StoreError::from)?;
        if numbered.is_some() {
            self.bus.announce(self.id()).await;
        }
        Ok(())
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

    /// The directory and the entity store as entities of `bundle`, validated
    /// against its schema.
    async fn snapshot_for(&self, bundle: &Arc<PolicyBundle>) -> Result<Loaded, ChangeError> {
        load_snapshot(&self.store, &self.record.id, bundle).await
    }
}

/// Stores the HMS policy set as version 1 of a new tenant, recorded as done by the system.
async fn install_base_policies(
    store: &TenantStore,
    ledger: &Ledger,
) -> Result<PolicyVersion, ChangeError> {
    let source = serde_json::to_string(&bundles::hms_default()).unwrap_or_default();
    let mut tx = ledger.begin_change().await?;
    let version = store
        .insert_policy_version(
            &mut tx,
            &source,
            "system",
            "HMS base policy set",
            &Precondition::None,
        )
        .await?;
    let event = audit::policy_event(&Provenance::local(Actor::System), &version, None);
    ledger.record_in(&mut tx, vec![event]).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(version)
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

/// The PDP clock at `at`: the instant in UTC, and the hour at `utc_offset_minutes`.
pub fn request_time_at(at: OffsetDateTime, utc_offset_minutes: i64) -> RequestTime {
    let offset = i32::try_from(utc_offset_minutes * 60)
        .ok()
        .and_then(|seconds| UtcOffset::from_whole_seconds(seconds).ok())
        .unwrap_or(UtcOffset::UTC);
    let utc = at.to_offset(UtcOffset::UTC);
    RequestTime {
        utc: format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second()
        ),
        local_hour: utc.to_offset(offset).hour(),
    }
}

/// A snapshot and the entity store revision it reflects.
type Loaded = (EntitySnapshot, i64);

/// The directory (when the bundle uses it) and the entity store as entities
/// of `bundle`, validated against its schema.
async fn load_snapshot(
    store: &TenantStore,
    tenant: &TenantId,
    bundle: &Arc<PolicyBundle>,
) -> Result<Loaded, ChangeError> {
    let (stored, revision) = super::stored::load_stored(store).await?;
    if let Some(clash) = stored
        .iter()
        .find(|r| bundle.is_directory_type(&r.uid.kind))
    {
        return Err(ChangeError::Entities(EntityError {
            uid: format!("{}::\"{}\"", clash.uid.kind, clash.uid.id),
            message:
                "the entity store holds it, but under these options the directory fills its type"
                    .into(),
        }));
    }
    let mut records = if bundle.options().directory_entities {
        let mapper = EntityMapper::new(tenant, bundle.options().namespace.as_deref());
        load_directory(store, &mapper).await?
    } else {
        Vec::new()
    };
    records.extend(stored);
    Ok((build_snapshot(records, Arc::clone(bundle)).await?, revision))
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
