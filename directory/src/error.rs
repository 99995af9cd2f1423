//! Errors of the directory store.

/// What can go wrong reading or writing a directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is not acceptable; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The named record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The record already exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration error")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Stored data could not be decoded.
    #[error("corrupt stored value in `{0}`")]
    Corrupt(&'static str),
}

impl StoreError {
    /// Whether the database could not be reached (as opposed to refusing the request).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            )
        )
    }
}
