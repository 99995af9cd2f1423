//! A tenant database is migrated in one run over one version table, and a
//! database written by a build with migrations this one lacks is refused.

// Tests fail by panicking; helpers outside `#[test]` functions do too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hms_directory::{Backend, StoreError, TenantId, migrate_tenant};

async fn tenant_pool(dir: &std::path::Path) -> sqlx::AnyPool {
    let backend = Backend::from_url(&format!("sqlite://{}", dir.display()), "unused").unwrap();
    let tenant: TenantId = "schema-test".parse().unwrap();
    backend.tenant_pool(&tenant, true).await.unwrap()
}

#[tokio::test]
async fn migrating_twice_changes_nothing_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pool = tenant_pool(dir.path()).await;
    migrate_tenant(&pool, &[]).await.unwrap();
    let applied: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(applied.0 > 0);
    migrate_tenant(&pool, &[]).await.unwrap();
    let again: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(again, applied);
    // A newer build applied a migration this build does not have.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (9999, 'from a newer build', '2026-12-01 00:00:00', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let refused = migrate_tenant(&pool, &[]).await;
    assert!(
        matches!(&refused, Err(StoreError::Migration(e)) if e.to_string().contains("9999")),
        "{refused:?}"
    );
}
