//! How a node tells the others that a tenant changed: a `NOTIFY` on the
//! PostgreSQL catalog database, and the node's own name in the change feed.

use hms_directory::Backend;
use sqlx::AnyPool;

/// The channel nodes wake each other on; its payload is the tenant id.
pub(super) const CHANNEL: &str = "hms_ach_changes";

/// This node's part in the change feed: its name in the feed, and how it
/// wakes the other nodes.
pub struct ChangeBus {
    node: String,
    /// The PostgreSQL catalog database, where wake-ups are sent; `None` on SQLite.
    catalog: Option<AnyPool>,
}

impl ChangeBus {
    /// A bus for a node with a fresh name; wake-ups go through `catalog` on PostgreSQL.
    pub fn new(backend: &Backend, catalog: &AnyPool) -> Self {
        Self {
            node: uuid::Uuid::new_v4().to_string(),
            catalog: matches!(backend, Backend::Postgres { .. }).then(|| catalog.clone()),
        }
    }

    /// This node's name in the feed.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Wakes the other nodes: `tenant` changed. Best effort: the polling
    /// backstop applies a change whose wake-up is lost.
    pub async fn announce(&self, tenant: &str) {
        let Some(catalog) = &self.catalog else {
            return;
        };
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(tenant)
            .execute(catalog)
            .await;
        if let Err(error) = sent {
            tracing::warn!(tenant, %error, "other nodes not woken; they will poll");
        }
    }
}
