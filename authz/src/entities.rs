//! Entity snapshots: the directory's entities, checked and closed under ancestry once per
//! version, and the small entity set each request is evaluated against.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid};
use cedar_policy_core::ast::{Entity as CoreEntity, EntityUID, PartialValue, Value as CedarValue};
use cedar_policy_core::entities::conformance::EntitySchemaConformanceChecker;
use cedar_policy_core::entities::{Entities as CoreEntities, NoEntitiesSchema, TCComputation};
use cedar_policy_core::extensions::Extensions;
use cedar_policy_core::validator::CoreSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use smol_str::SmolStr;

use crate::bundle::{PolicyBundle, diagnostic_text};
use crate::error::RequestError;
use crate::request::Subject;
use crate::values::{references_in, references_of, to_fields};
use crate::{FastMap, FastSet};

/// A typed entity reference in Cedar's JSON form, e.g. `{"type": "Hms::Staff", "id": "n1"}`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct EntityRef {
    /// Fully qualified entity type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Entity id.
    pub id: String,
}

/// An entity as the directory or a test case supplies it, in Cedar's JSON entity form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityRecord {
    /// The entity.
    pub uid: EntityRef,
    /// Attributes, as Cedar JSON values (`{"__entity": {...}}` for a reference,
    /// `{"__extn": {...}}` for an extension value).
    #[schema(value_type = Object)]
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

/// One entity, closed under ancestry, with what a request needs around it.
#[derive(Debug)]
pub(crate) struct StoredEntity {
    pub(crate) entity: Arc<CoreEntity>,
    /// Entities its attributes point at (one hop).
    pub(crate) references: Vec<EntityUid>,
}

/// An entity checked against the schema, its ancestry not yet closed.
struct Parsed {
    entity: Entity,
    references: Vec<EntityUid>,
}

impl Parsed {
    fn of(record: &EntityRecord, bundle: &PolicyBundle) -> Result<Self, EntityError> {
        Ok(Self {
            entity: record_entity(record, bundle)?,
            references: references_in(record.attrs.values(), bundle),
        })
    }

    /// A held entity with its direct parents only, to close its ancestry again.
    fn reopened(stored: &StoredEntity) -> Self {
        let held = &stored.entity;
        let entity = CoreEntity::new_with_attr_partial_value(
            held.uid().clone(),
            held.attrs().map(|(k, v)| (k.clone(), v.clone())),
            HashSet::new(),
            held.parents().cloned().collect(),
            [],
        );
        Self {
            entity: Entity::from(entity),
            references: stored.references.clone(),
        }
    }
}

/// How many shards the entity map is split into: a change copies only the
/// shards it touches, so one directory change costs O(n / SHARDS), not O(n).
const SHARDS: usize = 64;

/// The entity map, in shards shared between snapshot versions.
#[derive(Debug, Clone)]
struct EntityShards {
    shards: Vec<Arc<FastMap<EntityUid, Arc<StoredEntity>>>>,
    hasher: foldhash::fast::FixedState,
}

impl Default for EntityShards {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Arc::default()).collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x686d_735f_6163_6821),
        }
    }
}

impl EntityShards {
    /// By the id alone: hashing the whole uid (type path included) costs more.
    fn shard(&self, uid: &EntityUid) -> usize {
        let id: &str = uid.id().unescaped();
        (std::hash::BuildHasher::hash_one(&self.hasher, id) % SHARDS as u64) as usize
    }

    fn get(&self, uid: &EntityUid) -> Option<&Arc<StoredEntity>> {
        self.shards[self.shard(uid)].get(uid)
    }

    /// Inserts, copying the shard first when another version shares it.
    fn insert(&mut self, uid: EntityUid, stored: Arc<StoredEntity>) {
        let shard = self.shard(&uid);
        Arc::make_mut(&mut self.shards[shard]).insert(uid, stored);
    }

    /// Removes, copying the shard first when another version shares it.
    fn remove(&mut self, uid: &EntityUid) -> Option<Arc<StoredEntity>> {
        let shard = self.shard(uid);
        if !self.shards[shard].contains_key(uid) {
            return None;
        }
        Arc::make_mut(&mut self.shards[shard]).remove(uid)
    }

    fn iter(&self) -> impl Iterator<Item = (&EntityUid, &Arc<StoredEntity>)> {
        self.shards.iter().flat_map(|shard| shard.iter())
    }
}

/// The ids of one entity type, in sorted shards shared between versions: a
/// new id copies one shard; listing merges the shards in order.
#[derive(Debug, Clone, Default)]
struct TypeIds {
    shards: Vec<Arc<BTreeSet<SmolStr>>>,
}

/// Shards of [`TypeIds`].
const ID_SHARDS: usize = 16;

impl TypeIds {
    fn shard(id: &str) -> usize {
        let hasher = foldhash::fast::FixedState::with_seed(0x6964_735f_6f66_5f74);
        (std::hash::BuildHasher::hash_one(&hasher, id) % ID_SHARDS as u64) as usize
    }

    fn insert(&mut self, id: &str) {
        if self.shards.is_empty() {
            self.shards = (0..ID_SHARDS).map(|_| Arc::default()).collect();
        }
        let shard = &mut self.shards[Self::shard(id)];
        if !shard.contains(id) {
            Arc::make_mut(shard).insert(SmolStr::new(id));
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(shard) = self.shards.get_mut(Self::shard(id))
            && shard.contains(id)
        {
            Arc::make_mut(shard).remove(id);
        }
    }

    /// Ids after `after`, in order.
    fn after<'a>(&'a self, after: Option<&'a str>) -> impl Iterator<Item = &'a SmolStr> + 'a {
        let bound = match after {
            Some(after) => std::ops::Bound::Excluded(after),
            None => std::ops::Bound::Unbounded,
        };
        let mut heads: Vec<_> = self
            .shards
            .iter()
            .map(|shard| {
                shard
                    .range::<str, _>((bound, std::ops::Bound::Unbounded))
                    .peekable()
            })
            .collect();
        std::iter::from_fn(move || {
            let next = heads
                .iter_mut()
                .enumerate()
                .filter_map(|(i, head)| head.peek().map(|id| (*id, i)))
                .min()?;
            heads[next.1].next()
        })
    }
}

/// An immutable set of checked entities; a new version shares what did not change.
#[derive(Debug, Default)]
pub struct EntitySnapshot {
    entities: EntityShards,
    /// Ids per type, in order (for search).
    ids_by_type: FastMap<EntityTypeName, TypeIds>,
    /// Entities that are parents of others: changing one means recomputing ancestry.
    parents: FastSet<EntityUid>,
}

impl EntitySnapshot {
    /// An empty snapshot.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Checks `records` against the bundle's schema and closes them under ancestry.
    pub fn build(
        records: impl IntoIterator<Item = EntityRecord>,
        bundle: &PolicyBundle,
    ) -> Result<Self, EntityError> {
        let parsed: Vec<Parsed> = records
            .into_iter()
            .map(|r| Parsed::of(&r, bundle))
            .collect::<Result<_, EntityError>>()?;
        Self::closed(parsed)
    }

    /// A snapshot of `parsed`, closed under ancestry.
    fn closed(parsed: Vec<Parsed>) -> Result<Self, EntityError> {
        let mut snapshot = Self::default();
        for stored in close_under_ancestry(parsed, &EntityShards::default())? {
            snapshot.insert(stored);
        }
        Ok(snapshot)
    }

    /// A copy of this snapshot with `upserts` replacing or adding entities.
    pub fn with_changes(
        &self,
        upserts: impl IntoIterator<Item = EntityRecord>,
        bundle: &PolicyBundle,
    ) -> Result<Self, EntityError> {
        self.revised(upserts, &[], bundle)
    }

    /// A copy of this snapshot with `upserts` replacing or adding entities
    /// and `removed` taken out (an entity it does not hold is ignored).
    ///
    /// Unchanged entities are shared between the two versions. When a changed
    /// or removed entity is a parent of others, ancestry is recomputed for all.
    pub fn revised(
        &self,
        upserts: impl IntoIterator<Item = EntityRecord>,
        removed: &[EntityRef],
        bundle: &PolicyBundle,
    ) -> Result<Self, EntityError> {
        let changed: Vec<Parsed> = upserts
            .into_iter()
            .map(|r| Parsed::of(&r, bundle))
            .collect::<Result<_, EntityError>>()?;
        // A reference of a type the schema does not know names nothing held.
        let removed: Vec<EntityUid> = removed
            .iter()
            .filter_map(|r| uid_of(r, bundle).ok())
            .collect();
        let mut touched = changed
            .iter()
            .map(|p| p.entity.uid())
            .chain(removed.iter().cloned());
        if touched.any(|uid| self.parents.contains(&uid)) {
            let replaced: HashSet<EntityUid> = changed
                .iter()
                .map(|p| p.entity.uid())
                .chain(removed.iter().cloned())
                .collect();
            let kept = self
                .entities
                .iter()
                .filter(|(uid, _)| !replaced.contains(*uid))
                .map(|(_, s)| Parsed::reopened(s));
            return Self::closed(kept.chain(changed).collect());
        }
        let mut next = Self {
            entities: self.entities.clone(),
            ids_by_type: self.ids_by_type.clone(),
            parents: self.parents.clone(),
        };
        for uid in &removed {
            next.remove(uid);
        }
        // Ancestry comes from what is held once the removals are made.
        for stored in close_under_ancestry(changed, &next.entities)? {
            next.insert(stored);
        }
        Ok(next)
    }

    /// How many entities it holds.
    pub fn len(&self) -> usize {
        self.entities.shards.iter().map(|shard| shard.len()).sum()
    }

    /// Whether it holds no entity.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, uid: &EntityUid) -> Option<&Arc<StoredEntity>> {
        self.entities.get(uid)
    }

    /// Whether it holds any entity of type `ty`.
    pub(crate) fn holds_type(&self, ty: &EntityTypeName) -> bool {
        self.ids_of_type(ty, None).next().is_some()
    }

    /// Ids of the entities of one type after `after`, in order.
    pub(crate) fn ids_of_type<'a>(
        &'a self,
        ty: &EntityTypeName,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = &'a SmolStr> + 'a {
        self.ids_by_type
            .get(ty)
            .into_iter()
            .flat_map(move |ids| ids.after(after))
    }

    fn remove(&mut self, uid: &EntityUid) {
        if self.entities.remove(uid).is_some()
            && let Some(ids) = self.ids_by_type.get_mut(uid.type_name())
        {
            ids.remove(uid.id().unescaped());
        }
    }

    fn insert(&mut self, stored: StoredEntity) {
        let uid: EntityUid = stored.entity.uid().clone().into();
        self.ids_by_type
            .entry(uid.type_name().clone())
            .or_default()
            .insert(uid.id().unescaped());
        self.parents
            .extend(stored.entity.parents().map(|p| EntityUid::from(p.clone())));
        self.entities.insert(uid, Arc::new(stored));
    }
}

/// Computes each entity's ancestors, from its parents and the ancestors `known` already has.
fn close_under_ancestry(
    parsed: Vec<Parsed>,
    known: &EntityShards,
) -> Result<Vec<StoredEntity>, EntityError> {
    // Without parents there is no ancestry to compute (lab results, orders...).
    if parsed
        .iter()
        .all(|p| p.entity.as_ref().parents().next().is_none())
    {
        return Ok(parsed
            .into_iter()
            .map(|p| StoredEntity {
                entity: Arc::new(p.entity.as_ref().clone()),
                references: p.references,
            })
            .collect());
    }
    let mut references: HashMap<EntityUid, Vec<EntityUid>> = HashMap::with_capacity(parsed.len());
    let mut entities: Vec<Entity> = Vec::with_capacity(parsed.len());
    for p in parsed {
        references.insert(p.entity.uid(), p.references);
        entities.push(p.entity);
    }
    // Parents outside this batch bring their own (already closed) ancestry.
    let mut known_parents: HashMap<EntityUid, Entity> = HashMap::new();
    for entity in &entities {
        for parent in entity
            .as_ref()
            .parents()
            .map(|p| EntityUid::from(p.clone()))
        {
            if let Some(stored) = known
                .get(&parent)
                .filter(|_| !references.contains_key(&parent))
            {
                known_parents
                    .entry(parent)
                    .or_insert_with(|| Entity::from(CoreEntity::clone(&stored.entity)));
            }
        }
    }
    let closed = cedar_policy::Entities::from_entities(
        entities.into_iter().chain(known_parents.into_values()),
        None,
    )
    .map_err(|e| EntityError {
        uid: String::new(),
        message: diagnostic_text(&e),
    })?;
    Ok(closed
        .iter()
        .filter_map(|entity| {
            let references = references.remove(&entity.uid())?;
            Some(StoredEntity {
                entity: Arc::new(entity.as_ref().clone()),
                references,
            })
        })
        .collect())
}

/// Builds and schema-checks the entity a record describes.
fn record_entity(record: &EntityRecord, bundle: &PolicyBundle) -> Result<Entity, EntityError> {
    let error = |message: String| EntityError {
        uid: format!("{}::\"{}\"", record.uid.kind, record.uid.id),
        message,
    };
    let uid = uid_of(&record.uid, bundle).map_err(|e| error(e.to_string()))?;
    let parents = record
        .parents
        .iter()
        .map(|parent| uid_of(parent, bundle))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    let attrs = to_fields(&record.attrs, bundle).map_err(error)?;
    let entity = core_entity(uid, attrs, parents);
    conform(&entity, bundle).map_err(error)?;
    Ok(Entity::from(entity))
}

/// An entity with evaluated attributes and direct parents.
fn core_entity(
    uid: EntityUid,
    attrs: Vec<(SmolStr, CedarValue)>,
    parents: impl IntoIterator<Item = EntityUid>,
) -> CoreEntity {
    CoreEntity::new_with_attr_partial_value(
        uid.into(),
        attrs.into_iter().map(|(k, v)| (k, PartialValue::from(v))),
        HashSet::new(),
        parents.into_iter().map(EntityUID::from).collect(),
        [],
    )
}

/// Checks an entity against the bundle's schema, as Cedar's entity parser would.
fn conform(entity: &CoreEntity, bundle: &PolicyBundle) -> Result<(), String> {
    let schema = CoreSchema::new(bundle.schema.as_ref());
    EntitySchemaConformanceChecker::new(&schema, Extensions::all_available())
        .validate_entity(entity)
        .map_err(|e| diagnostic_text(&e))
}

/// The uid of a reference; fails on a malformed type name.
fn uid_of(reference: &EntityRef, bundle: &PolicyBundle) -> Result<EntityUid, RequestError> {
    let ty = bundle
        .written_type(&reference.kind)
        .map_err(RequestError::Malformed)?;
    Ok(EntityUid::from_type_name_and_id(
        ty,
        EntityId::new(&reference.id),
    ))
}

/// An entity as one request sees it, and the entities its attributes name.
pub(crate) struct Resolved {
    pub(crate) entity: Arc<CoreEntity>,
    pub(crate) references: Vec<EntityUid>,
}

/// The entity for `uid` as a request sees it — the snapshot's, extended by request
/// properties the snapshot does not hold — and what it references; `None` when
/// the snapshot does not hold it, unless `build_when_bare`: then it is built
/// from the request (even without properties) and checked.
pub(crate) fn resolve_entity(
    uid: &EntityUid,
    given: &Subject,
    build_when_bare: bool,
    snapshot: &EntitySnapshot,
    bundle: &PolicyBundle,
) -> Result<Option<Resolved>, RequestError> {
    let stored = snapshot.get(uid);
    let properties = &given.properties;
    // Someone or something the snapshot does not hold is absent, whatever
    // the request claims of it, unless its type lives in requests alone.
    if stored.is_none() && !build_when_bare {
        return Ok(None);
    }
    if let (Some(s), true) = (stored, properties.is_empty()) {
        return Ok(Some(Resolved {
            entity: Arc::clone(&s.entity),
            references: s.references.clone(),
        }));
    }
    let invalid = |message: String| RequestError::InvalidEntity {
        uid: uid.to_string(),
        message,
    };
    let added = properties
        .iter()
        .filter(|(k, _)| stored.is_none_or(|s| s.entity.get(k).is_none()));
    let attrs = to_fields(added, bundle).map_err(invalid)?;
    // Request-built entities of a shape that conformed before conform again; an
    // extended directory entity is always checked.
    let shape = stored.is_none().then(|| {
        let mut shape = ["E|", &given.kind, "|"].concat();
        bundle.shapes.record(properties, &mut shape);
        shape
    });
    let mut references = references_of(attrs.iter().map(|(_, v)| v));
    let entity = match stored {
        // The directory is authoritative: its attributes and ancestry stay; the request only adds.
        Some(s) => {
            references.extend(s.references.iter().cloned());
            let known = s.entity.attrs().map(|(k, v)| (k.clone(), v.clone()));
            CoreEntity::new_with_attr_partial_value(
                s.entity.uid().clone(),
                known.chain(attrs.into_iter().map(|(k, v)| (k, PartialValue::from(v)))),
                s.entity.indirect_ancestors().cloned().collect(),
                s.entity.parents().cloned().collect(),
                [],
            )
        }
        None => core_entity(uid.clone(), attrs, []),
    };
    if shape.as_deref().is_none_or(|s| !bundle.shapes.contains(s)) {
        conform(&entity, bundle).map_err(invalid)?;
        if let Some(shape) = shape {
            bundle.shapes.insert(shape);
        }
    }
    Ok(Some(Resolved {
        entity: Arc::new(entity),
        references,
    }))
}

/// The Cedar entity set of one request, from entities already closed under ancestry.
pub(crate) fn request_entities(slice: Vec<Arc<CoreEntity>>) -> Result<CoreEntities, RequestError> {
    CoreEntities::new()
        .add_entities(
            slice,
            None::<&NoEntitiesSchema>,
            TCComputation::AssumeAlreadyComputed,
            Extensions::all_available(),
        )
        .map_err(|e| RequestError::InvalidRequest(diagnostic_text(&e)))
}
