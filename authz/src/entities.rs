//! Entity snapshots: the directory's entities, parsed once per version, and per-request entity slices.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::bundle::{PolicyBundle, diagnostic_text};
use crate::error::RequestError;

/// A typed entity reference in Cedar's JSON form, e.g. `{"type": "Hms::Staff", "id": "n1"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityRef {
    /// Fully qualified entity type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Entity id.
    pub id: String,
}

/// An entity as the directory or a test case supplies it, in Cedar's JSON entity form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRecord {
    /// The entity.
    pub uid: EntityRef,
    /// Attributes, as Cedar JSON values.
    #[serde(default)]
    pub attrs: Map<String, Value>,
    /// Direct parents (groups, roles).
    #[serde(default)]
    pub parents: Vec<EntityRef>,
}

/// Why an entity could not join a snapshot.
#[derive(Debug, Clone, thiserror::Error)]
#[error("entity `{uid}` does not conform to the schema: {message}")]
pub struct EntityError {
    /// The entity concerned, as `Type::"id"`.
    pub uid: String,
    /// What is wrong.
    pub message: String,
}

/// One parsed entity, with what a request needs to assemble around it.
#[derive(Debug)]
pub(crate) struct StoredEntity {
    pub(crate) entity: Entity,
    pub(crate) record: EntityRecord,
    /// Entities its attributes point at (one hop).
    pub(crate) references: Vec<EntityUid>,
}

/// An immutable set of parsed entities; a new version replaces it whole.
#[derive(Debug, Default)]
pub struct EntitySnapshot {
    entities: HashMap<EntityUid, Arc<StoredEntity>>,
    ids_by_type: HashMap<EntityTypeName, BTreeSet<String>>,
}

impl EntitySnapshot {
    /// An empty snapshot.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses and validates `records` against the bundle's schema.
    pub fn build(
        records: impl IntoIterator<Item = EntityRecord>,
        bundle: &PolicyBundle,
    ) -> Result<Self, EntityError> {
        let mut snapshot = Self::default();
        for record in records {
            snapshot.insert(parse_record(record, bundle)?);
        }
        Ok(snapshot)
    }

    /// A copy of this snapshot with `upserts` replacing or adding entities.
    ///
    /// Entities are shared between the two versions, so the cost is that of the index, not of parsing.
    pub fn with_changes(
        &self,
        upserts: impl IntoIterator<Item = EntityRecord>,
        bundle: &PolicyBundle,
    ) -> Result<Self, EntityError> {
        let parsed: Vec<StoredEntity> = upserts
            .into_iter()
            .map(|r| parse_record(r, bundle))
            .collect::<Result<_, _>>()?;
        let mut next = Self {
            entities: self.entities.clone(),
            ids_by_type: self.ids_by_type.clone(),
        };
        for stored in parsed {
            next.insert(stored);
        }
        Ok(next)
    }

    /// Every record, for re-validation under a new schema.
    pub fn records(&self) -> impl Iterator<Item = &EntityRecord> {
        self.entities.values().map(|s| &s.record)
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether the snapshot holds no entity.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    pub(crate) fn get(&self, uid: &EntityUid) -> Option<&Arc<StoredEntity>> {
        self.entities.get(uid)
    }

    /// Ids of the entities of one type after `after`, in order.
    pub(crate) fn ids_of_type<'a>(
        &'a self,
        ty: &EntityTypeName,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = &'a String> + 'a {
        let ids = self.ids_by_type.get(ty);
        ids.into_iter().flat_map(move |set| match after {
            Some(after) => Box::new(
                set.range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            ) as Box<dyn Iterator<Item = &String>>,
            None => Box::new(set.iter()),
        })
    }

    fn insert(&mut self, stored: StoredEntity) {
        let uid = stored.entity.uid();
        self.ids_by_type
            .entry(uid.type_name().clone())
            .or_default()
            .insert(uid.id().unescaped().to_owned());
        self.entities.insert(uid, Arc::new(stored));
    }
}

fn parse_record(record: EntityRecord, bundle: &PolicyBundle) -> Result<StoredEntity, EntityError> {
    let entity = parse_entity_json(&record, bundle).map_err(|message| EntityError {
        uid: format!("{}::\"{}\"", record.uid.kind, record.uid.id),
        message,
    })?;
    let references = references_in(&Value::Object(record.attrs.clone()));
    Ok(StoredEntity {
        entity,
        record,
        references,
    })
}

fn parse_entity_json(record: &EntityRecord, bundle: &PolicyBundle) -> Result<Entity, String> {
    let value = json!({ "uid": record.uid, "attrs": record.attrs, "parents": record.parents });
    Entity::from_json_value(value, Some(&bundle.schema)).map_err(|e| diagnostic_text(&e))
}

/// The uid of a reference; fails on a malformed type name.
pub(crate) fn uid_of(reference: &EntityRef) -> Result<EntityUid, RequestError> {
    let ty: EntityTypeName = reference
        .kind
        .parse()
        .map_err(|_| RequestError::Malformed(format!("`{}` is not a valid entity type name", reference.kind)))?;
    Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(&reference.id)))
}

/// Entity uids named anywhere in a Cedar JSON value, in `__entity` or `{type, id}` form.
pub(crate) fn references_in(value: &Value) -> Vec<EntityUid> {
    let mut found = Vec::new();
    collect_references(value, &mut found);
    found
}

fn collect_references(value: &Value, found: &mut Vec<EntityUid>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, found)),
        Value::Object(map) => {
            if let Some(reference) = as_reference(map) {
                if let Ok(uid) = uid_of(&reference) {
                    found.push(uid);
                }
            } else {
                map.values().for_each(|v| collect_references(v, found));
            }
        }
        _ => {}
    }
}

fn as_reference(map: &Map<String, Value>) -> Option<EntityRef> {
    let inner = match map.get("__entity") {
        Some(Value::Object(inner)) => inner,
        _ => map,
    };
    if inner.len() != 2 {
        return None;
    }
    Some(EntityRef {
        kind: inner.get("type")?.as_str()?.to_owned(),
        id: inner.get("id")?.as_str()?.to_owned(),
    })
}

/// Rewrites `{type, id}` references whose type is unqualified into the bundle's namespace.
pub(crate) fn qualify_references(value: &mut Value, bundle: &PolicyBundle) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| qualify_references(v, bundle)),
        Value::Object(map) => {
            if as_reference(map).is_some() && !map.contains_key("__entity") {
                if let Some(Value::String(kind)) = map.get_mut("type")
                    && let Ok(qualified) = bundle.entity_type(kind)
                {
                    *kind = qualified.to_string();
                }
            } else {
                map.values_mut().for_each(|v| qualify_references(v, bundle));
            }
        }
        _ => {}
    }
}

/// The entity for `uid` as a request sees it: the snapshot's, extended by request
/// properties that the snapshot does not hold; `None` when neither knows it.
pub(crate) fn resolve_entity(
    uid: &EntityUid,
    properties: &Map<String, Value>,
    snapshot: &EntitySnapshot,
    bundle: &PolicyBundle,
) -> Result<Option<(Entity, Vec<EntityUid>)>, RequestError> {
    let stored = snapshot.get(uid);
    if properties.is_empty() {
        return Ok(stored.map(|s| (s.entity.clone(), s.references.clone())));
    }
    let mut attrs: BTreeMap<String, Value> = properties.clone().into_iter().collect();
    let parents = match stored {
        Some(s) => {
            // The directory is authoritative: its attributes replace the caller's.
            attrs.extend(s.record.attrs.clone());
            s.record.parents.clone()
        }
        None => Vec::new(),
    };
    let mut attrs = Value::Object(attrs.into_iter().collect());
    qualify_references(&mut attrs, bundle);
    let record = EntityRecord {
        uid: EntityRef {
            kind: uid.type_name().to_string(),
            id: uid.id().unescaped().to_owned(),
        },
        attrs: match attrs {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        parents,
    };
    let entity = parse_entity_json(&record, bundle).map_err(|message| RequestError::InvalidEntity {
        uid: uid.to_string(),
        message,
    })?;
    Ok(Some((entity, references_in(&Value::Object(record.attrs)))))
}
