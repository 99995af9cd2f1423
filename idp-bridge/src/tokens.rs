//! Session tokens: short-lived JWTs signed with the tenant's Ed25519 key
//! (EdDSA), verifiable by any HMS service from the tenant's published JWKS.
//! Keys are sealed at rest under the master key; a rotated key stays
//! published until the tokens it signed have expired.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hms_keys::MasterKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyPool;

use crate::error::IdentityError;
use crate::store::now;

/// The audience of every session token.
pub const AUDIENCE: &str = "hms-ach";

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionClaims {
    /// Issuer: the tenant's base URL.
    pub iss: String,
    /// The staff id.
    pub sub: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// The tenant.
    pub tid: String,
    /// The session.
    pub sid: String,
    /// The staff member's roles when the token was issued.
    pub roles: Vec<String>,
    /// Authentication methods (RFC 8176 style: `oidc`/`saml`, `otp`).
    pub amr: Vec<String>,
    /// Whether a second factor was proven.
    pub mfa: bool,
}

/// The tenant's token keys: one signs, all verify.
pub struct TokenKeys {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: Value,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("signing_kid", &self.signing_kid)
            .finish()
    }
}

fn seal_context(tenant: &str, kid: &str) -> String {
    format!("session-token-key:{tenant}:{kid}")
}

type KeyRow = (String, String, String, Option<i64>);

impl TokenKeys {
    /// Loads the tenant's keys, generating the first one when there is none.
    pub async fn load(
        pool: &AnyPool,
        master: &MasterKey,
        tenant: &str,
    ) -> Result<Self, IdentityError> {
        let mut rows = Self::rows(pool).await?;
        if !rows.iter().any(|(_, _, _, retired)| retired.is_none()) {
            Self::generate(pool, master, tenant).await?;
            rows = Self::rows(pool).await?;
        }
        Self::from_rows(rows, master, tenant)
    }

    /// Retires the signing key and generates a new one; old keys stay published.
    pub async fn rotate(
        pool: &AnyPool,
        master: &MasterKey,
        tenant: &str,
    ) -> Result<Self, IdentityError> {
        sqlx::query("UPDATE token_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now())
            .execute(pool)
            .await?;
        Self::generate(pool, master, tenant).await?;
        Self::from_rows(Self::rows(pool).await?, master, tenant)
    }

    async fn rows(pool: &AnyPool) -> Result<Vec<KeyRow>, IdentityError> {
        Ok(sqlx::query_as(
            "SELECT kid, sealed_seed, public_key, retired_at FROM token_keys ORDER BY created_at, kid",
        )
        .fetch_all(pool)
        .await?)
    }

    async fn generate(
        pool: &AnyPool,
        master: &MasterKey,
        tenant: &str,
    ) -> Result<(), IdentityError> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let kid = uuid::Uuid::now_v7().simple().to_string();
        let sealed = master
            .seal(&key.to_bytes(), &seal_context(tenant, &kid))
            .map_err(|_| IdentityError::Unseal)?;
        sqlx::query(
            "INSERT INTO token_keys (kid, sealed_seed, public_key, created_at, retired_at) VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(&kid)
        .bind(STANDARD.encode(sealed))
        .bind(&public)
        .bind(now())
        .execute(pool)
        .await?;
        Ok(())
    }

    fn from_rows(
        rows: Vec<KeyRow>,
        master: &MasterKey,
        tenant: &str,
    ) -> Result<Self, IdentityError> {
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        let mut signing = None;
        for (kid, sealed, public, retired) in rows {
            let raw = URL_SAFE_NO_PAD
                .decode(&public)
                .map_err(|_| IdentityError::Unseal)?;
            verifying.insert(kid.clone(), DecodingKey::from_ed_der(&raw));
            published.push(json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": public,
            }));
            if retired.is_none() {
                let sealed = STANDARD.decode(sealed).map_err(|_| IdentityError::Unseal)?;
                let seed = master
                    .unseal(&sealed, &seal_context(tenant, &kid))
                    .map_err(|_| IdentityError::Unseal)?;
                let der = SigningKey::from_bytes(&seed)
                    .to_pkcs8_der()
                    .map_err(|_| IdentityError::Unseal)?;
                signing = Some((kid, EncodingKey::from_ed_der(der.as_bytes())));
            }
        }
        let (signing_kid, signing) = signing.ok_or(IdentityError::Unseal)?;
        Ok(Self {
            signing_kid,
            signing,
            verifying,
            jwks: json!({ "keys": published }),
        })
    }

    /// The published key set.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs `claims`.
    pub fn issue(&self, claims: &SessionClaims) -> Result<String, IdentityError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.signing)
            .map_err(|e| IdentityError::invalid("token_unavailable", e.to_string()))
    }

    /// Verifies signature, issuer, audience and expiry (30 s leeway).
    pub fn verify(&self, token: &str, issuer: &str) -> Result<SessionClaims, IdentityError> {
        let refused = |why: String| IdentityError::refused("invalid_token", why);
        let header = jsonwebtoken::decode_header(token).map_err(|e| refused(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(refused("session tokens are signed with EdDSA".into()));
        }
        let key = header
            .kid
            .as_ref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or_else(|| refused("signed with a key this tenant does not publish".into()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<SessionClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| refused(e.to_string()))
    }
}
