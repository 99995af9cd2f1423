//! Signed HR webhooks at `/{tenant}/hr/events`, their settings and secret
//! rotation, and the signed notification sent to a new or moved person's manager.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hms_audit_ledger::Event;
use hms_audit_ledger::store::MasterKey;
use hms_scim::hr::apply::{Disposition, HrOutcome, apply_event};
use hms_scim::hr::event::{HrEvent, HrEventType};
use hms_scim::hr::schedule;
use hms_scim::hr::settings::{self, HrSettings, SealedSecret};
use hms_scim::hr::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use hms_scim::protocol::path::format_datetime;
use hms_scim::store::ProvisioningError;
use rand::RngCore;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::AppState;
use super::error::ApiError;
use super::gate::TenantContext;
use super::json::ApiJson;
use crate::audit::{self, Provenance};
use crate::tenancy::{ChangeError, DirectoryChange, Tenant};

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

fn provisioning(e: ProvisioningError) -> ApiError {
    ApiError::from(ChangeError::from(e))
}

/// `POST /{tenant}/hr/events`: verifies the signature over timestamp and
/// body, then applies the event once, or keeps a future-dated one until its
/// effective time (202). Offboarding is in force at the PDP before the
/// answer is sent.
pub async fn receive(
    State(app): State<AppState>,
    Path(tenant_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body =
        body.map_err(|_| ApiError::PayloadTooLarge("request body is larger than allowed".into()))?;
    let tenant = app.tenant(&tenant_id).await?;
    let secrets = secrets(&tenant, app.tenants.master_key()).await?;
    if secrets.is_empty() {
        return Err(ApiError::Unauthorized(
            "no HR webhook secret is configured for this tenant".into(),
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = OffsetDateTime::now_utc();
    signature::verify(
        &secrets,
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        &body,
        now.unix_timestamp(),
    )
    .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let event =
        HrEvent::parse(&body).map_err(|e| ApiError::bad_request("invalid_event", e.detail))?;
    if event.effective_at > format_datetime(now + FURTHEST_AHEAD) {
        return Err(ApiError::bad_request(
            "too_far_ahead",
            "events may be dated at most a year ahead",
        ));
    }
    let by = Provenance {
        actor: HR_ACTOR.into(),
        request_id: header(super::REQUEST_ID.as_str()).map(str::to_owned),
        source_ip: Some(peer.ip().to_string()),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
    };
    if !applies_now(&event, now) {
        let status = schedule(&tenant, &event, &body, &by).await?;
        let answer =
            json!({ "event_id": event.id, "status": status, "effective_at": event.effective_at });
        return Ok((StatusCode::ACCEPTED, Json(answer)));
    }
    let mut change = tenant.begin_directory_change().await?;
    let (outcome, notify_url) = apply(&tenant, &mut change, &event).await?;
    commit_applied(&tenant, change, &event, &outcome, &by).await?;
    notify_if_applied(notify_url, &secrets, &event, &outcome);
    Ok((
        StatusCode::OK,
        Json(json!({ "event_id": event.id, "status": outcome.disposition.as_str() })),
    ))
}

/// Whether an event is applied on delivery rather than kept for its
/// effective time.
fn applies_now(event: &HrEvent, now: OffsetDateTime) -> bool {
    let window = match event.kind {
        HrEventType::Termination | HrEventType::LeaveOfAbsence => EARLY_OFFBOARDING,
        _ => CLOCK_SKEW,
    };
    event.effective_at <= format_datetime(now + window)
}

/// Who HR events are recorded as coming from.
const HR_ACTOR: &str = "hr:webhook";

/// Keeps a future-dated event until its effective time, recorded in the
/// ledger as `scheduled`; `duplicate` when its id was seen before.
async fn schedule(
    tenant: &Tenant,
    event: &HrEvent,
    body: &[u8],
    by: &Provenance,
) -> Result<&'static str, ApiError> {
    let mut change = tenant.begin_directory_change().await?;
    let text = String::from_utf8_lossy(body);
    if !schedule::schedule(&mut change.tx, event, &text)
        .await
        .map_err(provisioning)?
    {
        return Ok(Disposition::Duplicate.as_str());
    }
    let entry = hr_event(by, event, "scheduled");
    tenant
        .commit_directory_change(change, vec![entry], &[])
        .await?;
    Ok("scheduled")
}

/// Applies every scheduled event whose effective time has come, each once
/// and in its own change, as it would have been applied on delivery.
/// Returns how many were applied.
pub async fn apply_due_events(app: &AppState, tenant: &Tenant) -> Result<usize, ApiError> {
    let due = {
        let mut conn = tenant.store.connection().await?;
        let now = format_datetime(OffsetDateTime::now_utc());
        schedule::due(&mut conn, &now).await.map_err(provisioning)?
    };
    if due.is_empty() {
        return Ok(0);
    }
    let secrets = secrets(tenant, app.tenants.master_key()).await?;
    let by = Provenance::local(HR_ACTOR);
    let mut applied = 0;
    for event_id in due {
        let mut change = tenant.begin_directory_change().await?;
        let Some(event) = schedule::take(&mut change.tx, &event_id)
            .await
            .map_err(provisioning)?
        else {
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
) -> Result<(HrOutcome, Option<String>), ApiError> {
    let settings = settings::settings(&mut change.tx)
        .await
        .map_err(provisioning)?;
    if schedule::is_scheduled(&mut change.tx, &event.id)
        .await
        .map_err(provisioning)?
    {
        let duplicate = HrOutcome {
            disposition: Disposition::Duplicate,
            staff: Vec::new(),
            manager: None,
        };
        return Ok((duplicate, None));
    }
    let outcome = apply_event(&tenant.store, &mut change.tx, event, &settings)
        .await
        .map_err(provisioning)?;
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
) -> Result<(), ApiError> {
    if outcome.disposition == Disposition::Duplicate {
        return Ok(());
    }
    let mut events = vec![hr_event(by, event, outcome.disposition.as_str())];
    events.extend(
        outcome
            .staff
            .iter()
            .map(|c| audit::staff_event(by, c, "hr")),
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
        notify_manager(url, secret.clone(), event, manager);
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
            "source": "hr",
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
        ..by.event(&format!("provisioning.hr.{}", event.kind.as_str()))
    }
}

/// The secrets that verify deliveries now, unsealed.
async fn secrets(tenant: &Tenant, master: &MasterKey) -> Result<Vec<Vec<u8>>, ApiError> {
    let mut conn = tenant.store.connection().await?;
    let sealed = settings::valid_secrets(&mut conn)
        .await
        .map_err(provisioning)?;
    sealed
        .iter()
        .map(|secret| {
            let bytes = STANDARD
                .decode(&secret.sealed)
                .map_err(|_| ApiError::Internal(anyhow::anyhow!("corrupt HR secret")))?;
            let raw = master
                .unseal(&bytes, &context(tenant, &secret.id))
                .map_err(|e| ApiError::Internal(e.into()))?;
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

/// `POST /{tenant}/v1/provisioning/hr/secret`: a new secret, shown once; the
/// previous ones keep verifying for 24 hours.
pub async fn rotate_secret(
    State(app): State<AppState>,
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<Value>, ApiError> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = app
        .tenants
        .master_key()
        .seal(&raw, &context(&ctx.tenant, &id))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let grace_until = format_datetime(OffsetDateTime::now_utc() + ROTATION_GRACE);
    let secret = SealedSecret {
        id: id.clone(),
        sealed: STANDARD.encode(sealed),
    };
    let mut change = ctx.tenant.begin_directory_change().await?;
    settings::add_secret(&mut change.tx, &secret, &grace_until)
        .await
        .map_err(provisioning)?;
    let event = Event {
        action: Some("rotate_hr_secret".into()),
        resource: Some(format!("hr_secret:{id}")),
        details: json!({ "secret_id": id, "previous_valid_until": grace_until }),
        ..ctx.provenance.event("provisioning.hr.secret_rotated")
    };
    ctx.tenant
        .commit_directory_change(change, vec![event], &[])
        .await?;
    Ok(Json(json!({
        "secret_id": id,
        "secret": secret_text(&raw),
        "previous_valid_until": grace_until,
    })))
}

/// `GET /{tenant}/v1/provisioning/hr`.
pub async fn get_settings(
    Extension(ctx): Extension<TenantContext>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = ctx.tenant.store.connection().await?;
    let settings = settings::settings(&mut conn).await.map_err(provisioning)?;
    Ok(Json(json!(settings)))
}

/// `PUT /{tenant}/v1/provisioning/hr`: the job-to-role mapping and the manager notification URL.
pub async fn put_settings(
    Extension(ctx): Extension<TenantContext>,
    ApiJson(body): ApiJson<HrSettings>,
) -> Result<Json<Value>, ApiError> {
    let mut change = ctx.tenant.begin_directory_change().await?;
    settings::put_settings(&mut change.tx, &body)
        .await
        .map_err(provisioning)?;
    let event = Event {
        action: Some("put_hr_settings".into()),
        resource: Some("provisioning:hr".into()),
        details: json!(body),
        ..ctx.provenance.event("provisioning.hr.settings")
    };
    ctx.tenant
        .commit_directory_change(change, vec![event], &[])
        .await?;
    Ok(Json(json!(body)))
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// Tells the manager's system about a hire, move, leave or termination,
/// signed with the tenant's current secret. Best effort: failures are logged.
fn notify_manager(url: String, secret: Vec<u8>, event: &HrEvent, manager: String) {
    let body = json!({
        "type": "manager_notification",
        "event_id": event.id,
        "event_type": event.kind.as_str(),
        "effective_at": event.effective_at,
        "employee": event.employee.id,
        "manager": manager,
    });
    tokio::spawn(async move {
        if !deliver_signed(&url, &secret, &body).await {
            tracing::warn!("manager notification not delivered");
        }
    });
}

/// The tenant's notification hook (the URL its HR settings name) and the
/// current secret its messages are signed with; `None` when either is missing.
pub(super) async fn notification_hook(
    app: &AppState,
    tenant: &Tenant,
) -> Result<Option<(String, Vec<u8>)>, ApiError> {
    let mut conn = tenant.store.connection().await?;
    let url = settings::settings(&mut conn)
        .await
        .map_err(provisioning)?
        .notify_url;
    let secrets = secrets(tenant, app.tenants.master_key()).await?;
    Ok(url.zip(secrets.into_iter().next()))
}

/// Posts `body` to `url`, signed over timestamp and body as HR signs its
/// webhooks; whether the receiver accepted it. Failures are logged.
pub(super) async fn deliver_signed(url: &str, secret: &[u8], body: &Value) -> bool {
    let body = body.to_string();
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let signed = signature::sign(secret, timestamp, body.as_bytes());
    let sent = client()
        .post(url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signed)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::warn!(status = %response.status(), "notification refused");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "notification failed");
            false
        }
    }
}
