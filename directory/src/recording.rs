//! How a tenant's PDP decisions are recorded in its audit ledger.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::store::decode_json;
use crate::{StoreError, TenantStore};

const COLUMN: &str = "decision_recording.settings";

/// When a decision is answered, relative to its ledger entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionRecording {
    /// Once the entry is durable; if it cannot be written, the decision is a denial.
    #[default]
    Durable,
    /// Once the entry is queued for the ledger's writer. A crash can lose the
    /// entries of the last moments; while the ledger fails, decisions wait
    /// for it as in `durable`.
    Asynchronous,
}

/// How the tenant's decisions are recorded (`GET/PUT /{tenant}/ledger/settings`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingSettings {
    /// When decisions are answered.
    pub decisions: DecisionRecording,
}

impl TenantStore {
    /// The tenant's ledger settings; durable recording until they are set.
    pub async fn ledger_settings(&self) -> Result<RecordingSettings, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT settings FROM decision_recording WHERE id = 1")
                .fetch_optional(self.pool())
                .await?;
        row.map_or(Ok(RecordingSettings::default()), |(json,)| {
            decode_json(&json, COLUMN)
        })
    }

    /// Replaces the tenant's ledger settings in the caller's transaction.
    pub async fn set_ledger_settings(
        &self,
        tx: &mut AnyConnection,
        settings: &RecordingSettings,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM decision_recording WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO decision_recording (id, settings, updated_at) VALUES (1, $1, $2)")
            .bind(serde_json::to_string(settings).map_err(|_| StoreError::Corrupt(COLUMN))?)
            .bind(crate::clock::now_rfc3339())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}
