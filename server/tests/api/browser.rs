//! The console in a real headless Chromium, driven through ChromeDriver: a
//! reviewer revokes one entitlement with a reason and certifies the rest in
//! bulk, the security team closes the campaign, the PDP denies the revoked
//! access, and the evidence downloads. Every page passes axe-core's WCAG 2.1
//! A/AA checks and fits a tablet held upright; screenshots of the main pages are kept under
//! `target/tmp/console-screenshots/`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, COOKIE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, record_request, spawn, staff};
use crate::login::{code, configure, now};
use crate::peers::oidc::OidcProvider;

/// ChromeDriver, stopped when dropped.
struct Driver {
    process: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Starts ChromeDriver (`HMS_ACH_TEST_CHROMEDRIVER`, else the one on the path)
/// on a free loopback port.
async fn chromedriver() -> Driver {
    let binary =
        std::env::var("HMS_ACH_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let process = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {binary} ({e}): run scripts/browser.sh or install chromium-driver")
        });
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { process, url }
}

async fn chromium(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]}),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// Keeps a screenshot of the current page.
async fn screenshot(browser: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot of {name}");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// What axe-core (`HMS_ACH_TEST_AXE`, fetched by `scripts/axe.sh`) finds
/// against WCAG 2.1 A and AA on the current page: one entry per rule broken.
async fn axe_violations(browser: &Client) -> Value {
    let path = std::env::var("HMS_ACH_TEST_AXE")
        .unwrap_or_else(|_| panic!("HMS_ACH_TEST_AXE is not set: run scripts/axe.sh"));
    let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    browser.execute(&axe, vec![]).await.unwrap();
    let run = "const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
            .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' '))}))))
            .catch(e => done([{id: 'axe-failed', help: String(e)}]));";
    browser.execute_async(run, vec![]).await.unwrap()
}

/// Fails on any WCAG 2.1 A or AA violation axe-core finds on the current page.
async fn assert_accessible(browser: &Client, name: &str) {
    assert_eq!(
        axe_violations(browser).await,
        json!([]),
        "accessibility of {name}"
    );
}

/// Shows that the accessibility check catches a form field without a label.
async fn assert_axe_catches_an_unlabelled_field(browser: &Client) {
    let add = "const field = document.createElement('input'); field.id = 'unlabelled'; \
               document.querySelector('main').appendChild(field);";
    browser.execute(add, vec![]).await.unwrap();
    let violations = axe_violations(browser).await;
    assert!(
        violations
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["nodes"].to_string().contains("#unlabelled")),
        "{violations}"
    );
}

/// The element `css` selects, once the page shows it.
async fn element(browser: &Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(found) => found,
        Err(e) => {
            let at = browser.current_url().await.unwrap();
            panic!(
                "no `{css}` at {at} ({e}): {}",
                browser.source().await.unwrap()
            );
        }
    }
}

async fn click(browser: &Client, css: &str) {
    element(browser, css).await.click().await.unwrap();
}

async fn fill(browser: &Client, css: &str, text: &str) {
    element(browser, css).await.send_keys(text).await.unwrap();
}

/// The page's text once it says `expected` (pages change after a click
/// only when the browser has loaded the next one).
async fn page_saying(browser: &Client, expected: &str) -> String {
    let mut seen = String::new();
    for _ in 0..100 {
        if let Ok(main) = browser.find(Locator::Css("main")).await
            && let Ok(text) = main.text().await
        {
            if text.contains(expected) {
                return text;
            }
            seen = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never said `{expected}`; it says: {seen}");
}

/// Signs in through the IdP, sets up the authenticator and enters its code.
async fn sign_in(app: &TestApp, browser: &Client) {
    browser.goto(&app.url("/console")).await.unwrap();
    page_saying(browser, "Sign in with okta").await;
    screenshot(browser, "1-sign-in").await;
    assert_accessible(browser, "the sign-in page").await;
    click(browser, "main a").await;
    page_saying(browser, "Set up an authenticator app").await;
    click(browser, "form[action$='/mfa/enroll'] button").await;
    let uri = element(browser, "figcaption code")
        .await
        .text()
        .await
        .unwrap();
    screenshot(browser, "2-authenticator").await;
    assert_accessible(browser, "the authenticator page").await;
    fill(browser, "#code", &code(&uri, now())).await;
    click(browser, "form[action$='/console/mfa'] button").await;
}

#[tokio::test]
async fn a_campaign_is_run_in_a_real_browser() {
    let app = spawn("sqlite").await;
    let chief = staff("chief", "admin", "administration", None);
    app.put("/v1/directory/staff", &json!([chief])).await;
    let provider =
        OidcProvider::start(json!({"sub": "00u-chief", "employee_number": "chief"})).await;
    configure(&app, &provider).await;
    let driver = chromedriver().await;
    let browser = chromium(&driver).await;

    sign_in(&app, &browser).await;
    page_saying(&browser, "Create and follow campaigns").await;
    screenshot(&browser, "3-home").await;
    assert_accessible(&browser, "the home page").await;
    assert_axe_catches_an_unlabelled_field(&browser).await;

    // The security team creates the campaign.
    browser.goto(&app.url("/console/campaigns")).await.unwrap();
    fill(&browser, "#id", "q4").await;
    fill(&browser, "#name", "Q4 cardiology").await;
    browser
        .execute(
            "document.getElementById('due_at').value = '2030-12-31'",
            vec![],
        )
        .await
        .unwrap();
    fill(&browser, "#departments", "cardiology").await;
    fill(&browser, "#fallback_reviewer", "chief").await;
    screenshot(&browser, "4-new-campaign").await;
    assert_accessible(&browser, "the campaigns page").await;
    click(
        &browser,
        "form[action$='/console/campaigns'] button[type=submit]",
    )
    .await;
    page_saying(&browser, "nurse-heart").await;

    // The reviewer revokes the nurse's role with a reason, then certifies
    // the rest (the doctor's role and both licences) in bulk.
    browser.goto(&app.url("/console/reviews")).await.unwrap();
    screenshot(&browser, "5-my-reviews").await;
    assert_accessible(&browser, "the reviewer's page").await;
    let nurse = "nurse-heart: role nurse";
    element(
        &browser,
        &format!("select[aria-label='Decision for {nurse}']"),
    )
    .await
    .select_by_value("revoke")
    .await
    .unwrap();
    fill(
        &browser,
        &format!("input[aria-label='Reason for {nurse}']"),
        "left the ward",
    )
    .await;
    click(&browser, "button[value=apply]").await;
    page_saying(&browser, "1 decisions recorded").await;
    let rows = browser
        .find_all(Locator::Css("input[name=selected]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "the doctor's role and two licences remain");
    for row in rows {
        row.click().await.unwrap();
    }
    click(&browser, "button[value=certify_selected]").await;
    page_saying(&browser, "Nothing is waiting for your review").await;

    // The security team closes it; the PDP denies the revoked access at once.
    let vitals = record_request("nurse-heart", "read_vitals", "Vitals", "p1");
    assert!(app.evaluate(&vitals).await);
    browser
        .goto(&app.url("/console/campaigns/q4"))
        .await
        .unwrap();
    click(&browser, "form[action$='/close'] button").await;
    let detail = page_saying(&browser, "· closed ·").await;
    assert!(detail.contains("left the ward"), "{detail}");
    screenshot(&browser, "6-closed-campaign").await;
    assert_accessible(&browser, "a campaign's page").await;
    assert!(!app.evaluate(&vitals).await, "the revoked nurse is denied");

    // The evidence downloads with the browser's session.
    let link = element(&browser, "a[href$='evidence?format=csv']")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let cookies: Vec<String> = browser
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    let download = reqwest::Client::new()
        .get(format!("{}{link}", app.base))
        .header(COOKIE, cookies.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let disposition = download.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("access-reviews.csv"), "{disposition}");
    let csv = download.text().await.unwrap();
    assert!(
        csv.contains("nurse-heart") && csv.contains("revoke"),
        "{csv}"
    );
    browser
        .goto(&app.url("/console/campaigns/q4/evidence"))
        .await
        .unwrap();
    screenshot(&browser, "7-evidence").await;
    assert_accessible(&browser, "the evidence report").await;
    browser.goto(&app.url("/console/compliance")).await.unwrap();
    page_saying(&browser, "Latest signed checkpoint").await;
    screenshot(&browser, "8-compliance").await;
    assert_accessible(&browser, "the compliance page").await;
    // The compliance reports as HTML pages, charts included.
    for report in [
        "break-glass",
        "after-hours",
        "user-activity?staff=chief",
        "patient-access?patient=p1",
        "role-changes",
        "ledger-integrity",
    ] {
        browser
            .goto(&app.url(&format!("/console/reports/{report}")))
            .await
            .unwrap();
        element(&browser, "main h1, body h1").await;
        assert_accessible(&browser, &format!("the {report} report")).await;
    }

    // On a tablet held upright, no page scrolls sideways (wide tables scroll
    // within themselves).
    browser.set_window_size(768, 1024).await.unwrap();
    for (path, name) in [
        ("/console", "9-tablet-home"),
        ("/console/campaigns", "10-tablet-campaigns"),
        ("/console/campaigns/q4", "11-tablet-campaign"),
        ("/console/compliance", "12-tablet-compliance"),
    ] {
        browser.goto(&app.url(path)).await.unwrap();
        element(&browser, "main h1").await;
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{path} scrolls sideways by {overflow}"
        );
        screenshot(&browser, name).await;
    }

    let pulls: Value = app
        .get("/ledger/entries?kind=report.pull&actor=staff:chief")
        .await
        .json()
        .await
        .unwrap();
    // The evidence twice (download and page) and the six reports.
    assert_eq!(pulls["entries"].as_array().unwrap().len(), 8);
    browser.close().await.unwrap();
}
