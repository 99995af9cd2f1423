//! The SQL the store runs for a filter selects exactly what the in-memory
//! evaluator (the grammar's reference semantics) selects, on SQLite and on a
//! real PostgreSQL, for generated filters over a generated population.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use hms_directory::{Backend, TenantId};
use hms_scim::protocol::filter::Filter;
use hms_scim::protocol::list::ListQuery;
use hms_scim::protocol::resource::normalise;
use hms_scim::protocol::schema::{ENTERPRISE_SCHEMA, ResourceType};
use hms_scim::store::{self, StoredResource};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use sqlx::AnyPool;

fn postgres_url() -> String {
    std::env::var("HMS_ACH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

async fn pools(dir: &std::path::Path) -> Vec<AnyPool> {
    let prefix = format!("hmst_{}_scimsearch", std::process::id());
    let backends = [
        Backend::from_url(&format!("sqlite://{}", dir.display()), "unused").unwrap(),
        Backend::from_url(&postgres_url(), &prefix).unwrap(),
    ];
    let tenant: TenantId = "st-marys".parse().unwrap();
    let mut pools = Vec::new();
    for backend in backends {
        let pool = backend.tenant_pool(&tenant, true).await.unwrap();
        hms_directory::migrate_tenant(&pool, &[store::migrations])
            .await
            .unwrap();
        pools.push(pool);
    }
    pools
}

const NAMES: [&str; 6] = ["ana", "Bob", "cleo", "dan", "Ana", "eve"];
const DEPARTMENTS: [&str; 4] = ["Cardiology", "cardiology", "Radiology", "ICU"];
const TYPES: [&str; 3] = ["work", "home", "other"];

/// A deterministic population with overlapping, case-varied and missing values.
fn population() -> Vec<(String, Value)> {
    (0..48)
        .map(|i| {
            let name = NAMES[i % NAMES.len()];
            let mut doc = json!({
                "userName": format!("{name}{i}@Example.org"),
                "active": i % 3 != 0,
                "emails": (0..(i % 3)).map(|e| json!({
                    "value": format!("{name}.{e}@{}.example", TYPES[(i + e) % 3]),
                    "type": TYPES[(i + e) % 3],
                    "primary": e == 0,
                })).collect::<Vec<_>>(),
            });
            if i % 4 != 0 {
                doc["title"] = json!(["Nurse", "nurse", "Doctor", "Ward Clerk", ""][i % 5]);
            }
            if i % 5 != 0 {
                doc["externalId"] = json!(format!("X{}", i % 7));
                doc[ENTERPRISE_SCHEMA] =
                    json!({ "department": DEPARTMENTS[i % DEPARTMENTS.len()] });
            }
            (format!("u{i:02}"), doc)
        })
        .collect()
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ana".to_owned()),
        Just("Ana1".to_owned()),
        Just("@example.org".to_owned()),
        Just("nurse".to_owned()),
        Just("cardiology".to_owned()),
        Just("X3".to_owned()),
        Just("x3".to_owned()),
        Just("work".to_owned()),
        Just("".to_owned()),
        Just("e".to_owned()),
    ]
}

fn comparison() -> impl Strategy<Value = String> {
    let attrs = prop_oneof![
        Just("userName"),
        Just("title"),
        Just("externalId"),
        Just("emails.value"),
        Just("emails.type"),
        Just("emails"),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        Just("id"),
    ];
    let ops = prop_oneof![
        Just("eq"),
        Just("ne"),
        Just("co"),
        Just("sw"),
        Just("ew"),
        Just("gt"),
        Just("ge"),
        Just("lt"),
        Just("le"),
        Just("EQ"),
    ];
    prop_oneof![
        4 => (attrs.clone(), ops, literal()).prop_map(|(a, o, l)| format!("{a} {o} \"{l}\"")),
        1 => attrs.prop_map(|a| format!("{a} pr")),
        1 => any::<bool>().prop_map(|b| format!("active eq {b}")),
        1 => ("[a-z]{0,2}", literal()).prop_map(|(t, l)| format!("emails[type sw \"{t}\" and not (value co \"{l}\")]")),
        1 => literal().prop_map(|l| format!("emails[type eq \"work\"].value co \"{l}\"")),
    ]
}

fn filter() -> impl Strategy<Value = String> {
    comparison().prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_search_matches_the_reference_evaluator() {
    let dir = tempfile::tempdir().unwrap();
    let pools = pools(dir.path()).await;
    let mut stored: Vec<StoredResource> = Vec::new();
    for pool in &pools {
        let mut conn = pool.acquire().await.unwrap();
        stored.clear();
        for (id, doc) in population() {
            let doc = normalise(ResourceType::User, doc).unwrap();
            stored.push(
                store::insert(&mut conn, ResourceType::User, &id, doc)
                    .await
                    .unwrap(),
            );
        }
    }
    let runtime = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let result = runner.run(&filter(), |text| {
        let parsed = match Filter::parse(ResourceType::User, &text) {
            Ok(parsed) => parsed,
            Err(_) => return Ok(()), // e.g. ordering a boolean: refused, nothing to compare
        };
        let expected: BTreeSet<String> = stored
            .iter()
            .filter(|r| parsed.matches(&r.full_document(None)))
            .map(|r| r.id.clone())
            .collect();
        let params = vec![
            ("filter".to_owned(), text.clone()),
            ("count".to_owned(), "200".to_owned()),
        ];
        let query = ListQuery::from_params(ResourceType::User, &params).unwrap();
        for pool in &pools {
            let page = tokio::task::block_in_place(|| {
                runtime.block_on(async {
                    let mut conn = pool.acquire().await.unwrap();
                    store::search(&mut conn, ResourceType::User, &query)
                        .await
                        .unwrap()
                })
            });
            let got: BTreeSet<String> = page.resources.iter().map(|r| r.id.clone()).collect();
            prop_assert_eq!(page.total as usize, got.len());
            prop_assert_eq!(
                &got,
                &expected,
                "{} on {:?}",
                text,
                pool.connect_options().database_url
            );
        }
        Ok(())
    });
    result.unwrap();
}
