//! A connection whose transaction the database ended behind the driver's
//! back (as SQLite does on a full disk) is never handed out again.

// Tests fail by panicking; helpers outside `#[test]` functions do too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hms_directory::{Backend, TenantId};
use sqlx::{Acquire, Connection};

#[tokio::test]
async fn a_connection_left_inside_a_transaction_is_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let backend =
        Backend::from_url(&format!("sqlite://{}", dir.path().display()), "unused").unwrap();
    let tenant: TenantId = "pool-test".parse().unwrap();
    let pool = backend.tenant_pool(&tenant, true).await.unwrap();
    sqlx::query("CREATE TABLE notes (text TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();

    {
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        // The database rolls back on its own, as SQLite may on SQLITE_FULL:
        // the driver's rollback at drop then fails and it still counts a
        // transaction open.
        sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        drop(tx);
    }

    // Every connection the pool hands out now starts outside a transaction,
    // and a commit reported as done is seen by the others.
    let mut held = Vec::new();
    for _ in 0..4 {
        let conn = pool.acquire().await.unwrap();
        assert!(
            !conn.is_in_transaction(),
            "a stale connection was handed out"
        );
        held.push(conn);
    }
    drop(held);
    for i in 0..8 {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO notes (text) VALUES ($1)")
            .bind(format!("note {i}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let other = sqlx::AnyConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("tenants/pool-test.db").display()
    ))
    .await
    .unwrap();
    let mut other = other;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
        .fetch_one(other.acquire().await.unwrap())
        .await
        .unwrap();
    assert_eq!(count, 8, "commits reported as done are not in the database");
}
