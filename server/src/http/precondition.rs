//! Optimistic concurrency over HTTP: policies and settings are read with an
//! `ETag` and written with `If-Match`; a write based on a state another
//! write has replaced is a 412, never a silent overwrite.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use hms_directory::Precondition;
use hms_directory::precondition::tag_of;
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{Required, schema::Schema};
use utoipa::{IntoParams, PartialSchema};

use super::error::ApiError;

/// The `If-Match` header of a write: what it was based on (anything when absent).
pub struct IfMatch(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values: Vec<&str> = parts
            .headers
            .get_all(IF_MATCH)
            .iter()
            .map(|value| value.to_str())
            .collect::<Result<_, _>>()
            .map_err(|_| invalid("If-Match is not visible ASCII"))?;
        if values.is_empty() {
            return Ok(Self(Precondition::None));
        }
        Precondition::parse(&values.join(","))
            .map(Self)
            .map_err(|e| invalid(&e.to_string()))
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request("invalid_if_match", message)
}

/// The name the OpenAPI conventions recognise a precondition by.
pub const IF_MATCH_PARAMETER: &str = "If-Match";

impl IntoParams for IfMatch {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let schema: utoipa::openapi::RefOr<Schema> = String::schema();
        vec![
            ParameterBuilder::new()
                .name(IF_MATCH_PARAMETER)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "The entity tag (`ETag`) this write is based on; a 412 when the \
                     resource has changed since. Without it the write replaces whatever is current.",
                ))
                .schema(Some(schema))
                .build(),
        ]
    }
}

/// A JSON answer carrying its entity tag in `ETag`.
pub struct Tagged<T> {
    tag: String,
    body: T,
}

impl<T: Serialize> Tagged<T> {
    /// `body`, tagged by a digest of its JSON form (settings).
    pub fn by_content(body: T) -> Self {
        Self {
            tag: tag_of(&body),
            body,
        }
    }

    /// `body`, tagged `tag` (a policy version).
    pub fn with_tag(tag: String, body: T) -> Self {
        Self { tag, body }
    }
}

impl<T: Serialize> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        ([(ETAG, self.tag)], Json(self.body)).into_response()
    }
}
