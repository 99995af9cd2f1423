//! An OpenID provider on loopback: discovery, JWKS, an authorization endpoint
//! that logs in a configured user, and a token endpoint that checks the
//! client secret and PKCE and signs real RS256 ID tokens. Modes make it
//! misbehave the ways the relying party must refuse.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AdditionalClaims, Audience, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "hms-ach-test";
pub const CLIENT_SECRET: &str = "s3cret-for-tests";

/// How the provider behaves when it issues the next ID token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Honest,
    WrongIssuer,
    WrongAudience,
    Expired,
    WrongNonce,
    AlgNone,
    /// Signed with a key the JWKS never publishes.
    UnpublishedKey,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ExtraClaims {
    #[serde(flatten)]
    claims: BTreeMap<String, Value>,
}
impl AdditionalClaims for ExtraClaims {}

type TestIdToken = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

#[derive(Clone)]
struct Key {
    kid: String,
    pem: String,
}

impl Key {
    fn generate(kid: &str) -> Self {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        Self {
            kid: kid.into(),
            pem: String::from_utf8(rsa.private_key_to_pem().unwrap()).unwrap(),
        }
    }

    fn signer(&self) -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(&self.pem, Some(JsonWebKeyId::new(self.kid.clone())))
            .unwrap()
    }
}

struct Issued {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Inner {
    issuer: String,
    mode: Mode,
    /// The user the authorization endpoint logs in: `sub` plus claims.
    user: BTreeMap<String, Value>,
    /// Claims served by the userinfo endpoint only.
    userinfo_only: BTreeMap<String, Value>,
    /// Access tokens issued, each with the subject it speaks for.
    access_tokens: HashMap<String, String>,
    published: Vec<Key>,
    signing: usize,
    unpublished: Key,
    codes: HashMap<String, Issued>,
    jwks_served: usize,
    /// Time spent answering token requests, and how many.
    token_time: std::time::Duration,
    tokens: u32,
}

/// A running provider.
#[derive(Clone)]
pub struct OidcProvider {
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
}

impl OidcProvider {
    pub async fn start(user: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let user = serde_json::from_value(user).unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            issuer: issuer.clone(),
            mode: Mode::Honest,
            user,
            userinfo_only: BTreeMap::new(),
            access_tokens: HashMap::new(),
            published: vec![Key::generate("key-1")],
            signing: 0,
            unpublished: Key::generate("key-1-forged"),
            codes: HashMap::new(),
            jwks_served: 0,
            token_time: std::time::Duration::ZERO,
            tokens: 0,
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { issuer, inner }
    }

    /// Claims only the userinfo endpoint will tell.
    pub fn set_userinfo_only(&self, claims: Value) {
        self.inner.lock().unwrap().userinfo_only = serde_json::from_value(claims).unwrap();
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = mode;
    }

    /// Publishes a new key and signs with it from now on.
    pub fn rotate_key(&self, kid: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.published.push(Key::generate(kid));
        inner.signing = inner.published.len() - 1;
    }

    pub fn jwks_served(&self) -> usize {
        self.inner.lock().unwrap().jwks_served
    }

    /// The mean time the token endpoint took per request (signing included).
    pub fn mean_token_time(&self) -> std::time::Duration {
        let inner = self.inner.lock().unwrap();
        inner.token_time / inner.tokens.max(1)
    }
}

async fn discovery(State(inner): State<Arc<Mutex<Inner>>>) -> Json<Value> {
    let issuer = inner.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(inner): State<Arc<Mutex<Inner>>>) -> Json<Value> {
    let mut inner = inner.lock().unwrap();
    inner.jwks_served += 1;
    let keys: Vec<Value> = inner
        .published
        .iter()
        .map(|k| serde_json::to_value(k.signer().as_verification_key()).unwrap())
        .collect();
    Json(json!({ "keys": keys }))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

/// Logs the configured user in at once and sends the browser back.
async fn authorize(
    State(inner): State<Arc<Mutex<Inner>>>,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    assert_eq!(query.response_type, "code");
    assert_eq!(query.client_id, CLIENT_ID);
    assert_eq!(query.code_challenge_method, "S256");
    let code = format!("code-{}", uuid::Uuid::new_v4());
    let params = serde_urlencoded::to_string([("code", &code), ("state", &query.state)]).unwrap();
    let location = format!("{}?{params}", query.redirect_uri);
    inner.lock().unwrap().codes.insert(
        code,
        Issued {
            nonce: query.nonce,
            challenge: query.code_challenge,
            redirect_uri: query.redirect_uri,
        },
    );
    Redirect::to(&location).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
}

/// Checks client authentication, the code, the redirect URI and PKCE, then signs.
async fn token(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    let response = token_response(&inner, &headers, &body);
    let mut inner = inner.lock().unwrap();
    inner.token_time += started.elapsed();
    inner.tokens += 1;
    response
}

fn token_response(inner: &Mutex<Inner>, headers: &HeaderMap, body: &[u8]) -> Response {
    let form: TokenForm = serde_urlencoded::from_bytes(body).unwrap();
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if authorization != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let access_token = format!("at-{}", uuid::Uuid::new_v4());
    let (issued, facts) = {
        let mut inner = inner.lock().unwrap();
        let subject = inner.user["sub"].as_str().unwrap().to_owned();
        inner.access_tokens.insert(access_token.clone(), subject);
        (inner.codes.remove(&form.code), inner.facts())
    };
    let Some(issued) = issued else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(form.code_verifier.as_bytes()));
    if form.grant_type != "authorization_code"
        || challenge != issued.challenge
        || form.redirect_uri != issued.redirect_uri
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    // Signed outside the lock, as concurrent token requests would be.
    let id_token = facts.id_token(&issued.nonce);
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

/// The user's claims for a valid access token: `sub` and the userinfo-only ones.
async fn userinfo(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let inner = inner.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(subject) = token.and_then(|t| inner.access_tokens.get(t)) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let mut claims = inner.userinfo_only.clone();
    claims.insert("sub".into(), json!(subject));
    Json(claims).into_response()
}

/// What the next ID token is made of, copied out of the provider's state.
struct TokenFacts {
    issuer: String,
    mode: Mode,
    user: BTreeMap<String, Value>,
    key: Key,
}

impl Inner {
    fn facts(&self) -> TokenFacts {
        let key = match self.mode {
            Mode::UnpublishedKey => &self.unpublished,
            _ => &self.published[self.signing],
        };
        TokenFacts {
            issuer: self.issuer.clone(),
            mode: self.mode,
            user: self.user.clone(),
            key: key.clone(),
        }
    }
}

impl TokenFacts {
    fn id_token(&self, nonce: &str) -> String {
        let now = chrono::Utc::now();
        let mode = self.mode;
        let issuer = match mode {
            Mode::WrongIssuer => "https://evil.example".to_owned(),
            _ => self.issuer.clone(),
        };
        let audience = match mode {
            Mode::WrongAudience => "someone-else",
            _ => CLIENT_ID,
        };
        let (iat, exp) = match mode {
            Mode::Expired => (
                now - chrono::Duration::hours(2),
                now - chrono::Duration::hours(1),
            ),
            _ => (now, now + chrono::Duration::minutes(5)),
        };
        let nonce = match mode {
            Mode::WrongNonce => "a-nonce-from-another-login".to_owned(),
            _ => nonce.to_owned(),
        };
        let mut extra = self.user.clone();
        let sub = extra
            .remove("sub")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap();
        let claims = IdTokenClaims::new(
            IssuerUrl::new(issuer).unwrap(),
            vec![Audience::new(audience.into())],
            exp,
            iat,
            StandardClaims::new(SubjectIdentifier::new(sub)),
            ExtraClaims { claims: extra },
        )
        .set_nonce(Some(Nonce::new(nonce)));
        if mode == Mode::AlgNone {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
            return format!("{header}.{payload}.");
        }
        let token = TestIdToken::new(
            claims,
            &self.key.signer(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .unwrap();
        serde_json::to_value(&token)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }
}
