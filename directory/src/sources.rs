//! Where a change to the directory comes from: each feed writes under its own
//! source, which the directory keeps with every role and credential it grants.

use serde::Serialize;

/// Who wrote a staff member, role or credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    /// An administrator, through the API or the CLI: an explicit grant that
    /// lifts an access review's hold.
    Admin,
    /// The identity provider's SCIM client.
    Scim,
    /// The HR system's signed events.
    Hr,
    /// A sign-in through the identity provider (group claims to roles).
    Idp,
    /// An access review's revocations.
    Review,
}

impl ChangeSource {
    /// The stored and recorded name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Scim => "scim",
            Self::Hr => "hr",
            Self::Idp => "idp",
            Self::Review => "review",
        }
    }

    /// Whether `stored` (a source column) names this source.
    pub fn is(self, stored: &str) -> bool {
        stored == self.as_str()
    }
}
