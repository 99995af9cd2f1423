//! Entries and hashes as stored in ledger tables, and back.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::LedgerError;
use crate::entry::{Entry, Event, Timestamp, canonical_json};
use crate::merkle::Hash;

/// The entry columns, in the order [`entry_from_row`] reads them.
pub(crate) const ENTRY_COLUMNS: &str = "sequence, recorded_at, kind, actor, subject, patient, action, \
     resource, outcome, policies, request_id, decision_id, source_ip, user_agent, details, prev_hash, leaf_hash";

/// The number of columns each entry binds on insert.
pub(crate) const ENTRY_COLUMN_COUNT: usize = 17;

/// A stored hash column as a hash.
pub(crate) fn to_hash(bytes: &[u8], what: &str) -> Result<Hash, LedgerError> {
    bytes
        .try_into()
        .map_err(|_| LedgerError::Corrupt(format!("{what} is {} bytes, not 32", bytes.len())))
}

/// A stored count or index as `u64`.
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, LedgerError> {
    u64::try_from(value).map_err(|_| LedgerError::Corrupt(format!("negative {what}")))
}

/// A `u64` count or index as stored.
pub(crate) fn to_i64(value: u64) -> Result<i64, LedgerError> {
    i64::try_from(value).map_err(|_| LedgerError::Invalid(format!("{value} is out of range")))
}

/// An entry row and the leaf hash stored with it.
pub(crate) fn entry_from_row(row: &AnyRow) -> Result<(Entry, Hash), LedgerError> {
    let sequence = to_u64(row.try_get(0)?, "sequence")?;
    let policies: String = row.try_get(9)?;
    let details: String = row.try_get(14)?;
    let corrupt = |column: &str| LedgerError::Corrupt(format!("entry {sequence}: {column}"));
    let event = Event {
        kind: row.try_get(2)?,
        actor: row.try_get(3)?,
        subject: row.try_get(4)?,
        patient: row.try_get(5)?,
        action: row.try_get(6)?,
        resource: row.try_get(7)?,
        outcome: row.try_get(8)?,
        policies: serde_json::from_str(&policies).map_err(|_| corrupt("policies"))?,
        request_id: row.try_get(10)?,
        decision_id: row.try_get(11)?,
        source_ip: row.try_get(12)?,
        user_agent: row.try_get(13)?,
        details: serde_json::from_str(&details).map_err(|_| corrupt("details"))?,
    };
    let prev: Vec<u8> = row.try_get(15)?;
    let leaf: Vec<u8> = row.try_get(16)?;
    let entry = Entry {
        sequence,
        time: Timestamp::from_unix_micros(row.try_get(1)?),
        prev_hash: to_hash(&prev, "prev_hash")?,
        event,
    };
    Ok((entry, to_hash(&leaf, "leaf_hash")?))
}

/// The policies column: a JSON array.
pub(crate) fn policies_column(event: &Event) -> String {
    serde_json::to_string(&event.policies).unwrap_or_else(|_| "[]".into())
}

/// The details column: exactly the canonical JSON that was hashed.
pub(crate) fn details_column(event: &Event) -> String {
    canonical_json(&event.details)
}
