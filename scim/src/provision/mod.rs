//! Provisioning operations: SCIM requests applied to the SCIM store and the
//! directory together, in the caller's transaction, so that the caller can
//! record them in the audit ledger and commit all of it at once.

mod groups;
mod roles;
mod users;

use hms_directory::StaffChange;
use serde_json::{Map, Value, json};
use sqlx::AnyConnection;

pub use groups::{create_group, delete_group, patch_group, replace_group};
pub use roles::{department_id, replace_group_roles, sync_roles};
pub use users::{create_user, delete_user, patch_user, replace_user};

use crate::protocol::error::ScimError;
use crate::protocol::schema::ResourceType;
use crate::store::{self, ProvisioningError, StoredResource};

/// What an operation did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The resource as now stored; `None` after a delete.
    pub resource: Option<StoredResource>,
    /// Directory changes it made (created, updated, disabled staff; roles given and taken).
    pub staff: Vec<StaffChange>,
    /// Staff added to the group.
    pub members_added: Vec<String>,
    /// Staff removed from the group.
    pub members_removed: Vec<String>,
}

/// The resource at `id`, checked against an `If-Match` entity tag (`*` matches any).
pub async fn current(
    tx: &mut AnyConnection,
    kind: ResourceType,
    id: &str,
    if_match: Option<&str>,
) -> Result<StoredResource, ProvisioningError> {
    let resource = store::get(tx, kind, id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("{} `{id}`", kind.name())))?;
    if let Some(wanted) = if_match {
        let matches = wanted.split(',').map(str::trim).any(|tag| {
            tag == "*" || tag.trim_start_matches("W/") == resource.etag().trim_start_matches("W/")
        });
        if !matches {
            return Err(ScimError::status(
                412,
                format!(
                    "{} `{id}` is at version {}, not {wanted}",
                    kind.name(),
                    resource.etag()
                ),
            )
            .into());
        }
    }
    Ok(resource)
}

/// The resource as a response shows it: `id`, `meta` and, when `related`,
/// a User's `groups` or a Group's `members`.
pub async fn render(
    conn: &mut AnyConnection,
    resource: &StoredResource,
    base: &str,
    related: bool,
) -> Result<Map<String, Value>, ProvisioningError> {
    let mut page = render_page(conn, std::slice::from_ref(resource), base, related).await?;
    Ok(page.pop().unwrap_or_default())
}

/// Several resources as a list response shows them; the groups of all the
/// Users are read in one query.
pub async fn render_page(
    conn: &mut AnyConnection,
    resources: &[StoredResource],
    base: &str,
    related: bool,
) -> Result<Vec<Map<String, Value>>, ProvisioningError> {
    let users: Vec<String> = resources
        .iter()
        .filter(|r| related && r.kind == ResourceType::User)
        .map(|r| r.id.clone())
        .collect();
    let mut groups = store::groups_of_many(conn, &users).await?;
    let mut page = Vec::with_capacity(resources.len());
    for resource in resources {
        let location = format!("{base}{}/{}", resource.kind.endpoint(), resource.id);
        let mut doc = resource.full_document(Some(&location));
        let related: Vec<Value> = match resource.kind {
            ResourceType::User => groups
                .remove(&resource.id)
                .unwrap_or_default()
                .into_iter()
                .map(|g| json!({ "value": g.id, "display": g.display, "$ref": format!("{base}/Groups/{}", g.id), "type": "direct" }))
                .collect(),
            ResourceType::Group if related => store::members(conn, &resource.id)
                .await?
                .into_iter()
                .map(|(id, display)| json!({ "value": id, "display": display, "$ref": format!("{base}/Users/{id}"), "type": "User" }))
                .collect(),
            ResourceType::Group => Vec::new(),
        };
        if !related.is_empty() {
            let name = match resource.kind {
                ResourceType::User => "groups",
                ResourceType::Group => "members",
            };
            doc.insert(name.into(), Value::Array(related));
        }
        page.push(doc);
    }
    Ok(page)
}
