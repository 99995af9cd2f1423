//! SCIM 2.0 provisioning as Microsoft Entra ID and Okta drive it, checked at the PDP and in the ledger.

use hms_governance::credentials::Scope;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, apps, by_test};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A provisioning client of the test tenant, as an IdP holds it.
struct Provisioner<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Provisioner<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let tenant = app.state.tenants.get("st-marys").await.unwrap().unwrap();
        let (_, token) = tenant
            .create_client("entra-provisioning", &[Scope::Scim], &by_test())
            .await
            .unwrap();
        let token = token.expose().to_owned();
        Self { app, token }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .http
            .request(method, self.app.url(&format!("/scim/v2{path}")))
            .bearer_auth(&self.token)
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        request.send().await.unwrap()
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        status: StatusCode,
    ) -> Value {
        let response = self.send(method.clone(), path, body).await;
        let got = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(
            got, status,
            "{method} {path} on {}: {text}",
            self.app.backend
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn patch(&self, path: &str, operations: Value) -> Value {
        let body = json!({ "schemas": [PATCH_OP], "Operations": operations });
        self.json(Method::PATCH, path, Some(&body), StatusCode::OK)
            .await
    }
}

fn entra_user(user_name: &str, employee: &str, department: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": format!("aad-{employee}"),
        "userName": user_name,
        "active": true,
        "displayName": "Nora Quinn",
        "emails": [{ "primary": true, "type": "work", "value": user_name }],
        "meta": { "resourceType": "User" },
        "name": { "formatted": "Nora Quinn", "familyName": "Quinn", "givenName": "Nora" },
        "title": "Staff Nurse",
        ENTERPRISE: { "employeeNumber": employee, "department": department }
    })
}

fn demographics(staff: &str, patient: &str) -> Value {
    json!({
        "subject": { "type": "Staff", "id": staff },
        "action": { "name": "read_demographics" },
        "resource": { "type": "Patient", "id": patient }
    })
}

async fn map_group(app: &TestApp, group: &str, roles: &[&str]) {
    let body = json!({ "mappings": [{ "group": group, "roles": roles }] });
    let response = app.put("/v1/provisioning/group-roles", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn ledger_kinds(app: &TestApp, query: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/ledger/entries?{query}"))
        .await
        .json()
        .await
        .unwrap();
    page["entries"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_nurse_joins_moves_and_leaves_through_scim() {
    for app in apps().await {
        let scim = Provisioner::new(&app).await;
        map_group(&app, "Cardiology Nurses", &["nurse"]).await;
        let request = demographics("E-2001", "p1");

        // Joiner: Entra creates the user, then adds them to the mapped group.
        let user = scim
            .json(
                Method::POST,
                "/Users",
                Some(&entra_user(
                    "nora.quinn@st-marys.example",
                    "E-2001",
                    "Cardiology",
                )),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(user["id"], "E-2001", "the employee number is the staff id");
        assert!(!app.evaluate(&request).await, "no role before the group");
        let group = scim
            .json(
                Method::POST,
                "/Groups",
                Some(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Cardiology Nurses",
                    "members": [{ "value": "E-2001" }]
                })),
                StatusCode::CREATED,
            )
            .await;
        let group_id = group["id"].as_str().unwrap().to_owned();
        assert!(
            app.evaluate(&request).await,
            "{}: nurse of cardiology reads p1",
            app.backend
        );
        let stored: Value = app
            .get("/v1/directory/staff/E-2001")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["roles"], json!(["nurse"]));
        assert_eq!(stored["department"], "cardiology");
        let with_groups = scim
            .json(Method::GET, "/Users/E-2001", None, StatusCode::OK)
            .await;
        assert_eq!(with_groups["groups"][0]["display"], "Cardiology Nurses");

        // Mover: department changes; the encounter of p1 is in cardiology.
        scim.patch("/Users/E-2001", json!([
            { "op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Orthopaedics" }
        ])).await;
        assert!(!app.evaluate(&request).await, "moved out of cardiology");
        scim.patch("/Users/E-2001", json!([{ "op": "replace", "value": { format!("{ENTERPRISE}:department"): "Cardiology" } }])).await;
        assert!(app.evaluate(&request).await);

        // Leaving the group takes the role away (Okta's removal shape).
        scim.patch(
            &format!("/Groups/{group_id}"),
            json!([{ "op": "remove", "path": "members[value eq \"E-2001\"]" }]),
        )
        .await;
        assert!(!app.evaluate(&request).await, "role gone with the group");
        scim.patch(
            &format!("/Groups/{group_id}"),
            json!([{ "op": "Add", "path": "members", "value": [{ "value": "E-2001" }] }]),
        )
        .await;
        assert!(app.evaluate(&request).await);

        // Leaver: Entra sends active as the string "False".
        scim.patch(
            "/Users/E-2001",
            json!([{ "op": "Replace", "path": "active", "value": "False" }]),
        )
        .await;
        assert!(!app.evaluate(&request).await, "disabled at once");
        scim.json(
            Method::DELETE,
            "/Users/E-2001",
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
        scim.json(Method::GET, "/Users/E-2001", None, StatusCode::NOT_FOUND)
            .await;
        let kept: Value = app
            .get("/v1/directory/staff/E-2001")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            kept["active"], false,
            "the person stays in the directory, disabled"
        );

        // Every step is in the ledger with the provisioning client as actor.
        let entries = ledger_kinds(&app, "kind=provisioning.scim.user.patch").await;
        assert_eq!(entries.len(), 3, "{}", app.backend);
        assert!(
            entries
                .iter()
                .all(|e| e["actor"].as_str().unwrap().starts_with("client:cl_"))
        );
        let staff = ledger_kinds(&app, "kind=directory.staff.disable").await;
        assert_eq!(staff.len(), 1);
        assert_eq!(staff[0]["details"]["source"], "scim");
        let created = ledger_kinds(&app, "kind=directory.staff.update").await;
        assert!(
            created
                .iter()
                .any(|e| e["details"]["roles_added"] == json!(["nurse"]))
        );
    }
}

#[tokio::test]
async fn okta_and_entra_lookups_paging_and_duplicates() {
    for app in apps().await {
        let scim = Provisioner::new(&app).await;
        // Okta looks a user up before creating them.
        let empty = scim
            .json(
                Method::GET,
                "/Users?filter=userName%20eq%20%22amy%40example.org%22&startIndex=1&count=100",
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(empty["totalResults"], 0);
        assert_eq!(empty["Resources"], json!([]));
        assert_eq!(
            empty["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        for (name, number) in [
            ("amy@example.org", "E-1"),
            ("bob@example.org", "E-2"),
            ("cat@example.org", "E-3"),
            ("dan@example.org", "E-4"),
        ] {
            scim.json(
                Method::POST,
                "/Users",
                Some(&entra_user(name, number, "Cardiology")),
                StatusCode::CREATED,
            )
            .await;
        }
        // Duplicates are 409 uniqueness, userName compared case-insensitively.
        let duplicate = scim
            .json(
                Method::POST,
                "/Users",
                Some(&json!({ "userName": "AMY@example.org" })),
                StatusCode::CONFLICT,
            )
            .await;
        assert_eq!(duplicate["scimType"], "uniqueness");
        assert_eq!(duplicate["status"], "409");

        let found = scim
            .json(
                Method::GET,
                "/Users?filter=userName%20Eq%20%22Amy%40Example.org%22",
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(found["totalResults"], 1);
        assert_eq!(found["Resources"][0]["id"], "E-1");
        // Entra's value-path filter, and a URN-qualified one.
        let filter = urlencode(r#"emails[type eq "work"].value eq "bob@example.org""#);
        let found = scim
            .json(
                Method::GET,
                &format!("/Users?filter={filter}"),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(found["Resources"][0]["id"], "E-2");
        let filter = urlencode(&format!(
            r#"{ENTERPRISE}:employeeNumber eq "E-3" or (userName sw "dan" and not (active eq false))"#
        ));
        let found = scim
            .json(
                Method::GET,
                &format!("/Users?filter={filter}&sortBy=userName"),
                None,
                StatusCode::OK,
            )
            .await;
        let ids: Vec<&str> = found["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["E-3", "E-4"]);

        // Sorting and paging.
        let page = scim.json(Method::GET, "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2&attributes=userName", None, StatusCode::OK).await;
        assert_eq!(page["totalResults"], 4);
        assert_eq!(page["startIndex"], 2);
        assert_eq!(page["itemsPerPage"], 2);
        let core = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
        assert_eq!(
            page["Resources"],
            json!([
                { "id": "E-3", "userName": "cat@example.org", "schemas": core },
                { "id": "E-2", "userName": "bob@example.org", "schemas": core }
            ])
        );
        // POST /.search is the same search.
        let searched = scim.json(Method::POST, "/Users/.search", Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName ew \"y@example.org\" or userName co \"n@\"", "sortBy": "userName", "attributes": ["userName"], "startIndex": 1, "count": 10
        })), StatusCode::OK).await;
        assert_eq!(searched["totalResults"], 2);
        assert_eq!(searched["Resources"][0]["userName"], "amy@example.org");
        let recent = urlencode("meta.lastModified gt \"2000-01-01T00:00:00Z\" and title pr");
        assert_eq!(
            scim.json(
                Method::GET,
                &format!("/Users?filter={recent}&count=0"),
                None,
                StatusCode::OK
            )
            .await["totalResults"],
            4
        );

        // Groups: Entra checks membership with excluded members; members filter works.
        let group = scim.json(Method::POST, "/Groups", Some(&json!({ "displayName": "Ward 7", "members": [{ "value": "E-1" }, { "value": "E-2" }] })), StatusCode::CREATED).await;
        let id = group["id"].as_str().unwrap();
        let filter = urlencode("displayName eq \"ward 7\"");
        let found = scim
            .json(
                Method::GET,
                &format!("/Groups?excludedAttributes=members&filter={filter}"),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            found["Resources"],
            json!([{ "id": id, "displayName": "Ward 7", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "meta": found["Resources"][0]["meta"] }])
        );
        let filter = urlencode("members[value eq \"E-2\"]");
        assert_eq!(
            scim.json(
                Method::GET,
                &format!("/Groups?filter={filter}"),
                None,
                StatusCode::OK
            )
            .await["totalResults"],
            1
        );
        // Entra removes members by a value array; an unknown member is refused whole.
        scim.patch(
            &format!("/Groups/{id}"),
            json!([{ "op": "Remove", "path": "members", "value": [{ "value": "E-1" }] }]),
        )
        .await;
        let refused = scim
            .json(
                Method::PATCH,
                &format!("/Groups/{id}"),
                Some(&json!({ "schemas": [PATCH_OP], "Operations": [
            { "op": "replace", "path": "displayName", "value": "Ward Seven" },
            { "op": "add", "path": "members", "value": [{ "value": "nobody" }] }
        ] })),
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert_eq!(refused["scimType"], "invalidValue");
        let group = scim
            .json(Method::GET, &format!("/Groups/{id}"), None, StatusCode::OK)
            .await;
        assert_eq!(group["displayName"], "Ward 7", "nothing half-applied");
        assert_eq!(group["members"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn etags_guard_concurrent_changes() {
    for app in apps().await {
        let scim = Provisioner::new(&app).await;
        let created = scim
            .send(
                Method::POST,
                "/Users",
                Some(&entra_user("eve@example.org", "E-9", "Cardiology")),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(created.headers()["location"], "/st-marys/scim/v2/Users/E-9");
        let etag = created.headers()["etag"].to_str().unwrap().to_owned();
        let body: Value = created.json().await.unwrap();
        assert_eq!(body["meta"]["version"], etag);

        let not_modified = scim
            .request(Method::GET, "/Users/E-9")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);

        let patch = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "title", "value": "Sister" }] });
        let first = scim
            .request(Method::PATCH, "/Users/E-9")
            .header("if-match", &etag)
            .header("content-type", "application/scim+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_ne!(first.headers()["etag"].to_str().unwrap(), etag);
        let stale = scim
            .request(Method::PATCH, "/Users/E-9")
            .header("if-match", &etag)
            .header("content-type", "application/scim+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
        let stale_delete = scim
            .request(Method::DELETE, "/Users/E-9")
            .header("if-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(stale_delete.status(), StatusCode::PRECONDITION_FAILED);
        scim.json(Method::GET, "/Users/E-9", None, StatusCode::OK)
            .await;
    }
}

#[tokio::test]
async fn errors_are_scim_errors_and_provisioning_tokens_do_nothing_else() {
    for app in apps().await {
        let scim = Provisioner::new(&app).await;
        let check = |body: &Value, status: &str| {
            assert_eq!(
                body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
            assert_eq!(body["status"], status, "{body}");
        };
        let anonymous = app
            .http
            .get(app.url("/scim/v2/Users"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.headers()["content-type"], "application/scim+json");
        check(&anonymous.json().await.unwrap(), "401");
        let pdp = app
            .http
            .get(app.url("/scim/v2/Users"))
            .bearer_auth(&app.pdp_token)
            .send()
            .await
            .unwrap();
        assert_eq!(pdp.status(), StatusCode::FORBIDDEN);
        let elsewhere = app
            .http
            .get(format!("{}/nowhere/scim/v2/Users", app.base))
            .bearer_auth(&scim.token)
            .send()
            .await
            .unwrap();
        assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
        check(&elsewhere.json().await.unwrap(), "404");
        // The provisioning token reaches neither the PDP nor the admin API.
        let decide = app
            .http
            .post(app.url("/access/v1/evaluation"))
            .bearer_auth(&scim.token)
            .json(&demographics("dr-heart", "p1"))
            .send()
            .await
            .unwrap();
        assert_eq!(decide.status(), StatusCode::FORBIDDEN);
        let admin = app
            .http
            .get(app.url("/v1/directory/staff/dr-heart"))
            .bearer_auth(&scim.token)
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status(), StatusCode::FORBIDDEN);
        let mixed = app
            .post(
                "/v1/clients",
                &json!({ "name": "x", "scopes": ["scim", "pdp"] }),
            )
            .await;
        assert_eq!(mixed.status(), StatusCode::BAD_REQUEST);

        for (method, path, body, status, scim_type) in [
            (
                Method::GET,
                "/Users?filter=userName%20eq",
                None,
                400,
                "invalidFilter",
            ),
            (
                Method::GET,
                "/Users?filter=shoeSize%20eq%20%229%22",
                None,
                400,
                "invalidFilter",
            ),
            (
                Method::POST,
                "/Users",
                Some(json!({ "userName": "x", "shoeSize": 9 })),
                400,
                "invalidValue",
            ),
            (
                Method::POST,
                "/Users",
                Some(json!({ "userName": 7 })),
                400,
                "invalidValue",
            ),
            (
                Method::POST,
                "/Users",
                Some(json!({ "name": { "givenName": "no user name" } })),
                400,
                "invalidValue",
            ),
        ] {
            let got = scim
                .json(
                    method,
                    path,
                    body.as_ref(),
                    StatusCode::from_u16(status).unwrap(),
                )
                .await;
            assert_eq!(got["scimType"], scim_type, "{path}: {got}");
        }
        let malformed = scim
            .request(Method::POST, "/Users")
            .header("content-type", "application/scim+json")
            .body("{\"userName\":")
            .send()
            .await
            .unwrap();
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            malformed.json::<Value>().await.unwrap()["scimType"],
            "invalidSyntax"
        );
        let form = scim
            .request(Method::POST, "/Users")
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let bulk = scim
            .json(
                Method::POST,
                "/Bulk",
                Some(&json!({})),
                StatusCode::NOT_IMPLEMENTED,
            )
            .await;
        check(&bulk, "501");
        scim.json(Method::GET, "/Users/nobody", None, StatusCode::NOT_FOUND)
            .await;
        scim.json(Method::GET, "/Nothing", None, StatusCode::NOT_FOUND)
            .await;
        scim.json(
            Method::PATCH,
            "/Users/nobody",
            Some(&json!({ "schemas": [PATCH_OP], "Operations": [] })),
            StatusCode::NOT_FOUND,
        )
        .await;
        // Nothing was created by any refused request.
        assert_eq!(
            scim.json(Method::GET, "/Users?count=0", None, StatusCode::OK)
                .await["totalResults"],
            0
        );
        scim.json(
            Method::POST,
            "/Users",
            Some(&json!({ "userName": "fay@example.org" })),
            StatusCode::CREATED,
        )
        .await;
        let filter = urlencode("userName eq \"fay@example.org\"");
        let id = scim
            .json(
                Method::GET,
                &format!("/Users?filter={filter}"),
                None,
                StatusCode::OK,
            )
            .await["Resources"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let bad_patch = scim
            .json(
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(&json!({ "schemas": [PATCH_OP], "Operations": [] })),
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert_eq!(bad_patch["scimType"], "invalidSyntax");
        let read_only = scim.json(Method::PATCH, &format!("/Users/{id}"), Some(&json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "id", "value": "x" }] })), StatusCode::BAD_REQUEST).await;
        assert_eq!(read_only["scimType"], "mutability");
    }
}

#[tokio::test]
async fn discovery_describes_what_is_served() {
    for app in apps().await {
        let scim = Provisioner::new(&app).await;
        let config = scim
            .json(Method::GET, "/ServiceProviderConfig", None, StatusCode::OK)
            .await;
        assert_eq!(config["patch"]["supported"], true);
        assert_eq!(config["bulk"]["supported"], false);
        assert_eq!(config["etag"]["supported"], true);
        assert_eq!(config["filter"]["maxResults"], 200);
        let schemas = scim
            .json(Method::GET, "/Schemas", None, StatusCode::OK)
            .await;
        assert_eq!(schemas["totalResults"], 3);
        let user = scim
            .json(
                Method::GET,
                "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                None,
                StatusCode::OK,
            )
            .await;
        let user_name = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "userName")
            .unwrap();
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        let types = scim
            .json(Method::GET, "/ResourceTypes", None, StatusCode::OK)
            .await;
        assert_eq!(
            types["Resources"][0]["schemaExtensions"][0]["schema"],
            ENTERPRISE
        );
        scim.json(Method::GET, "/ResourceTypes/Group", None, StatusCode::OK)
            .await;
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn substring_filters_take_wildcard_characters_literally() {
    for app in apps().await {
        let scim = Provisioner::new(&app).await;
        for (user, employee) in [
            ("a_b@example.org", "E-7001"),
            ("axb@example.org", "E-7002"),
            ("100%@example.org", "E-7003"),
        ] {
            scim.json(
                Method::POST,
                "/Users",
                Some(&entra_user(user, employee, "Cardiology")),
                StatusCode::CREATED,
            )
            .await;
        }
        let found = |filter: &'static str| {
            let scim = &scim;
            async move {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("filter", filter)
                    .finish();
                let page = scim
                    .json(
                        Method::GET,
                        &format!("/Users?{query}"),
                        None,
                        StatusCode::OK,
                    )
                    .await;
                let mut names: Vec<String> = page["Resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["userName"].as_str().unwrap().to_owned())
                    .collect();
                names.sort();
                names
            }
        };
        assert_eq!(
            found("userName co \"a_b\"").await,
            ["a_b@example.org"],
            "{}",
            app.backend
        );
        assert_eq!(found("userName co \"0%@\"").await, ["100%@example.org"]);
        assert_eq!(
            found("userName co \"XB@\"").await,
            ["axb@example.org"],
            "case-insensitive"
        );
        assert!(found("userName co \"\\\\\"").await.is_empty());

        // The total is right whether the page is full, the last, past the end or empty.
        let filter = "filter=userName%20co%20%22%40example.org%22";
        for (paging, total, shown) in [
            ("startIndex=1&count=2", 3, 2),
            ("startIndex=3&count=2", 3, 1),
            ("startIndex=10&count=2", 3, 0),
            ("count=0", 3, 0),
            ("startIndex=1&count=100", 3, 3),
        ] {
            let page = scim
                .json(
                    Method::GET,
                    &format!("/Users?{filter}&{paging}"),
                    None,
                    StatusCode::OK,
                )
                .await;
            assert_eq!(page["totalResults"], total, "{paging} on {}", app.backend);
            let resources = page["Resources"].as_array().map_or(0, Vec::len);
            assert_eq!(resources, shown, "{paging}");
        }
    }
}
