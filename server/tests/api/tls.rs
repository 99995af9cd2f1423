//! HTTPS served by the service itself.

use hms_ach::app::Application;
use hms_ach::config::TlsSettings;

use crate::helpers::settings_for;

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let mut settings = settings_for("sqlite", dir.path());
    settings.tls = Some(TlsSettings { cert, key });
    let app = Application::build(settings).await.unwrap();
    let port = app.local_addr().port();
    tokio::spawn(app.run());

    let trusted = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert!(
        reqwest::get(format!("http://localhost:{port}/healthz"))
            .await
            .is_err(),
        "plain HTTP must not be answered"
    );
}

#[tokio::test]
async fn a_key_that_does_not_match_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let one = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key, other.key_pair.serialize_pem()).unwrap();
    let mut settings = settings_for("sqlite", dir.path());
    settings.tls = Some(TlsSettings { cert, key });
    assert!(Application::build(settings).await.is_err());
}
