//! Staff sign-in through a SAML 2.0 IdP whose responses are signed with
//! xmlsec in the test, and every response a service provider must refuse.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, error_code, spawn};
use crate::login::{no_redirects, set_identity_settings};
use crate::peers::saml::{ResponseSpec, SSO_URL, SamlIdp, Signing};

async fn configure(app: &TestApp, idp_id: &str, idp: &SamlIdp, idp_initiated: bool) {
    let config = json!({
        "kind": "saml",
        "metadata_xml": idp.metadata(true),
        "allow_idp_initiated": idp_initiated,
        "mapping": {"groups": "memberOf", "group_roles": {"Cardiology Nurses": ["nurse"]}},
    });
    let response = app
        .put(&format!("/v1/identity/providers/{idp_id}"), &config)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

fn acs(app: &TestApp, idp_id: &str) -> String {
    app.url(&format!("/auth/saml/{idp_id}/acs"))
}

fn entity(app: &TestApp, idp_id: &str) -> String {
    app.url(&format!("/auth/saml/{idp_id}/metadata"))
}

/// Starts an SP-initiated login: the RelayState and the AuthnRequest's id.
async fn start(app: &TestApp, idp_id: &str) -> (String, String) {
    start_at(app, idp_id, &format!("/auth/saml/{idp_id}/login")).await
}

/// Starts an SP-initiated login at `path` (the login route, with its query).
async fn start_at(app: &TestApp, idp_id: &str, path: &str) -> (String, String) {
    let response = no_redirects().get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = url::Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(SSO_URL), "{location}");
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let deflated = STANDARD.decode(param("SAMLRequest")).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    let request: samael::schema::AuthnRequest = xml.parse().unwrap();
    assert_eq!(
        request.assertion_consumer_service_url.as_deref(),
        Some(acs(app, idp_id).as_str())
    );
    (param("RelayState"), request.id)
}

async fn post_response(
    app: &TestApp,
    idp_id: &str,
    response: &str,
    relay_state: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("SAMLResponse", response.to_owned())];
    if let Some(state) = relay_state {
        form.push(("RelayState", state.to_owned()));
    }
    app.http
        .post(acs(app, idp_id))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_saml_response_logs_the_person_in_with_their_idp_roles() {
    for app in apps().await {
        let idp = SamlIdp::new();
        configure(&app, "adfs", &idp, false).await;
        set_identity_settings(&app, json!({"mfa_required": false})).await;
        let metadata = app
            .http
            .get(entity(&app, "adfs"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metadata.contains(&acs(&app, "adfs")),
            "SP metadata names the ACS: {metadata}"
        );

        let (relay_state, request_id) = start(&app, "adfs").await;
        let mut spec = ResponseSpec::honest(
            "desk",
            Some(&request_id),
            &acs(&app, "adfs"),
            &entity(&app, "adfs"),
        );
        spec.attributes = vec![(
            "memberOf".into(),
            vec!["Cardiology Nurses".into(), "Other".into()],
        )];
        let response = post_response(&app, "adfs", &idp.response(&spec), Some(&relay_state)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        let session: Value = response.json().await.unwrap();
        assert_eq!(session["status"], "authenticated");
        assert_eq!(session["amr"], json!(["saml"]));

        // The IdP's group granted the nurse role, alongside the admin-granted one.
        let member: Value = app
            .get("/v1/directory/staff/desk")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            member["roles"],
            json!(["nurse", "receptionist"]),
            "{member}"
        );
        let id = session["session_id"].as_str().unwrap();
        let listed: Value = app
            .get("/v1/identity/sessions?staff_id=desk")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["sessions"][0]["id"], id);

        // The same response again: its login was already finished.
        let replay = post_response(&app, "adfs", &idp.response(&spec), Some(&relay_state)).await;
        assert_eq!(
            error_code(replay, StatusCode::UNAUTHORIZED).await,
            "unknown_login"
        );
    }
}

#[tokio::test]
async fn a_saml_login_started_in_the_console_lands_in_the_console() {
    for app in apps().await {
        let idp = SamlIdp::new();
        configure(&app, "adfs", &idp, false).await;
        set_identity_settings(&app, json!({"mfa_required": false})).await;
        let login_page = app
            .http
            .get(app.url("/console/login"))
            .send()
            .await
            .unwrap();
        let login_page = login_page.text().await.unwrap();
        let path = "/auth/saml/adfs/login?console=1";
        assert!(login_page.contains(path), "{login_page}");

        let (relay_state, request_id) = start_at(&app, "adfs", path).await;
        let spec = ResponseSpec::honest(
            "desk",
            Some(&request_id),
            &acs(&app, "adfs"),
            &entity(&app, "adfs"),
        );
        let form = [
            ("SAMLResponse", idp.response(&spec)),
            ("RelayState", relay_state),
        ];
        let landed = no_redirects()
            .post(acs(&app, "adfs"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(landed.status(), StatusCode::SEE_OTHER);
        assert!(
            landed.headers()[LOCATION]
                .to_str()
                .unwrap()
                .ends_with("/console")
        );
        let session = landed.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert!(session.starts_with("hms_ach_console="), "{session}");
        let home = no_redirects()
            .get(app.url("/console"))
            .header(reqwest::header::COOKIE, &session)
            .send()
            .await
            .unwrap();
        assert_eq!(home.status(), StatusCode::OK);
        assert!(home.text().await.unwrap().contains("Sign out desk"));

        // A forged response started from the console goes back to its
        // sign-in page with the reason, and opens no session.
        let (relay_state, request_id) = start_at(&app, "adfs", path).await;
        let forged = SamlIdp::new().response(&ResponseSpec::honest(
            "desk",
            Some(&request_id),
            &acs(&app, "adfs"),
            &entity(&app, "adfs"),
        ));
        let refused = no_redirects()
            .post(acs(&app, "adfs"))
            .form(&[("SAMLResponse", forged), ("RelayState", relay_state)])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SEE_OTHER);
        let to = refused.headers()[LOCATION].to_str().unwrap();
        assert!(to.contains("/console/login?error="), "{to}");
        assert!(refused.headers().get(reqwest::header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn a_signed_assertion_in_an_unsigned_response_is_accepted_and_sha1_only_when_allowed() {
    let app = spawn("sqlite").await;
    let idp = SamlIdp::new();
    configure(&app, "adfs", &idp, false).await;
    set_identity_settings(&app, json!({"mfa_required": false})).await;
    let (relay_state, request_id) = start(&app, "adfs").await;
    let mut spec = ResponseSpec::honest(
        "nurse-heart",
        Some(&request_id),
        &acs(&app, "adfs"),
        &entity(&app, "adfs"),
    );
    spec.signing = Signing::AssertionOnly;
    let response = post_response(&app, "adfs", &idp.response(&spec), Some(&relay_state)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );

    // The tenant opts in to SHA-1 for this IdP: the same SHA-1 response is then accepted.
    let config = json!({"kind": "saml", "metadata_xml": idp.metadata(true), "allow_sha1": true});
    let stored = app.put("/v1/identity/providers/adfs", &config).await;
    assert_eq!(stored.status(), StatusCode::OK);
    let (relay_state, request_id) = start(&app, "adfs").await;
    let mut spec = ResponseSpec::honest(
        "nurse-heart",
        Some(&request_id),
        &acs(&app, "adfs"),
        &entity(&app, "adfs"),
    );
    spec.signing = Signing::Sha1Digest;
    let response = post_response(&app, "adfs", &idp.response(&spec), Some(&relay_state)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn an_assertion_is_accepted_once_even_when_the_idp_may_start_logins() {
    let app = spawn("sqlite").await;
    let idp = SamlIdp::new();
    configure(&app, "portal", &idp, true).await;
    set_identity_settings(&app, json!({"mfa_required": false})).await;
    let spec = ResponseSpec::honest(
        "nurse-heart",
        None,
        &acs(&app, "portal"),
        &entity(&app, "portal"),
    );
    let response = idp.response(&spec);
    let first = post_response(&app, "portal", &response, None).await;
    assert_eq!(
        first.status(),
        StatusCode::OK,
        "{}",
        first.text().await.unwrap()
    );
    let replay = post_response(&app, "portal", &response, None).await;
    assert_eq!(
        error_code(replay, StatusCode::UNAUTHORIZED).await,
        "replayed_assertion"
    );
}

/// Posts a response built from `spec` (after `edit`) to a fresh login; the error code.
async fn refusal(
    app: &TestApp,
    idp: &SamlIdp,
    edit: impl Fn(&mut ResponseSpec),
    tamper: impl Fn(String) -> String,
) -> String {
    let (relay_state, request_id) = start(app, "adfs").await;
    let mut spec = ResponseSpec::honest(
        "nurse-heart",
        Some(&request_id),
        &acs(app, "adfs"),
        &entity(app, "adfs"),
    );
    edit(&mut spec);
    let xml = tamper(idp.response_xml(&spec));
    let response = post_response(app, "adfs", &STANDARD.encode(xml), Some(&relay_state)).await;
    error_code(response, StatusCode::UNAUTHORIZED).await
}

/// A change to an honest response.
type Edit = Box<dyn Fn(&mut ResponseSpec)>;

fn untouched(xml: String) -> String {
    xml
}

#[tokio::test]
async fn saml_responses_that_fail_any_check_are_refused() {
    let app = spawn("sqlite").await;
    let idp = SamlIdp::new();
    configure(&app, "adfs", &idp, false).await;
    set_identity_settings(&app, json!({"mfa_required": false})).await;
    let later = Utc::now() + Duration::minutes(10);
    let earlier = Utc::now() - Duration::minutes(10);

    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "unsigned",
            Box::new(|s| s.signing = Signing::Unsigned),
            "invalid_signature",
        ),
        (
            "signed by another key",
            Box::new(|s| s.signing = Signing::ForeignKey),
            "invalid_signature",
        ),
        (
            "SHA-1 digest",
            Box::new(|s| s.signing = Signing::Sha1Digest),
            "weak_algorithm",
        ),
        (
            "wrong audience",
            Box::new(|s| s.audience = "https://other-sp.example".into()),
            "wrong_audience",
        ),
        (
            "no audience",
            Box::new(|s| s.audience = String::new()),
            "wrong_audience",
        ),
        (
            "wrong recipient",
            Box::new(|s| s.recipient = "https://other-sp.example/acs".into()),
            "wrong_recipient",
        ),
        (
            "wrong destination",
            Box::new(|s| s.destination = "https://other-sp.example/acs".into()),
            "wrong_destination",
        ),
        (
            "expired",
            Box::new(move |s| s.not_on_or_after = earlier),
            "assertion_expired",
        ),
        (
            "not yet valid",
            Box::new(move |s| s.not_before = later),
            "assertion_not_yet_valid",
        ),
        (
            "unknown InResponseTo",
            Box::new(|s| s.in_response_to = Some("_not-our-request".into())),
            "unknown_in_response_to",
        ),
        (
            "IdP-initiated while off",
            Box::new(|s| s.in_response_to = None),
            "unknown_in_response_to",
        ),
    ];
    for (name, edit, expected) in cases {
        assert_eq!(
            refusal(&app, &idp, edit, untouched).await,
            expected,
            "{name}"
        );
    }

    // Changing a signed response after signing breaks its digest.
    let tampered = refusal(
        &app,
        &idp,
        |_| {},
        |xml| xml.replace(">nurse-heart<", ">dr-heart<"),
    )
    .await;
    assert_eq!(tampered, "invalid_signature");
    // An unsigned assertion slipped inside the signed response breaks it too.
    let evil = ResponseSpec::honest("dr-evil", None, &acs(&app, "adfs"), &entity(&app, "adfs"));
    let evil_assertion = {
        let xml = idp.response_xml(&ResponseSpec {
            signing: Signing::Unsigned,
            ..evil
        });
        let start = xml.find("<saml:Assertion").unwrap();
        let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        xml[start..end].to_owned()
    };
    let injected = refusal(
        &app,
        &idp,
        |_| {},
        |xml| {
            xml.replacen(
                "<samlp:Status>",
                &format!("{evil_assertion}<samlp:Status>"),
                1,
            )
        },
    )
    .await;
    assert_eq!(injected, "invalid_signature");

    // Signature wrapping: the signed response moved inside an unsigned one that
    // carries the attacker's assertion. Only the signed element is read, so the
    // login is never the attacker's.
    let (relay_state, request_id) = start(&app, "adfs").await;
    let honest = ResponseSpec::honest(
        "nurse-heart",
        Some(&request_id),
        &acs(&app, "adfs"),
        &entity(&app, "adfs"),
    );
    let signed = idp.response_xml(&honest);
    let signed_body = signed.trim_start_matches(|c| c != '<').to_owned();
    let signed_body = match signed_body.strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").unwrap() + 2..].to_owned(),
        None => signed_body,
    };
    let wrapper = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0" IssueInstant="{}" Destination="{}" InResponseTo="{request_id}"><saml:Issuer>https://idp.example.org/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{evil_assertion}<samlp:Extensions>{signed_body}</samlp:Extensions></samlp:Response>"#,
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        acs(&app, "adfs"),
    );
    let wrapped = post_response(&app, "adfs", &STANDARD.encode(wrapper), Some(&relay_state)).await;
    let status = wrapped.status();
    let body: Value = wrapped.json().await.unwrap();
    if status == StatusCode::OK {
        let sessions: Value = app
            .get("/v1/identity/sessions?staff_id=dr-evil")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            sessions["sessions"],
            json!([]),
            "the wrapped assertion was trusted: {body}"
        );
    } else {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let nobody: Value = app
        .get("/v1/identity/sessions?staff_id=dr-evil")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nobody["sessions"], json!([]));
}

#[tokio::test]
async fn idp_metadata_can_be_fetched_from_a_url() {
    let app = spawn("sqlite").await;
    let idp = SamlIdp::new();
    let metadata = idp.metadata(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || async move { metadata }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let config = json!({"kind": "saml", "metadata_url": url});
    let response = app.put("/v1/identity/providers/by-url", &config).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    let stored: Value = app
        .get("/v1/identity/providers")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        stored["providers"][0]["metadata_xml"]
            .as_str()
            .unwrap()
            .contains("idp.example.org")
    );
    let (relay_state, request_id) = start(&app, "by-url").await;
    set_identity_settings(&app, json!({"mfa_required": false})).await;
    let spec = ResponseSpec::honest(
        "nurse-heart",
        Some(&request_id),
        &acs(&app, "by-url"),
        &entity(&app, "by-url"),
    );
    let response = post_response(&app, "by-url", &idp.response(&spec), Some(&relay_state)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn an_idp_without_a_signing_certificate_is_refused() {
    let app = spawn("sqlite").await;
    let idp = SamlIdp::new();
    let config = json!({"kind": "saml", "metadata_xml": idp.metadata(false)});
    let response = app.put("/v1/identity/providers/nocert", &config).await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "no_signing_certificate"
    );
    let garbage = json!({"kind": "saml", "metadata_xml": "<not-metadata"});
    let response = app.put("/v1/identity/providers/garbage", &garbage).await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_metadata"
    );
    // Nothing was stored, so no login can reach the unverifiable IdP.
    let login = no_redirects()
        .get(app.url("/auth/saml/nocert/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::NOT_FOUND);
}
