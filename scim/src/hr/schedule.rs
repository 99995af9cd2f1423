//! Future-dated HR events: kept when delivered ahead of their effective time
//! and handed back, each exactly once, when that time has come.

use hms_audit_ledger::Timestamp;
use sqlx::AnyConnection;

use super::event::HrEvent;
use crate::store::ProvisioningError;
use hms_directory::StoreError;

/// Keeps `event` (delivered as `body`) until its effective time. Returns
/// `false` when an event with its id was already received (scheduled or
/// applied): the delivery is a duplicate and nothing is written.
pub async fn schedule(
    tx: &mut AnyConnection,
    event: &HrEvent,
    body: &str,
) -> Result<bool, ProvisioningError> {
    let seen: Option<(String,)> = sqlx::query_as(
        "SELECT event_id FROM hr_events WHERE event_id = $1 \
         UNION SELECT event_id FROM hr_scheduled_events WHERE event_id = $1",
    )
    .bind(&event.id)
    .fetch_optional(&mut *tx)
    .await?;
    if seen.is_some() {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO hr_scheduled_events (event_id, effective_at, body, received_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&event.id)
    .bind(event.effective_at.to_rfc3339())
    .bind(body)
    .bind(crate::store::now())
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// Whether an event with this id is waiting for its effective time.
pub async fn is_scheduled(
    tx: &mut AnyConnection,
    event_id: &str,
) -> Result<bool, ProvisioningError> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT event_id FROM hr_scheduled_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(found.is_some())
}

/// The ids of the events whose effective time is at or before `now`,
/// earliest first (the times are stored as fixed-width UTC text, so their
/// order as text is their order in time).
pub async fn due(
    conn: &mut AnyConnection,
    now: Timestamp,
) -> Result<Vec<String>, ProvisioningError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT event_id FROM hr_scheduled_events WHERE effective_at <= $1 \
         ORDER BY effective_at, event_id",
    )
    .bind(now.to_rfc3339())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// When the earliest kept event takes effect; `None` when none is kept.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<Timestamp>, ProvisioningError> {
    let (earliest,): (Option<String>,) =
        sqlx::query_as("SELECT MIN(effective_at) FROM hr_scheduled_events")
            .fetch_one(&mut *conn)
            .await?;
    earliest
        .map(|at| {
            Timestamp::parse_rfc3339(&at).map_err(|_| {
                ProvisioningError::Store(StoreError::Corrupt("hr_scheduled_events.effective_at"))
            })
        })
        .transpose()
}

/// Takes a scheduled event out, in the caller's transaction, so that it is
/// applied once; `None` when another worker took it first.
pub async fn take(
    tx: &mut AnyConnection,
    event_id: &str,
) -> Result<Option<HrEvent>, ProvisioningError> {
    let row: Option<(String,)> =
        sqlx::query_as("DELETE FROM hr_scheduled_events WHERE event_id = $1 RETURNING body")
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
    row.map(|(body,)| {
        HrEvent::parse(body.as_bytes())
            .map_err(|_| ProvisioningError::Corrupt("hr_scheduled_events.body"))
    })
    .transpose()
}
