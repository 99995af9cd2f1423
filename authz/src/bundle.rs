//! Policy bundles: a schema and its policies, parsed, given stable ids and validated once per version.

use std::collections::HashMap;
use std::sync::Arc;

use cedar_policy::{
    Entities, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, Schema,
    ValidationMode, Validator,
};
use cedar_policy_core::ast::Entity as CoreEntity;
use cedar_policy_core::validator::{ValidatorEntityTypeKind, ValidatorSchema};
use miette::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::FastMap;
use crate::declared::Declared;
use crate::error::RequestError;
use crate::index::PolicyIndex;
use crate::limits;
use crate::location::SourceLocation;
use crate::shapes::ConformingShapes;

/// How a bundle is to be used by the PDP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleOptions {
    /// Namespace that unqualified entity types and action names belong to.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The PDP sets `context.now` and `context.local_hour` from its own clock.
    #[serde(default)]
    pub context_clock: bool,
    /// Principals and resources are looked up in the tenant's directory snapshot.
    #[serde(default)]
    pub directory_entities: bool,
    /// Refuse (400) a request whose context or entity properties carry keys
    /// the schema does not declare. Without it such keys are set aside
    /// unevaluated, as AuthZEN asks, and named in the decision.
    #[serde(default)]
    pub strict_requests: bool,
    /// Attributes a request may give an entity the directory or the entity
    /// store holds, by entity type (e.g. `{"Staff": ["on_call"]}`). The
    /// holder is authoritative: any other property a request gives a held
    /// entity is set aside (and named in the decision), so a request cannot
    /// supply, say, a licence the directory does not hold.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub request_attributes: std::collections::BTreeMap<String, Vec<String>>,
}

/// One policy file as uploaded: a name and Cedar text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyFile {
    /// File name, used in error locations.
    pub name: String,
    /// Cedar policy text; every policy carries an `@id("…")` annotation.
    pub text: String,
}

/// The uncompiled texts of a bundle: what is stored and versioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleSource {
    /// Cedar schema in the human-readable syntax.
    pub schema: String,
    /// Policy files.
    pub policies: Vec<PolicyFile>,
    /// Options.
    #[serde(default)]
    pub options: BundleOptions,
}

/// One problem found while compiling a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleProblem {
    /// The policy concerned, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Where in which file, when known.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
    /// What is wrong.
    pub message: String,
}

/// The problem as it is sent: its location's fields (`file`, `line`,
/// `column`) at the top level, each present only when known.
impl utoipa::PartialSchema for BundleProblem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let field = |ty: Type, description: &str| {
            ObjectBuilder::new()
                .schema_type(ty)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .property(
                "policy_id",
                field(Type::String, "The policy concerned, when known."),
            )
            .property("file", field(Type::String, "The file, when known."))
            .property(
                "line",
                field(Type::Integer, "1-based line, when known.").minimum(Some(1)),
            )
            .property(
                "column",
                field(Type::Integer, "1-based column, in characters, when known.").minimum(Some(1)),
            )
            .property("message", field(Type::String, "What is wrong."))
            .required("message")
            .description(Some("One problem found while compiling a bundle."))
            .into()
    }
}

impl utoipa::ToSchema for BundleProblem {
    fn name() -> std::borrow::Cow<'static, str> {
        "BundleProblem".into()
    }
}

/// Why a bundle could not be compiled.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BundleError {
    /// The schema does not parse or is inconsistent.
    #[error("invalid schema: {0}")]
    Schema(String),
    /// The options document is malformed.
    #[error("invalid bundle options: {0}")]
    Options(String),
    /// Policies do not parse, lack ids, or fail validation.
    #[error("{} problem(s) in the policies, first: {}", .0.len(), .0.first().map(|p| p.message.as_str()).unwrap_or(""))]
    Policies(Vec<BundleProblem>),
}

impl BundleError {
    /// Every problem found, for an API answer.
    pub fn problems(&self) -> Vec<BundleProblem> {
        match self {
            Self::Policies(problems) => problems.clone(),
            Self::Schema(message) | Self::Options(message) => vec![BundleProblem {
                policy_id: None,
                location: None,
                message: message.clone(),
            }],
        }
    }
}

/// A compiled, validated bundle: immutable, shared by every request of its version.
#[derive(Debug)]
pub struct PolicyBundle {
    pub(crate) schema: Schema,
    pub(crate) policies: PolicySet,
    pub(crate) options: BundleOptions,
    pub(crate) action_entities: FastMap<EntityUid, Arc<CoreEntity>>,
    /// Declared entity types by qualified and, within the namespace, short name.
    types_by_name: FastMap<String, EntityTypeName>,
    /// Declared actions by name.
    actions_by_name: FastMap<String, EntityUid>,
    /// The types the directory fills (see [`Self::directory_types`]).
    directory_types: Vec<EntityTypeName>,
    /// What the schema declares of contexts and attributes.
    pub(crate) declared: Declared,
    /// What a request may add to a held entity, by type.
    pub(crate) request_attributes: FastMap<EntityTypeName, Vec<String>>,
    obligations: HashMap<PolicyId, Vec<String>>,
    pub(crate) index: PolicyIndex,
    /// Context and entity shapes that passed the schema's checks.
    pub(crate) shapes: ConformingShapes,
    source: BundleSource,
}

impl PolicyBundle {
    /// Parses and validates `source`; any problem rejects the whole bundle.
    ///
    /// The texts' nesting and length are checked first (see [`limits`]);
    /// parsing and validation then run on a thread with a stack of its own,
    /// so that no text can exhaust the caller's.
    pub fn compile(source: BundleSource) -> Result<Self, BundleError> {
        check_shapes(&source)?;
        std::thread::scope(|scope| {
            let compiling = std::thread::Builder::new()
                .name("policy-compile".into())
                .stack_size(COMPILE_STACK_BYTES)
                .spawn_scoped(scope, || Self::compile_here(source.clone()));
            match compiling {
                Ok(thread) => thread.join().unwrap_or_else(|_| {
                    Err(BundleError::Policies(vec![BundleProblem {
                        policy_id: None,
                        location: None,
                        message: "the policies could not be compiled".into(),
                    }]))
                }),
                // No thread to be had: the shape checks bound the recursion anyway.
                Err(_) => Self::compile_here(source.clone()),
            }
        })
    }

    fn compile_here(source: BundleSource) -> Result<Self, BundleError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(&source.schema)
            .map_err(|e| BundleError::Schema(diagnostic_text(&e)))?;
        let (policies, origin) = parse_policy_files(&source.policies)?;
        validate(&schema, &policies, &source.policies, &origin)?;
        let action_entities = index_action_entities(&schema)?;
        let types_by_name = index_types(&schema, source.options.namespace.as_deref());
        let actions_by_name = action_entities
            .keys()
            .map(|uid| (uid.id().unescaped().to_owned(), uid.clone()))
            .collect();
        let directory_types = directory_types_of(&source.options, &types_by_name);
        let declared = Declared::of(&schema);
        let request_attributes = request_attributes_of(&source.options, &types_by_name)?;
        let obligations = collect_obligations(&policies);
        let index = PolicyIndex::new(&policies);
        let shapes = ConformingShapes::new(has_enumerated_types(&schema));
        Ok(Self {
            schema,
            policies,
            options: source.options.clone(),
            action_entities,
            types_by_name,
            actions_by_name,
            directory_types,
            declared,
            request_attributes,
            obligations,
            index,
            shapes,
            source,
        })
    }

    /// The types the directory fills — staff and patients, when the bundle
    /// uses the directory's entities. The directory is authoritative for
    /// them: an id of one it does not hold names no one (a denial, whatever
    /// the request claims), and the entity store does not take them.
    pub fn directory_types(&self) -> &[EntityTypeName] {
        &self.directory_types
    }

    /// Whether `kind`, a qualified type name as written, is one the directory fills.
    pub fn is_directory_type(&self, kind: &str) -> bool {
        self.directory_types.iter().any(|ty| ty.to_string() == kind)
    }

    /// The texts this bundle was compiled from.
    pub fn source(&self) -> &BundleSource {
        &self.source
    }

    /// The bundle's options.
    pub fn options(&self) -> &BundleOptions {
        &self.options
    }

    /// Ids of every policy, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Number of policies in the bundle.
    pub fn policy_count(&self) -> usize {
        self.policies.policies().count()
    }

    /// Ids of the policies whose principal scope is the entity `kind::"id"`
    /// (e.g. the grants of `Role::"nurse"`), sorted; none for an undeclared type.
    pub fn policies_scoped_to(&self, kind: &str, id: &str) -> Vec<String> {
        let Ok(ty) = self.declared_type(kind) else {
            return Vec::new();
        };
        let uid = EntityUid::from_type_name_and_id(ty, EntityId::new(id));
        let mut ids: Vec<String> = self
            .index
            .scoped_to(uid.as_ref())
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Obligations (`@obligation("…")`) attached to a policy.
    pub(crate) fn obligations_of(&self, id: &PolicyId) -> &[String] {
        self.obligations.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Qualifies an entity type name with the bundle's namespace when it has none.
    pub(crate) fn entity_type(&self, name: &str) -> Result<EntityTypeName, String> {
        if let Some(ty) = self.types_by_name.get(name) {
            return Ok(ty.clone());
        }
        let qualified = match (&self.options.namespace, name.contains("::")) {
            (Some(ns), false) => format!("{ns}::{name}"),
            _ => name.to_owned(),
        };
        qualified
            .parse()
            .map_err(|_| format!("`{name}` is not a valid entity type name"))
    }

    /// An entity type name taken as written, with no namespace added. A type
    /// the schema declares comes back as the schema's own copy, so uids built
    /// from it compare by pointer in the snapshot's maps.
    pub(crate) fn written_type(&self, name: &str) -> Result<EntityTypeName, String> {
        let declared = (self.options.namespace.is_none() || name.contains("::"))
            .then(|| self.types_by_name.get(name))
            .flatten();
        match declared {
            Some(ty) => Ok(ty.clone()),
            None => name
                .parse()
                .map_err(|_| format!("`{name}` is not a valid entity type name")),
        }
    }

    /// A type the schema declares, by short or qualified name.
    pub(crate) fn declared_type(&self, name: &str) -> Result<EntityTypeName, RequestError> {
        match self.types_by_name.get(name) {
            Some(ty) => Ok(ty.clone()),
            None => {
                self.entity_type(name).map_err(RequestError::Malformed)?;
                Err(RequestError::UnknownEntityType(name.to_owned()))
            }
        }
    }

    /// The action entity uid for an action name the schema declares.
    pub(crate) fn action_uid(&self, name: &str) -> Result<EntityUid, RequestError> {
        self.actions_by_name
            .get(name)
            .cloned()
            .ok_or_else(|| RequestError::UnknownAction(format!("unknown action `{name}`")))
    }
}

/// Stack of the thread that parses and validates a bundle; only what is
/// touched is ever allocated.
const COMPILE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Every text of `source` within the bounds of [`limits`], or the problems.
fn check_shapes(source: &BundleSource) -> Result<(), BundleError> {
    if let Err(violation) = limits::check_schema(&source.schema) {
        let at = SourceLocation::at_offset("schema", &source.schema, violation.offset);
        return Err(BundleError::Schema(format!(
            "{} (line {}, column {})",
            violation.message, at.line, at.column
        )));
    }
    let problems: Vec<BundleProblem> = source
        .policies
        .iter()
        .filter_map(|file| {
            let violation = limits::check_policies(&file.text).err()?;
            Some(BundleProblem {
                policy_id: None,
                location: locate(Some(violation.offset), file),
                message: format!("`{}`: {}", file.name, violation.message),
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BundleError::Policies(problems))
    }
}

fn parse_policy_files(
    files: &[PolicyFile],
) -> Result<(PolicySet, HashMap<PolicyId, usize>), BundleError> {
    let mut problems = Vec::new();
    let mut set = PolicySet::new();
    let mut origin: HashMap<PolicyId, usize> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        let parsed = match file.text.parse::<PolicySet>() {
            Ok(parsed) => parsed,
            Err(errors) => {
                problems.extend(errors.iter().map(|e| BundleProblem {
                    policy_id: None,
                    location: locate(first_label_offset(e), file),
                    message: diagnostic_text(e),
                }));
                continue;
            }
        };
        for (ordinal, policy) in parsed.policies().enumerate() {
            let Some(id) = stable_id(policy) else {
                problems.push(BundleProblem {
                    policy_id: None,
                    location: None,
                    message: format!(
                        "policy number {} in `{}` has no `@id(\"…\")` annotation; every policy needs one",
                        ordinal + 1,
                        file.name
                    ),
                });
                continue;
            };
            if let Some(first) = origin.insert(id.clone(), index) {
                problems.push(BundleProblem {
                    policy_id: Some(id.to_string()),
                    location: None,
                    message: format!(
                        "duplicate policy id `{id}` in `{}` (also in `{}`)",
                        file.name, files[first].name
                    ),
                });
                continue;
            }
            if let Err(e) = set.add(policy.new_id(id.clone())) {
                problems.push(BundleProblem {
                    policy_id: Some(id.to_string()),
                    location: None,
                    message: e.to_string(),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok((set, origin))
    } else {
        Err(BundleError::Policies(problems))
    }
}

fn stable_id(policy: &Policy) -> Option<PolicyId> {
    let id = policy.annotation("id").map(str::trim).unwrap_or("");
    (!id.is_empty()).then(|| PolicyId::new(id))
}

fn validate(
    schema: &Schema,
    set: &PolicySet,
    files: &[PolicyFile],
    origin: &HashMap<PolicyId, usize>,
) -> Result<(), BundleError> {
    let result = Validator::new(schema.clone()).validate(set, ValidationMode::Strict);
    if result.validation_passed() {
        return Ok(());
    }
    let problems = result
        .validation_errors()
        .map(|e| {
            let file = origin.get(e.policy_id()).and_then(|&i| files.get(i));
            BundleProblem {
                policy_id: Some(e.policy_id().to_string()),
                location: file.and_then(|f| locate(first_label_offset(e), f)),
                message: diagnostic_text(e),
            }
        })
        .collect();
    Err(BundleError::Policies(problems))
}

/// Whether the schema declares enumerated entity types, whose checks depend on ids.
fn has_enumerated_types(schema: &Schema) -> bool {
    let validator: &ValidatorSchema = schema.as_ref();
    validator
        .entity_types()
        .any(|t| matches!(t.kind, ValidatorEntityTypeKind::Enum(_)))
}

fn index_types(schema: &Schema, namespace: Option<&str>) -> FastMap<String, EntityTypeName> {
    let mut names = FastMap::default();
    for ty in schema.entity_types() {
        let qualified = ty.to_string();
        if let Some(short) = namespace.and_then(|ns| qualified.strip_prefix(&format!("{ns}::"))) {
            names.insert(short.to_owned(), ty.clone());
        }
        names.insert(qualified, ty.clone());
    }
    names
}

/// The schema's action entities, closed under their groups, shared by every request.
fn index_action_entities(
    schema: &Schema,
) -> Result<FastMap<EntityUid, Arc<CoreEntity>>, BundleError> {
    let entities: Entities = schema
        .action_entities()
        .map_err(|e| BundleError::Schema(diagnostic_text(&e)))?;
    Ok(entities
        .iter()
        .map(|e| (e.uid(), Arc::new(e.as_ref().clone())))
        .collect())
}

fn collect_obligations(set: &PolicySet) -> HashMap<PolicyId, Vec<String>> {
    set.policies()
        .filter_map(|p| {
            let obligations: Vec<String> = p
                .annotations()
                .filter(|(key, _)| *key == "obligation")
                .map(|(_, value)| value.to_owned())
                .collect();
            (!obligations.is_empty()).then(|| (p.id().clone(), obligations))
        })
        .collect()
}

fn first_label_offset(diagnostic: &dyn Diagnostic) -> Option<usize> {
    diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset())
}

fn locate(offset: Option<usize>, file: &PolicyFile) -> Option<SourceLocation> {
    offset.map(|o| SourceLocation::at_offset(&file.name, &file.text, o))
}

/// The error's message followed by its help, as one line.
pub(crate) fn diagnostic_text(diagnostic: &dyn Diagnostic) -> String {
    match diagnostic.help() {
        Some(help) => format!("{diagnostic}: {help}"),
        None => diagnostic.to_string(),
    }
}

/// The declared types the directory fills under `options`.
fn directory_types_of(
    options: &BundleOptions,
    types_by_name: &FastMap<String, EntityTypeName>,
) -> Vec<EntityTypeName> {
    if !options.directory_entities {
        return Vec::new();
    }
    let namespace = options.namespace.as_deref().unwrap_or("Hms");
    ["Staff", "Patient"]
        .iter()
        .filter_map(|kind| types_by_name.get(&format!("{namespace}::{kind}")).cloned())
        .collect()
}

/// The declared types `options.request_attributes` names (short names take
/// the namespace); an undeclared one is refused.
fn request_attributes_of(
    options: &BundleOptions,
    types_by_name: &FastMap<String, EntityTypeName>,
) -> Result<FastMap<EntityTypeName, Vec<String>>, BundleError> {
    options
        .request_attributes
        .iter()
        .map(|(name, attributes)| match types_by_name.get(name) {
            Some(ty) => Ok((ty.clone(), attributes.clone())),
            None => Err(BundleError::Schema(format!(
                "`request_attributes` names `{name}`, which the schema does not declare"
            ))),
        })
        .collect()
}
