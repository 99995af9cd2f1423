//! The change feed: every change to what a node holds in memory is numbered
//! in the change's own transaction and listed with what it touched, so every
//! node serving the tenant can re-read exactly that and nothing else.

use sqlx::AnyConnection;

use crate::{StoreError, TenantStore};

/// What a change touched, as a node holding the tenant in memory sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// The policy version in force.
    Policies,
    /// One staff member (attributes, roles, active flag).
    Staff(String),
    /// One patient (attributes, care team, encounters).
    Patient(String),
    /// The entity store (a batch of the tenant's own entities).
    Entities,
    /// The API clients (created or revoked).
    Clients,
    /// How decisions are recorded.
    RecordingSettings,
    /// Login and session settings.
    IdentitySettings,
    /// One identity provider's registration.
    Provider(String),
    /// The keys that sign session tokens.
    TokenKeys,
    /// The ledger's signing key.
    LedgerKey,
    /// One session (ended, or its second factor proven).
    Session(String),
}

impl Change {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Policies => ("policies", ""),
            Self::Staff(id) => ("staff", id),
            Self::Patient(id) => ("patient", id),
            Self::Entities => ("entities", ""),
            Self::Clients => ("clients", ""),
            Self::RecordingSettings => ("recording_settings", ""),
            Self::IdentitySettings => ("identity_settings", ""),
            Self::Provider(id) => ("provider", id),
            Self::TokenKeys => ("token_keys", ""),
            Self::LedgerKey => ("ledger_key", ""),
            Self::Session(id) => ("session", id),
        }
    }

    fn from_parts(topic: &str, subject: String) -> Option<Self> {
        Some(match topic {
            "policies" => Self::Policies,
            "staff" => Self::Staff(subject),
            "patient" => Self::Patient(subject),
            "entities" => Self::Entities,
            "clients" => Self::Clients,
            "recording_settings" => Self::RecordingSettings,
            "identity_settings" => Self::IdentitySettings,
            "provider" => Self::Provider(subject),
            "token_keys" => Self::TokenKeys,
            "ledger_key" => Self::LedgerKey,
            "session" => Self::Session(subject),
            _ => return None,
        })
    }
}

/// One line of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// The change's number; one change may list several things.
    pub seq: i64,
    /// What it touched; `None` for a topic this build does not know (a newer
    /// node wrote it), which a reader answers by re-reading everything.
    pub change: Option<Change>,
    /// The node that made it.
    pub node: String,
}

/// Numbers a change in the caller's transaction and lists what it touched;
/// returns its number (`None` when it touched nothing held in memory). The
/// counter's row lock orders concurrent changes.
pub async fn record(
    tx: &mut AnyConnection,
    node: &str,
    changes: &[Change],
) -> Result<Option<i64>, StoreError> {
    if changes.is_empty() {
        return Ok(None);
    }
    let (seq,): (i64,) =
        sqlx::query_as("UPDATE change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut *tx)
            .await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut listed = std::collections::HashSet::new();
    for change in changes.iter().filter(|c| listed.insert(*c)) {
        let (topic, subject) = change.parts();
        sqlx::query(
            "INSERT INTO change_feed (seq, topic, subject, node, recorded_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(topic)
        .bind(subject)
        .bind(node)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(Some(seq))
}

impl TenantStore {
    /// The number of the latest change.
    pub async fn change_head(&self) -> Result<i64, StoreError> {
        let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM change_counter WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        Ok(seq)
    }

    /// The feed after change `after` up to change `until`, oldest first;
    /// `None` when the feed no longer reaches back that far (pruned), so the
    /// reader must re-read everything.
    pub async fn changes_between(
        &self,
        after: i64,
        until: i64,
    ) -> Result<Option<Vec<FeedEntry>>, StoreError> {
        let mut conn = self.connection().await?;
        let (oldest,): (Option<i64>,) = sqlx::query_as("SELECT MIN(seq) FROM change_feed")
            .fetch_one(&mut *conn)
            .await?;
        if oldest.is_some_and(|oldest| oldest > after + 1) {
            return Ok(None);
        }
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, topic, subject, node FROM change_feed WHERE seq > $1 AND seq <= $2 ORDER BY seq",
        )
        .bind(after)
        .bind(until)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Some(
            rows.into_iter()
                .map(|(seq, topic, subject, node)| FeedEntry {
                    seq,
                    change: Change::from_parts(&topic, subject),
                    node,
                })
                .collect(),
        ))
    }

    /// Drops feed lines older than `before` (Unix seconds), keeping the
    /// latest change's so the feed's start stays known; returns how many.
    pub async fn prune_changes(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM change_feed WHERE recorded_at < $1 \
             AND seq < (SELECT seq FROM change_counter WHERE id = 1)",
        )
        .bind(before)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
