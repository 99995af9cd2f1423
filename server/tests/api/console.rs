//! The web console over HTTP, as a browser uses it: sign-in through the IdP
//! and a second factor, a reviewer deciding, the security team closing the
//! campaign, the evidence downloaded; cookies and form tokens as a browser
//! would carry them.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::{TestApp, apps, record_request, staff};
use crate::login::{code, configure, no_redirects, now};
use crate::peers::oidc::OidcProvider;

/// A browser without scripts: it keeps cookies and follows nothing by itself.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: no_redirects(),
            cookies: BTreeMap::new(),
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn post(&mut self, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .http
            .post(url)
            .header(COOKIE, self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{response:?}");
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The value of the first hidden `form_token` of a page.
fn form_token(page: &str) -> String {
    let at = page.find("name=\"form_token\" value=\"").unwrap() + 25;
    page[at..at + 64].to_owned()
}

/// Signs `staff_id` in to the console: IdP, authenticator enrolment, code.
async fn sign_in(app: &TestApp, staff_id: &str) -> Browser {
    let provider =
        OidcProvider::start(json!({"sub": format!("00u-{staff_id}"), "employee_number": staff_id}))
            .await;
    configure(app, &provider).await;
    let mut browser = Browser::new();
    let start = browser
        .get(&app.url("/auth/oidc/okta/login?console=1"))
        .await;
    let at_idp = browser.get(&location(&start)).await;
    let callback = at_idp.headers()[LOCATION].to_str().unwrap().to_owned();
    let landed = browser.get(&callback).await;
    assert!(location(&landed).ends_with("/console/mfa"));
    let page = browser
        .get(&app.url("/console/mfa"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Set up an authenticator app"), "{page}");
    let enrol = browser
        .post(
            &app.url("/console/mfa/enroll"),
            &[("form_token", &form_token(&page))],
        )
        .await
        .text()
        .await
        .unwrap();
    let uri_at = enrol.find("otpauth://").unwrap();
    let uri_end = uri_at + enrol[uri_at..].find('<').unwrap();
    let uri = enrol[uri_at..uri_end].replace("&amp;", "&");
    let token = form_token(&enrol);
    let opened = browser
        .post(
            &app.url("/console/mfa"),
            &[("form_token", &token), ("code", &code(&uri, now()))],
        )
        .await;
    assert!(location(&opened).ends_with("/console"));
    browser
}

/// The `campaign:item` key of the reviews page row whose label starts with `who`.
fn row_key(page: &str, who: &str) -> String {
    let label = format!("aria-label=\"Select {who}");
    let at = page
        .find(&label)
        .unwrap_or_else(|| panic!("no row {who}: {page}"));
    let value = page[..at].rfind("value=\"").unwrap() + "value=\"".len();
    page[value..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_review_campaign_runs_end_to_end_in_the_console() {
    for app in apps().await {
        let chief = staff("chief", "admin", "administration", None);
        app.put("/v1/directory/staff", &json!([chief])).await;
        let mut browser = sign_in(&app, "chief").await;

        let home = browser.get(&app.url("/console")).await;
        assert_eq!(home.status(), StatusCode::OK);
        let policy = home.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'") && !policy.contains("script-src"));
        let home = home.text().await.unwrap();
        assert!(home.contains("Create and follow campaigns"), "{home}");
        assert!(home.contains("<html lang=\"en\">"));

        // The security team creates the campaign.
        let token = form_token(&home);
        let created = browser
            .post(
                &app.url("/console/campaigns"),
                &[
                    ("form_token", &token),
                    ("id", "q4"),
                    ("name", "Q4 cardiology"),
                    ("due_at", "2030-12-31"),
                    ("departments", "cardiology"),
                    ("roles", ""),
                    ("fallback_reviewer", "chief"),
                    ("overdue", "escalate"),
                    ("apply_mode", "on_close"),
                ],
            )
            .await;
        assert!(location(&created).ends_with("/console/campaigns/q4"));
        let detail = browser
            .get(&app.url("/console/campaigns/q4"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            detail.contains("nurse-heart") && detail.contains("dr-heart"),
            "{detail}"
        );

        // The reviewer: a clinical revocation without a reason is refused and
        // nothing is saved; with a reason it is; the rest certified in bulk.
        let reviews = browser
            .get(&app.url("/console/reviews"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            reviews.contains("Access awaiting your decision"),
            "{reviews}"
        );
        let token = form_token(&reviews);
        let nurse_key = &row_key(&reviews, "nurse-heart: role nurse");
        let doctor_key = &row_key(&reviews, "dr-heart: role doctor");
        let refused = browser
            .post(
                &app.url("/console/reviews"),
                &[
                    ("form_token", &token),
                    (&format!("decision:{nurse_key}"), "revoke"),
                    ("action", "apply"),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.text().await.unwrap().contains("needs a comment"));
        let revoked = browser
            .post(
                &app.url("/console/reviews"),
                &[
                    ("form_token", &token),
                    (&format!("decision:{nurse_key}"), "revoke"),
                    (&format!("comment:{nurse_key}"), "left the ward"),
                    ("action", "apply"),
                ],
            )
            .await;
        assert!(location(&revoked).ends_with("/console/reviews?done=1"));
        // The nurse's licence is better judged by the doctor on the ward.
        let licence_key = &row_key(&reviews, "nurse-heart: credential nursing_licence");
        let delegated = browser
            .post(
                &app.url("/console/reviews"),
                &[
                    ("form_token", &token),
                    (&format!("decision:{licence_key}"), "delegate"),
                    (&format!("delegate:{licence_key}"), "dr-heart"),
                    ("action", "apply"),
                ],
            )
            .await;
        assert!(location(&delegated).ends_with("/console/reviews?done=1"));
        let remaining = browser
            .get(&app.url("/console/reviews"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!remaining.contains(licence_key.as_str()), "{remaining}");
        let bulk = browser
            .post(
                &app.url("/console/reviews"),
                &[
                    ("form_token", &token),
                    ("selected", doctor_key),
                    ("action", "certify_selected"),
                ],
            )
            .await;
        assert!(location(&bulk).ends_with("/console/reviews?done=1"));

        // A form from elsewhere carries no valid token.
        let forged = browser
            .post(
                &app.url("/console/campaigns/q4/close"),
                &[("form_token", "0")],
            )
            .await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);

        let vitals = record_request("nurse-heart", "read_vitals", "Vitals", "p1");
        assert!(app.evaluate(&vitals).await);
        let closed = browser
            .post(
                &app.url("/console/campaigns/q4/close"),
                &[("form_token", &token)],
            )
            .await;
        assert!(location(&closed).ends_with("/console/campaigns/q4"));
        assert!(!app.evaluate(&vitals).await, "the revocation is in force");

        let csv = browser
            .get(&app.url("/console/campaigns/q4/evidence?format=csv"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            csv.contains("nurse-heart") && csv.contains("left the ward"),
            "{csv}"
        );

        let out = browser
            .post(&app.url("/console/logout"), &[("form_token", &token)])
            .await;
        assert!(location(&out).ends_with("/console/login"));
        let after = browser.get(&app.url("/console")).await;
        assert!(location(&after).ends_with("/console/login"));
    }
}

#[tokio::test]
async fn the_console_shows_each_person_only_what_the_policies_allow() {
    for app in apps().await {
        let anonymous = Browser::new().get(&app.url("/console")).await;
        assert!(location(&anonymous).ends_with("/console/login"));
        let login = Browser::new().get(&app.url("/console/login")).await;
        assert_eq!(login.status(), StatusCode::OK);

        let mut nurse = sign_in(&app, "nurse-heart").await;
        let home = nurse.get(&app.url("/console")).await.text().await.unwrap();
        assert!(home.contains("My reviews"));
        assert!(!home.contains("Create and follow campaigns"), "{home}");
        let campaigns = nurse.get(&app.url("/console/campaigns")).await;
        assert_eq!(campaigns.status(), StatusCode::FORBIDDEN);
        let report = nurse.get(&app.url("/console/reports/break-glass")).await;
        assert_eq!(report.status(), StatusCode::FORBIDDEN);
        let compliance = nurse.get(&app.url("/console/compliance")).await;
        assert_eq!(compliance.status(), StatusCode::FORBIDDEN);
        // The navigation offers only what the policies allow.
        let nav = &home[home.find("<nav").unwrap()..home.find("</nav>").unwrap()];
        assert!(nav.contains("/console/reviews"), "{nav}");
        assert!(!nav.contains("/console/campaigns"), "{nav}");
        assert!(!nav.contains("/console/compliance"), "{nav}");
    }
}

#[tokio::test]
async fn a_compliance_officer_reviews_break_glass_and_pulls_reports_in_the_console() {
    for app in apps().await {
        let officer = staff("privacy", "auditor", "compliance", None);
        app.put("/v1/directory/staff", &json!([officer])).await;
        let mut emergency = record_request("dr-bone", "read_lab_result", "LabResult", "p1");
        emergency["context"] = json!({"break_glass": true, "break_glass_reason": "cardiac arrest in bay 4", "mfa": true});
        assert!(app.evaluate(&emergency).await);

        let mut browser = sign_in(&app, "privacy").await;
        let page = browser
            .get(&app.url("/console/compliance"))
            .await
            .text()
            .await
            .unwrap();
        let nav = &page[page.find("<nav").unwrap()..page.find("</nav>").unwrap()];
        assert!(
            nav.contains("/console/compliance") && !nav.contains("/console/campaigns"),
            "{nav}"
        );
        assert!(page.contains("Latest signed checkpoint"), "{page}");
        assert!(page.contains("cardiac arrest in bay 4"), "{page}");
        let at = page.find("name=\"decision_id\" value=\"").unwrap() + 26;
        let decision = page[at..].split('"').next().unwrap().to_owned();
        let token = form_token(&page);

        let url = app.url("/console/compliance/break-glass");
        let verdict = |comment: &'static str| {
            [
                ("form_token", token.as_str()),
                ("decision_id", decision.as_str()),
                ("verdict", "justified"),
                ("comment", comment),
            ]
        };
        let silent = browser.post(&url, &verdict(" ")).await;
        assert_eq!(silent.status(), StatusCode::BAD_REQUEST);
        assert!(silent.text().await.unwrap().contains("comment"));
        let reviewed = browser
            .post(&url, &verdict("arrest confirmed by the ward log"))
            .await;
        assert!(location(&reviewed).contains("/console/compliance?reviewed="));
        let page = browser
            .get(&app.url("/console/compliance"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("justified</strong> by staff:privacy"),
            "{page}"
        );
        let recorded: serde_json::Value = app
            .get("/ledger/entries?kind=break_glass.review&actor=staff:privacy")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(recorded["entries"][0]["decision_id"], decision.as_str());

        // The report form: empty fields are no filter, dates are days.
        let csv = browser
            .get(&app.url("/console/reports?kind=break-glass&patient=&staff=&from=2020-01-01&until=&format=csv"))
            .await;
        assert_eq!(csv.status(), StatusCode::OK);
        let csv = csv.text().await.unwrap();
        assert!(
            csv.contains("cardiac arrest in bay 4") && csv.contains("justified"),
            "{csv}"
        );
        let wrong = browser
            .get(&app.url("/console/reports?kind=break-glass&colour=red"))
            .await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        let unknown = browser
            .get(&app.url("/console/reports?kind=horoscope"))
            .await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_console_session_is_served_and_ended_on_any_node() {
    let app = crate::helpers::spawn("postgres").await;
    let mut browser = sign_in(&app, "dr-heart").await;
    let mut settings = app.state.settings.clone();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.public_url = Some(app.base.clone());
    let other = hms_ach::app::Application::build(settings).await.unwrap();
    let other_console = format!("http://{}/st-marys/console", other.local_addr());
    tokio::spawn(other.run());

    let page = browser.get(&other_console).await;
    assert_eq!(page.status(), StatusCode::OK, "signed in on the first node");
    let page = page.text().await.unwrap();
    let out = browser
        .post(
            &format!("{other_console}/logout"),
            &[("form_token", &form_token(&page))],
        )
        .await;
    assert!(location(&out).ends_with("/console/login"));
    let after = browser.get(&app.url("/console")).await;
    assert!(
        location(&after).ends_with("/console/login"),
        "ended on the first node too"
    );
}
