//! The one HTTP error type: a status and a machine-readable body for every failure.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hms_audit_ledger::store::LedgerError;
use hms_authz::{BundleError, BundleProblem, RequestError};
use hms_directory::StoreError;
use hms_governance::hr::HrError;
use hms_governance::reporting::{BreakGlassReviewError, ReportError};
use hms_governance::reviews::ReviewError;
use hms_governance::sessions::SessionError;
use hms_governance::tenancy::ChangeError;
use hms_idp_bridge::IdentityError;
use hms_scim::protocol::error::ScimError;
use hms_scim::store::ProvisioningError;
use serde::Serialize;
use utoipa::ToSchema;

/// Every way a request can fail. Bodies are `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or names something that does not fit.
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
    },
    /// No or an invalid credential.
    #[error("{0}")]
    Unauthorized(String),
    /// A login, second factor or session that does not prove who the caller is.
    #[error("{message}")]
    Refused {
        /// Stable machine-readable code (`invalid_signature`, `replayed_assertion`…).
        code: &'static str,
        /// What failed.
        message: String,
    },
    /// Too many failed attempts; try again later.
    #[error("{0}")]
    Locked(String),
    /// An upstream service (an identity provider) failed.
    #[error("{0}")]
    BadGateway(String),
    /// The credential may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such tenant, route or record.
    #[error("{0}")]
    NotFound(String),
    /// The record exists already.
    #[error("{0}")]
    Conflict(String),
    /// The tenant is suspended by the platform's operators.
    #[error("{0}")]
    Suspended(String),
    /// The write was based on a state another write has replaced (`If-Match`).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The body is larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Policies or entities that fail validation; nothing was changed.
    #[error("{message}")]
    Unprocessable {
        /// Summary.
        message: String,
        /// Each problem, located where possible.
        problems: Vec<BundleProblem>,
    },
    /// The method is not served on this path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A dependency (database) is not available.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged with its cause, opaque to the caller.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code the body carries.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Refused { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Self::Locked(_) => (StatusCode::TOO_MANY_REQUESTS, "mfa_locked"),
            Self::BadGateway(_) => (StatusCode::BAD_GATEWAY, "idp_unavailable"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Suspended(_) => (StatusCode::FORBIDDEN, "tenant_suspended"),
            Self::PreconditionFailed(_) => (StatusCode::PRECONDITION_FAILED, "precondition_failed"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Unprocessable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// Every error answer outside SCIM.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    /// What failed.
    error: ErrorDetail<'a>,
}

/// The error itself.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable machine-readable code, e.g. `invalid_body`, `unauthorized`, `not_found`.
    code: &'static str,
    /// What is wrong, for a person.
    message: String,
    /// Each validation problem, located where possible (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [BundleProblem]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let details = match &self {
            Self::Unprocessable { problems, .. } => Some(problems.as_slice()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                details,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hms-ach\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(message) => Self::bad_request("invalid_input", message),
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::Stale { current } => Self::PreconditionFailed(format!(
                "changed since it was read (its ETag is now {current}); read it again and retry"
            )),
            e if e.is_unavailable() => Self::Unavailable("database unavailable".into()),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let code = match &e {
            RequestError::UnknownEntityType(_) => "unknown_entity_type",
            RequestError::UnknownAction(_) => "unknown_action",
            RequestError::InvalidEntity { .. } => "invalid_entity",
            RequestError::InvalidContext(_) => "invalid_context",
            RequestError::InvalidRequest(_) => "invalid_request",
            RequestError::Malformed(_) => "malformed",
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<BundleError> for ApiError {
    fn from(e: BundleError) -> Self {
        Self::Unprocessable {
            message: e.to_string(),
            problems: e.problems(),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid { code, message } => Self::bad_request(code, message),
            IdentityError::Refused { code, message } => Self::Refused { code, message },
            IdentityError::Locked { .. } => Self::Locked(e.to_string()),
            IdentityError::UnknownProvider(_) => Self::NotFound(e.to_string()),
            IdentityError::Upstream(message) => Self::BadGateway(message),
            IdentityError::Store(e) => StoreError::from(e).into(),
            IdentityError::Unseal => Self::Internal(e.into()),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Missing(missing) => {
                ApiError::bad_request("missing_parameter", missing.to_string())
            }
            ReportError::NoCheckpoint => ApiError::Conflict(e.to_string()),
            ReportError::Ledger(e) => e.into(),
            ReportError::Store(e) => e.into(),
        }
    }
}

impl From<BreakGlassReviewError> for ApiError {
    fn from(e: BreakGlassReviewError) -> Self {
        match e {
            BreakGlassReviewError::UnknownDecision(_) => ApiError::NotFound(e.to_string()),
            BreakGlassReviewError::NotBreakGlass(_) => {
                ApiError::bad_request("not_break_glass", e.to_string())
            }
            BreakGlassReviewError::Comment => {
                ApiError::bad_request("invalid_comment", e.to_string())
            }
            BreakGlassReviewError::Ledger(e) => e.into(),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::NotFound(what) => Self::NotFound(what),
            LedgerError::Invalid(message) => Self::bad_request("invalid_input", message),
            LedgerError::Unavailable(reason) => Self::Unavailable(format!(
                "the audit ledger is unavailable, so nothing was changed: {reason}"
            )),
            LedgerError::Database(error) => {
                tracing::error!(%error, "audit ledger database error");
                Self::Unavailable("the audit ledger is unavailable, so nothing was changed".into())
            }
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Store(e) => e.into(),
            ChangeError::Ledger(e) => e.into(),
            ChangeError::Bundle(e) => e.into(),
            ChangeError::Entities(e) => ApiError::Unprocessable {
                message: format!("the directory or the entity store does not fit this schema: {e}"),
                problems: Vec::new(),
            },
            ChangeError::InvalidEntity(e) => ApiError::bad_request("invalid_entity", e.to_string()),
            ChangeError::EntityBatch(message) => ApiError::bad_request("invalid_batch", message),
            ChangeError::Contended => ApiError::Unavailable(ChangeError::Contended.to_string()),
            ChangeError::ClientName => {
                ApiError::bad_request("invalid_input", ChangeError::ClientName.to_string())
            }
            ChangeError::ScimScopeAlone => {
                ApiError::bad_request("invalid_scope", ChangeError::ScimScopeAlone.to_string())
            }
            ChangeError::Provisioning(ProvisioningError::Store(e)) => e.into(),
            ChangeError::Provisioning(ProvisioningError::Scim(e)) => scim_as_api(e),
            ChangeError::Identity(e) => e.into(),
            ChangeError::Suspended(id) => ApiError::Suspended(format!(
                "tenant `{id}` is suspended; every request is refused"
            )),
            other => ApiError::Internal(other.into()),
        }
    }
}

/// A provisioning refusal outside the SCIM API (e.g. the group-role mapping).
fn scim_as_api(e: ScimError) -> ApiError {
    match e.status {
        404 => ApiError::NotFound(e.detail),
        409 => ApiError::Conflict(e.detail),
        _ => ApiError::bad_request("invalid_input", e.detail),
    }
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Invalid(message) => Self::bad_request("invalid_review", message),
            ReviewError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            ReviewError::Conflict(message) => Self::Conflict(message),
            ReviewError::Forbidden(message) => Self::Forbidden(message),
            ReviewError::Change(e) => e.into(),
            ReviewError::Provisioning(ProvisioningError::Store(e)) => e.into(),
            ReviewError::Provisioning(e) => Self::Internal(anyhow::Error::new(e)),
            ReviewError::Hook(e) => e.into(),
        }
    }
}

impl From<HrError> for ApiError {
    fn from(e: HrError) -> Self {
        match e {
            HrError::NoSecret | HrError::Signature(_) => Self::Unauthorized(e.to_string()),
            HrError::InvalidEvent(message) => Self::bad_request("invalid_event", message),
            HrError::TooFarAhead => Self::bad_request("too_far_ahead", e.to_string()),
            HrError::Change(e) => e.into(),
            HrError::CorruptSecret(_) => Self::Internal(e.into()),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Refused(problem) => Self::Refused {
                code: problem.code(),
                message: e.to_string(),
            },
            SessionError::NotPending => Self::bad_request("mfa_not_pending", e.to_string()),
            SessionError::Change(e) => e.into(),
        }
    }
}
