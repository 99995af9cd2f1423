//! Staff sign-in through an OpenID provider on loopback, the TOTP second
//! factor, sessions and their tokens as HMS services and the PDP use them.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, error_code, record_request, spawn};
use crate::peers::oidc::{CLIENT_ID, CLIENT_SECRET, Mode, OidcProvider};

const IDP: &str = "okta";

/// The provider's user: Dr Heart, known to the hospital by employee number.
fn dr_heart() -> Value {
    json!({"sub": "00u-heart", "employee_number": "dr-heart", "email": "heart@example.org", "groups": ["Cardiology Staff"]})
}

pub fn no_redirects() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn configure(app: &TestApp, provider: &OidcProvider) {
    let config = json!({
        "kind": "oidc",
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["email"],
        "mapping": {"staff_id": "employee_number"},
    });
    let response = app
        .put(&format!("/v1/identity/providers/{IDP}"), &config)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

pub async fn set_identity_settings(app: &TestApp, settings: Value) {
    let response = app.put("/v1/identity/settings", &settings).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

/// Follows the browser through login, IdP and callback; the callback's answer.
async fn login(app: &TestApp) -> reqwest::Response {
    let browser = no_redirects();
    let start = browser
        .get(app.url(&format!("/auth/oidc/{IDP}/login")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let cookie = start.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(authorize.contains("nonce="), "{authorize}");
    let at_idp = browser.get(&authorize).send().await.unwrap();
    let callback = at_idp.headers()[LOCATION].to_str().unwrap().to_owned();
    browser
        .get(&callback)
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn login_ok(app: &TestApp) -> Value {
    let response = login(app).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

async fn post_bearer(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = app.http.post(app.url(path)).bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn code(otpauth_uri: &str, at: u64) -> String {
    hms_idp_bridge::mfa::code_at(otpauth_uri, at).unwrap()
}

/// Enrols TOTP with a pending login; the otpauth URI and recovery codes.
async fn enrol(app: &TestApp, login_token: &str) -> Value {
    let response = post_bearer(app, "/auth/mfa/enroll", login_token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn verify(app: &TestApp, login_token: &str, proof: Value) -> reqwest::Response {
    post_bearer(app, "/auth/mfa/verify", login_token, Some(proof)).await
}

/// Signs `staff_id` in through an OpenID provider and a freshly enrolled
/// TOTP factor; their session's access token.
pub async fn session_for(app: &TestApp, staff_id: &str) -> String {
    let provider =
        OidcProvider::start(json!({"sub": format!("00u-{staff_id}"), "employee_number": staff_id}))
            .await;
    configure(app, &provider).await;
    let session = totp_session(app).await;
    session["access_token"].as_str().unwrap().to_owned()
}

/// Logs in through the configured provider, enrols a TOTP factor and proves
/// it; the session answer.
async fn totp_session(app: &TestApp) -> Value {
    let pending = login_ok(app).await;
    let login_token = pending["login_token"].as_str().unwrap();
    let enrolment = enrol(app, login_token).await;
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    verify(app, login_token, json!({"code": code(uri, now())}))
        .await
        .json()
        .await
        .unwrap()
}

/// A decision with a session token as the subject.
async fn decide_as(
    app: &TestApp,
    access_token: &str,
    action: &str,
    kind: &str,
    context: Value,
) -> Value {
    let mut request = record_request("ignored", action, kind, "p1");
    request["subject"] = json!({"type": "session", "id": access_token});
    request["context"] = context;
    let response = app
        .http
        .post(app.url("/access/v1/evaluation"))
        .bearer_auth(&app.pdp_token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = app
        .http
        .post(app.url("/auth/introspect"))
        .bearer_auth(&app.pdp_token)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn ledger_kinds(app: &TestApp, subject: &str) -> Vec<String> {
    let entries: Value = app
        .get(&format!("/ledger/entries?subject={subject}&limit=1000"))
        .await
        .json()
        .await
        .unwrap();
    entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["kind"].as_str().unwrap(),
                e["outcome"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn an_oidc_login_with_totp_gives_a_session_the_pdp_and_services_accept() {
    for app in apps().await {
        let provider = OidcProvider::start(dr_heart()).await;
        configure(&app, &provider).await;

        let first = login_ok(&app).await;
        assert_eq!(
            first["status"], "mfa_required",
            "the HMS default requires MFA"
        );
        assert!(
            provider.mean_token_time() > std::time::Duration::ZERO,
            "the code was exchanged at the IdP's token endpoint"
        );
        assert_eq!(first["mfa_enrolled"], false);
        let login_token = first["login_token"].as_str().unwrap();
        // A login waiting for its second factor is no session for the PDP.
        assert!(introspect(&app, login_token).await["active"] == false);

        let enrolment = enrol(&app, login_token).await;
        let uri = enrolment["otpauth_uri"].as_str().unwrap().to_owned();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
        assert_eq!(enrolment["recovery_codes"].as_array().unwrap().len(), 10);

        let used_code = code(&uri, now());
        let session = verify(&app, login_token, json!({"code": used_code})).await;
        assert_eq!(session.status(), StatusCode::OK);
        let session: Value = session.json().await.unwrap();
        assert_eq!(session["status"], "authenticated");
        assert_eq!(session["amr"], json!(["oidc", "otp"]));
        let access = session["access_token"].as_str().unwrap().to_owned();
        let session_token = session["session_token"].as_str().unwrap().to_owned();
        // The pending login's token stopped working when the factor was proven.
        let stale = post_bearer(&app, "/auth/session/token", login_token, None).await;
        assert_eq!(
            error_code(stale, StatusCode::UNAUTHORIZED).await,
            "session_revoked"
        );

        // The PDP takes the session as the subject, with MFA proven by the session,
        // not by what the caller claims.
        let prescribe = decide_as(
            &app,
            &access,
            "prescribe",
            "Prescription",
            json!({"mfa": false}),
        )
        .await;
        assert_eq!(prescribe["decision"], true, "{prescribe}");
        let introspected = introspect(&app, &access).await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["sub"], "dr-heart");
        assert_eq!(introspected["mfa"], true);
        assert_eq!(introspected["roles"], json!(["doctor"]));

        // A fresh token from the session, verified offline from the JWKS as a service would.
        let refreshed = post_bearer(&app, "/auth/session/token", &session_token, None).await;
        let refreshed: Value = refreshed.json().await.unwrap();
        verify_offline(&app, refreshed["access_token"].as_str().unwrap()).await;

        // The code just used cannot be used again, even by a new login.
        let again = login_ok(&app).await;
        assert_eq!(again["mfa_enrolled"], true);
        let replay = verify(
            &app,
            again["login_token"].as_str().unwrap(),
            json!({"code": used_code}),
        )
        .await;
        assert_eq!(
            error_code(replay, StatusCode::UNAUTHORIZED).await,
            "invalid_code"
        );

        // Logout ends the session at once: the PDP denies, introspection says inactive.
        let out = post_bearer(&app, "/auth/session/logout", &session_token, None).await;
        assert_eq!(out.status(), StatusCode::OK);
        let denied = decide_as(&app, &access, "read_lab_result", "LabResult", json!({})).await;
        assert_eq!(denied["decision"], false);
        assert_eq!(introspect(&app, &access).await["active"], false);

        let kinds = ledger_kinds(&app, "dr-heart").await;
        for kind in [
            "auth.login:success",
            "auth.mfa.enrol:success",
            "auth.mfa.verify:success",
            "auth.mfa.verify:failure",
            "auth.logout:success",
            "decision:permit",
            "decision:deny",
        ] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{kind} missing from {kinds:?}"
            );
        }
    }
}

/// Verifies a session token with nothing but the tenant's published JWKS.
async fn verify_offline(app: &TestApp, token: &str) {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(app.url("/auth/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["hms-ach"]);
    validation.set_issuer(&[app.url("")]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
    assert_eq!(data.claims["sub"], "dr-heart");
    assert_eq!(data.claims["tid"], "st-marys");
    assert_eq!(data.claims["amr"], json!(["oidc", "otp"]));
}

#[tokio::test]
async fn disabling_a_person_ends_their_sessions_and_bars_their_login() {
    for app in apps().await {
        let provider = OidcProvider::start(dr_heart()).await;
        configure(&app, &provider).await;
        set_identity_settings(&app, json!({"mfa_required": false})).await;

        let session = login_ok(&app).await;
        assert_eq!(session["status"], "authenticated");
        assert_eq!(session["amr"], json!(["oidc"]));
        let access = session["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            decide_as(&app, &access, "read_lab_result", "LabResult", json!({})).await["decision"],
            true
        );
        // Without a second factor the session cannot do what needs one, whatever the caller says.
        let prescribe = decide_as(
            &app,
            &access,
            "prescribe",
            "Prescription",
            json!({"mfa": true}),
        )
        .await;
        assert_eq!(prescribe["decision"], false);

        let mut disabled =
            crate::helpers::staff("dr-heart", "doctor", "cardiology", Some("medical_licence"));
        disabled["active"] = json!(false);
        let put = app.put("/v1/directory/staff", &json!([disabled])).await;
        assert_eq!(put.status(), StatusCode::OK);

        assert_eq!(
            introspect(&app, &access).await["active"],
            false,
            "session revoked at once"
        );
        let sessions: Value = app
            .get("/v1/identity/sessions?staff_id=dr-heart")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(sessions["sessions"][0]["revoked_reason"], "deprovisioned");
        let barred = login(&app).await;
        assert_eq!(
            error_code(barred, StatusCode::UNAUTHORIZED).await,
            "account_disabled"
        );
        let kinds = ledger_kinds(&app, "dr-heart").await;
        assert!(
            kinds.contains(&"auth.session.revoke:success".to_owned()),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&"auth.login:failure".to_owned()),
            "{kinds:?}"
        );
    }
}

#[tokio::test]
async fn wrong_codes_lock_the_factor_and_an_admin_can_reset_it_and_end_sessions() {
    let app = spawn("sqlite").await;
    let provider = OidcProvider::start(dr_heart()).await;
    configure(&app, &provider).await;
    set_identity_settings(
        &app,
        json!({"mfa_max_failures": 3, "mfa_lockout_seconds": 600}),
    )
    .await;

    let pending = login_ok(&app).await;
    let login_token = pending["login_token"].as_str().unwrap();
    let enrolment = enrol(&app, login_token).await;
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    let right = code(uri, now());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..2 {
        let refused = verify(&app, login_token, json!({"code": wrong})).await;
        assert_eq!(
            error_code(refused, StatusCode::UNAUTHORIZED).await,
            "invalid_code"
        );
    }
    let locked = verify(&app, login_token, json!({"code": wrong})).await;
    assert_eq!(
        error_code(locked, StatusCode::TOO_MANY_REQUESTS).await,
        "mfa_locked"
    );
    let still = verify(&app, login_token, json!({"code": right})).await;
    assert_eq!(
        error_code(still, StatusCode::TOO_MANY_REQUESTS).await,
        "mfa_locked",
        "locked even for the right code"
    );
    assert!(
        ledger_kinds(&app, "dr-heart")
            .await
            .contains(&"auth.mfa.lockout:success".to_owned())
    );

    // The admin resets the factor: the person enrols again and gets in.
    let reset = app
        .http
        .delete(app.url("/v1/identity/mfa/dr-heart"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let pending = login_ok(&app).await;
    let login_token = pending["login_token"].as_str().unwrap();
    let enrolment = enrol(&app, login_token).await;
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    let session: Value = verify(&app, login_token, json!({"code": code(uri, now())}))
        .await
        .json()
        .await
        .unwrap();
    let access = session["access_token"].as_str().unwrap();
    assert_eq!(
        decide_as(&app, access, "read_lab_result", "LabResult", json!({})).await["decision"],
        true
    );

    // A recovery code works once, in place of the authenticator.
    let recovery = enrolment["recovery_codes"][0].as_str().unwrap();
    let pending = login_ok(&app).await;
    let with_recovery = verify(
        &app,
        pending["login_token"].as_str().unwrap(),
        json!({"recovery_code": recovery}),
    )
    .await;
    assert_eq!(with_recovery.status(), StatusCode::OK);
    let with_recovery: Value = with_recovery.json().await.unwrap();
    assert_eq!(with_recovery["amr"], json!(["oidc", "recovery"]));
    let pending = login_ok(&app).await;
    let reused = verify(
        &app,
        pending["login_token"].as_str().unwrap(),
        json!({"recovery_code": recovery}),
    )
    .await;
    assert_eq!(
        error_code(reused, StatusCode::UNAUTHORIZED).await,
        "invalid_code"
    );

    // An administrator ends a session: the PDP denies from the next request.
    let id = session["session_id"].as_str().unwrap();
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/identity/sessions/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let denied = decide_as(&app, access, "read_lab_result", "LabResult", json!({})).await;
    assert_eq!(denied["decision"], false);
    let kinds = ledger_kinds(&app, "dr-heart").await;
    assert!(
        kinds.contains(&"auth.mfa.reset:success".to_owned()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"auth.session.revoke:success".to_owned()),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn id_tokens_that_fail_validation_are_refused_with_their_reason() {
    let app = spawn("sqlite").await;
    let provider = OidcProvider::start(dr_heart()).await;
    configure(&app, &provider).await;

    // The IdP rotates its key: one bounded JWKS re-fetch, and the login works.
    let fetched = provider.jwks_served();
    provider.rotate_key("key-2");
    assert_eq!(login_ok(&app).await["status"], "mfa_required");
    assert_eq!(provider.jwks_served(), fetched + 1);

    for (mode, expected) in [
        (Mode::WrongIssuer, "wrong_issuer"),
        (Mode::WrongAudience, "wrong_audience"),
        (Mode::Expired, "token_expired"),
        (Mode::WrongNonce, "wrong_nonce"),
        (Mode::AlgNone, "unsigned_token"),
        (Mode::UnpublishedKey, "unknown_key"),
    ] {
        provider.set_mode(mode);
        let refused = login(&app).await;
        assert_eq!(
            error_code(refused, StatusCode::UNAUTHORIZED).await,
            expected,
            "{mode:?}"
        );
    }
    // An unknown key id right after a re-fetch does not make us hammer the IdP.
    assert_eq!(provider.jwks_served(), fetched + 1);
    provider.set_mode(Mode::Honest);

    // The callback must come from the browser that started the login, once.
    let browser = no_redirects();
    let start = browser
        .get(app.url(&format!("/auth/oidc/{IDP}/login")))
        .send()
        .await
        .unwrap();
    let cookie = start.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_owned();
    let callback = browser.get(&authorize).send().await.unwrap().headers()[LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let forged = browser.get(&callback).send().await.unwrap();
    assert_eq!(
        error_code(forged, StatusCode::UNAUTHORIZED).await,
        "state_mismatch"
    );
    let first = browser
        .get(&callback)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let replayed = browser
        .get(&callback)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(replayed, StatusCode::UNAUTHORIZED).await,
        "unknown_login"
    );

    let failures: Value = app
        .get("/ledger/entries?kind=auth.login&outcome=failure&limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        failures["entries"].as_array().unwrap().len() >= 8,
        "every refusal is recorded"
    );
}

#[tokio::test]
async fn a_person_unknown_to_the_directory_is_created_only_when_the_tenant_allows_it() {
    let app = spawn("sqlite").await;
    let newcomer = json!({"sub": "00u-new", "employee_number": "nurse-new", "email": "new@example.org",
        "given_name": "Nia", "family_name": "Newman", "groups": ["ICU"]});
    let provider = OidcProvider::start(newcomer).await;
    let config = json!({
        "kind": "oidc", "issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "mapping": {"staff_id": "employee_number", "groups": "groups", "group_roles": {"ICU": ["nurse"]}},
    });
    let response = app
        .put(&format!("/v1/identity/providers/{IDP}"), &config)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refused = login(&app).await;
    assert_eq!(
        error_code(refused, StatusCode::UNAUTHORIZED).await,
        "unknown_staff"
    );
    let absent = app.get("/v1/directory/staff/nurse-new").await;
    assert_eq!(absent.status(), StatusCode::NOT_FOUND);

    set_identity_settings(&app, json!({"just_in_time": true})).await;
    assert_eq!(login_ok(&app).await["status"], "mfa_required");
    let member: Value = app
        .get("/v1/directory/staff/nurse-new")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(member["given_name"], "Nia");
    assert_eq!(member["family_name"], "Newman");
    assert_eq!(member["emails"], json!(["new@example.org"]));
    assert_eq!(member["roles"], json!(["nurse"]));
    let created: Value = app
        .get("/ledger/entries?kind=directory.staff.create&subject=nurse-new")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["entries"].as_array().unwrap().len(),
        1,
        "the creation is recorded"
    );
}

#[tokio::test]
async fn claims_only_the_userinfo_endpoint_tells_reach_the_mapping() {
    let app = spawn("sqlite").await;
    let provider = OidcProvider::start(dr_heart()).await;
    provider.set_userinfo_only(json!({"hms_groups": ["Theatre Team"]}));
    let config = json!({
        "kind": "oidc", "issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "userinfo": true,
        "mapping": {"staff_id": "employee_number", "groups": "hms_groups", "group_roles": {"Theatre Team": ["theatre_nurse"]}},
    });
    let response = app
        .put(&format!("/v1/identity/providers/{IDP}"), &config)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    assert_eq!(login_ok(&app).await["status"], "mfa_required");
    let member: Value = app
        .get("/v1/directory/staff/dr-heart")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        member["roles"],
        json!(["doctor", "theatre_nurse"]),
        "{member}"
    );
}

#[tokio::test]
async fn bad_provider_configurations_and_forged_tokens_are_refused() {
    let app = spawn("sqlite").await;
    let unreachable = json!({"kind": "oidc", "issuer": "http://127.0.0.1:9", "client_id": "x", "client_secret": "y"});
    let response = app
        .put("/v1/identity/providers/nowhere", &unreachable)
        .await;
    assert_eq!(
        error_code(response, StatusCode::BAD_GATEWAY).await,
        "idp_unavailable"
    );
    let bad_id = app
        .put("/v1/identity/providers/Bad%20Id", &unreachable)
        .await;
    assert_eq!(
        error_code(bad_id, StatusCode::BAD_REQUEST).await,
        "invalid_provider_id"
    );
    let bad_role = json!({"kind": "oidc", "issuer": "http://127.0.0.1:9", "client_id": "x", "mapping": {"group_roles": {"g": ["Not A Role"]}}});
    let response = app.put("/v1/identity/providers/okta", &bad_role).await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_mapping"
    );
    let bad_settings = app
        .put("/v1/identity/settings", &json!({"idle_timeout_seconds": 1}))
        .await;
    assert_eq!(
        error_code(bad_settings, StatusCode::BAD_REQUEST).await,
        "invalid_settings"
    );
    let listed: Value = app
        .get("/v1/identity/providers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["providers"], json!([]), "nothing stored");

    // A token not signed by this tenant is denied at the PDP, and never reaches the ledger.
    let forged = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkci1oZWFydCJ9.c2lnbmF0dXJl";
    let denied = decide_as(&app, forged, "read_lab_result", "LabResult", json!({})).await;
    assert_eq!(denied["decision"], false);
    let entries = app
        .get("/ledger/entries?kind=decision&limit=1000")
        .await
        .text()
        .await
        .unwrap();
    assert!(!entries.contains(forged), "tokens are not recorded");
    assert!(entries.contains("unverified"));
}

#[tokio::test]
async fn a_session_from_one_node_is_honoured_and_its_revocation_reaches_another() {
    let app = spawn("postgres").await;
    let provider = OidcProvider::start(dr_heart()).await;
    configure(&app, &provider).await;
    set_identity_settings(&app, json!({"mfa_required": false})).await;
    // A second node on the same databases, behind the same public URL.
    let mut settings = app.state.settings.clone();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.public_url = Some(app.base.clone());
    let other = hms_ach::app::Application::build(settings).await.unwrap();
    let other_url = format!(
        "http://{}/st-marys/access/v1/evaluation",
        other.local_addr()
    );
    tokio::spawn(other.run());

    let session = login_ok(&app).await;
    let access = session["access_token"].as_str().unwrap().to_owned();
    let mut request = record_request("ignored", "read_lab_result", "LabResult", "p1");
    request["subject"] = json!({"type": "session", "id": access});
    let decide_on_other = || async {
        let response = app
            .http
            .post(&other_url)
            .bearer_auth(&app.pdp_token)
            .json(&request)
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()["decision"]
            .as_bool()
            .unwrap()
    };
    assert!(
        decide_on_other().await,
        "a session started on the first node"
    );

    let id = session["session_id"].as_str().unwrap();
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/identity/sessions/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        decide_as(&app, &access, "read_lab_result", "LabResult", json!({})).await["decision"],
        false
    );
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_secs(hms_idp_bridge::sessions::RECHECK_SECONDS as u64 + 2);
    while decide_on_other().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the other node still honours a revoked session"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn many_people_logging_in_at_once_all_get_in() {
    for app in apps().await {
        let provider = OidcProvider::start(dr_heart()).await;
        configure(&app, &provider).await;
        set_identity_settings(&app, json!({"mfa_required": false})).await;
        let logins = futures_util::future::join_all((0..16).map(|_| login(&app))).await;
        for response in logins {
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{}: {}",
                app.backend,
                response.text().await.unwrap()
            );
        }
        let sessions: Value = app
            .get("/v1/identity/sessions?staff_id=dr-heart")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(sessions["sessions"].as_array().unwrap().len(), 16);
    }
}

#[tokio::test]
async fn a_scim_deprovisioning_ends_the_persons_sessions() {
    for app in apps().await {
        let provider = OidcProvider::start(dr_heart()).await;
        configure(&app, &provider).await;
        set_identity_settings(&app, json!({"mfa_required": false})).await;
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let (_, scim) = tenant
            .create_client(
                "entra",
                &[hms_governance::credentials::Scope::Scim],
                &crate::helpers::by_test(),
            )
            .await
            .unwrap();
        let scim = scim.expose().to_owned();
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise],
            "userName": "heart@example.org", "active": true,
            enterprise: {"employeeNumber": "dr-heart", "department": "Cardiology"},
        });
        let scim_call = |method: reqwest::Method, path: &str, body: Value| {
            app.http
                .request(method, app.url(&format!("/scim/v2{path}")))
                .bearer_auth(&scim)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
        };
        let created = scim_call(reqwest::Method::POST, "/Users", user)
            .send()
            .await
            .unwrap();
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{}",
            created.text().await.unwrap()
        );

        let session = login_ok(&app).await;
        let access = session["access_token"].as_str().unwrap().to_owned();
        assert_eq!(introspect(&app, &access).await["active"], true);
        let off = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        });
        let patched = scim_call(reqwest::Method::PATCH, "/Users/dr-heart", off)
            .send()
            .await
            .unwrap();
        assert_eq!(
            patched.status(),
            StatusCode::OK,
            "{}",
            patched.text().await.unwrap()
        );
        assert_eq!(
            introspect(&app, &access).await["active"],
            false,
            "{}",
            app.backend
        );
        let sessions: Value = app
            .get("/v1/identity/sessions?staff_id=dr-heart")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(sessions["sessions"][0]["revoked_reason"], "deprovisioned");
    }
}

#[tokio::test]
async fn a_signed_in_auditor_reads_reports_when_the_policies_allow_it() {
    let app = spawn("sqlite").await;
    let auditor = json!({"id": "aud-1", "given_name": "Ada", "family_name": "Audit", "roles": ["auditor"], "department": "compliance"});
    assert_eq!(
        app.put("/v1/directory/staff", &json!([auditor]))
            .await
            .status(),
        StatusCode::OK
    );
    let provider = OidcProvider::start(json!({"sub": "00u-aud", "employee_number": "aud-1"})).await;
    configure(&app, &provider).await;

    let session = totp_session(&app).await;
    let access = session["access_token"].as_str().unwrap();
    let read = |token: &str| {
        app.http
            .get(app.url("/reports/break-glass"))
            .bearer_auth(token)
            .send()
    };
    let report = read(access).await.unwrap();
    assert_eq!(
        report.status(),
        StatusCode::OK,
        "{}",
        report.text().await.unwrap()
    );
    let decisions: Value = app
        .get("/ledger/entries?kind=decision&subject=aud-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(decisions["entries"][0]["action"], "read_audit_log");
    assert_eq!(decisions["entries"][0]["outcome"], "permit");
    let pulls: Value = app
        .get("/ledger/entries?kind=report.pull&actor=staff:aud-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        pulls["entries"].as_array().unwrap().len(),
        1,
        "the pull names the auditor"
    );

    // Without a second factor the policies refuse, and so does the report.
    set_identity_settings(&app, json!({"mfa_required": false})).await;
    let weak = login_ok(&app).await;
    let refused = read(weak["access_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        error_code(refused, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    // A forged token is no credential at all.
    let forged = read("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhdWQtMSJ9.c2ln")
        .await
        .unwrap();
    assert_eq!(
        error_code(forged, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
}
