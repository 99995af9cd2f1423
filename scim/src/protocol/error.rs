//! SCIM errors (RFC 7644 §3.12): an HTTP status, a `scimType` where one fits, and a detail for people.

use serde::Serialize;

/// Schema URN of the error message.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` values of RFC 7644 Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// A filter that cannot be parsed or names what cannot be filtered.
    InvalidFilter,
    /// More results than the service will return.
    TooMany,
    /// A value that would break a uniqueness rule.
    Uniqueness,
    /// A write to a read-only or immutable attribute.
    Mutability,
    /// A body that is not valid SCIM.
    InvalidSyntax,
    /// A PATCH path that cannot be parsed or names nothing.
    InvalidPath,
    /// A PATCH path filter that matched nothing.
    NoTarget,
    /// A value of the wrong type or form.
    InvalidValue,
    /// An unsupported protocol version.
    InvalidVers,
}

impl ScimType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
        }
    }
}

/// A SCIM error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    /// HTTP status.
    pub status: u16,
    /// The SCIM error type, for 400s and 409s.
    pub scim_type: Option<ScimType>,
    /// What is wrong, for a person.
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a SCIM error type.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidPath, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidSyntax, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::Mutability, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::NoTarget, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    /// A status without a SCIM error type: 401, 403, 404, 412, 413, 415, 501, 503…
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        Self::new(status, None, detail)
    }

    /// 404 for a resource that does not exist.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::status(404, format!("{what} not found"))
    }

    /// The response body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            schemas: vec![ERROR_SCHEMA],
            status: self.status.to_string(),
            scim_type: self.scim_type.map(ScimType::as_str),
            detail: self.detail.clone(),
        }
    }
}

/// A SCIM error response (RFC 7644 §3.12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ScimErrorBody)]
pub struct ErrorBody {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    pub schemas: Vec<&'static str>,
    /// The HTTP status, as a string.
    pub status: String,
    /// The SCIM error type, e.g. `invalidFilter`, `uniqueness`.
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    /// What is wrong, for people.
    pub detail: String,
}
