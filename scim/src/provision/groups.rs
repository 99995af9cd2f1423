//! SCIM Groups: stored documents plus membership rows; a change of members or
//! of a group's name recomputes the roles of the staff it touches.

use std::collections::{BTreeMap, BTreeSet};

use hms_directory::TenantStore;
use serde_json::{Map, Value, json};
use sqlx::AnyConnection;

use super::roles::sync_roles;
use super::{Outcome, current};
use crate::protocol::error::ScimError;
use crate::protocol::filter::{CompareOp, Filter};
use crate::protocol::patch::{PatchKind, PatchOperation, PatchPath, apply, parse_request};
use crate::protocol::resource::{finish, normalise};
use crate::protocol::schema::ResourceType;
use crate::store::{self, ProvisioningError, StoredResource};

/// `POST /Groups`.
pub async fn create_group(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    body: Value,
) -> Result<Outcome, ProvisioningError> {
    let mut document = normalise(ResourceType::Group, body)?;
    let wanted = take_members(&mut document)?;
    let id = uuid::Uuid::new_v4().to_string();
    let resource = store::insert(tx, ResourceType::Group, &id, document).await?;
    let (added, removed) = store::set_members(tx, &id, &wanted).await?;
    finish_membership(directory, tx, resource, true, added, removed, false).await
}

/// `PUT /Groups/{id}`: name and members replaced whole.
pub async fn replace_group(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    id: &str,
    body: Value,
    if_match: Option<&str>,
) -> Result<Outcome, ProvisioningError> {
    let before = current(tx, ResourceType::Group, id, if_match).await?;
    let mut document = normalise(ResourceType::Group, body)?;
    let wanted = take_members(&mut document)?;
    update(directory, tx, before, document, wanted).await
}

/// `PATCH /Groups/{id}`: member adds and removals, renames. Operations that
/// only add or remove members by value are applied to the membership rows
/// directly, without reading the whole member list.
pub async fn patch_group(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    id: &str,
    body: Value,
    if_match: Option<&str>,
) -> Result<Outcome, ProvisioningError> {
    let before = current(tx, ResourceType::Group, id, if_match).await?;
    let operations = parse_request(body)?;
    if let Some(delta) = member_delta(&operations) {
        let (added, removed) = store::change_members(tx, id, &delta).await?;
        return finish_membership(directory, tx, before, false, added, removed, false).await;
    }
    let members: Vec<Value> = store::members(tx, id)
        .await?
        .into_iter()
        .map(|(value, _)| json!({ "value": value }))
        .collect();
    let mut document = before.document.clone();
    document.insert("members".into(), Value::Array(members));
    apply(ResourceType::Group, &mut document, id, operations)?;
    finish(ResourceType::Group, &mut document)?;
    let wanted = take_members(&mut document)?;
    document.insert("schemas".into(), before.document["schemas"].clone());
    update(directory, tx, before, document, wanted).await
}

/// For operations that only add or remove members by value (the shapes
/// Entra ID and Okta send), each member's final state: `true` in, `false` out.
fn member_delta(operations: &[PatchOperation]) -> Option<BTreeMap<String, bool>> {
    let mut delta = BTreeMap::new();
    for operation in operations {
        let path = PatchPath::parse(ResourceType::Group, operation.path.as_deref()?).ok()?;
        if path.attr.attr.name != "members" || path.attr.sub.is_some() {
            return None;
        }
        match (operation.kind, &path.filter, &operation.value) {
            (PatchKind::Add | PatchKind::Remove, None, Some(Value::Array(items))) => {
                for item in items {
                    let value = item.get("value")?.as_str()?;
                    if item
                        .get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| !t.eq_ignore_ascii_case("User"))
                    {
                        return None;
                    }
                    delta.insert(value.to_owned(), operation.kind == PatchKind::Add);
                }
            }
            (PatchKind::Remove, Some(Filter::Compare(r, CompareOp::Eq, value)), _)
                if r.sub.is_some_and(|s| s.name == "value") =>
            {
                delta.insert(value.clone(), false);
            }
            _ => return None,
        }
    }
    Some(delta)
}
/// `DELETE /Groups/{id}`: its members lose the roles it granted.
pub async fn delete_group(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    id: &str,
    if_match: Option<&str>,
) -> Result<Outcome, ProvisioningError> {
    current(tx, ResourceType::Group, id, if_match).await?;
    let (_, removed) = store::set_members(tx, id, &BTreeSet::new()).await?;
    store::delete(tx, ResourceType::Group, id).await?;
    let staff = sync_roles(directory, tx, &removed).await?;
    Ok(Outcome {
        staff,
        members_removed: removed,
        ..Outcome::default()
    })
}

async fn update(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    before: StoredResource,
    document: Map<String, Value>,
    wanted: BTreeSet<String>,
) -> Result<Outcome, ProvisioningError> {
    let renamed = !before.document["displayName"]
        .as_str()
        .unwrap_or_default()
        .eq_ignore_ascii_case(document["displayName"].as_str().unwrap_or_default());
    let changed = document != before.document;
    let resource = if changed {
        store::update(tx, &before, document).await?
    } else {
        before
    };
    let (added, removed) = store::set_members(tx, &resource.id, &wanted).await?;
    finish_membership(directory, tx, resource, changed, added, removed, renamed).await
}

/// Recomputes roles for everyone whose groups changed (all members, when the
/// group was renamed: the mapping is by name), and gives the group a new
/// version when its members changed but its document did not.
async fn finish_membership(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    resource: StoredResource,
    versioned: bool,
    added: Vec<String>,
    removed: Vec<String>,
    renamed: bool,
) -> Result<Outcome, ProvisioningError> {
    let mut affected: BTreeSet<String> = added.iter().chain(&removed).cloned().collect();
    if renamed {
        affected.extend(
            store::members(tx, &resource.id)
                .await?
                .into_iter()
                .map(|(id, _)| id),
        );
    }
    let resource = if !versioned && !affected.is_empty() {
        let document = resource.document.clone();
        store::update(tx, &resource, document).await?
    } else {
        resource
    };
    let affected: Vec<String> = affected.into_iter().collect();
    let staff = sync_roles(directory, tx, &affected).await?;
    Ok(Outcome {
        resource: Some(resource),
        staff,
        members_added: added,
        members_removed: removed,
    })
}

/// Takes `members` out of a group document: the set of member User ids.
fn take_members(document: &mut Map<String, Value>) -> Result<BTreeSet<String>, ScimError> {
    let Some(Value::Array(members)) = document.remove("members") else {
        return Ok(BTreeSet::new());
    };
    members
        .iter()
        .map(|member| {
            if let Some(kind) = member.get("type").and_then(Value::as_str)
                && !kind.eq_ignore_ascii_case("User")
            {
                return Err(ScimError::invalid_value(format!(
                    "members are Users only, not `{kind}`"
                )));
            }
            member
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ScimError::invalid_value("each member has a `value`"))
        })
        .collect()
}
