//! The SCIM 2.0 service at `/{tenant}/scim/v2`: Users, Groups, search and
//! discovery, with SCIM errors, `application/scim+json` and ETags.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hms_scim::protocol::discovery;
use hms_scim::protocol::error::{ScimError, ScimType};
use hms_scim::protocol::list::{ListQuery, list_response};
use hms_scim::protocol::resource::Projection;
use hms_scim::protocol::schema::ResourceType;
use hms_scim::provision::{self, Outcome};
use hms_scim::store::{self, ProvisioningError};
use serde_json::Value;

use super::error::ApiError;
use super::gate::TenantContext;
use hms_governance::provisioning::{self, ScimWrite};
use hms_governance::tenancy::ChangeError;

const SCIM_JSON: HeaderValue = HeaderValue::from_static("application/scim+json");

/// Why a SCIM request failed: a SCIM refusal, or anything the rest of the
/// API reports (turned into the SCIM error format by [`scim_errors`]).
pub enum ScimFailure {
    /// Refused with a SCIM status and type.
    Scim(ScimError),
    /// Unavailable store, ledger failure, internal error…
    Api(ApiError),
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        match self {
            Self::Scim(error) => scim_json(
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
                error.body(),
            ),
            Self::Api(error) => error.into_response(),
        }
    }
}

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        Self::Scim(e)
    }
}

impl From<ApiError> for ScimFailure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<ProvisioningError> for ScimFailure {
    fn from(e: ProvisioningError) -> Self {
        match e {
            ProvisioningError::Scim(e) => Self::Scim(e),
            ProvisioningError::Store(e) => Self::Api(e.into()),
            other => Self::Api(ApiError::Internal(other.into())),
        }
    }
}

impl From<ChangeError> for ScimFailure {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Provisioning(e) => e.into(),
            other => Self::Api(other.into()),
        }
    }
}

fn scim_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, SCIM_JSON);
    response
}

/// Rewrites every error answered under `/scim/v2` that is not already a SCIM
/// error (unknown tenant, bad credential, missing scope, too large, no route)
/// into the SCIM error format, keeping its status.
pub async fn scim_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_plain_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status().as_u16() < 400 || !is_plain_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = parsed["error"]["code"].as_str().unwrap_or_default();
    let detail = parsed["error"]["message"]
        .as_str()
        .unwrap_or("request failed")
        .to_owned();
    let scim_type = match code {
        "invalid_input" | "invalid_body" => Some(ScimType::InvalidValue),
        "malformed_json" => Some(ScimType::InvalidSyntax),
        "conflict" => Some(ScimType::Uniqueness),
        _ => None,
    };
    let error = ScimError {
        status: parts.status.as_u16(),
        scim_type,
        detail,
    };
    let mut rewritten = scim_json(parts.status, error.body());
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// A SCIM request body: JSON under `application/scim+json` or `application/json`.
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || v == "application/scim+json"
            });
        if !json_type {
            return Err(ScimError::status(
                415,
                "expected `Content-Type: application/scim+json` or `application/json`",
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ScimError::status(413, "request body is larger than allowed"))?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ScimError::invalid_syntax(format!("malformed JSON: {e}")).into())
    }
}

fn base(ctx: &TenantContext) -> String {
    format!("/{}/scim/v2", ctx.tenant.id())
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(Extension(ctx): Extension<TenantContext>) -> Response {
    scim_json(
        StatusCode::OK,
        discovery::service_provider_config(&base(&ctx)),
    )
}

/// `GET /Schemas`.
pub async fn schemas(Extension(ctx): Extension<TenantContext>) -> Response {
    let all = discovery::schemas(&base(&ctx));
    scim_json(StatusCode::OK, list_of(all))
}

/// `GET /Schemas/{urn}`.
pub async fn schema(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimFailure> {
    one_of(discovery::schemas(&base(&ctx)), &id, "schema")
}

/// `GET /ResourceTypes`.
pub async fn resource_types(Extension(ctx): Extension<TenantContext>) -> Response {
    scim_json(
        StatusCode::OK,
        list_of(discovery::resource_types(&base(&ctx))),
    )
}

/// `GET /ResourceTypes/{name}`.
pub async fn resource_type(
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimFailure> {
    one_of(discovery::resource_types(&base(&ctx)), &id, "resource type")
}

fn list_of(items: Vec<Value>) -> Value {
    let items: Vec<serde_json::Map<String, Value>> = items
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    list_response(items.len() as u64, 1, items)
}

fn one_of(items: Vec<Value>, id: &str, what: &str) -> Result<Response, ScimFailure> {
    let found = items
        .into_iter()
        .find(|item| item["id"].as_str() == Some(id))
        .ok_or_else(|| ScimError::not_found(format!("{what} `{id}`")))?;
    Ok(scim_json(StatusCode::OK, found))
}

/// `POST /Bulk`: declared unsupported in `/ServiceProviderConfig`.
pub async fn bulk() -> ScimFailure {
    ScimError::status(501, "bulk operations are not supported").into()
}

/// Any other path under `/scim/v2`.
pub async fn no_such_endpoint() -> ScimFailure {
    ScimError::status(404, "no such SCIM endpoint").into()
}

/// The resource type a `/Users…` or `/Groups…` route serves, from the path.
pub struct Kind(pub ResourceType);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Kind {
    type Rejection = ScimFailure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let endpoint = parts.uri.path().split('/').nth(4).unwrap_or_default();
        match endpoint {
            "Users" => Ok(Self(ResourceType::User)),
            "Groups" => Ok(Self(ResourceType::Group)),
            _ => Err(ScimError::status(404, "no such SCIM endpoint").into()),
        }
    }
}

/// `GET /Users`, `GET /Groups`.
pub async fn list_resources(
    Kind(kind): Kind,
    ctx: Extension<TenantContext>,
    query: RawQuery,
) -> Result<Response, ScimFailure> {
    list_from_query(ctx, query, kind).await
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub async fn search(
    Kind(kind): Kind,
    Extension(ctx): Extension<TenantContext>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let query = ListQuery::from_search(kind, &body)?;
    list(&ctx, kind, query).await
}

async fn list_from_query(
    Extension(ctx): Extension<TenantContext>,
    RawQuery(query): RawQuery,
    kind: ResourceType,
) -> Result<Response, ScimFailure> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ScimError::invalid_value(format!("invalid query string: {e}")))?;
    let query = ListQuery::from_params(kind, &params)?;
    list(&ctx, kind, query).await
}

async fn list(
    ctx: &TenantContext,
    kind: ResourceType,
    query: ListQuery,
) -> Result<Response, ScimFailure> {
    let mut conn = acquire(ctx).await?;
    let page = store::search(&mut conn, kind, &query).await?;
    let related = wants_related(kind, &query.projection);
    let base = base(ctx);
    let resources = provision::render_page(&mut conn, &page.resources, &base, related)
        .await?
        .iter()
        .map(|doc| query.projection.apply(kind, doc))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        list_response(page.total, query.start_index, resources),
    ))
}

/// Whether `groups` of a User or `members` of a Group (read from membership
/// rows) are wanted.
fn wants_related(kind: ResourceType, projection: &Projection) -> bool {
    let name = match kind {
        ResourceType::User => "groups",
        ResourceType::Group => "members",
    };
    kind.attribute(None, name)
        .is_some_and(|(_, attr)| projection.includes(attr))
}

/// `GET /Users/{id}`, `GET /Groups/{id}`.
pub async fn get(
    Kind(kind): Kind,
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ScimFailure> {
    let projection = projection(kind, query.as_deref())?;
    let mut conn = acquire(&ctx).await?;
    let resource = provision::current(&mut conn, kind, &id, None).await?;
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',').any(|t| {
                t.trim().trim_start_matches("W/") == resource.etag().trim_start_matches("W/")
            })
        });
    if unchanged {
        return Ok(with_etag(
            StatusCode::NOT_MODIFIED.into_response(),
            &resource.etag(),
        ));
    }
    let related = wants_related(kind, &projection);
    let doc = provision::render(&mut conn, &resource, &base(&ctx), related).await?;
    let response = scim_json(StatusCode::OK, Value::Object(projection.apply(kind, &doc)));
    Ok(with_etag(response, &resource.etag()))
}

async fn acquire(
    ctx: &TenantContext,
) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, ScimFailure> {
    Ok(ctx
        .tenant
        .store
        .connection()
        .await
        .map_err(ApiError::from)?)
}

fn with_etag(mut response: Response, etag: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `attributes`/`excludedAttributes` of a request's query string.
fn projection(kind: ResourceType, query: Option<&str>) -> Result<Projection, ScimFailure> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ScimError::invalid_value(format!("invalid query string: {e}")))?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    Ok(Projection::parse(
        kind,
        get("attributes"),
        get("excludedAttributes"),
    )?)
}

async fn respond(
    ctx: &TenantContext,
    outcome: Outcome,
    status: StatusCode,
    projection: &Projection,
) -> Result<Response, ScimFailure> {
    let Some(resource) = outcome.resource else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut conn = acquire(ctx).await?;
    let base = base(ctx);
    let kind = resource.kind;
    let related = wants_related(kind, projection);
    let doc = provision::render(&mut conn, &resource, &base, related).await?;
    let doc = projection.apply(kind, &doc);
    let mut response = with_etag(scim_json(status, Value::Object(doc)), &resource.etag());
    if status == StatusCode::CREATED {
        let location = format!("{base}{}/{}", kind.endpoint(), resource.id);
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    Ok(response)
}

/// `POST /Users`, `POST /Groups`.
pub async fn create(
    Kind(kind): Kind,
    Extension(ctx): Extension<TenantContext>,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let projection = projection(kind, query.as_deref())?;
    let outcome = provisioning::write(
        &ctx.tenant,
        &ctx.provenance,
        kind,
        ScimWrite::Create(body),
        None,
    )
    .await?;
    respond(&ctx, outcome, StatusCode::CREATED, &projection).await
}

/// `PUT /Users/{id}`, `PUT /Groups/{id}`: the resource replaced whole.
pub async fn replace(
    Kind(kind): Kind,
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let projection = projection(kind, query.as_deref())?;
    let outcome = provisioning::write(
        &ctx.tenant,
        &ctx.provenance,
        kind,
        ScimWrite::Replace(id, body),
        if_match(&headers).as_deref(),
    )
    .await?;
    respond(&ctx, outcome, StatusCode::OK, &projection).await
}

/// `PATCH /Users/{id}`, `PATCH /Groups/{id}`.
pub async fn patch(
    Kind(kind): Kind,
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let projection = projection(kind, query.as_deref())?;
    let outcome = provisioning::write(
        &ctx.tenant,
        &ctx.provenance,
        kind,
        ScimWrite::Patch(id, body),
        if_match(&headers).as_deref(),
    )
    .await?;
    respond(&ctx, outcome, StatusCode::OK, &projection).await
}

/// `DELETE /Users/{id}` (the person is disabled at once; their history stays),
/// `DELETE /Groups/{id}`.
pub async fn delete(
    Kind(kind): Kind,
    Extension(ctx): Extension<TenantContext>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimFailure> {
    provisioning::write(
        &ctx.tenant,
        &ctx.provenance,
        kind,
        ScimWrite::Delete(id),
        if_match(&headers).as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
