//! SCIM resources in the tenant's database: documents with versions, a
//! search index kept in the same transaction, and filtered, sorted, paged search.

mod error;
mod groups;
mod search;

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, AnyPool};
use time::OffsetDateTime;

pub use error::ProvisioningError;
pub use groups::{
    GroupRef, GroupRoles, change_members, group_entitlements, group_roles, groups_of_many,
    leave_all, members, replace_group_roles, roles_from_groups, roles_of_group, set_members,
};
pub use search::{Page, search};

use crate::protocol::error::ScimError;
use crate::protocol::path::format_datetime;
use crate::protocol::resource::{IndexRow, index_rows};
use crate::protocol::schema::ResourceType;

/// A stored resource: the client-writable document and what the service keeps about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// User or Group.
    pub kind: ResourceType,
    /// The id (for Users, the staff id).
    pub id: String,
    /// The canonical document, without `id`, `meta`, `groups` or `members`.
    pub document: Map<String, Value>,
    /// Version, bumped on every change.
    pub version: i64,
    /// Created, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub created: String,
    /// Last modified, same form.
    pub modified: String,
}

impl StoredResource {
    /// The entity tag: `W/"{version}"`.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    /// The document with `id` and `meta`, as filters and responses see it.
    pub fn full_document(&self, location: Option<&str>) -> Map<String, Value> {
        let mut doc = self.document.clone();
        doc.insert("id".into(), json!(self.id));
        let mut meta = json!({
            "resourceType": self.kind.name(),
            "created": self.created,
            "lastModified": self.modified,
            "version": self.etag(),
        });
        if let Some(location) = location {
            meta["location"] = json!(location);
        }
        doc.insert("meta".into(), meta);
        doc
    }

    fn unique_key(&self) -> String {
        let field = match self.kind {
            ResourceType::User => "userName",
            ResourceType::Group => "displayName",
        };
        self.document
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase()
    }

    fn index(&self) -> Vec<IndexRow> {
        let mut rows = index_rows(self.kind, &self.full_document(None));
        // Group members are searched through `group_members`, not copied here.
        rows.retain(|(attr, _, _)| !attr.starts_with("members"));
        rows
    }
}

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The provisioning tables in a dialect (`true` for PostgreSQL): part of the
/// tenant database's one migration run (`hms_directory::migrate_tenant`).
pub fn migrations(postgres: bool) -> &'static sqlx::migrate::Migrator {
    if postgres { &POSTGRES } else { &SQLITE }
}

/// Whether the `n`-th write since the service started is one after which
/// the planner's statistics should be refreshed: the 1,024th, then each
/// time the count quadruples. A bulk load is analysed as it grows, before
/// autovacuum (which may be visiting many tenant databases) gets to it.
pub fn statistics_due(n: u64) -> bool {
    n >= 1024 && n.is_power_of_two() && n.trailing_zeros().is_multiple_of(2)
}

/// Refreshes PostgreSQL's planner statistics of the SCIM tables, which the
/// filter queries' plans depend on (a value-path filter planned without
/// them reads every address of every User). SQLite plans without them.
pub async fn refresh_statistics(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        sqlx::query("ANALYZE scim_index")
            .execute(&mut *conn)
            .await?;
        sqlx::query("ANALYZE scim_resources")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Now, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn now() -> String {
    format_datetime(OffsetDateTime::now_utc())
}

type ResourceRow = (String, String, i64, String, String);

/// One resource, if it exists.
pub async fn get(
    conn: &mut AnyConnection,
    kind: ResourceType,
    id: &str,
) -> Result<Option<StoredResource>, ProvisioningError> {
    let row: Option<ResourceRow> = sqlx::query_as(
        "SELECT id, document, version, created_at, updated_at FROM scim_resources WHERE kind = $1 AND id = $2",
    )
    .bind(kind.name())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| from_row(kind, row)).transpose()
}

fn from_row(kind: ResourceType, row: ResourceRow) -> Result<StoredResource, ProvisioningError> {
    let (id, document, version, created, modified) = row;
    let document = serde_json::from_str(&document)
        .map_err(|_| ProvisioningError::Corrupt("scim_resources.document"))?;
    Ok(StoredResource {
        kind,
        id,
        document,
        version,
        created,
        modified,
    })
}

/// Stores a new resource and its index rows; a taken id or name is a 409.
pub async fn insert(
    conn: &mut AnyConnection,
    kind: ResourceType,
    id: &str,
    document: Map<String, Value>,
) -> Result<StoredResource, ProvisioningError> {
    let at = now();
    let resource = StoredResource {
        kind,
        id: id.to_owned(),
        document,
        version: 1,
        created: at.clone(),
        modified: at,
    };
    sqlx::query(
        "INSERT INTO scim_resources (kind, id, unique_key, external_id, document, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(kind.name())
    .bind(id)
    .bind(resource.unique_key())
    .bind(external_id(&resource))
    .bind(Value::Object(resource.document.clone()).to_string())
    .bind(resource.version)
    .bind(&resource.created)
    .bind(&resource.modified)
    .execute(&mut *conn)
    .await
    .map_err(|e| uniqueness(e, &resource))?;
    write_index(conn, &resource).await?;
    Ok(resource)
}

/// Replaces a resource's document if it is still at `current.version`
/// (otherwise 412: someone else changed it), and rewrites its index.
pub async fn update(
    conn: &mut AnyConnection,
    current: &StoredResource,
    document: Map<String, Value>,
) -> Result<StoredResource, ProvisioningError> {
    let next = StoredResource {
        document,
        version: current.version + 1,
        modified: now(),
        ..current.clone()
    };
    let done = sqlx::query(
        "UPDATE scim_resources SET unique_key = $1, external_id = $2, document = $3, version = $4, updated_at = $5 \
         WHERE kind = $6 AND id = $7 AND version = $8",
    )
    .bind(next.unique_key())
    .bind(external_id(&next))
    .bind(Value::Object(next.document.clone()).to_string())
    .bind(next.version)
    .bind(&next.modified)
    .bind(next.kind.name())
    .bind(&next.id)
    .bind(current.version)
    .execute(&mut *conn)
    .await
    .map_err(|e| uniqueness(e, &next))?;
    if done.rows_affected() == 0 {
        return Err(ScimError::status(
            412,
            format!(
                "{} `{}` changed meanwhile; read it again",
                next.kind.name(),
                next.id
            ),
        )
        .into());
    }
    sqlx::query("DELETE FROM scim_index WHERE kind = $1 AND id = $2")
        .bind(next.kind.name())
        .bind(&next.id)
        .execute(&mut *conn)
        .await?;
    write_index(conn, &next).await?;
    Ok(next)
}

/// Deletes a resource and its index rows; whether it existed.
pub async fn delete(
    conn: &mut AnyConnection,
    kind: ResourceType,
    id: &str,
) -> Result<bool, ProvisioningError> {
    sqlx::query("DELETE FROM scim_index WHERE kind = $1 AND id = $2")
        .bind(kind.name())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM scim_resources WHERE kind = $1 AND id = $2")
        .bind(kind.name())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

fn external_id(resource: &StoredResource) -> Option<String> {
    resource
        .document
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn uniqueness(e: sqlx::Error, resource: &StoredResource) -> ProvisioningError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let what = match resource.kind {
                ResourceType::User => "userName",
                ResourceType::Group => "displayName",
            };
            ScimError::uniqueness(format!(
                "a {} with this {what} or id already exists",
                resource.kind.name()
            ))
            .into()
        }
        _ => e.into(),
    }
}

/// Rows per multi-row insert: well under both backends' parameter limits.
const INDEX_ROWS_PER_STATEMENT: usize = 200;

async fn write_index(
    conn: &mut AnyConnection,
    resource: &StoredResource,
) -> Result<(), ProvisioningError> {
    let rows = resource.index();
    for chunk in rows.chunks(INDEX_ROWS_PER_STATEMENT) {
        let placeholders: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = i * 5;
                format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO scim_index (kind, id, attr, elem, value) VALUES {}",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (attr, elem, value) in chunk {
            query = query
                .bind(resource.kind.name())
                .bind(&resource.id)
                .bind(attr)
                .bind(*elem)
                .bind(value);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod statistics_tests {
    use super::statistics_due;

    #[test]
    fn statistics_are_refreshed_as_a_bulk_load_quadruples() {
        let due: Vec<u64> = (1..=300_000).filter(|n| statistics_due(*n)).collect();
        assert_eq!(due, [1024, 4096, 16_384, 65_536, 262_144]);
    }
}
