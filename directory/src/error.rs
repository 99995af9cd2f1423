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
    /// The record changed since the writer read it (`If-Match`); nothing was written.
    #[error("changed since it was read: its entity tag is now {current}")]
    Stale {
        /// The record's entity tag now.
        current: String,
    },
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
    /// Whether the database could not be reached or cannot write now (a full
    /// disk, a lock held too long, an I/O error), as opposed to refusing the request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed,
            ) => true,
            Self::Database(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|code| cannot_write(&code))
            }
            _ => false,
        }
    }
}

/// Whether a database error code says the store cannot take writes now.
/// SQLite gives its (extended) result code as a number: BUSY 5, LOCKED 6,
/// IOERR 10, FULL 13, CANTOPEN 14. PostgreSQL gives an SQLSTATE: class 08
/// (connection), 53 (insufficient resources: disk full, out of memory), 57P
/// (the server shutting down) and 58 (system errors such as I/O). SQLSTATEs
/// have five characters; SQLite's codes at most four digits.
fn cannot_write(code: &str) -> bool {
    if code.len() == 5 {
        return ["08", "53", "57P", "58"]
            .iter()
            .any(|class| code.starts_with(class));
    }
    code.parse::<u32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 10 | 13 | 14))
}

#[cfg(test)]
mod tests {
    use super::cannot_write;

    #[test]
    fn store_errors_that_mean_no_writes_now() {
        for code in ["13", "5", "266", "53100", "08006", "57P01", "58030"] {
            assert!(cannot_write(code), "{code}");
        }
        for code in ["19", "2067", "1555", "23505", "40001", "42P01"] {
            assert!(!cannot_write(code), "{code}");
        }
    }
}
