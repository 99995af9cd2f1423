//! The ledger's vocabulary, shared by the code that writes entries (the
//! application layer) and the code that reads them (compliance reports, the
//! SIEM formats): every kind of entry, and outcomes. An entry stores them as
//! text; writers and readers name them only through these types, so a kind
//! cannot be spelt two ways.

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A PDP decision (permit or deny).
    Decision,
    /// An AuthZEN subject search and what it found.
    SearchSubject,
    /// An AuthZEN resource search and what it found.
    SearchResource,
    /// An AuthZEN action search and what it found.
    SearchAction,
    /// A login through an identity provider.
    Login,
    /// A second factor enrolled.
    MfaEnrol,
    /// A second-factor proof checked.
    MfaVerify,
    /// A second factor locked after repeated failures.
    MfaLockout,
    /// A second factor reset by an administrator.
    MfaReset,
    /// A session ended by its holder.
    Logout,
    /// A session ended by someone else (an administrator, offboarding).
    SessionRevoke,
    /// An identity provider, login setting or token key changed.
    IdentityConfig,
    /// A staff member added to the directory.
    StaffCreate,
    /// A staff member's record changed.
    StaffUpdate,
    /// A staff member disabled.
    StaffDisable,
    /// A staff member enabled again.
    StaffEnable,
    /// A patient created or replaced.
    PatientUpsert,
    /// An encounter created or replaced.
    EncounterUpsert,
    /// An entity of the tenant's own schema created or replaced in the entity store.
    EntityUpsert,
    /// An entity deleted from the entity store.
    EntityDelete,
    /// A SCIM User created.
    ScimUserCreate,
    /// A SCIM User replaced.
    ScimUserReplace,
    /// A SCIM User patched.
    ScimUserPatch,
    /// A SCIM User deleted (the person disabled).
    ScimUserDelete,
    /// A SCIM Group created.
    ScimGroupCreate,
    /// A SCIM Group replaced.
    ScimGroupReplace,
    /// A SCIM Group patched.
    ScimGroupPatch,
    /// A SCIM Group deleted.
    ScimGroupDelete,
    /// The SCIM-group-to-role mapping replaced.
    GroupRolesReplace,
    /// An HR hire event.
    HrHire,
    /// An HR transfer event.
    HrTransfer,
    /// An HR leave-of-absence event.
    HrLeaveOfAbsence,
    /// An HR return-from-leave event.
    HrReturn,
    /// An HR termination event.
    HrTermination,
    /// An HR credential update.
    HrCredentialUpdate,
    /// The HR job-to-role mapping or notification URL changed.
    HrSettings,
    /// A new HR webhook secret issued.
    HrSecretRotate,
    /// An API client issued.
    ClientCreate,
    /// An API client revoked.
    ClientRevoke,
    /// A tenant created.
    TenantCreate,
    /// A tenant suspended: every request to it refused.
    TenantSuspend,
    /// A suspended tenant served again.
    TenantResume,
    /// A platform operator's credential issued.
    OperatorCredentialIssue,
    /// A policy version installed (uploaded, rolled back, or the HMS set on first use).
    PolicyInstall,
    /// How decisions are recorded changed.
    LedgerSettingsUpdate,
    /// A new ledger signing key.
    LedgerKeyRotate,
    /// Tampered entries set aside and the ledger resumed.
    LedgerQuarantine,
    /// A reviewer's verdict on one break-glass access.
    BreakGlassReview,
    /// A compliance report pulled.
    ReportPull,
    /// An access-review campaign created.
    ReviewCampaignCreate,
    /// An access-review campaign closed.
    ReviewCampaignClose,
    /// The tenant's access-review rules changed.
    ReviewSettingsUpdate,
    /// A reviewer's verdict on one item.
    ReviewDecision,
    /// An undecided item past its due date revoked or escalated.
    ReviewOverdue,
    /// A revocation applied to the directory.
    ReviewRevocationApply,
    /// A reminder sent to a reviewer with overdue items.
    ReviewReminder,
}

impl EventKind {
    /// Every kind, for parsing.
    pub const ALL: [Self; 56] = [
        Self::Decision,
        Self::SearchSubject,
        Self::SearchResource,
        Self::SearchAction,
        Self::Login,
        Self::MfaEnrol,
        Self::MfaVerify,
        Self::MfaLockout,
        Self::MfaReset,
        Self::Logout,
        Self::SessionRevoke,
        Self::IdentityConfig,
        Self::StaffCreate,
        Self::StaffUpdate,
        Self::StaffDisable,
        Self::StaffEnable,
        Self::PatientUpsert,
        Self::EncounterUpsert,
        Self::EntityUpsert,
        Self::EntityDelete,
        Self::ScimUserCreate,
        Self::ScimUserReplace,
        Self::ScimUserPatch,
        Self::ScimUserDelete,
        Self::ScimGroupCreate,
        Self::ScimGroupReplace,
        Self::ScimGroupPatch,
        Self::ScimGroupDelete,
        Self::GroupRolesReplace,
        Self::HrHire,
        Self::HrTransfer,
        Self::HrLeaveOfAbsence,
        Self::HrReturn,
        Self::HrTermination,
        Self::HrCredentialUpdate,
        Self::HrSettings,
        Self::HrSecretRotate,
        Self::ClientCreate,
        Self::ClientRevoke,
        Self::TenantCreate,
        Self::TenantSuspend,
        Self::TenantResume,
        Self::OperatorCredentialIssue,
        Self::PolicyInstall,
        Self::LedgerSettingsUpdate,
        Self::LedgerKeyRotate,
        Self::LedgerQuarantine,
        Self::BreakGlassReview,
        Self::ReportPull,
        Self::ReviewCampaignCreate,
        Self::ReviewCampaignClose,
        Self::ReviewSettingsUpdate,
        Self::ReviewDecision,
        Self::ReviewOverdue,
        Self::ReviewRevocationApply,
        Self::ReviewReminder,
    ];

    /// The kind as entries store it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Decision => "decision",
            Self::SearchSubject => "search.subject",
            Self::SearchResource => "search.resource",
            Self::SearchAction => "search.action",
            Self::Login => "auth.login",
            Self::MfaEnrol => "auth.mfa.enrol",
            Self::MfaVerify => "auth.mfa.verify",
            Self::MfaLockout => "auth.mfa.lockout",
            Self::MfaReset => "auth.mfa.reset",
            Self::Logout => "auth.logout",
            Self::SessionRevoke => "auth.session.revoke",
            Self::IdentityConfig => "identity.config",
            Self::StaffCreate => "directory.staff.create",
            Self::StaffUpdate => "directory.staff.update",
            Self::StaffDisable => "directory.staff.disable",
            Self::StaffEnable => "directory.staff.enable",
            Self::PatientUpsert => "directory.patient.upsert",
            Self::EncounterUpsert => "directory.encounter.upsert",
            Self::EntityUpsert => "directory.entity.upsert",
            Self::EntityDelete => "directory.entity.delete",
            Self::ScimUserCreate => "provisioning.scim.user.create",
            Self::ScimUserReplace => "provisioning.scim.user.replace",
            Self::ScimUserPatch => "provisioning.scim.user.patch",
            Self::ScimUserDelete => "provisioning.scim.user.delete",
            Self::ScimGroupCreate => "provisioning.scim.group.create",
            Self::ScimGroupReplace => "provisioning.scim.group.replace",
            Self::ScimGroupPatch => "provisioning.scim.group.patch",
            Self::ScimGroupDelete => "provisioning.scim.group.delete",
            Self::GroupRolesReplace => "provisioning.group_roles.replace",
            Self::HrHire => "provisioning.hr.hire",
            Self::HrTransfer => "provisioning.hr.transfer",
            Self::HrLeaveOfAbsence => "provisioning.hr.leave_of_absence",
            Self::HrReturn => "provisioning.hr.return",
            Self::HrTermination => "provisioning.hr.termination",
            Self::HrCredentialUpdate => "provisioning.hr.credential_update",
            Self::HrSettings => "provisioning.hr.settings",
            Self::HrSecretRotate => "provisioning.hr.secret_rotated",
            Self::ClientCreate => "client.create",
            Self::ClientRevoke => "client.revoke",
            Self::TenantCreate => "tenant.create",
            Self::TenantSuspend => "tenant.suspend",
            Self::TenantResume => "tenant.resume",
            Self::OperatorCredentialIssue => "operator.credential.issue",
            Self::PolicyInstall => "policy.install",
            Self::LedgerSettingsUpdate => "ledger.settings.update",
            Self::LedgerKeyRotate => "ledger.key.rotate",
            Self::LedgerQuarantine => "ledger.quarantine",
            Self::BreakGlassReview => "break_glass.review",
            Self::ReportPull => "report.pull",
            Self::ReviewCampaignCreate => "review.campaign.create",
            Self::ReviewCampaignClose => "review.campaign.close",
            Self::ReviewSettingsUpdate => "review.settings.update",
            Self::ReviewDecision => "review.decision",
            Self::ReviewOverdue => "review.overdue",
            Self::ReviewRevocationApply => "review.revocation.apply",
            Self::ReviewReminder => "review.reminder",
        }
    }

    /// The kind an entry's text names, if it is one of these.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// How what an entry records ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventOutcome {
    /// A decision that allowed the request.
    Permit,
    /// A decision that refused it.
    Deny,
    /// Anything else that was done.
    Success,
    /// Anything else that was attempted and failed.
    Failure,
}

impl EventOutcome {
    /// The outcome as entries store it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "permit",
            Self::Deny => "deny",
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    /// The outcome an entry's text names, if it is one of these.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Permit, Self::Deny, Self::Success, Self::Failure]
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }

    /// The outcome of a decision.
    pub const fn of_decision(allowed: bool) -> Self {
        if allowed { Self::Permit } else { Self::Deny }
    }
}

impl crate::Event {
    /// Whether the entry is of `kind`.
    pub fn is(&self, kind: EventKind) -> bool {
        self.kind == kind.as_str()
    }

    /// Whether the entry ended as `outcome`.
    pub fn ended(&self, outcome: EventOutcome) -> bool {
        self.outcome.as_deref() == Some(outcome.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_text_and_no_two_share_one() {
        let mut seen = std::collections::HashSet::new();
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert!(seen.insert(kind.as_str()), "{} twice", kind.as_str());
        }
        assert_eq!(EventKind::parse("decisions"), None);
        for outcome in [
            EventOutcome::Permit,
            EventOutcome::Deny,
            EventOutcome::Success,
            EventOutcome::Failure,
        ] {
            assert_eq!(EventOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(EventOutcome::parse("maybe"), None);
    }

    #[test]
    fn an_event_is_matched_by_kind_and_outcome() {
        let event = crate::Event {
            kind: EventKind::Decision.as_str().into(),
            outcome: Some(EventOutcome::of_decision(false).as_str().into()),
            ..crate::Event::default()
        };
        assert!(event.is(EventKind::Decision));
        assert!(!event.is(EventKind::Login));
        assert!(event.ended(EventOutcome::Deny));
        assert!(!event.ended(EventOutcome::Permit));
    }
}
