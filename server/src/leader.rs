//! One scheduler for the whole service: on PostgreSQL, the node holding a
//! session-level advisory lock on the catalog database runs the scheduled
//! work; when it stops (or its connection drops) the lock is released and
//! another node takes over at its next check. On SQLite there is one node.

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};
use tokio::sync::Mutex;

/// The advisory lock's key: "HMS-ACH scheduler".
const SCHEDULER_LOCK: i64 = 0x484d_535f_5343_4844;

/// Whether this node is the scheduler.
pub struct Leadership {
    catalog_url: Option<String>,
    /// The connection the lock is held (or tried) on, and whether it is held.
    session: Mutex<Option<(PgConnection, bool)>>,
}

impl Leadership {
    /// Leadership over the catalog database at `catalog_url` (PostgreSQL);
    /// `None` makes this node the scheduler.
    pub fn new(catalog_url: Option<String>) -> Self {
        Self {
            catalog_url,
            session: Mutex::new(None),
        }
    }

    /// Whether this node runs the scheduled work now: it holds the lock, or
    /// has just taken it.
    pub async fn is_leader(&self) -> bool {
        let Some(url) = &self.catalog_url else {
            return true;
        };
        let mut session = self.session.lock().await;
        match try_lead(&mut session, url).await {
            Ok(leads) => leads,
            Err(error) => {
                tracing::warn!(%error, "scheduler lock unavailable; not scheduling on this node");
                *session = None;
                false
            }
        }
    }
}

async fn try_lead(
    session: &mut Option<(PgConnection, bool)>,
    url: &str,
) -> Result<bool, sqlx::Error> {
    if session.is_none() {
        *session = Some((PgConnection::connect(url).await?, false));
    }
    let Some((conn, held)) = session.as_mut() else {
        return Ok(false);
    };
    if *held {
        // Still ours while the connection lives.
        conn.ping().await?;
        return Ok(true);
    }
    let row = sqlx::query("SELECT pg_try_advisory_lock($1)")
        .bind(SCHEDULER_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    *held = row.try_get::<bool, _>(0)?;
    if *held {
        tracing::info!("this node now runs the scheduled work");
    }
    Ok(*held)
}
