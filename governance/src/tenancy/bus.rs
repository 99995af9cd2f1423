//! How a node tells the others what happened to a tenant: a `NOTIFY` on the
//! PostgreSQL catalog database when the tenant changed, and, in the catalog,
//! when the tenant next has scheduled work (for whichever node schedules).

use hms_audit_ledger::Timestamp;
use hms_directory::{Backend, Catalog};

/// The channel nodes wake each other on; its payload is the tenant id, after
/// [`SUSPENDED`] when the tenant was suspended.
pub(super) const CHANNEL: &str = "hms_ach_changes";
/// Marks a suspension's wake-up (no tenant id holds a `:`).
pub(super) const SUSPENDED: &str = "suspended:";

/// This node's part in the change feed: its name in the feed, and how it
/// wakes the other nodes.
pub struct ChangeBus {
    node: String,
    catalog: Catalog,
    /// Whether wake-ups are sent (PostgreSQL; on SQLite there is one node).
    notify: bool,
}

impl ChangeBus {
    /// A bus for a node with a fresh name, over the catalog database.
    pub fn new(backend: &Backend, catalog: Catalog) -> Self {
        Self {
            node: uuid::Uuid::new_v4().to_string(),
            catalog,
            notify: matches!(backend, Backend::Postgres { .. }),
        }
    }

    /// This node's name in the feed.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Wakes the other nodes: `tenant` changed. Best effort: the polling
    /// backstop applies a change whose wake-up is lost.
    pub async fn announce(&self, tenant: &str) {
        self.wake(tenant, tenant).await;
    }

    /// Wakes the other nodes: `tenant` was suspended, so they close it.
    /// Best effort: the polling backstop closes it too.
    pub async fn announce_suspension(&self, tenant: &str) {
        self.wake(tenant, &format!("{SUSPENDED}{tenant}")).await;
    }

    async fn wake(&self, tenant: &str, payload: &str) {
        if !self.notify {
            return;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(self.catalog.pool())
            .await;
        if let Err(error) = sent {
            tracing::warn!(tenant, %error, "other nodes not woken; they will poll");
        }
    }

    /// Tells the scheduler that `tenant` has work at `at`.
    pub async fn schedule(
        &self,
        tenant: &str,
        at: Timestamp,
    ) -> Result<(), hms_directory::StoreError> {
        self.catalog.wake_at(tenant, at).await
    }
}
