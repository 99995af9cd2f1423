//! The schema of a tenant database. Several crates keep tables there (the
//! directory, the audit ledger, provisioning, identity); each owns its own
//! migrations, in a version range of its own. They are run as one: merged,
//! in version order, by one migrator over one version table, so a database
//! holding a migration this build does not know (written by a newer build)
//! is refused rather than half-understood.

use std::future::Future;
use std::pin::Pin;

use sqlx::AnyPool;
use sqlx::migrate::{Migration, MigrationSource, Migrator};

use crate::error::StoreError;

/// One crate's migrations for a dialect (`true` for PostgreSQL).
pub type MigrationSet = fn(postgres: bool) -> &'static Migrator;

static DIRECTORY: Migrator = sqlx::migrate!("./migrations/tenant");

/// The directory's own tenant migrations (the same on both backends).
pub fn migrations(_postgres: bool) -> &'static Migrator {
    &DIRECTORY
}

static CATALOG: Migrator = sqlx::migrate!("./migrations/catalog");

fn catalog_migrations(_postgres: bool) -> &'static Migrator {
    &CATALOG
}

/// Brings a tenant database up to date with the directory's migrations and
/// `others`, in one run.
pub async fn migrate_tenant(pool: &AnyPool, others: &[MigrationSet]) -> Result<(), StoreError> {
    migrate_with(pool, migrations, others).await
}

/// Brings the catalog database up to date with its own migrations and
/// `others` (the platform's ledger), in one run.
pub async fn migrate_catalog(pool: &AnyPool, others: &[MigrationSet]) -> Result<(), StoreError> {
    migrate_with(pool, catalog_migrations, others).await
}

async fn migrate_with(
    pool: &AnyPool,
    own: MigrationSet,
    others: &[MigrationSet],
) -> Result<(), StoreError> {
    let postgres = pool
        .acquire()
        .await?
        .backend_name()
        .eq_ignore_ascii_case("postgresql");
    let sets = std::iter::once(own).chain(others.iter().copied());
    let merged = merge(sets.map(|set| set(postgres)))?;
    let migrator = Migrator::new(merged).await.map_err(StoreError::Migration)?;
    migrator.run(pool).await?;
    Ok(())
}

/// The migrations of `sets` in version order; two with one version are refused.
fn merge<'a>(sets: impl Iterator<Item = &'a Migrator>) -> Result<Merged, StoreError> {
    let mut all: Vec<Migration> = sets.flat_map(|set| set.iter().cloned()).collect();
    all.sort_by_key(|m| m.version);
    if let Some(pair) = all.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(StoreError::Invalid(format!(
            "two migrations claim version {}: `{}` and `{}`",
            pair[0].version, pair[0].description, pair[1].description
        )));
    }
    Ok(Merged(all))
}

/// Migrations already resolved, as a source for [`Migrator::new`].
#[derive(Debug)]
struct Merged(Vec<Migration>);

type Resolved<'s> = Pin<
    Box<
        dyn Future<Output = Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 's,
    >,
>;

impl<'s> MigrationSource<'s> for Merged {
    fn resolve(self) -> Resolved<'s> {
        Box::pin(async move { Ok(self.0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_version_claimed_twice_is_refused() {
        let twice = merge([&DIRECTORY, &DIRECTORY].into_iter());
        assert!(
            matches!(twice, Err(StoreError::Invalid(message)) if message.contains("version 1"))
        );
        let once = merge([&DIRECTORY].into_iter()).map(|m| m.0.len());
        assert_eq!(once.ok(), Some(DIRECTORY.iter().count()));
    }
}
