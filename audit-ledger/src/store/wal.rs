//! SQLite checkpoints off the commit path: after commits, a task beside the
//! writer copies the write-ahead log into the database file over a connection
//! of its own, so that no commit stops to do it.
//!
//! A checkpoint writes pages all over the database file and syncs it, which
//! under steady load took tens of milliseconds; done by the commit that
//! crossed SQLite's automatic threshold, it held up every decision queued
//! behind that commit. The checkpoint here is `PASSIVE`: it never waits for
//! the writer or for readers, and the writer never waits for it. SQLite's own
//! automatic checkpoint stays on as the backstop that bounds the log should
//! this task fall behind or fail.

use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::any::AnyConnectOptions;
use tokio::sync::Notify;

use super::Shared;
use super::sql::Dialect;

/// Least time between two checkpoints; a burst of commits shares one.
const PAUSE: Duration = Duration::from_millis(10);

/// Asks the background checkpoint task for a checkpoint.
pub(crate) struct Checkpointer {
    due: Arc<Notify>,
}

impl Checkpointer {
    /// Starts the task for `shared`'s database on the current runtime; none on PostgreSQL.
    pub(crate) fn start(shared: &Shared) -> Option<Self> {
        if shared.dialect != Dialect::Sqlite {
            return None;
        }
        let due = Arc::new(Notify::new());
        tokio::spawn(checkpoint_when_due(
            shared.pool.connect_options(),
            Arc::clone(&due),
            shared.origin.clone(),
        ));
        Some(Self { due })
    }

    /// Says that a commit has added to the log.
    pub(crate) fn nudge(&self) {
        self.due.notify_one();
    }
}

async fn checkpoint_when_due(options: Arc<AnyConnectOptions>, due: Arc<Notify>, origin: String) {
    let mut conn = match options.connect().await {
        Ok(conn) => conn,
        Err(error) => {
            tracing::warn!(ledger = %origin, %error, "no background checkpoints; commits will checkpoint");
            return;
        }
    };
    loop {
        due.notified().await;
        let done = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await;
        if let Err(error) = done {
            tracing::warn!(ledger = %origin, %error, "background checkpoint failed");
        }
        tokio::time::sleep(PAUSE).await;
    }
}
