//! What the schema declares of each action's context and each entity type's
//! attributes, so that a request carrying more can be answered as AuthZEN
//! asks: keys the schema does not declare are set aside (and named in the
//! decision) rather than failing the request — unless the bundle is strict.

use std::sync::Arc;

use cedar_policy::{EntityTypeName, EntityUid, Schema};
use cedar_policy_core::ast::{EntityType, EntityUID};
use cedar_policy_core::validator::ValidatorSchema;
use cedar_policy_core::validator::types::{Attributes, Type};
use serde_json::{Map, Value};
use smol_str::SmolStr;

use crate::FastMap;

/// The keys one record type declares; a key whose type is itself a record
/// carries that record's keys.
#[derive(Debug, Default)]
pub(crate) struct DeclaredKeys(FastMap<SmolStr, Option<Arc<DeclaredKeys>>>);

impl DeclaredKeys {
    fn of(attributes: &Attributes) -> Self {
        Self(
            attributes
                .iter()
                .map(|(name, attribute)| {
                    let nested = match attribute.attr_type.as_ref() {
                        Type::Record { attrs, .. } => Some(Arc::new(Self::of(attrs))),
                        _ => None,
                    };
                    (name.clone(), nested)
                })
                .collect(),
        )
    }

    /// Whether `record` holds a key this type does not declare, at any depth.
    fn exceeded_by<'a>(&self, mut record: impl Iterator<Item = (&'a String, &'a Value)>) -> bool {
        record.any(|(key, value)| match self.0.get(key.as_str()) {
            None => true,
            Some(Some(nested)) => match value {
                Value::Object(inner) => nested.exceeded_by(inner.iter()),
                _ => false,
            },
            Some(None) => false,
        })
    }

    /// `record` without the keys this type does not declare; each key set
    /// aside is pushed to `ignored` as `{prefix}.{key}`.
    fn prune<'a>(
        &self,
        record: impl Iterator<Item = (&'a String, &'a Value)>,
        prefix: &str,
        ignored: &mut Vec<String>,
    ) -> Map<String, Value> {
        let mut kept = Map::new();
        for (key, value) in record {
            match (self.0.get(key.as_str()), value) {
                (None, _) => ignored.push(format!("{prefix}.{key}")),
                (Some(Some(nested)), Value::Object(inner)) => {
                    let path = format!("{prefix}.{key}");
                    let inner = nested.prune(inner.iter(), &path, ignored);
                    kept.insert(key.clone(), Value::Object(inner));
                }
                (Some(_), _) => {
                    kept.insert(key.clone(), value.clone());
                }
            }
        }
        kept
    }
}

/// The declared keys of every action's context and every entity type.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    contexts: FastMap<EntityUID, DeclaredKeys>,
    entities: FastMap<EntityType, DeclaredKeys>,
}

impl Declared {
    pub(crate) fn of(schema: &Schema) -> Self {
        let validator: &ValidatorSchema = schema.as_ref();
        let contexts = validator
            .action_ids()
            .filter_map(|action| {
                let keys = match action.context_type()? {
                    Type::Record { attrs, .. } => DeclaredKeys::of(attrs),
                    _ => DeclaredKeys::default(),
                };
                Some((action.name().clone(), keys))
            })
            .collect();
        let entities = validator
            .entity_types()
            .map(|ty| (ty.name().clone(), DeclaredKeys::of(ty.attributes())))
            .collect();
        Self { contexts, entities }
    }

    /// A context for `action` without undeclared keys, or `None` when it has none.
    pub(crate) fn prune_context<'a>(
        &self,
        action: &EntityUid,
        context: impl Iterator<Item = (&'a String, &'a Value)> + Clone,
        ignored: &mut Vec<String>,
    ) -> Option<Map<String, Value>> {
        let keys = self.contexts.get(action.as_ref())?;
        keys.exceeded_by(context.clone())
            .then(|| keys.prune(context, "context", ignored))
    }

    /// Whether entities of type `ty` declare attribute `key`.
    pub(crate) fn declares(&self, ty: &EntityTypeName, key: &str) -> bool {
        self.entities
            .get(ty.as_ref())
            .is_some_and(|keys| keys.0.contains_key(key))
    }

    /// Properties of an entity of type `ty` without undeclared keys, or
    /// `None` when they have none; `side` names them (`subject`, `resource`).
    pub(crate) fn prune_properties(
        &self,
        ty: &EntityTypeName,
        properties: &Map<String, Value>,
        side: &str,
        ignored: &mut Vec<String>,
    ) -> Option<Map<String, Value>> {
        let keys = self.entities.get(ty.as_ref())?;
        keys.exceeded_by(properties.iter()).then(|| {
            let prefix = format!("{side}.properties");
            keys.prune(properties.iter(), &prefix, ignored)
        })
    }
}
