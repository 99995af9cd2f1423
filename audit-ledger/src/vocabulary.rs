//! The ledger's vocabulary, shared by the code that writes entries (the
//! application layer) and the code that reads them (compliance reports, the
//! SIEM formats): the kinds of entry that readers act on, and outcomes. An
//! entry stores them as text; writers and readers name them only through
//! these types, so a kind cannot be spelt two ways.

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A PDP decision (permit or deny).
    Decision,
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
    /// A staff member added to the directory.
    StaffCreate,
    /// A staff member's record changed.
    StaffUpdate,
    /// A staff member disabled.
    StaffDisable,
    /// A staff member enabled again.
    StaffEnable,
    /// A reviewer's verdict on one break-glass access.
    BreakGlassReview,
    /// A policy version installed (uploaded, rolled back, or the HMS set on first use).
    PolicyInstall,
}

impl EventKind {
    /// Every kind, for parsing.
    pub const ALL: [Self; 14] = [
        Self::Decision,
        Self::Login,
        Self::MfaEnrol,
        Self::MfaVerify,
        Self::MfaLockout,
        Self::MfaReset,
        Self::Logout,
        Self::SessionRevoke,
        Self::StaffCreate,
        Self::StaffUpdate,
        Self::StaffDisable,
        Self::StaffEnable,
        Self::BreakGlassReview,
        Self::PolicyInstall,
    ];

    /// The kind as entries store it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Decision => "decision",
            Self::Login => "auth.login",
            Self::MfaEnrol => "auth.mfa.enrol",
            Self::MfaVerify => "auth.mfa.verify",
            Self::MfaLockout => "auth.mfa.lockout",
            Self::MfaReset => "auth.mfa.reset",
            Self::Logout => "auth.logout",
            Self::SessionRevoke => "auth.session.revoke",
            Self::StaffCreate => "directory.staff.create",
            Self::StaffUpdate => "directory.staff.update",
            Self::StaffDisable => "directory.staff.disable",
            Self::StaffEnable => "directory.staff.enable",
            Self::BreakGlassReview => "break_glass.review",
            Self::PolicyInstall => "policy.install",
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
