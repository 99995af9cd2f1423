//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! attributes and the types they read and write, plus the conventions every
//! operation shares (tenant path parameters, credentials, error answers).

use hms_scim::protocol::error::ErrorBody as ScimErrorBody;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, OpenApi as Document, PathItem, Ref, RefOr, Required, Response, ResponseBuilder,
};
use utoipa::{OpenApi, PartialSchema};

use super::precondition::IF_MATCH_PARAMETER;

pub use super::error::ErrorBody;

/// The document's fixed parts; the paths come from the feature routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "HMS-ACH",
        description = "Access decisions (AuthZEN 1.0 and native), staff identity (SCIM 2.0, \
                       SAML/OIDC sign-in, TOTP), the signed audit ledger, compliance reports \
                       and access reviews, per tenant."
    ),
    components(schemas(ErrorBody, ScimErrorBody))
)]
pub struct ApiDoc;

/// The security scheme of API clients (`client_id.secret`).
pub const CLIENT: &str = "client";
/// The security scheme of staff session tokens (JWTs from sign-in).
pub const SESSION: &str = "session";
/// The security scheme of the operator API.
pub const OPERATOR: &str = "operator";

/// Adds what every operation shares to the generated paths, so that no
/// handler has to repeat it: the security schemes, undeclared path
/// parameters and the error answers.
pub fn apply_conventions(document: &mut Document) {
    add_security_schemes(document);
    describe_itself(document);
    for (path, item) in document.paths.paths.iter_mut() {
        for operation in operations(item) {
            declare_path_parameters(path, operation);
            declare_errors(path, operation);
        }
    }
}

fn add_security_schemes(document: &mut Document) {
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        CLIENT,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("client_id.secret")
                .description(Some(
                    "An API client's credential, holding the scope the operation names.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        OPERATOR,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("operator_id.secret")
                .description(Some(
                    "A platform operator's credential (`hms-ach operator issue`), outside every tenant.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        SESSION,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("A staff member's session token from sign-in."))
                .build(),
        ),
    );
}

/// Adds `GET /openapi.json`, which serves the document.
fn describe_itself(document: &mut Document) {
    let answer = ResponseBuilder::new()
        .description("This document (OpenAPI 3.1).")
        .content("application/json", Content::new(None::<RefOr<Schema>>))
        .build();
    let operation = OperationBuilder::new()
        .tag("operations")
        .summary(Some("The OpenAPI document of every operation."))
        .response("200", answer)
        .build();
    document
        .paths
        .add_path_operation("/openapi.json", vec![HttpMethod::Get], operation);
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Declares each `{name}` of `path` the operation does not declare itself, as
/// a string.
fn declare_path_parameters(path: &str, operation: &mut Operation) {
    let declared: Vec<String> = operation
        .parameters
        .iter()
        .flatten()
        .filter(|p| p.parameter_in == ParameterIn::Path)
        .map(|p| p.name.clone())
        .collect();
    let missing = path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .filter(|name| !declared.iter().any(|d| d == name))
        .map(|name| {
            let description = if name == "tenant" {
                "The tenant's id."
            } else {
                "The record's id."
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(String::schema()))
                .build()
        })
        .collect::<Vec<_>>();
    if !missing.is_empty() {
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        parameters.splice(0..0, missing);
    }
}

/// Adds the error answers an operation can give by its shape: 404 for an
/// unknown tenant, 401/403 behind a credential, 400/413/415 for a body, 400
/// for parameters, 412 for a conditional write, 503 while a database is
/// unreachable.
fn declare_errors(path: &str, operation: &mut Operation) {
    let scim = path.contains("/scim/v2");
    let mut add = |status: &str, description: &str| {
        if !operation.responses.responses.contains_key(status) {
            operation
                .responses
                .responses
                .insert(status.to_owned(), RefOr::T(error(description, scim)));
        }
    };
    let tenant = path.contains("/{tenant}");
    let has_parameters = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name != "tenant");
    if operation.request_body.is_some() {
        add("400", "The body is malformed or does not fit.");
        add("413", "The body is larger than allowed.");
        add("415", "The body is not JSON.");
    } else if has_parameters {
        add("400", "A parameter is malformed.");
    }
    let conditional = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name == IF_MATCH_PARAMETER);
    if conditional {
        add(
            "412",
            "Changed since it was read (`If-Match`); nothing was changed.",
        );
    }
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        add("401", "No credential, or one this tenant does not know.");
        add("403", "The credential may not do this.");
    }
    if tenant {
        add("404", "No such tenant (or record).");
        add("503", "A database is unreachable; nothing was changed.");
    }
}

fn error(description: &str, scim: bool) -> Response {
    let (media, schema) = if scim {
        ("application/scim+json", "ScimErrorBody")
    } else {
        ("application/json", "ErrorBody")
    };
    ResponseBuilder::new()
        .description(description)
        .content(media, Content::new(Some(Ref::from_schema_name(schema))))
        .build()
}
