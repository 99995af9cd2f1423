//! SCIM Users onto staff members: the SCIM id is the staff id, the document
//! fills the directory's names, emails, department and active flag, and roles
//! come from group membership.

use hms_directory::{ChangeSource, StaffMember, StaffRecord, TenantStore, check_record_id};
use serde_json::{Map, Value};
use sqlx::AnyConnection;

use super::roles::{department_id, roles_with};
use super::{Outcome, current};
use crate::protocol::error::ScimError;
use crate::protocol::patch::{apply, parse_request};
use crate::protocol::resource::{finish, normalise};
use crate::protocol::schema::{ENTERPRISE_SCHEMA, ResourceType};
use crate::store::{self, ProvisioningError, StoredResource};

/// `POST /Users`. The staff id is the enterprise `employeeNumber` when given,
/// so that a person HR created already is adopted rather than duplicated;
/// otherwise a new UUID.
pub async fn create_user(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    body: Value,
) -> Result<Outcome, ProvisioningError> {
    let document = normalise(ResourceType::User, body)?;
    let id = match employee_number(&document) {
        Some(number) => {
            check_record_id("staff", number)
                .map_err(|e| ScimError::invalid_value(e.to_string()))?;
            if store::get(tx, ResourceType::User, number).await?.is_some() {
                return Err(ScimError::uniqueness(format!(
                    "a User with employeeNumber `{number}` already exists"
                ))
                .into());
            }
            number.to_owned()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let existing = directory.staff_in(tx, &id).await?;
    let resource = store::insert(tx, ResourceType::User, &id, document).await?;
    write_staff(directory, tx, resource, existing).await
}

/// `PUT /Users/{id}`: the document is replaced whole.
pub async fn replace_user(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    id: &str,
    body: Value,
    if_match: Option<&str>,
) -> Result<Outcome, ProvisioningError> {
    let before = current(tx, ResourceType::User, id, if_match).await?;
    let document = normalise(ResourceType::User, body)?;
    update(directory, tx, before, document).await
}

/// `PATCH /Users/{id}`.
pub async fn patch_user(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    id: &str,
    body: Value,
    if_match: Option<&str>,
) -> Result<Outcome, ProvisioningError> {
    let before = current(tx, ResourceType::User, id, if_match).await?;
    let operations = parse_request(body)?;
    let mut document = before.document.clone();
    apply(ResourceType::User, &mut document, id, operations)?;
    finish(ResourceType::User, &mut document)?;
    update(directory, tx, before, document).await
}

/// `DELETE /Users/{id}`: the SCIM resource and group memberships go; the staff
/// member stays in the directory, disabled, with their history.
pub async fn delete_user(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    id: &str,
    if_match: Option<&str>,
) -> Result<Outcome, ProvisioningError> {
    current(tx, ResourceType::User, id, if_match).await?;
    store::delete(tx, ResourceType::User, id).await?;
    store::leave_all(tx, id).await?;
    let mut staff = Vec::new();
    if let Some(record) = directory.staff_in(tx, id).await? {
        let mut member = record.member;
        member.active = false;
        member.roles = roles_with(&record.role_sources, &Default::default());
        staff = directory
            .upsert_staff(tx, vec![member], ChangeSource::Scim)
            .await?;
    }
    Ok(Outcome {
        staff,
        ..Outcome::default()
    })
}

async fn update(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    before: StoredResource,
    document: Map<String, Value>,
) -> Result<Outcome, ProvisioningError> {
    if document == before.document {
        return Ok(Outcome {
            resource: Some(before),
            ..Outcome::default()
        });
    }
    let resource = store::update(tx, &before, document).await?;
    let existing = directory.staff_in(tx, &resource.id).await?;
    write_staff(directory, tx, resource, existing).await
}

async fn write_staff(
    directory: &TenantStore,
    tx: &mut AnyConnection,
    resource: StoredResource,
    existing: Option<StaffRecord>,
) -> Result<Outcome, ProvisioningError> {
    let granted = store::roles_from_groups(tx, &resource.id).await?;
    let mut member = staff_from_user(&resource, existing, &granted);
    // A person HR has on leave or terminated stays disabled whatever the IdP says.
    member.active &= crate::hr::apply::hr_allows(tx, &resource.id).await?;
    let staff = directory
        .upsert_staff(tx, vec![member], ChangeSource::Scim)
        .await
        .map_err(|e| match e {
            hms_directory::StoreError::Invalid(message) => ScimError::invalid_value(message).into(),
            other => ProvisioningError::from(other),
        })?;
    Ok(Outcome {
        resource: Some(resource),
        staff,
        ..Outcome::default()
    })
}

fn employee_number(document: &Map<String, Value>) -> Option<&str> {
    document
        .get(ENTERPRISE_SCHEMA)?
        .get("employeeNumber")?
        .as_str()
        .filter(|n| !n.trim().is_empty())
}

/// The person's home address from a User's `addresses`: the `home` one, else
/// the primary, else the first; its `formatted` text, else its parts.
fn home_address(addresses: &[Value]) -> Option<String> {
    let address = addresses
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("home"))
        .or_else(|| {
            addresses
                .iter()
                .find(|a| a.get("primary") == Some(&Value::Bool(true)))
        })
        .or_else(|| addresses.first())?;
    let part = |name: &str| address.get(name).and_then(Value::as_str).map(str::trim);
    let formatted = part("formatted").filter(|f| !f.is_empty());
    let text = formatted.map(str::to_owned).unwrap_or_else(|| {
        [
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
        ]
        .into_iter()
        .filter_map(part)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
    });
    Some(text).filter(|t| !t.is_empty())
}

/// The staff member a User document describes. What the document does not
/// carry (location, shift, credentials, roles from other sources) is kept.
fn staff_from_user(
    resource: &StoredResource,
    existing: Option<StaffRecord>,
    granted: &std::collections::BTreeSet<String>,
) -> StaffMember {
    let doc = &resource.document;
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let (mut member, role_sources) = match existing {
        Some(record) => (record.member, record.role_sources),
        None => (StaffMember::new(&resource.id), Vec::new()),
    };
    let name = doc.get("name");
    if let Some(given) = text(name.and_then(|n| n.get("givenName"))) {
        member.given_name = given;
    }
    if let Some(family) = text(name.and_then(|n| n.get("familyName"))) {
        member.family_name = family;
    }
    member.display_name = text(doc.get("displayName"))
        .or_else(|| text(name.and_then(|n| n.get("formatted"))))
        .unwrap_or_default();
    if let Some(Value::Array(emails)) = doc.get("emails") {
        let mut emails: Vec<&Value> = emails.iter().collect();
        emails.sort_by_key(|e| e.get("primary") != Some(&Value::Bool(true)));
        member.emails = emails
            .into_iter()
            .filter_map(|e| text(e.get("value")))
            .collect();
    }
    if let Some(Value::Array(addresses)) = doc.get("addresses") {
        member.address = home_address(addresses);
    }
    member.active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    if let Some(department) = text(doc.get(ENTERPRISE_SCHEMA).and_then(|e| e.get("department"))) {
        member.department = Some(department_id(&department)).filter(|d| !d.is_empty());
    }
    member.roles = roles_with(&role_sources, granted);
    member
}
