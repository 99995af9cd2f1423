//! The identity providers a tenant federates with, configured through the
//! admin API: OpenID Connect issuers and SAML 2.0 IdPs. Client secrets are
//! sealed under the master key and never returned.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hms_keys::MasterKey;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};

use crate::error::IdentityError;
use crate::mapping::ClaimMapping;
use crate::store::now;

/// One identity provider's configuration, without secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProviderConfig {
    /// An OpenID Connect provider.
    Oidc(OidcConfig),
    /// A SAML 2.0 identity provider.
    Saml(SamlConfig),
}

impl ProviderConfig {
    /// How its claims or attributes map to the directory.
    pub fn mapping(&self) -> &ClaimMapping {
        match self {
            Self::Oidc(c) => &c.mapping,
            Self::Saml(c) => &c.mapping,
        }
    }

    /// `oidc` or `saml`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Oidc(_) => "oidc",
            Self::Saml(_) => "saml",
        }
    }
}

/// The schema of the internally tagged configuration: each variant's own
/// object with its `kind` (utoipa's derive would combine a closed object with
/// the tag, which no document satisfies).
impl utoipa::PartialSchema for ProviderConfig {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(tagged("oidc", OidcConfig::schema()))
            .item(tagged("saml", SamlConfig::schema()))
            .into()
    }
}

impl utoipa::ToSchema for ProviderConfig {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        OidcConfig::schemas(schemas);
        SamlConfig::schemas(schemas);
    }
}

/// `schema` with a required `kind` property holding `kind`.
fn tagged(kind: &str, schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            let tag = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind]));
            object.properties.insert("kind".into(), tag.into());
            object.required.insert(0, "kind".into());
            RefOr::T(Schema::Object(object))
        }
        other => other,
    }
}

/// An OpenID Connect relying-party registration.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer; discovery is read from `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id registered at the IdP.
    pub client_id: String,
    /// The client secret (request only; kept sealed, never serialised or logged).
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<String>, write_only)]
    pub client_secret: Option<SecretString>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Also read the userinfo endpoint; its claims complete (never override) the ID token's.
    #[serde(default)]
    pub userinfo: bool,
    /// Claim mapping.
    #[serde(default)]
    pub mapping: ClaimMapping,
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

/// A SAML 2.0 identity provider, known by its metadata.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlConfig {
    /// The IdP's metadata document (an `EntityDescriptor`).
    #[serde(default)]
    pub metadata_xml: Option<String>,
    /// Where to fetch the metadata instead (request only; the fetched document is stored).
    #[serde(default, skip_serializing)]
    #[schema(write_only)]
    pub metadata_url: Option<String>,
    /// Accept RSA-SHA1 signatures (off unless the tenant opts in).
    #[serde(default)]
    pub allow_sha1: bool,
    /// Accept responses the SP did not ask for (off by default).
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Attribute mapping; `staff_id` absent means the assertion's `NameID`.
    #[serde(default)]
    pub mapping: ClaimMapping,
}

/// A provider as stored.
#[derive(Debug, Clone)]
pub struct StoredProvider {
    /// The tenant's id for it.
    pub id: String,
    /// Its configuration.
    pub config: ProviderConfig,
    sealed_secret: Option<Vec<u8>>,
}

/// Checks a provider id: 1–64 lowercase letters, digits, `-` or `_`.
pub fn check_id(id: &str) -> Result<(), IdentityError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(IdentityError::invalid(
            "invalid_provider_id",
            "a provider id is 1 to 64 lowercase letters, digits, `-` or `_`",
        ))
    }
}

fn secret_context(tenant: &str, provider: &str) -> String {
    format!("idp-client-secret:{tenant}:{provider}")
}

impl StoredProvider {
    /// A provider to store, with its client secret sealed for `tenant`.
    pub fn seal(
        tenant: &str,
        id: &str,
        config: ProviderConfig,
        secret: Option<&str>,
        master: &MasterKey,
    ) -> Result<Self, IdentityError> {
        let sealed_secret = secret
            .map(|s| master.seal_bytes(s.as_bytes(), &secret_context(tenant, id)))
            .transpose()
            .map_err(|_| IdentityError::Unseal)?;
        Ok(Self {
            id: id.to_owned(),
            config,
            sealed_secret,
        })
    }

    /// Keeps `previous`'s sealed secret when this update gave none.
    pub fn keeping_secret_of(mut self, previous: Option<&StoredProvider>) -> Self {
        if self.sealed_secret.is_none() {
            self.sealed_secret = previous.and_then(|p| p.sealed_secret.clone());
        }
        self
    }

    /// The client secret, opened.
    pub fn client_secret(
        &self,
        tenant: &str,
        master: &MasterKey,
    ) -> Result<Option<String>, IdentityError> {
        let Some(sealed) = &self.sealed_secret else {
            return Ok(None);
        };
        let bytes = master
            .unseal_bytes(sealed, &secret_context(tenant, &self.id))
            .map_err(|_| IdentityError::Unseal)?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| IdentityError::Unseal)
    }
}

/// Stores (creating or replacing) a provider, in the caller's transaction.
pub async fn put(tx: &mut AnyConnection, provider: &StoredProvider) -> Result<(), IdentityError> {
    let config = serde_json::to_string(&provider.config).unwrap_or_default();
    let sealed = provider.sealed_secret.as_ref().map(|s| STANDARD.encode(s));
    sqlx::query("DELETE FROM idp_providers WHERE id = $1")
        .bind(&provider.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO idp_providers (id, kind, config, sealed_secret, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&provider.id)
    .bind(provider.config.kind())
    .bind(config)
    .bind(sealed)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

type ProviderRow = (String, String, Option<String>);

fn from_row((id, config, sealed): ProviderRow) -> Result<StoredProvider, IdentityError> {
    let corrupt =
        || IdentityError::invalid("corrupt_provider", format!("provider `{id}` is unreadable"));
    let config = serde_json::from_str(&config).map_err(|_| corrupt())?;
    let sealed_secret = sealed
        .map(|s| STANDARD.decode(s).map_err(|_| corrupt()))
        .transpose()?;
    Ok(StoredProvider {
        id: id.clone(),
        config,
        sealed_secret,
    })
}

/// One provider, if configured.
pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<StoredProvider>, IdentityError> {
    let row: Option<ProviderRow> =
        sqlx::query_as("SELECT id, config, sealed_secret FROM idp_providers WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    row.map(from_row).transpose()
}

/// Every provider, by id.
pub async fn list(pool: &AnyPool) -> Result<Vec<StoredProvider>, IdentityError> {
    let rows: Vec<ProviderRow> =
        sqlx::query_as("SELECT id, config, sealed_secret FROM idp_providers ORDER BY id")
            .fetch_all(pool)
            .await?;
    rows.into_iter().map(from_row).collect()
}

/// Removes a provider, in the caller's transaction; tells whether there was one.
pub async fn delete(tx: &mut AnyConnection, id: &str) -> Result<bool, IdentityError> {
    let done = sqlx::query("DELETE FROM idp_providers WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() > 0)
}
