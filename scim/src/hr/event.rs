//! HR events: what an HR platform sends for joiners, movers and leavers.

use hms_audit_ledger::Timestamp;
use hms_directory::CredentialStatus;
use serde::Deserialize;

use crate::protocol::error::ScimError;

/// The kinds of HR event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HrEventType {
    /// A new employee (or a rehire).
    Hire,
    /// A change of department, job, manager or location.
    Transfer,
    /// Leave of absence begins: access suspended.
    LeaveOfAbsence,
    /// Back from leave: access restored.
    Return,
    /// Employment ends: access removed at once.
    Termination,
    /// A professional licence or credential changed.
    CredentialUpdate,
}

impl HrEventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hire => "hire",
            Self::Transfer => "transfer",
            Self::LeaveOfAbsence => "leave_of_absence",
            Self::Return => "return",
            Self::Termination => "termination",
            Self::CredentialUpdate => "credential_update",
        }
    }

    /// The employment status this event sets, if it sets one.
    pub fn status(self) -> Option<&'static str> {
        match self {
            Self::Hire | Self::Return => Some("active"),
            Self::LeaveOfAbsence => Some("leave"),
            Self::Termination => Some("terminated"),
            Self::Transfer | Self::CredentialUpdate => None,
        }
    }
}

/// One HR event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrEvent {
    /// The sender's unique id for the event; a second delivery changes nothing.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: HrEventType,
    /// When it takes effect (RFC 3339 on the wire); older than what was
    /// applied means superseded.
    pub effective_at: Timestamp,
    /// Who.
    pub employee: Employee,
    /// For `credential_update`: the credential.
    #[serde(default)]
    pub credential: Option<CredentialUpdate>,
}

/// The employee an event is about; absent fields are left as they are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Employee {
    /// Employee id; it is the staff id.
    pub id: String,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Email addresses.
    #[serde(default)]
    pub emails: Option<Vec<String>>,
    /// Job code, mapped to roles per tenant.
    #[serde(default)]
    pub job_code: Option<String>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Work location.
    #[serde(default)]
    pub location: Option<String>,
    /// Home address.
    #[serde(default)]
    pub address: Option<String>,
    /// The manager's employee id.
    #[serde(default)]
    pub manager: Option<String>,
}

/// A credential as HR reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialUpdate {
    /// Kind, e.g. `nursing_licence`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Registration number.
    pub number: String,
    /// Status.
    pub status: CredentialStatus,
    /// Expiry, RFC 3339 or `YYYY-MM-DD`.
    pub expires: String,
}

impl HrEvent {
    /// Reads and checks an event body.
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let event: Self = serde_json::from_slice(body)
            .map_err(|e| ScimError::invalid_value(format!("invalid HR event: {e}")))?;
        if event.id.trim().is_empty() || event.id.len() > 200 {
            return Err(ScimError::invalid_value("`id` is 1 to 200 characters"));
        }
        hms_directory::check_record_id("staff", &event.employee.id)
            .map_err(|e| ScimError::invalid_value(e.to_string()))?;
        if (event.kind == HrEventType::CredentialUpdate) != event.credential.is_some() {
            return Err(ScimError::invalid_value(
                "`credential` comes with `credential_update` events, and only with them",
            ));
        }
        Ok(event)
    }
}
