//! Applying an HR event to the directory: idempotent by event id, ordered by
//! effective time, with roles from the tenant's job mapping.

use hms_audit_ledger::Timestamp;
use hms_directory::{
    ChangeSource, Credential, StaffChange, StaffMember, StaffRecord, TenantStore, roles_granting,
};
use serde_json::Value;
use sqlx::AnyConnection;

use super::event::{HrEvent, HrEventType};
use super::settings::HrSettings;
use crate::provision::department_id;
use crate::store::{self, ProvisioningError};

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Applied to the directory.
    Applied,
    /// Older than what was already applied for this employee: recorded, not applied.
    Superseded,
    /// Delivered before: nothing changed.
    Duplicate,
}

impl Disposition {
    /// The stored and reported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Superseded => "superseded",
            Self::Duplicate => "duplicate",
        }
    }
}

/// What applying an event did.
#[derive(Debug)]
pub struct HrOutcome {
    /// Applied, superseded or duplicate.
    pub disposition: Disposition,
    /// Directory changes.
    pub staff: Vec<StaffChange>,
    /// The employee's manager after the event, for the notification.
    pub manager: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct HrRecord {
    job_code: Option<String>,
    manager: Option<String>,
    status: Option<String>,
    status_effective_at: Option<Timestamp>,
    assignment_effective_at: Option<Timestamp>,
}

/// Applies `event` in the caller's transaction.
pub async fn apply_event(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    event: &HrEvent,
    settings: &HrSettings,
) -> Result<HrOutcome, ProvisioningError> {
    let seen: Option<(String,)> =
        sqlx::query_as("SELECT outcome FROM hr_events WHERE event_id = $1")
            .bind(&event.id)
            .fetch_optional(&mut *tx)
            .await?;
    if seen.is_some() {
        return Ok(HrOutcome {
            disposition: Disposition::Duplicate,
            staff: Vec::new(),
            manager: None,
        });
    }
    let employee_id = &event.employee.id;
    let before = hr_record(tx, employee_id).await?;
    let existing = directory.staff_in(tx, employee_id).await?;
    let mut hr = before.clone().unwrap_or_default();
    let mut member = existing
        .as_ref()
        .map(|r| r.member.clone())
        .unwrap_or_else(|| StaffMember::new(employee_id));
    let at = event.effective_at;
    let mut applied = false;
    if let Some(status) = event.kind.status()
        && Some(at) >= hr.status_effective_at
    {
        hr.status = Some(status.to_owned());
        hr.status_effective_at = Some(at);
        applied = true;
    }
    if matches!(event.kind, HrEventType::Hire | HrEventType::Transfer)
        && Some(at) >= hr.assignment_effective_at
    {
        assign(&mut member, &mut hr, event);
        hr.assignment_effective_at = Some(at);
        applied = true;
    }
    if let Some(credential) = &event.credential
        && credential_is_newer(tx, employee_id, &credential.kind, at).await?
    {
        member.credentials.retain(|c| c.kind != credential.kind);
        member.credentials.push(Credential {
            kind: credential.kind.clone(),
            number: credential.number.clone(),
            status: credential.status,
            expires: credential.expires.clone(),
        });
        applied = true;
    }
    let disposition = if applied {
        Disposition::Applied
    } else {
        Disposition::Superseded
    };
    record_event(tx, event, disposition).await?;
    if !applied {
        return Ok(HrOutcome {
            disposition,
            staff: Vec::new(),
            manager: hr.manager,
        });
    }
    let hr_active = hr.status.as_deref().is_none_or(|s| s == "active");
    member.active = hr_active && scim_active(tx, employee_id).await?;
    let terminated = hr.status.as_deref() == Some("terminated");
    let granted = if terminated {
        Vec::new()
    } else {
        settings.roles_for(hr.job_code.as_deref(), member.department.as_deref())
    };
    member.roles = roles_with(existing.as_ref(), &granted);
    let staff = directory
        .upsert_staff(tx, vec![member], ChangeSource::Hr)
        .await
        .map_err(|e| match e {
            hms_directory::StoreError::Invalid(message) => {
                crate::protocol::error::ScimError::invalid_value(message).into()
            }
            other => ProvisioningError::from(other),
        })?;
    if let Some(credential) = &event.credential {
        save_credential_time(tx, employee_id, &credential.kind, at).await?;
    }
    save_hr_record(tx, employee_id, &hr, before.is_some()).await?;
    Ok(HrOutcome {
        disposition,
        staff,
        manager: hr.manager,
    })
}

/// Whether HR lets this person be active (true when HR does not know them).
pub async fn hr_allows(tx: &mut AnyConnection, staff_id: &str) -> Result<bool, ProvisioningError> {
    Ok(hr_record(tx, staff_id)
        .await?
        .and_then(|r| r.status)
        .is_none_or(|s| s == "active"))
}

/// Who manages this person: HR's record first, then the `manager` of the SCIM
/// enterprise extension; `None` when neither says.
pub async fn manager_of(
    conn: &mut AnyConnection,
    staff_id: &str,
) -> Result<Option<String>, ProvisioningError> {
    if let Some(manager) = hr_record(conn, staff_id).await?.and_then(|r| r.manager) {
        return Ok(Some(manager));
    }
    let user = store::get(conn, crate::protocol::schema::ResourceType::User, staff_id).await?;
    Ok(user.and_then(|u| {
        let manager = u
            .document
            .get(crate::protocol::schema::ENTERPRISE_SCHEMA)?
            .get("manager")?;
        manager
            .get("value")
            .or(Some(manager))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }))
}

/// Whether SCIM lets this person be active (true when SCIM does not know them).
async fn scim_active(tx: &mut AnyConnection, staff_id: &str) -> Result<bool, ProvisioningError> {
    let user = store::get(tx, crate::protocol::schema::ResourceType::User, staff_id).await?;
    Ok(user.is_none_or(|u| u.document.get("active") != Some(&Value::Bool(false))))
}

fn assign(member: &mut StaffMember, hr: &mut HrRecord, event: &HrEvent) {
    let employee = &event.employee;
    if let Some(given) = &employee.given_name {
        member.given_name = given.clone();
    }
    if let Some(family) = &employee.family_name {
        member.family_name = family.clone();
    }
    if let Some(display) = &employee.display_name {
        member.display_name = display.clone();
    } else if employee.given_name.is_some() || employee.family_name.is_some() {
        member.display_name = String::new();
    }
    if let Some(emails) = &employee.emails {
        member.emails = emails.clone();
    }
    if let Some(department) = &employee.department {
        member.department = Some(department_id(department)).filter(|d| !d.is_empty());
    }
    if let Some(location) = &employee.location {
        member.location = Some(location.clone());
    }
    if let Some(address) = &employee.address {
        member.address = Some(address.clone()).filter(|a| !a.trim().is_empty());
    }
    if employee.job_code.is_some() {
        hr.job_code = employee.job_code.clone();
    }
    if employee.manager.is_some() {
        hr.manager = employee.manager.clone();
    }
}

/// Roles from other sources, plus those the job mapping grants.
fn roles_with(existing: Option<&StaffRecord>, granted: &[String]) -> Vec<String> {
    let sources = existing.map_or(&[][..], |r| r.role_sources.as_slice());
    roles_granting(sources, ChangeSource::Hr, granted)
}

type HrRow = (Option<String>, Option<String>, String, String, String);

async fn hr_record(
    tx: &mut AnyConnection,
    id: &str,
) -> Result<Option<HrRecord>, ProvisioningError> {
    let row: Option<HrRow> = sqlx::query_as(
        "SELECT job_code, manager_id, status, status_effective_at, assignment_effective_at FROM hr_employees WHERE staff_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(
        |(job_code, manager, status, status_at, assignment_at)| HrRecord {
            job_code,
            manager,
            status: Some(status),
            status_effective_at: stored_time(&status_at),
            assignment_effective_at: stored_time(&assignment_at),
        },
    ))
}

/// A time this module stored; `None` (before every event) for the empty
/// text of a record that never had one.
fn stored_time(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text).ok()
}

async fn save_hr_record(
    tx: &mut AnyConnection,
    id: &str,
    hr: &HrRecord,
    exists: bool,
) -> Result<(), ProvisioningError> {
    let sql = if exists {
        "UPDATE hr_employees SET job_code = $2, manager_id = $3, status = $4, status_effective_at = $5, \
         assignment_effective_at = $6 WHERE staff_id = $1"
    } else {
        "INSERT INTO hr_employees (staff_id, job_code, manager_id, status, status_effective_at, assignment_effective_at) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    };
    sqlx::query(sql)
        .bind(id)
        .bind(&hr.job_code)
        .bind(&hr.manager)
        .bind(hr.status.as_deref().unwrap_or("active"))
        .bind(
            hr.status_effective_at
                .map(Timestamp::to_rfc3339)
                .unwrap_or_default(),
        )
        .bind(
            hr.assignment_effective_at
                .map(Timestamp::to_rfc3339)
                .unwrap_or_default(),
        )
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn credential_is_newer(
    tx: &mut AnyConnection,
    id: &str,
    kind: &str,
    at: Timestamp,
) -> Result<bool, ProvisioningError> {
    let last: Option<(String,)> = sqlx::query_as(
        "SELECT effective_at FROM hr_credential_updates WHERE staff_id = $1 AND kind = $2",
    )
    .bind(id)
    .bind(kind)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(last.is_none_or(|(last,)| Some(at) >= stored_time(&last)))
}

async fn save_credential_time(
    tx: &mut AnyConnection,
    id: &str,
    kind: &str,
    at: Timestamp,
) -> Result<(), ProvisioningError> {
    sqlx::query("DELETE FROM hr_credential_updates WHERE staff_id = $1 AND kind = $2")
        .bind(id)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO hr_credential_updates (staff_id, kind, effective_at) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(kind)
    .bind(at.to_rfc3339())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn record_event(
    tx: &mut AnyConnection,
    event: &HrEvent,
    disposition: Disposition,
) -> Result<(), ProvisioningError> {
    sqlx::query(
        "INSERT INTO hr_events (event_id, event_type, employee_id, effective_at, received_at, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&event.id)
    .bind(event.kind.as_str())
    .bind(&event.employee.id)
    .bind(event.effective_at.to_rfc3339())
    .bind(store::now())
    .bind(disposition.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
