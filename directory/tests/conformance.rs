//! The same store behaviour, checked on SQLite and on a real PostgreSQL server.

// Tests fail by panicking; helpers outside `#[test]` functions do too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hms_directory::{
    Backend, Catalog, ChangeSource, Credential, CredentialStatus, Encounter, Patient, Precondition,
    StaffMember, StoreError, TenantId, TenantStore,
};

/// PostgreSQL server used by the tests; the test command starts one when none runs.
fn postgres_url() -> String {
    std::env::var("HMS_ACH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn unique_prefix(name: &str) -> String {
    format!(
        "hmst_{}_{name}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

async fn backends(name: &str) -> Vec<(Backend, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite =
        Backend::from_url(&format!("sqlite://{}", dir.path().display()), "unused").unwrap();
    let postgres = Backend::from_url(&postgres_url(), &unique_prefix(name)).unwrap();
    vec![(sqlite, Some(dir)), (postgres, None)]
}

fn nurse(id: &str) -> StaffMember {
    StaffMember {
        id: id.into(),
        given_name: "Ada".into(),
        family_name: "Moss".into(),
        display_name: String::new(),
        emails: vec![format!("{id}@st-marys.example")],
        active: true,
        department: Some("cardiology".into()),
        location: None,
        address: None,
        allowed_locations: Some(vec!["north".into()]),
        shift: None,
        roles: vec!["nurse".into()],
        credentials: vec![Credential {
            kind: "nursing_licence".into(),
            number: "RN-1".into(),
            status: CredentialStatus::Active,
            expires: "2027-05-01".into(),
        }],
    }
}

async fn tenant(backend: &Backend) -> (Catalog, TenantStore) {
    let pool = backend.catalog_pool().await.unwrap();
    hms_directory::migrate_catalog(&pool, &[]).await.unwrap();
    let catalog = Catalog::new(pool);
    let id: TenantId = "st-marys".parse().unwrap();
    catalog.insert(&id, "St Mary's", 60).await.unwrap();
    let pool = backend.tenant_pool(&id, true).await.unwrap();
    hms_directory::migrate_tenant(&pool, &[]).await.unwrap();
    let store = TenantStore::new(pool);
    (catalog, store)
}

#[tokio::test]
async fn tenants_are_catalogued_once() {
    for (backend, _dir) in backends("catalog").await {
        let (catalog, _store) = tenant(&backend).await;
        let again = catalog.insert(&"st-marys".parse().unwrap(), "dup", 0).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{backend:?}");
        let listed = catalog.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].utc_offset_minutes, 60);
        let missing = backend
            .tenant_pool(&"nowhere".parse().unwrap(), false)
            .await;
        if matches!(backend, Backend::Sqlite { .. }) {
            assert!(matches!(missing, Err(StoreError::NotFound(_))));
        } else {
            assert!(missing.is_err());
        }
    }
}

#[tokio::test]
async fn staff_round_trip_with_roles_and_credentials() {
    for (backend, _dir) in backends("staff").await {
        let (_catalog, store) = tenant(&backend).await;
        let mut tx = store.pool().begin().await.unwrap();
        let created = store
            .upsert_staff(&mut tx, vec![nurse("n1"), nurse("n2")], ChangeSource::Admin)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(created[0].was_active, None);
        assert_eq!(created[0].roles_added, vec!["nurse".to_string()]);
        let mut moved = nurse("n1");
        moved.department = Some("oncology".into());
        moved.roles = vec!["admin".into()];
        moved.active = false;
        let mut tx = store.pool().begin().await.unwrap();
        let changed = store
            .upsert_staff(&mut tx, vec![moved], ChangeSource::Hr)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(changed[0].was_active, Some(true));
        assert_eq!(changed[0].roles_added, vec!["admin".to_string()]);
        assert_eq!(changed[0].roles_removed, vec!["nurse".to_string()]);

        let all = store.load_staff(None).await.unwrap();
        assert_eq!(all.len(), 2);
        let n1 = &store.load_staff(Some(&["n1".into()])).await.unwrap()[0];
        assert_eq!(n1.display_name, "Ada Moss");
        assert_eq!(n1.department.as_deref(), Some("oncology"));
        assert!(!n1.active);
        assert_eq!(n1.roles, vec!["admin".to_string()]);
        assert_eq!(n1.credentials[0].expires, "2027-05-01T00:00:00Z");
        assert_eq!(
            n1.allowed_locations.as_deref(),
            Some(&["north".to_string()][..])
        );
        assert_eq!(n1.licence().unwrap().number, "RN-1");
    }
}

#[tokio::test]
async fn a_bad_record_in_a_batch_writes_nothing() {
    for (backend, _dir) in backends("atomic").await {
        let (_catalog, store) = tenant(&backend).await;
        let mut bad = nurse("n9");
        bad.credentials[0].expires = "someday".into();
        let mut tx = store.pool().begin().await.unwrap();
        let result = store
            .upsert_staff(&mut tx, vec![nurse("n8"), bad], ChangeSource::Admin)
            .await;
        assert!(matches!(result, Err(StoreError::Invalid(m)) if m.contains("someday")));
        drop(tx);
        assert!(store.load_staff(None).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn patients_carry_care_teams_and_active_encounter_departments() {
    for (backend, _dir) in backends("patients").await {
        let (_catalog, store) = tenant(&backend).await;
        let patient = Patient {
            id: "p1".into(),
            vip: true,
            confidential: false,
            consent_restricted: false,
            consent_denied_staff: vec!["n2".into()],
            care_team: vec!["d1".into(), "n1".into()],
            active_encounter_departments: vec![],
            family_name: Some("Quinn".into()),
            address: Some("1 Main Street".into()),
            employee_id: Some("n1".into()),
        };
        let mut tx = store.pool().begin().await.unwrap();
        store.upsert_patients(&mut tx, &[patient]).await.unwrap();
        let encounters = [
            Encounter {
                id: "e1".into(),
                patient_id: "p1".into(),
                department: "cardiology".into(),
                active: true,
            },
            Encounter {
                id: "e2".into(),
                patient_id: "p1".into(),
                department: "radiology".into(),
                active: false,
            },
        ];
        assert_eq!(
            store.upsert_encounters(&mut tx, &encounters).await.unwrap(),
            vec!["p1".to_string()]
        );
        tx.commit().await.unwrap();
        let orphan = Encounter {
            id: "e3".into(),
            patient_id: "ghost".into(),
            department: "x".into(),
            active: true,
        };
        assert!(
            matches!(store.upsert_encounters(&mut store.pool().begin().await.unwrap(), &[orphan]).await, Err(StoreError::Invalid(m)) if m.contains("ghost"))
        );
        let loaded = &store.load_patients(Some(&["p1".into()])).await.unwrap()[0];
        assert!(loaded.vip);
        assert_eq!(loaded.care_team, vec!["d1".to_string(), "n1".to_string()]);
        assert_eq!(
            loaded.active_encounter_departments,
            vec!["cardiology".to_string()]
        );
        assert_eq!(loaded.consent_denied_staff, vec!["n2".to_string()]);
        assert_eq!(loaded.family_name.as_deref(), Some("Quinn"));
        assert_eq!(loaded.address.as_deref(), Some("1 Main Street"));
        assert_eq!(
            loaded.employee_id.as_deref(),
            Some("n1"),
            "a patient who works here"
        );
    }
}

#[tokio::test]
async fn clients_and_policy_versions() {
    for (backend, _dir) in backends("clients").await {
        let (_catalog, store) = tenant(&backend).await;
        let mut conn = store.pool().acquire().await.unwrap();
        store
            .insert_client(&mut conn, "c1", "emr", "$argon2id$fake", &["pdp".into()])
            .await
            .unwrap();
        assert!(matches!(
            store.insert_client(&mut conn, "c1", "x", "h", &[]).await,
            Err(StoreError::Conflict(_))
        ));
        store.revoke_client(&mut conn, "c1").await.unwrap();
        assert!(store.list_clients().await.unwrap()[0].revoked_at.is_some());
        assert!(matches!(
            store.revoke_client(&mut conn, "c1").await,
            Err(StoreError::NotFound(_))
        ));

        assert!(store.latest_policy_version().await.unwrap().is_none());
        let v1 = store
            .insert_policy_version(
                &mut conn,
                "{\"a\":1}",
                "alice",
                "first",
                &Precondition::None,
            )
            .await
            .unwrap();
        let v2 = store
            .insert_policy_version(&mut conn, "{\"a\":2}", "bob", "second", &Precondition::None)
            .await
            .unwrap();
        assert_eq!((v1.version, v2.version), (1, 2));
        assert_eq!(
            store.latest_policy_version().await.unwrap().unwrap().author,
            "bob"
        );
        assert_eq!(store.policy_version(1).await.unwrap().source, "{\"a\":1}");
        assert_eq!(store.list_policy_versions().await.unwrap().len(), 2);
        // A write based on version 1 after version 2 is stale, and writes nothing.
        let based_on_v1 = Precondition::parse("\"policy-1\"").unwrap();
        assert!(matches!(
            store
                .insert_policy_version(&mut conn, "{\"a\":3}", "carol", "stale", &based_on_v1)
                .await,
            Err(StoreError::Stale { current }) if current == "\"policy-2\""
        ));
        assert_eq!(store.list_policy_versions().await.unwrap().len(), 2);
    }
}
