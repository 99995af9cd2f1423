//! The SCIM protocol core against the RFC's examples and the requests Microsoft
//! Entra ID and Okta send.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hms_scim::protocol::error::ScimType;
use hms_scim::protocol::filter::Filter;
use hms_scim::protocol::list::ListQuery;
use hms_scim::protocol::patch::{apply, parse_request};
use hms_scim::protocol::resource::{Projection, finish, index_rows, normalise};
use hms_scim::protocol::schema::{ENTERPRISE_SCHEMA, ResourceType};
use hms_scim::protocol::{discovery, path::AttrRef};
use serde_json::{Map, Value, json};

fn user(doc: Value) -> Map<String, Value> {
    normalise(ResourceType::User, doc).unwrap()
}

fn nurse() -> Map<String, Value> {
    user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_SCHEMA],
        "userName": "Ana.Lopez@Example.org",
        "externalId": "E-1001",
        "name": { "givenName": "Ana", "familyName": "Lopez" },
        "displayName": "Ana Lopez",
        "title": "Staff Nurse",
        "active": true,
        "emails": [
            { "value": "ana.lopez@example.org", "type": "work", "primary": true },
            { "value": "ana@home.example", "type": "home" }
        ],
        ENTERPRISE_SCHEMA: { "department": "Cardiology", "employeeNumber": "1001" }
    }))
}

fn matches(filter: &str, doc: &Map<String, Value>) -> bool {
    Filter::parse(ResourceType::User, filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .matches(doc)
}

#[test]
fn every_operator_of_the_grammar_evaluates() {
    let doc = nurse();
    for (filter, expected) in [
        (r#"userName eq "ana.lopez@example.org""#, true),
        (r#"userName ne "ana.lopez@example.org""#, false),
        (r#"userName co "lopez""#, true),
        (r#"userName sw "ANA""#, true),
        (r#"userName ew "example.org""#, true),
        (r#"externalId eq "e-1001""#, false),
        (r#"externalId eq "E-1001""#, true),
        ("title pr", true),
        ("nickName pr", false),
        (r#"userName gt "a" and userName lt "b""#, true),
        (
            r#"userName ge "ana.lopez@example.org" and userName le "ana.lopez@example.org""#,
            true,
        ),
        (r#"title eq "x" or name.givenName eq "ana""#, true),
        (r#"not (title eq "Staff Nurse")"#, false),
        (
            r#"(title eq "x" or title eq "staff nurse") and active eq true"#,
            true,
        ),
        (
            r#"emails[type eq "work" and value co "@example.org"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@example.org"]"#,
            false,
        ),
        (r#"emails.type eq "home""#, true),
        (r#"emails eq "ana@home.example""#, true),
        ("active eq false", false),
        ("meta.created pr", false),
    ] {
        assert_eq!(matches(filter, &doc), expected, "{filter}");
    }
}

#[test]
fn client_dialects_are_understood() {
    let doc = nurse();
    // Uppercase operators and keywords.
    assert!(matches(
        r#"userName EQ "ana.lopez@example.org" AND active Eq TRUE"#,
        &doc
    ));
    // Entra ID: a value path followed by a sub-attribute comparison.
    assert!(matches(
        r#"emails[type eq "work"].value eq "ana.lopez@example.org""#,
        &doc
    ));
    assert!(!matches(
        r#"emails[type eq "home"].value eq "ana.lopez@example.org""#,
        &doc
    ));
    // URN-qualified paths, core and extension.
    assert!(matches(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "cardiology""#,
        &doc
    ));
    assert!(matches(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ANA.LOPEZ@example.org""#,
        &doc
    ));
    // Quoted booleans.
    assert!(matches(r#"active eq "True""#, &doc));
}

#[test]
fn bad_filters_are_invalid_filter_errors_that_say_why() {
    for (filter, says) in [
        (r#"shoeSize eq "9""#, "shoeSize"),
        (r#"userName equals "x""#, "equals"),
        (r#"userName eq "x"#, "unterminated"),
        (r#"userName eq x"#, "quote strings"),
        (r#"active gt true"#, "cannot be compared"),
        (r#"meta.created gt "yesterday""#, "dateTime"),
        ("userName eq", "needs a value"),
        (r#"(userName eq "x""#, "`)`"),
        (r#"userName eq "x" )"#, "unexpected"),
        (r#"password eq "x""#, "cannot be filtered"),
        (r#"title[value eq "x"]"#, "multi-valued"),
        ("", "empty"),
    ] {
        let error = Filter::parse(ResourceType::User, filter).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        assert_eq!(error.status, 400);
        assert!(error.detail.contains(says), "{filter}: {}", error.detail);
    }
    let deep = format!("{}title pr{}", "(".repeat(40), ")".repeat(40));
    assert!(
        Filter::parse(ResourceType::User, &deep)
            .unwrap_err()
            .detail
            .contains("nests")
    );
}

fn patch(
    doc: &mut Map<String, Value>,
    resource: ResourceType,
    operations: Value,
) -> Result<(), hms_scim::protocol::error::ScimError> {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations
    });
    let mut copy = doc.clone();
    apply(resource, &mut copy, "u-1", parse_request(body)?)?;
    finish(resource, &mut copy)?;
    *doc = copy;
    Ok(())
}

#[test]
fn entra_user_patches_apply() {
    let mut doc = nurse();
    patch(&mut doc, ResourceType::User, json!([
        { "op": "Replace", "path": "active", "value": "False" },
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "a.lopez@example.org" },
        { "op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 7700 900123" },
        { "op": "Replace", "path": "name.familyName", "value": "López" },
        { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-7" },
        { "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Intensive Care" }
    ])).unwrap();
    assert_eq!(doc["active"], json!(false));
    assert_eq!(doc["emails"][0]["value"], json!("a.lopez@example.org"));
    assert_eq!(doc["emails"][1]["value"], json!("ana@home.example"));
    assert_eq!(
        doc["phoneNumbers"],
        json!([{ "type": "mobile", "value": "+44 7700 900123" }])
    );
    assert_eq!(
        doc["name"],
        json!({ "givenName": "Ana", "familyName": "López" })
    );
    assert_eq!(
        doc[ENTERPRISE_SCHEMA]["manager"],
        json!({ "value": "mgr-7" })
    );
    assert_eq!(
        doc[ENTERPRISE_SCHEMA]["department"],
        json!("Intensive Care")
    );

    patch(&mut doc, ResourceType::User, json!([
        { "op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" },
        { "op": "replace", "value": {
            "displayName": "Ana López",
            "name.givenName": "Ana María",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1001-B",
            "emails[type eq \"work\"].value": "ana.lopez@example.org"
        } }
    ])).unwrap();
    assert!(doc[ENTERPRISE_SCHEMA].get("manager").is_none());
    assert_eq!(doc["name"]["givenName"], json!("Ana María"));
    assert_eq!(doc[ENTERPRISE_SCHEMA]["employeeNumber"], json!("1001-B"));
    assert_eq!(doc["emails"][0]["value"], json!("ana.lopez@example.org"));
}

#[test]
fn okta_patches_apply() {
    let mut doc = nurse();
    patch(
        &mut doc,
        ResourceType::User,
        json!([{ "op": "replace", "value": { "active": false } }]),
    )
    .unwrap();
    assert_eq!(doc["active"], json!(false));

    let mut group = normalise(
        ResourceType::Group,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Cardiology Nurses",
            "members": [{ "value": "u-1" }, { "value": "u-2" }, { "value": "u-3" }]
        }),
    )
    .unwrap();
    patch(&mut group, ResourceType::Group, json!([
        { "op": "remove", "path": "members[value eq \"u-2\"]" },
        { "op": "add", "path": "members", "value": [{ "value": "u-4", "display": "Dee" }, { "value": "u-1" }] },
        { "op": "replace", "value": { "id": "u-1", "displayName": "Cardiology RNs" } }
    ])).unwrap();
    let members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        members,
        ["u-1", "u-3", "u-4"],
        "duplicates are not added twice"
    );
    assert_eq!(group["displayName"], json!("Cardiology RNs"));
    // Entra ID: removal by a value array.
    patch(
        &mut group,
        ResourceType::Group,
        json!([
            { "op": "Remove", "path": "members", "value": [{ "value": "u-3" }, { "value": "u-4" }] }
        ]),
    )
    .unwrap();
    assert_eq!(group["members"], json!([{ "value": "u-1" }]));
}

#[test]
fn bad_patches_fail_whole_with_the_right_error() {
    let original = nurse();
    for (operations, scim_type) in [
        (
            json!([{ "op": "replace", "path": "id", "value": "x" }]),
            ScimType::Mutability,
        ),
        (
            json!([{ "op": "add", "path": "groups", "value": [{ "value": "g" }] }]),
            ScimType::Mutability,
        ),
        (
            json!([{ "op": "replace", "path": "shoeSize", "value": "9" }]),
            ScimType::InvalidPath,
        ),
        (
            json!([{ "op": "replace", "path": "emails[type eq ]", "value": "x" }]),
            ScimType::InvalidPath,
        ),
        (
            json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
            ScimType::InvalidValue,
        ),
        (json!([{ "op": "remove" }]), ScimType::NoTarget),
        (
            json!([{ "op": "remove", "path": "userName" }]),
            ScimType::InvalidValue,
        ),
        (
            json!([{ "op": "move", "path": "title" }]),
            ScimType::InvalidSyntax,
        ),
        (
            json!([{ "op": "replace", "path": "emails[type eq \"fax\" or value co \"zzz\"].value", "value": "a@b.c" }]),
            ScimType::NoTarget,
        ),
        (
            json!([
                { "op": "replace", "path": "title", "value": "Charge Nurse" },
                { "op": "replace", "path": "emails", "value": [{ "value": "not-an-address" }] }
            ]),
            ScimType::InvalidValue,
        ),
    ] {
        let mut doc = original.clone();
        let error = patch(&mut doc, ResourceType::User, operations.clone()).unwrap_err();
        assert_eq!(
            error.scim_type,
            Some(scim_type),
            "{operations}: {}",
            error.detail
        );
        assert_eq!(doc, original, "nothing half-applied for {operations}");
    }
}

#[test]
fn documents_are_checked_and_normalised() {
    let doc = nurse();
    assert_eq!(
        doc["schemas"],
        json!([
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ENTERPRISE_SCHEMA
        ])
    );
    let with_password =
        user(json!({ "userName": "x", "password": "s3cret", "id": "ignored", "ACTIVE": "True" }));
    assert!(!with_password.contains_key("password"));
    assert!(!with_password.contains_key("id"));
    assert_eq!(with_password["active"], json!(true));
    for (body, says) in [
        (json!({ "userName": "x", "shoeSize": 9 }), "shoeSize"),
        (json!({ "userName": 42 }), "expects a string"),
        (json!({ "displayName": "no user name" }), "userName"),
        (
            json!({ "userName": "x", "emails": [{ "value": "a@b.c", "primary": true }, { "value": "d@e.f", "primary": true }] }),
            "primary",
        ),
        (
            json!({ "userName": "x", "schemas": ["urn:example:custom"] }),
            "not served",
        ),
        (json!({ "userName": "x", "name": { "nick": "y" } }), "nick"),
    ] {
        let error = normalise(ResourceType::User, body.clone()).unwrap_err();
        assert_eq!(error.status, 400);
        assert!(error.detail.contains(says), "{body}: {}", error.detail);
    }
}

#[test]
fn index_rows_hold_comparison_keys_and_element_markers() {
    let rows = index_rows(ResourceType::User, &nurse());
    assert!(rows.contains(&("userName".into(), 0, "ana.lopez@example.org".into())));
    assert!(rows.contains(&("externalId".into(), 0, "E-1001".into())));
    assert!(rows.contains(&("emails".into(), 1, String::new())));
    assert!(rows.contains(&("emails.type".into(), 1, "home".into())));
    assert!(rows.contains(&("enterprise.department".into(), 0, "cardiology".into())));
    assert!(rows.contains(&("active".into(), 0, "true".into())));
}

#[test]
fn projection_keeps_what_is_asked_and_always_the_id() {
    let mut doc = nurse();
    doc.insert("id".into(), json!("u-1"));
    let projection =
        Projection::parse(ResourceType::User, Some("userName,emails.value"), None).unwrap();
    let out = projection.apply(ResourceType::User, &doc);
    assert_eq!(out["id"], json!("u-1"));
    assert_eq!(out["userName"], json!("Ana.Lopez@Example.org"));
    assert_eq!(
        out["emails"],
        json!([{ "value": "ana.lopez@example.org" }, { "value": "ana@home.example" }])
    );
    assert!(!out.contains_key("title") && !out.contains_key(ENTERPRISE_SCHEMA));
    let excluded = Projection::parse(
        ResourceType::User,
        None,
        Some("emails,id,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
    )
    .unwrap();
    let out = excluded.apply(ResourceType::User, &doc);
    assert!(!out.contains_key("emails"));
    assert_eq!(out["id"], json!("u-1"));
    assert_eq!(out[ENTERPRISE_SCHEMA], json!({ "employeeNumber": "1001" }));
}

#[test]
fn okta_paging_parameters_parse() {
    let params = [
        ("filter", r#"userName eq "ana@example.org""#),
        ("startIndex", "1"),
        ("count", "100"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let query = ListQuery::from_params(ResourceType::User, &params).unwrap();
    assert_eq!((query.start_index, query.count), (1, 100));
    let params =
        [("count", "5000"), ("startIndex", "-3")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    let query = ListQuery::from_params(ResourceType::User, &params).unwrap();
    assert_eq!((query.start_index, query.count), (1, 200));
    let params = [("sortBy", "emails")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(
        ListQuery::from_params(ResourceType::User, &params)
            .unwrap()
            .sort_by
            .unwrap()
            .key(),
        "emails.value"
    );
    let params = [("count", "ten")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert!(ListQuery::from_params(ResourceType::User, &params).is_err());
}

#[test]
fn every_advertised_attribute_resolves() {
    for schema in discovery::schemas("/t/scim/v2") {
        let urn = schema["id"].as_str().unwrap();
        let resource = if urn.ends_with("Group") {
            ResourceType::Group
        } else {
            ResourceType::User
        };
        for attr in schema["attributes"].as_array().unwrap() {
            let name = attr["name"].as_str().unwrap();
            let path = format!("{urn}:{name}");
            AttrRef::resolve(resource, &path).unwrap_or_else(|e| panic!("{e}"));
            for sub in attr["subAttributes"].as_array().into_iter().flatten() {
                AttrRef::resolve(
                    resource,
                    &format!("{path}.{}", sub["name"].as_str().unwrap()),
                )
                .unwrap();
            }
        }
    }
    let config = discovery::service_provider_config("/t/scim/v2");
    assert_eq!(config["bulk"]["supported"], json!(false));
    assert_eq!(config["patch"]["supported"], json!(true));
}
