//! The SCIM 2.0 service at `/{tenant}/scim/v2`: Users, Groups, search and
//! discovery, with SCIM errors, `application/scim+json` and ETags.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hms_scim::protocol::discovery;
use hms_scim::protocol::error::{ScimError, ScimType};
use hms_scim::protocol::list::{ListQuery, list_response};
use hms_scim::protocol::resource::Projection;
use hms_scim::protocol::schema::ResourceType;
use hms_scim::provision::{self, Outcome};
use hms_scim::store::{self, ProvisioningError};
use serde_json::Value;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::gate::{ScimClient, TenantContext};
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

fn scim_json(status: StatusCode, body: impl serde::Serialize) -> Response {
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

/// The SCIM service under `/{tenant}/scim/v2`, behind a `scim` client, every
/// error in the SCIM format.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(service_provider_config))
        .routes(routes!(schemas))
        .routes(routes!(schema))
        .routes(routes!(resource_types))
        .routes(routes!(resource_type))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::search))
        .routes(routes!(
            users::get,
            users::replace,
            users::patch,
            users::delete
        ))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::search))
        .routes(routes!(
            groups::get,
            groups::replace,
            groups::patch,
            groups::delete
        ))
        .routes(routes!(bulk))
        .route(
            "/{tenant}/scim/v2/{*rest}",
            axum::routing::any(no_such_endpoint),
        )
        .layer(axum::middleware::from_fn(scim_errors))
}

/// `GET /ServiceProviderConfig`.
#[utoipa::path(
    get,
    path = "/{tenant}/scim/v2/ServiceProviderConfig",
    tag = "scim",
    security(("client" = ["scim"])),
    responses((status = 200, description = "What this SCIM service supports (RFC 7643 §5).", body = Object, content_type = "application/scim+json"))
)]
pub async fn service_provider_config(ctx: ScimClient) -> Response {
    scim_json(
        StatusCode::OK,
        discovery::service_provider_config(&base(&ctx)),
    )
}

/// `GET /Schemas`.
#[utoipa::path(
    get,
    path = "/{tenant}/scim/v2/Schemas",
    tag = "scim",
    security(("client" = ["scim"])),
    responses((status = 200, description = "The schemas (RFC 7643 §7), as a list response.", body = Object, content_type = "application/scim+json"))
)]
pub async fn schemas(ctx: ScimClient) -> Response {
    let all = discovery::schemas(&base(&ctx));
    scim_json(StatusCode::OK, list_of(all))
}

/// `GET /Schemas/{urn}`.
#[utoipa::path(
    get,
    path = "/{tenant}/scim/v2/Schemas/{id}",
    tag = "scim",
    security(("client" = ["scim"])),
    params(("id" = String, Path, description = "The schema's URN.")),
    responses((status = 200, description = "The schema.", body = Object, content_type = "application/scim+json"))
)]
pub async fn schema(
    ctx: ScimClient,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimFailure> {
    one_of(discovery::schemas(&base(&ctx)), &id, "schema")
}

/// `GET /ResourceTypes`.
#[utoipa::path(
    get,
    path = "/{tenant}/scim/v2/ResourceTypes",
    tag = "scim",
    security(("client" = ["scim"])),
    responses((status = 200, description = "The resource types (RFC 7643 §6), as a list response.", body = Object, content_type = "application/scim+json"))
)]
pub async fn resource_types(ctx: ScimClient) -> Response {
    scim_json(
        StatusCode::OK,
        list_of(discovery::resource_types(&base(&ctx))),
    )
}

/// `GET /ResourceTypes/{name}`.
#[utoipa::path(
    get,
    path = "/{tenant}/scim/v2/ResourceTypes/{id}",
    tag = "scim",
    security(("client" = ["scim"])),
    params(("id" = String, Path, description = "`User` or `Group`.")),
    responses((status = 200, description = "The resource type.", body = Object, content_type = "application/scim+json"))
)]
pub async fn resource_type(
    ctx: ScimClient,
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
#[utoipa::path(
    post,
    path = "/{tenant}/scim/v2/Bulk",
    tag = "scim",
    security(("client" = ["scim"])),
    responses((status = 501, description = "Bulk operations are not supported.", body = hms_scim::protocol::error::ErrorBody, content_type = "application/scim+json"))
)]
pub async fn bulk(_ctx: ScimClient) -> ScimFailure {
    ScimError::status(501, "bulk operations are not supported").into()
}

/// Any other path under `/scim/v2`.
pub async fn no_such_endpoint() -> ScimFailure {
    ScimError::status(404, "no such SCIM endpoint").into()
}

/// `GET /Users`, `GET /Groups`.
async fn list_resources(
    kind: ResourceType,
    ctx: &TenantContext,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimFailure> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ScimError::invalid_value(format!("invalid query string: {e}")))?;
    let query = ListQuery::from_params(kind, &params)?;
    list(ctx, kind, query).await
}

/// `POST /Users/.search`, `POST /Groups/.search`.
async fn search(
    kind: ResourceType,
    ctx: &TenantContext,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimFailure> {
    let query = ListQuery::from_search(kind, &body)?;
    list(ctx, kind, query).await
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
async fn get(
    kind: ResourceType,
    ctx: &TenantContext,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ScimFailure> {
    let projection = projection(kind, query.as_deref())?;
    let mut conn = acquire(ctx).await?;
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
    let doc = provision::render(&mut conn, &resource, &base(ctx), related).await?;
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
async fn create(
    kind: ResourceType,
    ctx: &TenantContext,
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
    respond(ctx, outcome, StatusCode::CREATED, &projection).await
}

/// `PUT /Users/{id}`, `PUT /Groups/{id}`: the resource replaced whole.
async fn replace(
    kind: ResourceType,
    ctx: &TenantContext,
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
    respond(ctx, outcome, StatusCode::OK, &projection).await
}

/// `PATCH /Users/{id}`, `PATCH /Groups/{id}`.
async fn patch(
    kind: ResourceType,
    ctx: &TenantContext,
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
    respond(ctx, outcome, StatusCode::OK, &projection).await
}

/// `DELETE /Users/{id}` (the person is disabled at once; their history stays),
/// `DELETE /Groups/{id}`.
async fn delete(
    kind: ResourceType,
    ctx: &TenantContext,
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

/// The handlers of one resource type's endpoints, each documented at its own path.
macro_rules! resource_endpoints {
    ($module:ident, $kind:expr, $noun:literal, $collection:literal, $search:literal, $one:literal) => {
        #[doc = concat!("The `", $noun, "` endpoints.")]
        pub mod $module {
            use axum::extract::{Path, RawQuery};
            use axum::http::HeaderMap;
            use axum::response::Response;

            use super::{ScimBody, ScimClient, ScimFailure};

            #[doc = concat!("`GET ", $collection, "`: a filtered, sorted, paged list.")]
            #[utoipa::path(
                get,
                path = $collection,
                tag = "scim",
                security(("client" = ["scim"])),
                params(
                    ("filter" = Option<String>, Query, description = "A SCIM filter (RFC 7644 §3.4.2.2)."),
                    ("startIndex" = Option<i64>, Query, description = "1-based index of the first result."),
                    ("count" = Option<i64>, Query, description = "Results per page."),
                    ("sortBy" = Option<String>, Query, description = "Attribute to sort by."),
                    ("sortOrder" = Option<String>, Query, description = "`ascending` or `descending`."),
                    ("attributes" = Option<String>, Query, description = "Attributes to return."),
                    ("excludedAttributes" = Option<String>, Query, description = "Attributes to leave out."),
                ),
                responses((status = 200, description = "A list response.", body = Object, content_type = "application/scim+json"))
            )]
            pub async fn list(ctx: ScimClient, query: RawQuery) -> Result<Response, ScimFailure> {
                super::list_resources($kind, &ctx, query).await
            }

            #[doc = concat!("`POST ", $collection, "`: creates one.")]
            #[utoipa::path(
                post,
                path = $collection,
                tag = "scim",
                security(("client" = ["scim"])),
                request_body(content = Object, content_type = "application/scim+json"),
                responses(
                    (status = 201, description = "Created.", body = Object, content_type = "application/scim+json"),
                    (status = 409, description = "It exists already.", body = hms_scim::protocol::error::ErrorBody, content_type = "application/scim+json"),
                )
            )]
            pub async fn create(
                ctx: ScimClient,
                query: RawQuery,
                body: ScimBody,
            ) -> Result<Response, ScimFailure> {
                super::create($kind, &ctx, query, body).await
            }

            #[doc = concat!("`POST ", $search, "`: a list by a search request.")]
            #[utoipa::path(
                post,
                path = $search,
                tag = "scim",
                security(("client" = ["scim"])),
                request_body(content = Object, content_type = "application/scim+json"),
                responses((status = 200, description = "A list response.", body = Object, content_type = "application/scim+json"))
            )]
            pub async fn search(ctx: ScimClient, body: ScimBody) -> Result<Response, ScimFailure> {
                super::search($kind, &ctx, body).await
            }

            #[doc = concat!("`GET ", $one, "`.")]
            #[utoipa::path(
                get,
                path = $one,
                tag = "scim",
                security(("client" = ["scim"])),
                responses(
                    (status = 200, description = "The resource, with its ETag.", body = Object, content_type = "application/scim+json"),
                    (status = 304, description = "Unchanged since the ETag given in `If-None-Match`."),
                )
            )]
            pub async fn get(
                ctx: ScimClient,
                id: Path<(String, String)>,
                query: RawQuery,
                headers: HeaderMap,
            ) -> Result<Response, ScimFailure> {
                super::get($kind, &ctx, id, query, headers).await
            }

            #[doc = concat!("`PUT ", $one, "`: replaced whole.")]
            #[utoipa::path(
                put,
                path = $one,
                tag = "scim",
                security(("client" = ["scim"])),
                request_body(content = Object, content_type = "application/scim+json"),
                responses(
                    (status = 200, description = "Replaced.", body = Object, content_type = "application/scim+json"),
                    (status = 409, description = "It would clash with another.", body = hms_scim::protocol::error::ErrorBody, content_type = "application/scim+json"),
                    (status = 412, description = "`If-Match` names another version.", body = hms_scim::protocol::error::ErrorBody, content_type = "application/scim+json"),
                )
            )]
            pub async fn replace(
                ctx: ScimClient,
                id: Path<(String, String)>,
                query: RawQuery,
                headers: HeaderMap,
                body: ScimBody,
            ) -> Result<Response, ScimFailure> {
                super::replace($kind, &ctx, id, query, headers, body).await
            }

            #[doc = concat!("`PATCH ", $one, "`: PatchOp operations, all or none.")]
            #[utoipa::path(
                patch,
                path = $one,
                tag = "scim",
                security(("client" = ["scim"])),
                request_body(content = Object, content_type = "application/scim+json"),
                responses(
                    (status = 200, description = "Patched.", body = Object, content_type = "application/scim+json"),
                    (status = 204, description = "Patched; nothing to return."),
                    (status = 409, description = "It would clash with another.", body = hms_scim::protocol::error::ErrorBody, content_type = "application/scim+json"),
                    (status = 412, description = "`If-Match` names another version.", body = hms_scim::protocol::error::ErrorBody, content_type = "application/scim+json"),
                )
            )]
            pub async fn patch(
                ctx: ScimClient,
                id: Path<(String, String)>,
                query: RawQuery,
                headers: HeaderMap,
                body: ScimBody,
            ) -> Result<Response, ScimFailure> {
                super::patch($kind, &ctx, id, query, headers, body).await
            }

            #[doc = concat!("`DELETE ", $one, "`.")]
            #[utoipa::path(
                delete,
                path = $one,
                tag = "scim",
                security(("client" = ["scim"])),
                responses(
                    (status = 204, description = "Deleted (a person is disabled at once; their history stays)."),
                    (status = 412, description = "`If-Match` names another version.", body = hms_scim::protocol::error::ErrorBody, content_type = "application/scim+json"),
                )
            )]
            pub async fn delete(
                ctx: ScimClient,
                id: Path<(String, String)>,
                headers: HeaderMap,
            ) -> Result<Response, ScimFailure> {
                super::delete($kind, &ctx, id, headers).await
            }
        }
    };
}

resource_endpoints!(
    users,
    hms_scim::protocol::schema::ResourceType::User,
    "User",
    "/{tenant}/scim/v2/Users",
    "/{tenant}/scim/v2/Users/.search",
    "/{tenant}/scim/v2/Users/{id}"
);
resource_endpoints!(
    groups,
    hms_scim::protocol::schema::ResourceType::Group,
    "Group",
    "/{tenant}/scim/v2/Groups",
    "/{tenant}/scim/v2/Groups/.search",
    "/{tenant}/scim/v2/Groups/{id}"
);
