//! A SCIM write as one directory change: the SCIM store, the directory and
//! the ledger entries committed together, and put in force at the PDP before
//! the caller is answered.

use hms_directory::ChangeSource;
use hms_scim::protocol::schema::ResourceType;
use hms_scim::provision::{self, Outcome};
use hms_scim::store::GroupRoles;
use serde_json::Value;

use crate::audit::{self, Provenance, ScimOperation};
use crate::tenancy::{ChangeError, Tenant};

/// A write to one SCIM resource.
#[derive(Debug)]
pub enum ScimWrite {
    /// `POST /Users` or `/Groups`.
    Create(Value),
    /// `PUT` of resource `id`.
    Replace(String, Value),
    /// `PATCH` of resource `id`.
    Patch(String, Value),
    /// `DELETE` of resource `id`.
    Delete(String),
}

impl ScimWrite {
    /// The operation, as the ledger names it.
    pub fn operation(&self) -> ScimOperation {
        match self {
            Self::Create(_) => ScimOperation::Create,
            Self::Replace(..) => ScimOperation::Replace,
            Self::Patch(..) => ScimOperation::Patch,
            Self::Delete(_) => ScimOperation::Delete,
        }
    }

    fn target(&self) -> Option<&str> {
        match self {
            Self::Create(_) => None,
            Self::Replace(id, _) | Self::Patch(id, _) | Self::Delete(id) => Some(id),
        }
    }
}

/// Applies `write` to a `kind` resource, checked against `if_match`, in one
/// directory change recorded as done `by`.
pub async fn write(
    tenant: &Tenant,
    by: &Provenance,
    kind: ResourceType,
    write: ScimWrite,
    if_match: Option<&str>,
) -> Result<Outcome, ChangeError> {
    let operation = write.operation();
    let target = write.target().map(str::to_owned);
    let mut change = tenant.begin_directory_change().await?;
    let directory = &tenant.store;
    let tx = &mut *change.tx;
    let outcome = match (kind, write) {
        (ResourceType::User, ScimWrite::Create(body)) => {
            provision::create_user(directory, tx, body).await
        }
        (ResourceType::User, ScimWrite::Replace(id, body)) => {
            provision::replace_user(directory, tx, &id, body, if_match).await
        }
        (ResourceType::User, ScimWrite::Patch(id, body)) => {
            provision::patch_user(directory, tx, &id, body, if_match).await
        }
        (ResourceType::User, ScimWrite::Delete(id)) => {
            provision::delete_user(directory, tx, &id, if_match).await
        }
        (ResourceType::Group, ScimWrite::Create(body)) => {
            provision::create_group(directory, tx, body).await
        }
        (ResourceType::Group, ScimWrite::Replace(id, body)) => {
            provision::replace_group(directory, tx, &id, body, if_match).await
        }
        (ResourceType::Group, ScimWrite::Patch(id, body)) => {
            provision::patch_group(directory, tx, &id, body, if_match).await
        }
        (ResourceType::Group, ScimWrite::Delete(id)) => {
            provision::delete_group(directory, tx, &id, if_match).await
        }
    }?;
    let id = outcome
        .resource
        .as_ref()
        .map(|r| r.id.clone())
        .or(target)
        .unwrap_or_default();
    let mut events = vec![audit::scim_event(by, kind, operation, &id, &outcome)];
    events.extend(
        outcome
            .staff
            .iter()
            .map(|c| audit::staff_event(by, c, ChangeSource::Scim)),
    );
    tenant
        .commit_directory_change(change, events, &outcome.staff)
        .await?;
    tenant.note_scim_write();
    Ok(outcome)
}

/// The mapping from SCIM groups to HMS roles.
pub async fn group_roles(tenant: &Tenant) -> Result<Vec<GroupRoles>, ChangeError> {
    let mut conn = tenant.store.connection().await?;
    Ok(hms_scim::store::group_roles(&mut conn).await?)
}

/// Replaces the mapping from SCIM groups to HMS roles; members of groups
/// whose roles changed get their new roles at once. Returns how many people's
/// roles changed.
pub async fn replace_group_roles(
    tenant: &Tenant,
    mappings: &[GroupRoles],
    by: &Provenance,
) -> Result<usize, ChangeError> {
    let mut change = tenant.begin_directory_change().await?;
    let staff = provision::replace_group_roles(&tenant.store, &mut change.tx, mappings).await?;
    let mut events = vec![audit::group_roles_event(by, mappings)];
    events.extend(
        staff
            .iter()
            .map(|c| audit::staff_event(by, c, ChangeSource::Scim)),
    );
    tenant
        .commit_directory_change(change, events, &staff)
        .await?;
    Ok(staff.len())
}
