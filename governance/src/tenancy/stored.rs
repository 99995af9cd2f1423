//! The entity store's rows as Cedar entities, and batches as the store's
//! writes: the stored body of an entity is its attributes and sorted parents.

use hms_authz::{EntityRecord, EntityRef};
use hms_directory::{EntityWrite, StoreError, StoredEntityRow, TenantStore};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One batch of writes to the entity store.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityBatch {
    /// Entities created or replaced, in Cedar's JSON entity form.
    #[serde(default)]
    pub upsert: Vec<EntityRecord>,
    /// Entities deleted; one not held is ignored.
    #[serde(default)]
    pub delete: Vec<EntityRef>,
}

/// An entity as stored, with its version.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VersionedEntity {
    /// The entity in Cedar's JSON form.
    #[serde(flatten)]
    pub record: EntityRecord,
    /// 1 when created, one more at every change.
    pub version: i64,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Who last changed it.
    pub updated_by: String,
}

/// The stored form of an entity's attributes and parents.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    attrs: Map<String, Value>,
    parents: Vec<EntityRef>,
}

/// The live stored entities and the revision they reflect at least.
pub(super) async fn load_stored(
    store: &TenantStore,
) -> Result<(Vec<EntityRecord>, i64), StoreError> {
    // Read first: a batch written while the rest loads is applied again.
    let revision = store.entity_revision().await?;
    let rows = store.load_entities().await?;
    let records = rows.iter().map(record_of).collect::<Result<_, _>>()?;
    Ok((records, revision))
}

/// The store's writes for a batch, bodies in canonical form (parents sorted).
pub(super) fn writes_of(batch: &EntityBatch) -> Vec<EntityWrite> {
    let upserts = batch.upsert.iter().map(|record| {
        let mut parents = record.parents.clone();
        parents.sort();
        parents.dedup();
        let body = Body {
            attrs: sorted_keys(&record.attrs),
            parents,
        };
        EntityWrite {
            kind: record.uid.kind.clone(),
            id: record.uid.id.clone(),
            body: Some(serde_json::to_string(&body).unwrap_or_default()),
        }
    });
    let deletes = batch.delete.iter().map(|uid| EntityWrite {
        kind: uid.kind.clone(),
        id: uid.id.clone(),
        body: None,
    });
    upserts.chain(deletes).collect()
}

/// A record with its keys in order at every depth, so that one content is
/// always stored the same way.
fn sorted_keys(record: &Map<String, Value>) -> Map<String, Value> {
    let mut keys: Vec<&String> = record.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|key| (key.clone(), sorted_value(&record[key])))
        .collect()
}

fn sorted_value(value: &Value) -> Value {
    match value {
        Value::Object(record) => Value::Object(sorted_keys(record)),
        Value::Array(items) => Value::Array(items.iter().map(sorted_value).collect()),
        other => other.clone(),
    }
}

pub(super) fn record_of(row: &StoredEntityRow) -> Result<EntityRecord, StoreError> {
    let body: Body =
        serde_json::from_str(&row.body).map_err(|_| StoreError::Corrupt("stored_entities.body"))?;
    Ok(EntityRecord {
        uid: EntityRef {
            kind: row.kind.clone(),
            id: row.id.clone(),
        },
        attrs: body.attrs,
        parents: body.parents,
    })
}

pub(super) fn versioned(row: &StoredEntityRow) -> Result<VersionedEntity, StoreError> {
    Ok(VersionedEntity {
        record: record_of(row)?,
        version: row.version,
        updated_at: row.updated_at.clone(),
        updated_by: row.updated_by.clone(),
    })
}
