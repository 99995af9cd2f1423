//! The OpenID Connect relying party: discovery, the authorization code flow
//! with PKCE, `state` and `nonce`, and ID token validation against the IdP's
//! JWKS. The JWKS is read at discovery; a token signed with a key id it does
//! not hold triggers one re-fetch, at most once a minute, so key rotation works
//! and a stream of forged key ids cannot make us hammer the IdP.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenClaims, IdTokenFields, IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    StandardErrorResponse, StandardTokenResponse, SubjectIdentifier, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::IdentityError;
use crate::mapping::VerifiedIdentity;
use crate::providers::OidcConfig;

/// Least time between two JWKS re-fetches for one provider.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Signature algorithms accepted on ID tokens: asymmetric ones only (no
/// `none`, no HMAC with the client secret).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Claims beyond the standard ones (groups, employee numbers…), kept as sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    claims: BTreeMap<String, Value>,
}

impl AdditionalClaims for ExtraClaims {}

type TokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponse = StandardTokenResponse<TokenFields, CoreTokenType>;
/// The client built from provider metadata.
type RpClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;
type IdToken = openidconnect::IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The HTTP client used towards IdPs: no redirects followed, bounded time.
pub fn http_client() -> Result<reqwest::Client, IdentityError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| IdentityError::Upstream(e.to_string()))
}

/// What the browser is sent to the IdP with, and what must be kept to finish.
#[derive(Debug)]
pub struct LoginStart {
    /// The IdP's authorization URL, with every parameter.
    pub url: url::Url,
    /// The `state` value.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: String,
}

/// One tenant's registration at one OpenID provider, with its discovered metadata.
pub struct OidcRelyingParty {
    provider_id: String,
    config: OidcConfig,
    client_secret: Option<String>,
    redirect_uri: RedirectUrl,
    metadata: RwLock<Arc<CoreProviderMetadata>>,
    last_refetch: Mutex<Option<Instant>>,
    http: reqwest::Client,
}

impl OidcRelyingParty {
    /// Reads the provider's discovery document and JWKS.
    pub async fn discover(
        provider_id: &str,
        config: OidcConfig,
        client_secret: Option<String>,
        redirect_uri: &str,
    ) -> Result<Self, IdentityError> {
        let http = http_client()?;
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| IdentityError::invalid("invalid_issuer", e.to_string()))?;
        let redirect_uri = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| IdentityError::invalid("invalid_redirect_uri", e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| IdentityError::Upstream(format!("discovery failed: {e}")))?;
        Ok(Self {
            provider_id: provider_id.to_owned(),
            config,
            client_secret,
            redirect_uri,
            metadata: RwLock::new(Arc::new(metadata)),
            last_refetch: Mutex::new(None),
            http,
        })
    }

    fn metadata(&self) -> Arc<CoreProviderMetadata> {
        match self.metadata.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn client(&self) -> RpClient {
        let metadata = (*self.metadata()).clone();
        RpClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect_uri.clone())
    }

    /// Starts a login: the authorization URL with a fresh state, nonce and PKCE challenge.
    pub fn start(&self) -> LoginStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = self.config.scopes.iter().map(|s| Scope::new(s.clone()));
        let (url, state, nonce) = self
            .client()
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(scopes)
            .set_pkce_challenge(challenge)
            .url();
        LoginStart {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Exchanges the code (with the PKCE verifier) and validates the ID token.
    pub async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let response = self
            .client()
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| IdentityError::Upstream(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| IdentityError::refused("code_exchange_failed", e.to_string()))?;
        let id_token = response.extra_fields().id_token().ok_or_else(|| {
            IdentityError::refused("no_id_token", "the token response holds no ID token")
        })?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match self.verify(id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if self.refetch_jwks().await? => self.verify(id_token, &nonce),
            other => other,
        }
        .map_err(refusal)?;
        let mut identity = self.identity(&claims);
        if self.config.userinfo {
            self.add_userinfo(&mut identity, response.access_token())
                .await?;
        }
        Ok(identity)
    }

    /// Completes `identity` with the userinfo endpoint's claims, which must
    /// name the same subject; the ID token's claims win where both speak.
    async fn add_userinfo(
        &self,
        identity: &mut VerifiedIdentity,
        access_token: &AccessToken,
    ) -> Result<(), IdentityError> {
        let client = self.client();
        let subject = SubjectIdentifier::new(identity.subject.clone());
        let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = client
            .user_info(access_token.clone(), Some(subject))
            .map_err(|e| IdentityError::Upstream(format!("userinfo: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| IdentityError::refused("userinfo_failed", format!("userinfo: {e}")))?;
        let mut add = |name: &str, values: Vec<String>| {
            identity.claims.entry(name.to_owned()).or_insert(values);
        };
        if let Some(email) = info.email() {
            add("email", vec![email.as_str().to_owned()]);
        }
        for (name, value) in &info.additional_claims().claims {
            add(name, claim_strings(value));
        }
        Ok(())
    }

    fn verify(
        &self,
        id_token: &IdToken,
        nonce: &Nonce,
    ) -> Result<IdTokenClaims<ExtraClaims, CoreGenderClaim>, ClaimsVerificationError> {
        let client = self.client();
        let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
        id_token.claims(&verifier, nonce).cloned()
    }

    /// Re-reads the JWKS unless that was done less than a minute ago; tells
    /// whether it did.
    async fn refetch_jwks(&self) -> Result<bool, IdentityError> {
        {
            let mut last = self
                .last_refetch
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        let metadata = self.metadata();
        let jwks = JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| IdentityError::Upstream(format!("JWKS fetch failed: {e}")))?;
        let updated = (*metadata).clone().set_jwks(jwks);
        let mut guard = self
            .metadata
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Arc::new(updated);
        Ok(true)
    }

    fn identity(&self, claims: &IdTokenClaims<ExtraClaims, CoreGenderClaim>) -> VerifiedIdentity {
        let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let subject = claims.subject().as_str().to_owned();
        all.insert("sub".into(), vec![subject.clone()]);
        if let Some(email) = claims.email() {
            all.insert("email".into(), vec![email.as_str().to_owned()]);
        }
        if let Some(name) = claims.given_name().and_then(|n| n.get(None)) {
            all.insert("given_name".into(), vec![name.as_str().to_owned()]);
        }
        if let Some(name) = claims.family_name().and_then(|n| n.get(None)) {
            all.insert("family_name".into(), vec![name.as_str().to_owned()]);
        }
        for (name, value) in &claims.additional_claims().claims {
            all.insert(name.clone(), claim_strings(value));
        }
        VerifiedIdentity {
            provider_id: self.provider_id.clone(),
            protocol: "oidc",
            subject,
            claims: all,
        }
    }
}

/// A claim's value as strings: arrays element by element, scalars as text.
fn claim_strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(claim_strings).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

/// The refusal for a failed ID token check, with a code per cause.
fn refusal(error: ClaimsVerificationError) -> IdentityError {
    let code = match &error {
        ClaimsVerificationError::Expired(_) => "token_expired",
        ClaimsVerificationError::InvalidAudience(_) => "wrong_audience",
        ClaimsVerificationError::InvalidIssuer(_) => "wrong_issuer",
        ClaimsVerificationError::InvalidNonce(_) => "wrong_nonce",
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => "unknown_key",
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoSignature) => {
            "unsigned_token"
        }
        ClaimsVerificationError::SignatureVerification(_) => "invalid_signature",
        _ => "invalid_id_token",
    };
    IdentityError::refused(code, format!("ID token rejected: {error}"))
}
