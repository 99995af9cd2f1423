//! The AuthZEN 1.0 request model: subjects, actions, resources, contexts and batches.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who asks: a typed, identified entity with optional properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subject {
    /// Entity type, e.g. `Staff` (qualified with the bundle namespace when unqualified).
    #[serde(rename = "type")]
    pub kind: String,
    /// Entity id.
    pub id: String,
    /// Attributes the directory does not hold.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
}

impl Subject {
    /// The same entity with other properties.
    pub(crate) fn with_properties(&self, properties: Map<String, Value>) -> Self {
        Self {
            kind: self.kind.clone(),
            id: self.id.clone(),
            properties,
        }
    }
}

/// What is touched: same shape as a subject.
pub type Resource = Subject;

/// What is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Action {
    /// Action name, e.g. `read_lab_result`.
    pub name: String,
    /// Properties, passed to the policies as `context.action`.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
}

/// One access evaluation request (AuthZEN §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessRequest {
    /// The subject.
    pub subject: Subject,
    /// The action.
    pub action: Action,
    /// The resource.
    pub resource: Resource,
    /// Environmental attributes.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

/// One item of a batch: each field missing here is taken from the batch defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartialRequest {
    /// Subject, or the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// Action, or the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Resource, or the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// Context, or the default.
    #[schema(value_type = Option<Object>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

impl PartialRequest {
    /// Completes this item from `defaults`; names the first field neither gives.
    pub fn complete(self, defaults: &PartialRequest) -> Result<AccessRequest, &'static str> {
        Ok(AccessRequest {
            subject: pick(self.subject, &defaults.subject).ok_or("subject")?,
            action: pick(self.action, &defaults.action).ok_or("action")?,
            resource: pick(self.resource, &defaults.resource).ok_or("resource")?,
            context: pick(self.context, &defaults.context).unwrap_or_default(),
        })
    }
}

fn pick<T: Clone>(own: Option<T>, default: &Option<T>) -> Option<T> {
    own.or_else(|| default.clone())
}

/// How a batch is executed (AuthZEN §7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationsSemantic {
    /// Evaluate every item.
    #[default]
    ExecuteAll,
    /// Stop after the first denial.
    DenyOnFirstDeny,
    /// Stop after the first permit.
    PermitOnFirstPermit,
}

impl EvaluationsSemantic {
    /// Whether evaluation stops after an item with this decision.
    pub fn stops_after(self, allowed: bool) -> bool {
        match self {
            Self::ExecuteAll => false,
            Self::DenyOnFirstDeny => !allowed,
            Self::PermitOnFirstPermit => allowed,
        }
    }
}
