//! The entity store: entities of the tenant's own schema beyond the
//! directory's HMS types, kept as Cedar JSON bodies (attributes and parents).
//! A batch is written in the caller's transaction under one new revision; a
//! delete leaves a tombstone, so nodes re-read exactly what changed since the
//! revision they hold.

use sqlx::AnyConnection;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::store::TenantStore;

/// One write of a batch: the entity's new body, or `None` to delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityWrite {
    /// Fully qualified entity type.
    pub kind: String,
    /// Entity id.
    pub id: String,
    /// `{"attrs": ..., "parents": ...}` in a canonical form; `None` deletes.
    pub body: Option<String>,
}

/// A write that changed what was stored (an unchanged body and the delete of
/// an absent entity change nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityWritten {
    /// Fully qualified entity type.
    pub kind: String,
    /// Entity id.
    pub id: String,
    /// Its version now.
    pub version: i64,
    /// Whether it was deleted.
    pub deleted: bool,
}

/// An entity as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEntityRow {
    /// Fully qualified entity type.
    #[sqlx(rename = "entity_type")]
    pub kind: String,
    /// Entity id.
    #[sqlx(rename = "entity_id")]
    pub id: String,
    /// Its body; empty once deleted.
    pub body: String,
    /// 1 when created, one more at every change.
    pub version: i64,
    /// The batch that last changed it.
    pub revision: i64,
    /// Whether it is a tombstone.
    pub deleted: i64,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Who last changed it.
    pub updated_by: String,
}

impl StoredEntityRow {
    /// Its body, `None` once deleted.
    pub fn live_body(&self) -> Option<&str> {
        (self.deleted == 0).then_some(self.body.as_str())
    }
}

const COLUMNS: &str =
    "entity_type, entity_id, body, version, revision, deleted, updated_at, updated_by";

impl TenantStore {
    /// Writes a batch in the caller's transaction under a new revision;
    /// returns the revision and the writes that changed something.
    pub async fn write_entities(
        &self,
        tx: &mut AnyConnection,
        writes: &[EntityWrite],
        by: &str,
    ) -> Result<(i64, Vec<EntityWritten>), StoreError> {
        let (revision,): (i64,) = sqlx::query_as(
            "UPDATE entity_store_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        )
        .fetch_one(&mut *tx)
        .await?;
        let at = now_rfc3339();
        let mut written = Vec::new();
        for write in writes {
            let version = match &write.body {
                Some(body) => upsert(tx, write, body, revision, &at, by).await?,
                None => tombstone(tx, write, revision, &at, by).await?,
            };
            written.extend(version.map(|version| EntityWritten {
                kind: write.kind.clone(),
                id: write.id.clone(),
                version,
                deleted: write.body.is_none(),
            }));
        }
        Ok((revision, written))
    }

    /// The revision of the latest batch.
    pub async fn entity_revision(&self) -> Result<i64, StoreError> {
        let (revision,): (i64,) =
            sqlx::query_as("SELECT revision FROM entity_store_revision WHERE id = 1")
                .fetch_one(self.pool())
                .await?;
        Ok(revision)
    }

    /// Every live entity.
    pub async fn load_entities(&self) -> Result<Vec<StoredEntityRow>, StoreError> {
        let select = format!("SELECT {COLUMNS} FROM stored_entities WHERE deleted = 0");
        Ok(sqlx::query_as(&select).fetch_all(self.pool()).await?)
    }

    /// What batches after `revision` changed, tombstones included.
    pub async fn entities_changed_after(
        &self,
        revision: i64,
    ) -> Result<Vec<StoredEntityRow>, StoreError> {
        let select = format!("SELECT {COLUMNS} FROM stored_entities WHERE revision > $1");
        Ok(sqlx::query_as(&select)
            .bind(revision)
            .fetch_all(self.pool())
            .await?)
    }

    /// One live entity.
    pub async fn stored_entity(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<StoredEntityRow>, StoreError> {
        let select = format!(
            "SELECT {COLUMNS} FROM stored_entities \
             WHERE entity_type = $1 AND entity_id = $2 AND deleted = 0"
        );
        Ok(sqlx::query_as(&select)
            .bind(kind)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Live entities of one type with ids after `after`, in id order.
    pub async fn list_entities(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StoredEntityRow>, StoreError> {
        let select = format!(
            "SELECT {COLUMNS} FROM stored_entities \
             WHERE entity_type = $1 AND entity_id > $2 AND deleted = 0 \
             ORDER BY entity_id LIMIT $3"
        );
        Ok(sqlx::query_as(&select)
            .bind(kind)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }
}

/// Creates or replaces one entity; `None` when the stored body was the same.
async fn upsert(
    tx: &mut AnyConnection,
    write: &EntityWrite,
    body: &str,
    revision: i64,
    at: &str,
    by: &str,
) -> Result<Option<i64>, StoreError> {
    let version: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO stored_entities \
         (entity_type, entity_id, body, version, revision, deleted, updated_at, updated_by) \
         VALUES ($1, $2, $3, 1, $4, 0, $5, $6) \
         ON CONFLICT (entity_type, entity_id) DO UPDATE SET \
         body = excluded.body, version = stored_entities.version + 1, \
         revision = excluded.revision, deleted = 0, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by \
         WHERE stored_entities.deleted = 1 OR stored_entities.body <> excluded.body \
         RETURNING version",
    )
    .bind(&write.kind)
    .bind(&write.id)
    .bind(body)
    .bind(revision)
    .bind(at)
    .bind(by)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(version.map(|(v,)| v))
}

/// Deletes one entity, keeping a tombstone; `None` when it was not there.
async fn tombstone(
    tx: &mut AnyConnection,
    write: &EntityWrite,
    revision: i64,
    at: &str,
    by: &str,
) -> Result<Option<i64>, StoreError> {
    let version: Option<(i64,)> = sqlx::query_as(
        "UPDATE stored_entities SET body = '', deleted = 1, version = version + 1, \
         revision = $3, updated_at = $4, updated_by = $5 \
         WHERE entity_type = $1 AND entity_id = $2 AND deleted = 0 RETURNING version",
    )
    .bind(&write.kind)
    .bind(&write.id)
    .bind(revision)
    .bind(at)
    .bind(by)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(version.map(|(v,)| v))
}
