//! What every report carries: its parameters, who generated it and when, the
//! signed checkpoint and entry range it was computed from, and its rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

/// The reports served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    /// Every access to one patient's records, by anyone.
    PatientAccess,
    /// Everything one staff member did or was refused, logins included.
    UserActivity,
    /// Every emergency (break-glass) access.
    BreakGlass,
    /// Access to VIP and confidential patients.
    VipAccess,
    /// Access by staff neither on the care team nor in a department treating the patient.
    OutsideCareTeam,
    /// Access outside working hours.
    AfterHours,
    /// Days on which one person was refused unusually often.
    DeniedSpikes,
    /// People whose access count is far above their peers'.
    UnusualVolume,
    /// Failed sign-ins, failed second factors and lockouts.
    FailedLogins,
    /// Disabled staff with activity after they were disabled.
    AfterTermination,
    /// Staff holding privileged roles.
    PrivilegedAccounts,
    /// Active staff with no activity in the range.
    DormantAccounts,
    /// Role grants and removals, enabling and disabling, policy versions.
    RoleChanges,
    /// The accounting of disclosures of one patient's information (45 CFR 164.528).
    Disclosures,
    /// Verification of the ledger, with its checkpoints.
    LedgerIntegrity,
    /// Employees looking at their own record or a co-worker's.
    EmployeeRecords,
    /// Staff looking at patients who share their family name.
    SameFamilyName,
    /// Staff looking at patients who share their address.
    SameAddress,
    /// Access-review decisions, and proof that each revocation was applied.
    AccessReviews,
}

impl ReportKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [Self; 19] = [
        Self::PatientAccess,
        Self::UserActivity,
        Self::BreakGlass,
        Self::VipAccess,
        Self::OutsideCareTeam,
        Self::AfterHours,
        Self::DeniedSpikes,
        Self::UnusualVolume,
        Self::EmployeeRecords,
        Self::SameFamilyName,
        Self::SameAddress,
        Self::FailedLogins,
        Self::AfterTermination,
        Self::PrivilegedAccounts,
        Self::DormantAccounts,
        Self::RoleChanges,
        Self::Disclosures,
        Self::LedgerIntegrity,
        Self::AccessReviews,
    ];

    /// The name used in URLs and file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::PatientAccess => "patient-access",
            Self::UserActivity => "user-activity",
            Self::BreakGlass => "break-glass",
            Self::VipAccess => "vip-access",
            Self::OutsideCareTeam => "outside-care-team",
            Self::AfterHours => "after-hours",
            Self::DeniedSpikes => "denied-spikes",
            Self::UnusualVolume => "unusual-volume",
            Self::EmployeeRecords => "employee-records",
            Self::SameFamilyName => "same-family-name",
            Self::SameAddress => "same-address",
            Self::FailedLogins => "failed-logins",
            Self::AfterTermination => "after-termination",
            Self::PrivilegedAccounts => "privileged-accounts",
            Self::DormantAccounts => "dormant-accounts",
            Self::RoleChanges => "role-changes",
            Self::Disclosures => "disclosures",
            Self::LedgerIntegrity => "ledger-integrity",
            Self::AccessReviews => "access-reviews",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The title a reader sees.
    pub fn title(self) -> &'static str {
        match self {
            Self::PatientAccess => "Patient access report",
            Self::UserActivity => "User activity report",
            Self::BreakGlass => "Break-glass (emergency access) report",
            Self::VipAccess => "Access to VIP and confidential patients",
            Self::OutsideCareTeam => "Access outside the care team and treating departments",
            Self::AfterHours => "After-hours access",
            Self::DeniedSpikes => "Denied-access spikes",
            Self::UnusualVolume => "Unusual access volume",
            Self::EmployeeRecords => "Access to employees' own and co-workers' records",
            Self::SameFamilyName => "Access to patients sharing the staff member's family name",
            Self::SameAddress => "Access to patients sharing the staff member's address",
            Self::FailedLogins => "Failed logins and lockouts",
            Self::AfterTermination => "Activity after termination",
            Self::PrivilegedAccounts => "Accounts with privileged roles",
            Self::DormantAccounts => "Dormant accounts",
            Self::RoleChanges => "Role and policy changes",
            Self::Disclosures => "Accounting of disclosures (45 CFR 164.528)",
            Self::LedgerIntegrity => "Ledger integrity",
            Self::AccessReviews => "Access review evidence",
        }
    }
}

/// What the report was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Parameters {
    /// The tenant.
    pub tenant: String,
    /// Start of the range (RFC 3339), inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// End of the range (RFC 3339), exclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// One patient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// One staff member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// Only staff of this department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Only staff holding this role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// One access-review campaign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

/// The ledger state a report was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The signed checkpoint (C2SP signed note) the entries are covered by.
    pub checkpoint: String,
    /// The checkpoint's tree size: every entry read has a lower sequence.
    pub tree_size: u64,
    /// How many entries the report read.
    pub entries_read: u64,
    /// The first and last sequence numbers read, when any were.
    pub first_sequence: Option<u64>,
    /// See `first_sequence`.
    pub last_sequence: Option<u64>,
}

/// What the directory says of a staff member now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffFacts {
    /// Their roles.
    pub roles: Vec<String>,
    /// Their department.
    pub department: Option<String>,
    /// Whether they are active.
    pub active: bool,
    /// Their family name.
    pub family_name: String,
    /// Kinds of the credentials they hold in good standing.
    pub active_credentials: Vec<String>,
    /// Their home address, when the directory holds it.
    pub address: Option<String>,
}

/// What the directory says of a patient now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientFacts {
    /// Staff ids on the care team.
    pub care_team: BTreeSet<String>,
    /// Departments of the active encounters.
    pub departments: BTreeSet<String>,
    /// Flagged as a VIP.
    pub vip: bool,
    /// Flagged confidential.
    pub confidential: bool,
    /// Their family name, when registered.
    pub family_name: Option<String>,
    /// The staff id of a patient who is also an employee.
    pub employee_id: Option<String>,
    /// Their postal address, when registered.
    pub address: Option<String>,
}

/// The directory as reports read it.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Staff by id.
    pub staff: BTreeMap<String, StaffFacts>,
    /// Patients by id (many: a hash map, looked up for every entry).
    pub patients: HashMap<String, PatientFacts>,
    /// The tenant's offset from UTC, for working hours.
    pub utc_offset_minutes: i64,
}

impl Directory {
    /// The staff member's roles, comma-separated.
    pub fn roles(&self, staff: &str) -> String {
        self.staff
            .get(staff)
            .map(|s| s.roles.join(", "))
            .unwrap_or_default()
    }

    /// The staff member's department.
    pub fn department(&self, staff: &str) -> String {
        self.staff
            .get(staff)
            .and_then(|s| s.department.clone())
            .unwrap_or_default()
    }

    /// Whether the staff member is on the patient's care team.
    pub fn on_care_team(&self, staff: &str, patient: &str) -> bool {
        self.patients
            .get(patient)
            .is_some_and(|p| p.care_team.contains(staff))
    }

    /// Whether the staff member passes the department and role filters.
    pub fn passes(&self, staff: &str, parameters: &Parameters) -> bool {
        if parameters.department.is_none() && parameters.role.is_none() {
            return true;
        }
        let facts = self.staff.get(staff);
        let department_ok = parameters
            .department
            .as_ref()
            .is_none_or(|wanted| facts.and_then(|f| f.department.as_ref()) == Some(wanted));
        let role_ok = parameters
            .role
            .as_ref()
            .is_none_or(|wanted| facts.is_some_and(|f| f.roles.contains(wanted)));
        department_ok && role_ok
    }
}

/// A finished report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Which report.
    pub kind: ReportKind,
    /// Its title.
    pub title: String,
    /// What it was asked for.
    pub parameters: Parameters,
    /// When it was generated (RFC 3339, UTC).
    pub generated_at: String,
    /// Who generated it (`client:…` or `staff:…`).
    pub generated_by: String,
    /// What it was computed from.
    pub source: Source,
    /// How to read it: what is included and what is not.
    pub notes: Vec<String>,
    /// Column headings.
    pub columns: Vec<String>,
    /// One row per finding, cells in column order.
    pub rows: Vec<Vec<String>>,
}
