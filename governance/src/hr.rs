//! The HR workflow: a signed HR event verified and applied once (or kept
//! until its effective time), future-dated events applied when due, the
//! webhook secrets rotated and the tenant's HR settings, every change in the ledger.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hms_audit_ledger::{Event, EventKind, Timestamp};
use hms_scim::hr::apply::{Disposition, HrOutcome, apply_event};
use hms_scim::hr::event::{HrEvent, HrEventType};
use hms_scim::hr::schedule;
use hms_scim::hr::settings::{self, HrSettings, SealedSecret};
use hms_scim::hr::signature::{self, SignatureError};
use hms_scim::store::ProvisioningError;
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{self, Actor, Provenance};
use crate::tenancy::{ChangeError, DirectoryChange, Tenant};
use crate::webhooks;
use hms_directory::ChangeSource;
use hms_directory::precondition::{self, Precondition};
use hms_keys::ShownOnce;

/// How long a replaced secret keeps verifying, so senders can switch over.
const ROTATION_GRACE: time::Duration = time::Duration::hours(24);
/// How far ahead of now an event may be dated and still be applied at once
/// (clock skew); later ones wait for their effective time.
const CLOCK_SKEW: time::Duration = time::Duration::seconds(5);
/// How far ahead a termination or leave may be dated and still be applied at
/// once: removing access a little early is the safe side of a clock skew.
const EARLY_OFFBOARDING: time::Duration = time::Duration::minutes(5);
/// How far ahead an event may be dated at all.
const FURTHEST_AHEAD: time::Duration = time::Duration::days(366);

/// Why an HR delivery was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum HrError {
    /// The tenant has no webhook secret, so no delivery can be verified.
    #[error("no HR webhook secret is configured for this tenant")]
    NoSecret,
    /// The signature or its timestamp does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The body is not a valid HR event.
    #[error("{0}")]
    InvalidEvent(String),
    /// The event is dated more than a year ahead.
    #[error("events may be dated at most a year ahead")]
    TooFarAhead,
    /// A stored secret does not open under the master key, or a new one could not be sealed.
    #[error("HR webhook secret `{0}` cannot be sealed or opened under the master key")]
    CorruptSecret(String),
    /// The change was refused or could not be recorded.
    #[error(transparent)]
    Change(#[from] ChangeError),
}

impl From<ProvisioningError> for HrError {
    fn from(e: ProvisioningError) -> Self {
        Self::Change(e.into())
    }
}

/// A signed delivery as received.
pub struct Delivery<'a> {
    /// The `X-HMS-Signature` header.
    pub signature: Option<&'a str>,
    /// The `X-HMS-Timestamp` header.
    pub timestamp: Option<&'a str>,
    /// The raw body the signature covers.
    pub body: &'a [u8],
}

/// What became of a delivered event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Received {
    /// The event's id.
    pub event_id: String,
    /// `applied`, `unchanged`, `duplicate` or `scheduled`.
    pub status: &'static str,
    /// For a scheduled event, when it will be applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<Timestamp>,
}

impl Received {
    /// Whether the event waits for its effective time.
    pub fn is_scheduled(&self) -> bool {
        self.effective_at.is_some()
    }
}

/// Verifies the signature over timestamp and body, then applies the event
/// once, or keeps a future-dated one until its effective time. Offboarding
/// is in force at the PDP when this returns.
pub async fn receive(
    tenant: &Tenant,
    delivery: Delivery<'_>,
    by: &Provenance,
) -> Result<Received, HrError> {
    let secrets = secrets(tenant).await?;
    if secrets.is_empty() {
        return Err(HrError::NoSecret);
    }
    let now = OffsetDateTime::now_utc();
    signature::verify(
        &secrets,
        delivery.signature,
        delivery.timestamp,
        delivery.body,
        now.unix_timestamp(),
    )?;
    let event = HrEvent::parse(delivery.body).map_err(|e| HrError::InvalidEvent(e.detail))?;
    if event.effective_at > timestamp(now + FURTHEST_AHEAD) {
        return Err(HrError::TooFarAhead);
    }
    if !applies_now(&event, now) {
        let status = keep_until_due(tenant, &event, delivery.body, by).await?;
        return Ok(Received {
            event_id: event.id,
            status,
            effective_at: Some(event.effective_at),
        });
    }
    let mut change = tenant.begin_directory_change().await?;
    let (outcome, notify_url) = apply(tenant, &mut change, &event).await?;
    commit_applied(tenant, change, &event, &outcome, by).await?;
    notify_if_applied(notify_url, &secrets, &event, &outcome);
    Ok(Received {
        event_id: event.id,
        status: outcome.disposition.as_str(),
        effective_at: None,
    })
}

/// Whether an event is applied on delivery rather than kept for its
/// effective time.
fn applies_now(event: &HrEvent, now: OffsetDateTime) -> bool {
    let window = match event.kind {
        HrEventType::Termination | HrEventType::LeaveOfAbsence => EARLY_OFFBOARDING,
        _ => CLOCK_SKEW,
    };
    event.effective_at <= timestamp(now + window)
}

fn timestamp(at: OffsetDateTime) -> Timestamp {
    let micros = at.unix_timestamp_nanos().div_euclid(1000);
    Timestamp::from_unix_micros(i64::try_from(micros).unwrap_or(i64::MAX))
}

/// Keeps a future-dated event until its effective time, recorded in the
/// ledger as `scheduled`; `duplicate` when its id was seen before.
async fn keep_until_due(
    tenant: &Tenant,
    event: &HrEvent,
    body: &[u8],
    by: &Provenance,
) -> Result<&'static str, HrError> {
    let mut change = tenant.begin_directory_change().await?;
    let text = String::from_utf8_lossy(body);
    if !schedule::schedule(&mut change.tx, event, &text).await? {
        return Ok(Disposition::Duplicate.as_str());
    }
    let entry = hr_event(by, event, "scheduled");
    tenant
        .commit_directory_change(change, vec![entry], &[])
        .await?;
    tenant.schedule_work_at(event.effective_at).await?;
    Ok("scheduled")
}

/// When the earliest kept event takes effect.
pub async fn next_due(tenant: &Tenant) -> Result<Option<Timestamp>, HrError> {
    let mut conn = tenant.store.connection().await.map_err(ChangeError::from)?;
    Ok(schedule::next_due(&mut conn).await?)
}

/// Applies every scheduled event whose effective time has come, each once
/// and in its own change, as it would have been applied on delivery.
/// Returns how many were applied.
pub async fn apply_due_events(tenant: &Tenant) -> Result<usize, HrError> {
    let due = {
        let mut conn = tenant.store.connection().await.map_err(ChangeError::from)?;
        schedule::due(&mut conn, Timestamp::now()).await?
    };
    if due.is_empty() {
        return Ok(0);
    }
    let secrets = secrets(tenant).await?;
    let by = Provenance::local(Actor::HrWebhook);
    let mut applied = 0;
    for event_id in due {
        let mut change = tenant.begin_directory_change().await?;
        let Some(event) = schedule::take(&mut change.tx, &event_id).await? else {
            continue;
        };
        let (outcome, notify_url) = apply(tenant, &mut change, &event).await?;
        commit_applied(tenant, change, &event, &outcome, &by).await?;
        notify_if_applied(notify_url, &secrets, &event, &outcome);
        applied += 1;
    }
    Ok(applied)
}

/// Applies an event in `change`; the change is left to the caller to commit.
async fn apply(
    tenant: &Tenant,
    change: &mut DirectoryChange<'_>,
    event: &HrEvent,
) -> Result<(HrOutcome, Option<String>), HrError> {
    let settings = settings::settings(&mut change.tx).await?;
    if schedule::is_scheduled(&mut change.tx, &event.id).await? {
        let duplicate = HrOutcome {
            disposition: Disposition::Duplicate,
            staff: Vec::new(),
            manager: None,
        };
        return Ok((duplicate, None));
    }
    let outcome = apply_event(&tenant.store, &mut change.tx, event, &settings).await?;
    Ok((outcome, settings.notify_url))
}

/// Commits an applied event with its ledger entries; a duplicate writes
/// nothing.
async fn commit_applied(
    tenant: &Tenant,
    change: DirectoryChange<'_>,
    event: &HrEvent,
    outcome: &HrOutcome,
    by: &Provenance,
) -> Result<(), HrError> {
    if outcome.disposition == Disposition::Duplicate {
        return Ok(());
    }
    let mut events = vec![hr_event(by, event, outcome.disposition.as_str())];
    events.extend(
        outcome
            .staff
            .iter()
            .map(|c| audit::staff_event(by, c, ChangeSource::Hr)),
    );
    tenant
        .commit_directory_change(change, events, &outcome.staff)
        .await?;
    Ok(())
}

/// Tells the manager of a newly applied hire or move, when the tenant names a
/// notification URL.
fn notify_if_applied(
    notify_url: Option<String>,
    secrets: &[Vec<u8>],
    event: &HrEvent,
    outcome: &HrOutcome,
) {
    if outcome.disposition == Disposition::Applied
        && let (Some(url), Some(manager), Some(secret)) =
            (notify_url, outcome.manager.clone(), secrets.first())
        && event.kind != HrEventType::CredentialUpdate
    {
        let body = json!({
            "type": "manager_notification",
            "event_id": event.id,
            "event_type": event.kind.as_str(),
            "effective_at": event.effective_at,
            "employee": event.employee.id,
            "manager": manager,
        });
        webhooks::send_in_background(url, secret.clone(), body, "manager notification");
    }
}

/// The entry kind of an HR event of `kind`.
fn entry_kind(kind: HrEventType) -> EventKind {
    match kind {
        HrEventType::Hire => EventKind::HrHire,
        HrEventType::Transfer => EventKind::HrTransfer,
        HrEventType::LeaveOfAbsence => EventKind::HrLeaveOfAbsence,
        HrEventType::Return => EventKind::HrReturn,
        HrEventType::Termination => EventKind::HrTermination,
        HrEventType::CredentialUpdate => EventKind::HrCredentialUpdate,
    }
}

fn hr_event(by: &Provenance, event: &HrEvent, disposition: &str) -> Event {
    let employee = &event.employee;
    Event {
        subject: Some(employee.id.clone()),
        action: Some(format!("hr_{}", event.kind.as_str())),
        resource: Some(format!("staff:{}", employee.id)),
        outcome: Some(disposition.into()),
        details: json!({
            "source": ChangeSource::Hr.as_str(),
            "event_id": event.id,
            "effective_at": event.effective_at,
            "job_code": employee.job_code,
            "department": employee.department,
            "location": employee.location,
            "manager": employee.manager,
            "credential": event.credential.as_ref().map(|c| json!({
                "type": c.kind, "number": c.number, "status": c.status.as_str(), "expires": c.expires,
            })),
        }),
        ..by.event(entry_kind(event.kind))
    }
}

/// The secrets that verify deliveries now, unsealed; the newest first.
pub(crate) async fn secrets(tenant: &Tenant) -> Result<Vec<Vec<u8>>, HrError> {
    let mut conn = tenant.store.connection().await.map_err(ChangeError::from)?;
    let sealed = settings::valid_secrets(&mut conn).await?;
    sealed
        .iter()
        .map(|secret| {
            let bytes = STANDARD
                .decode(&secret.sealed)
                .map_err(|_| HrError::CorruptSecret(secret.id.clone()))?;
            let raw = tenant
                .master_key()
                .unseal(&bytes, &context(tenant, &secret.id))
                .map_err(|_| HrError::CorruptSecret(secret.id.clone()))?;
            Ok(secret_text(&raw).into_bytes())
        })
        .collect()
}

fn context(tenant: &Tenant, secret_id: &str) -> String {
    format!("hr-webhook:{}:{secret_id}", tenant.id())
}

/// The secret as handed to the HR system; its bytes are the HMAC key.
fn secret_text(raw: &[u8; 32]) -> String {
    format!("hrsec_{}", URL_SAFE_NO_PAD.encode(raw))
}

/// A new webhook secret, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    /// Its id.
    pub secret_id: String,
    /// The secret itself (`hrsec_…`), for the HR system's configuration.
    pub secret: ShownOnce,
    /// Until when the secrets it replaces keep verifying.
    pub previous_valid_until: Timestamp,
}

/// A new secret; the previous ones keep verifying for 24 hours.
pub async fn rotate_secret(tenant: &Tenant, by: &Provenance) -> Result<RotatedSecret, HrError> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = tenant
        .master_key()
        .seal(&raw, &context(tenant, &id))
        .map_err(|_| HrError::CorruptSecret(id.clone()))?;
    let grace_until = timestamp(OffsetDateTime::now_utc() + ROTATION_GRACE);
    let secret = SealedSecret {
        id: id.clone(),
        sealed: STANDARD.encode(sealed),
    };
    let mut change = tenant.begin_directory_change().await?;
    settings::add_secret(&mut change.tx, &secret, grace_until).await?;
    let event = Event {
        action: Some("rotate_hr_secret".into()),
        resource: Some(format!("hr_secret:{id}")),
        details: json!({ "secret_id": id, "previous_valid_until": grace_until }),
        ..by.event(EventKind::HrSecretRotate)
    };
    tenant
        .commit_directory_change(change, vec![event], &[])
        .await?;
    Ok(RotatedSecret {
        secret_id: id,
        secret: ShownOnce::new(secret_text(&raw)),
        previous_valid_until: grace_until,
    })
}

/// The tenant's HR settings.
pub async fn settings(tenant: &Tenant) -> Result<HrSettings, HrError> {
    let mut conn = tenant.store.connection().await.map_err(ChangeError::from)?;
    Ok(settings::settings(&mut conn).await?)
}

/// Replaces the job-to-role mapping and the manager notification URL.
pub async fn put_settings(
    tenant: &Tenant,
    body: &HrSettings,
    based_on: &Precondition,
    by: &Provenance,
) -> Result<(), HrError> {
    let mut change = tenant.begin_directory_change().await?;
    let before = settings::settings(&mut change.tx).await?;
    based_on
        .check(&precondition::tag_of(&before))
        .map_err(ChangeError::from)?;
    settings::put_settings(&mut change.tx, body).await?;
    let event = Event {
        action: Some("put_hr_settings".into()),
        resource: Some("provisioning:hr".into()),
        details: json!(body),
        ..by.event(EventKind::HrSettings)
    };
    tenant
        .commit_directory_change(change, vec![event], &[])
        .await?;
    Ok(())
}

/// The tenant's notification hook (the URL its HR settings name) and the
/// current secret its messages are signed with; `None` when either is missing.
pub async fn notification_hook(tenant: &Tenant) -> Result<Option<(String, Vec<u8>)>, HrError> {
    let url = settings(tenant).await?.notify_url;
    let secrets = secrets(tenant).await?;
    Ok(url.zip(secrets.into_iter().next()))
}
