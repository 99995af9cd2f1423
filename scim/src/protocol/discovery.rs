//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas` and
//! `/ResourceTypes`, generated from the same definitions the server enforces.

use serde_json::{Value, json};

use super::list::MAX_RESULTS;
use super::patch::MAX_OPERATIONS;
use super::schema::{
    AttrDef, ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, GROUP_ATTRIBUTES, GROUP_SCHEMA,
    ResourceType, USER_ATTRIBUTES, USER_SCHEMA,
};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// What this server supports, honestly: PATCH, filters, sorting and ETags yes;
/// bulk and password changes no.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/hms-ach/hms-ach#provisioning",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Provisioning bearer token",
            "description": "A per-tenant provisioning client's token (`client_id.secret`) in `Authorization: Bearer`; it can call nothing but SCIM.",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        },
        "x-maxPatchOperations": MAX_OPERATIONS
    })
}

/// Every schema served.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema(
            base,
            USER_SCHEMA,
            "User",
            "A staff member",
            &USER_ATTRIBUTES,
        ),
        schema(
            base,
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            "Enterprise attributes of a staff member",
            &ENTERPRISE_ATTRIBUTES,
        ),
        schema(
            base,
            GROUP_SCHEMA,
            "Group",
            "A group of staff; HMS roles are mapped to groups",
            &GROUP_ATTRIBUTES,
        ),
    ]
}

fn schema(base: &str, id: &str, name: &str, description: &str, attrs: &[AttrDef]) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(attribute).collect::<Vec<_>>(),
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") }
    })
}

fn attribute(def: &AttrDef) -> Value {
    let mut out = json!({
        "name": def.name,
        "type": def.kind.as_str(),
        "multiValued": def.multi_valued,
        "description": def.description,
        "required": def.required,
        "caseExact": def.case_exact,
        "mutability": def.mutability.as_str(),
        "returned": def.returned.as_str(),
        "uniqueness": if def.unique { "server" } else { "none" },
    });
    if !def.canonical_values.is_empty() {
        out["canonicalValues"] = json!(def.canonical_values);
    }
    if !def.reference_types.is_empty() {
        out["referenceTypes"] = json!(def.reference_types);
    }
    if !def.sub_attributes.is_empty() {
        out["subAttributes"] = Value::Array(def.sub_attributes.iter().map(attribute).collect());
    }
    out
}

/// Every resource type served.
pub fn resource_types(base: &str) -> Vec<Value> {
    [ResourceType::User, ResourceType::Group]
        .into_iter()
        .map(|resource| {
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": resource.name(),
                "name": resource.name(),
                "endpoint": resource.endpoint(),
                "description": match resource {
                    ResourceType::User => "Staff members",
                    ResourceType::Group => "Groups of staff members",
                },
                "schema": resource.schema(),
                "schemaExtensions": resource.extensions().iter()
                    .map(|e| json!({ "schema": e, "required": false }))
                    .collect::<Vec<_>>(),
                "meta": {
                    "resourceType": "ResourceType",
                    "location": format!("{base}/ResourceTypes/{}", resource.name())
                }
            })
        })
        .collect()
}
