//! What a provisioning request can fail with: a SCIM error for the client, or the store.

use hms_directory::StoreError;

use crate::protocol::error::ScimError;

/// A refused or failed provisioning operation; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// The request is refused, with the SCIM status and type to answer.
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// The directory refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data could not be decoded.
    #[error("corrupt stored value in `{0}`")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for ProvisioningError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}
