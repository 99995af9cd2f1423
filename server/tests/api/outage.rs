//! PostgreSQL down or silent (a network partition): every decision is denied
//! `audit_unavailable`, and
//! quickly once the outage is known, instead of each waiting out the pool's
//! timeout; once the database is back, permits return and every permit
//! answered is in the ledger.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{TestApp, postgres_url, record_request, settings_for, spawn_settings};

/// How the relay treats connections.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Link {
    /// Forwarded.
    Up,
    /// Dropped, open ones and new ones: a server that is down.
    Refused,
    /// Held open and never answered: a server behind a network partition.
    Silent,
}

/// A TCP relay to the test PostgreSQL server that can be cut.
struct Relay {
    address: String,
    link: watch::Sender<Link>,
}

impl Relay {
    async fn start(target: String) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (link, _) = watch::channel(Link::Up);
        let relay = Arc::new(Self {
            address: listener.local_addr().unwrap().to_string(),
            link,
        });
        let accepting = Arc::clone(&relay);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut link = accepting.link.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let now = *link.borrow_and_update();
                    match now {
                        Link::Refused => return,
                        Link::Silent => {
                            let _ = link.wait_for(|l| *l == Link::Up).await;
                            return;
                        }
                        Link::Up => {}
                    }
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let mut client = client;
                    let cut = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                        cut = link.wait_for(|l| *l != Link::Up) => cut.map(|l| *l),
                    };
                    if matches!(cut, Ok(Link::Silent)) {
                        let _ = link.wait_for(|l| *l == Link::Up).await;
                    }
                });
            }
        });
        relay
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// The PostgreSQL server the tests use, as host:port.
fn postgres_address() -> String {
    let url = postgres_url();
    let rest = url.rsplit('@').next().unwrap();
    rest.split('/').next().unwrap().to_owned()
}

async fn decide(app: &TestApp) -> (Value, Duration) {
    let started = Instant::now();
    let response = app
        .post(
            "/access/v1/evaluation",
            &record_request("dr-heart", "read_vitals", "Vitals", "p1"),
        )
        .await;
    let answer: Value = response.json().await.unwrap();
    (answer, started.elapsed())
}

#[tokio::test]
async fn an_unreachable_database_denies_fast_and_loses_no_permit() {
    let relay = Relay::start(postgres_address()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_for("postgres", dir.path());
    settings.database_url = format!("postgres://postgres@{}", relay.address);
    let app = spawn_settings("postgres", dir, settings).await;
    let (answer, _) = decide(&app).await;
    assert_eq!(answer["decision"], true, "{answer}");
    let before = answer["context"]["decision_id"]
        .as_str()
        .unwrap()
        .to_owned();

    for link in [Link::Refused, Link::Silent] {
        relay.set(link);
        let mut waits = Vec::new();
        for _ in 0..30 {
            let (answer, took) = decide(&app).await;
            assert_eq!(
                answer["decision"], false,
                "{link:?}: a permit while the database is unreachable: {answer}"
            );
            assert_eq!(
                answer["context"]["error"]["code"], "audit_unavailable",
                "{answer}"
            );
            waits.push(took);
        }
        waits.sort();
        let (median, longest) = (waits[waits.len() / 2], waits[waits.len() - 1]);
        assert!(
            median < Duration::from_millis(100),
            "{link:?}: median deny took {median:?}"
        );
        assert!(
            longest < Duration::from_millis(1500),
            "{link:?}: a deny took {longest:?}"
        );
        relay.set(Link::Up);
        app.permitted_once_the_ledger_writes(&record_request(
            "dr-heart",
            "read_vitals",
            "Vitals",
            "p1",
        ))
        .await;
    }
    let answer = app
        .permitted_once_the_ledger_writes(&record_request(
            "dr-heart",
            "read_vitals",
            "Vitals",
            "p1",
        ))
        .await;
    let after = answer["context"]["decision_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let recorded: Value = app
        .get("/ledger/entries?kind=decision&limit=1000")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = recorded["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["decision_id"].as_str())
        .collect();
    assert!(
        ids.contains(&before.as_str()) && ids.contains(&after.as_str()),
        "{ids:?}"
    );
}
