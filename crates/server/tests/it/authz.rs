//! Every endpoint × every role × the caller's own and another organization's resources:
//! allowed or denied as the role says, and no response ever carries another organization's
//! data (rows, accounts, ids), including aggregates, exports and errors.

use axum::http::{Method, StatusCode};
use billow_store::{Permission, Role};
use serde_json::json;

use crate::fixture::{MONTH, World, email};

#[derive(Clone, Copy, Debug)]
enum Case {
    Me,
    Organization,
    RenameOrganization,
    ListOrganizations,
    CreateOrganization,
    ListUsers,
    AddUser,
    GrantUser,
    RemoveUser,
    ListTokens,
    CreateToken,
    RevokeOwnToken,
    Audit,
    ListConnections,
    CreateConnection,
    GetConnection,
    UpdateConnection,
    DeleteConnection,
    SetSecret,
    TestConnection,
    SyncConnection,
    Upload,
    History,
    Reconciliation,
    Costs,
    CostsByAccount,
    Overview,
    Export,
}

const CASES: [Case; 28] = [
    Case::Me,
    Case::Organization,
    Case::RenameOrganization,
    Case::ListOrganizations,
    Case::CreateOrganization,
    Case::ListUsers,
    Case::AddUser,
    Case::GrantUser,
    Case::RemoveUser,
    Case::ListTokens,
    Case::CreateToken,
    Case::RevokeOwnToken,
    Case::Audit,
    Case::ListConnections,
    Case::CreateConnection,
    Case::GetConnection,
    Case::UpdateConnection,
    Case::DeleteConnection,
    Case::SetSecret,
    Case::TestConnection,
    Case::SyncConnection,
    Case::Upload,
    Case::History,
    Case::Reconciliation,
    Case::Costs,
    Case::CostsByAccount,
    Case::Overview,
    Case::Export,
];

impl Case {
    /// What the endpoint needs (`None`: any member).
    fn permission(self) -> Option<Permission> {
        use Case::*;
        match self {
            Me | Organization | ListOrganizations | ListTokens | CreateToken | RevokeOwnToken => {
                None
            }
            RenameOrganization => Some(Permission::ManageOrganization),
            CreateOrganization => Some(Permission::CreateOrganizations),
            ListUsers | AddUser | GrantUser | RemoveUser => Some(Permission::ManageUsers),
            Audit => Some(Permission::ReadAudit),
            ListConnections | GetConnection => Some(Permission::ReadConnections),
            CreateConnection | UpdateConnection | DeleteConnection | SetSecret | TestConnection => {
                Some(Permission::ManageConnections)
            }
            Upload | SyncConnection => Some(Permission::RunIngestion),
            History | Reconciliation => Some(Permission::ReadIngestions),
            Costs | CostsByAccount | Overview | Export => Some(Permission::ReadCosts),
        }
    }

    /// The request for the `n`th call, after creating what it consumes.
    async fn request(
        self,
        w: &World,
        role: Role,
        n: usize,
    ) -> (Method, String, Option<serde_json::Value>) {
        use Case::*;
        match self {
            Me => (Method::GET, "/api/v1/me".into(), None),
            Organization => (Method::GET, "/api/v1/organization".into(), None),
            // The default organization keeps its name (the CLI finds it by name).
            RenameOrganization => (
                Method::PATCH,
                "/api/v1/organization".into(),
                Some(json!({"name": billow_store::DEFAULT_ORGANIZATION})),
            ),
            ListOrganizations => (Method::GET, "/api/v1/organizations".into(), None),
            CreateOrganization => (
                Method::POST,
                "/api/v1/organizations".into(),
                Some(json!({"name": format!("customer-{n}")})),
            ),
            ListUsers => (Method::GET, "/api/v1/users".into(), None),
            AddUser => (
                Method::POST,
                "/api/v1/users".into(),
                Some(json!({"email": format!("new{n}@acme.example"), "role": "viewer"})),
            ),
            GrantUser => (
                Method::PATCH,
                format!("/api/v1/users/{}", email(Role::Viewer)),
                Some(json!({"role": "viewer"})),
            ),
            RemoveUser => {
                let who = format!("leaving{n}@acme.example");
                w.store
                    .add_member(&w.local, &who, "", None, Role::Viewer, None, &[])
                    .await
                    .unwrap();
                (Method::DELETE, format!("/api/v1/users/{who}"), None)
            }
            ListTokens => (Method::GET, "/api/v1/tokens".into(), None),
            CreateToken => (
                Method::POST,
                "/api/v1/tokens".into(),
                Some(json!({"name": format!("t{n}"), "days": 7})),
            ),
            RevokeOwnToken => {
                let (token, _) = w
                    .store
                    .create_token(&w.local, Some(&email(role)), &format!("own{n}"), None, 1)
                    .await
                    .unwrap();
                (Method::DELETE, format!("/api/v1/tokens/{}", token.id), None)
            }
            Audit => (Method::GET, "/api/v1/audit?limit=50".into(), None),
            ListConnections => (Method::GET, "/api/v1/connections".into(), None),
            CreateConnection => (
                Method::POST,
                "/api/v1/connections".into(),
                Some(json!({"name": format!("gcp-{n}"), "provider": "gcp"})),
            ),
            GetConnection => (Method::GET, "/api/v1/connections/acme-aws".into(), None),
            UpdateConnection => (
                Method::PATCH,
                "/api/v1/connections/acme-aws".into(),
                Some(json!({"settings": {"note": format!("change {n}")}})),
            ),
            // A connection of its own each time: one sync per connection runs at once.
            SyncConnection => {
                let name = format!("synced-{n}");
                w.store
                    .create_connection(&w.local, &name, "aws", json!({"source": "aws"}))
                    .await
                    .unwrap();
                (
                    Method::POST,
                    format!("/api/v1/connections/{name}/sync"),
                    None,
                )
            }
            DeleteConnection => {
                let name = format!("old-{n}");
                w.store
                    .create_connection(&w.local, &name, "oci", json!({}))
                    .await
                    .unwrap();
                (Method::DELETE, format!("/api/v1/connections/{name}"), None)
            }
            SetSecret => (
                Method::PUT,
                "/api/v1/connections/acme-aws/secrets/secret_access_key".into(),
                Some(json!({"value": "planted-secret-value-0001"})),
            ),
            TestConnection => (
                Method::POST,
                "/api/v1/connections/acme-aws/test".into(),
                None,
            ),
            // The body is the fixture's CUR file (see `send`).
            Upload => (
                Method::POST,
                format!(
                    "/api/v1/connections/acme-uploads/uploads?filename={}",
                    w.upload.0
                ),
                None,
            ),
            History => (
                Method::GET,
                format!("/api/v1/ingestions?connection=acme-aws&month={MONTH}"),
                None,
            ),
            Reconciliation => (
                Method::GET,
                format!("/api/v1/reconciliation?month={MONTH}"),
                None,
            ),
            Costs => (
                Method::GET,
                format!("/api/v1/costs?month={MONTH}&by=service"),
                None,
            ),
            // A page from the middle: its groups and its rest are the organization's too.
            CostsByAccount => (
                Method::GET,
                format!("/api/v1/costs?month={MONTH}&by=account&limit=5&offset=3"),
                None,
            ),
            Overview => (
                Method::GET,
                format!("/api/v1/overview?as_of={MONTH}-20&days=45"),
                None,
            ),
            Export => (
                Method::GET,
                format!("/api/v1/export/focus?month={MONTH}"),
                None,
            ),
        }
    }

    /// The same endpoint aimed at the other organization's resource, where it has one.
    fn foreign(self, w: &World) -> Option<(Method, String, Option<serde_json::Value>)> {
        use Case::*;
        Some(match self {
            GrantUser => (
                Method::PATCH,
                "/api/v1/users/gus@globex.example".into(),
                Some(json!({"role": "viewer"})),
            ),
            RemoveUser => (
                Method::DELETE,
                "/api/v1/users/gus@globex.example".into(),
                None,
            ),
            RevokeOwnToken => (
                Method::DELETE,
                format!("/api/v1/tokens/{}", w.gus_token_id),
                None,
            ),
            Audit => (
                Method::GET,
                format!("/api/v1/audit?before={}", w.gus_audit_id),
                None,
            ),
            GetConnection => (Method::GET, "/api/v1/connections/globex-aws".into(), None),
            UpdateConnection => (
                Method::PATCH,
                "/api/v1/connections/globex-aws".into(),
                Some(json!({"settings": {}})),
            ),
            SyncConnection => (
                Method::POST,
                "/api/v1/connections/globex-aws/sync".into(),
                None,
            ),
            DeleteConnection => (
                Method::DELETE,
                "/api/v1/connections/globex-aws".into(),
                None,
            ),
            SetSecret => (
                Method::PUT,
                "/api/v1/connections/globex-aws/secrets/secret_access_key".into(),
                Some(json!({"value": "overwrite"})),
            ),
            TestConnection => (
                Method::POST,
                "/api/v1/connections/globex-aws/test".into(),
                None,
            ),
            Upload => (
                Method::POST,
                format!(
                    "/api/v1/connections/globex-aws/uploads?filename={}",
                    w.upload.0
                ),
                None,
            ),
            History => (
                Method::GET,
                format!("/api/v1/ingestions?connection=globex-aws&month={MONTH}"),
                None,
            ),
            Costs => (
                Method::GET,
                format!("/api/v1/costs?month={MONTH}&connection=globex-aws"),
                None,
            ),
            Export => (
                Method::GET,
                format!("/api/v1/export/focus?month={MONTH}&connection=globex-aws"),
                None,
            ),
            _ => return None,
        })
    }
}

/// Sends a case's request: JSON, or the upload file for [`Case::Upload`].
async fn send(
    w: &World,
    case: Case,
    (method, uri, body): (Method, String, Option<serde_json::Value>),
    token: Option<&str>,
) -> (StatusCode, String) {
    match case {
        Case::Upload => {
            w.call_raw(
                method,
                &uri,
                token,
                "application/octet-stream",
                w.upload.1.clone(),
            )
            .await
        }
        _ => w.call(method, &uri, token, body).await,
    }
}

fn assert_no_foreign_data(w: &World, what: &str, body: &str) {
    for value in &w.globex_only {
        assert!(
            !body.contains(value.as_str()),
            "{what}: the response carries {value}, which only the other organization has:\n{}",
            &body[..body.len().min(2000)]
        );
    }
}

#[tokio::test]
async fn every_endpoint_every_role_own_and_other_organization() {
    for w in World::every_backend().await {
        every_endpoint_on(&w).await;
    }
}

async fn every_endpoint_on(w: &World) {
    let mut n = 0;
    let mut checked = 0;
    for role in Role::ALL {
        let token = w.token(role).to_string();
        for case in CASES {
            n += 1;
            let allowed = case.permission().is_none_or(|p| role.allows(p));
            let request = case.request(w, role, n).await;
            let what = format!("{} {role} {} {}", w.backend, request.0, request.1);
            let (status, text) = send(w, case, request.clone(), Some(&token)).await;
            if allowed {
                assert!(status.is_success(), "{what}: {status} {text}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {text}");
                let error: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(error["error"]["code"], "forbidden", "{what}");
            }
            assert_no_foreign_data(w, &what, &text);
            // Unauthenticated: always 401 in the error shape.
            let (status, text) = send(w, case, request, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {what}");
            assert!(text.contains("\"unauthenticated\""), "{text}");
            checked += 2;

            if let Some(request) = case.foreign(w) {
                let what = format!(
                    "{} {role} {} {} (other organization)",
                    w.backend, request.0, request.1
                );
                let (status, text) = send(w, case, request, Some(&token)).await;
                let expected = if allowed {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(status, expected, "{what}: {text}");
                assert_no_foreign_data(w, &what, &text);
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked, 350,
        "5 roles × (28 endpoints × signed and anonymous + 14 aimed at the other organization)"
    );

    // The other organization's data is intact and its own.
    let (status, text) = w
        .call(
            Method::GET,
            "/api/v1/connections/globex-aws",
            Some(&w.gus_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        !text.contains("secret_access_key"),
        "nobody else set Gus's secret: {text}"
    );
    let (status, _) = w
        .call(
            Method::GET,
            "/api/v1/users/gus@globex.example",
            Some(&w.gus_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    organizations_and_audit_pages_on(w).await;
}

/// Organizations: only the default organization's Owners create them, the creator signs in
/// to the new one and sees nothing of the others; audit pages neither overlap nor skip.
async fn organizations_and_audit_pages_on(w: &World) {
    let (status, text) = w
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(&w.gus_token),
            Some(json!({"name": "gus-side-business"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("default organization"), "{text}");

    let owner = w.token(Role::Owner);
    let (status, text) = w
        .call(
            Method::POST,
            "/api/v1/organizations",
            Some(owner),
            Some(json!({"name": "newco"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (_, text) = w
        .call(Method::GET, "/api/v1/organizations", Some(owner), None)
        .await;
    let orgs: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = orgs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"newco") && names.contains(&"default"),
        "{names:?}"
    );
    assert!(!names.contains(&"globex"), "{names:?}");

    let (status, text) = w
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email(Role::Owner), "password": crate::fixture::PASSWORD, "organization": "newco"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let login: serde_json::Value = serde_json::from_str(&text).unwrap();
    let session = login["token"].as_str().unwrap();
    let (_, text) = w
        .call(Method::GET, "/api/v1/organization", Some(session), None)
        .await;
    let org: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(org["name"], "newco");
    assert_eq!(org["connections"], json!([]));
    let (_, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/costs?month={MONTH}&by=account"),
            Some(session),
            None,
        )
        .await;
    let costs: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(costs["groups"], json!([]), "{text}");
    assert_eq!(costs["total"]["rows"], 0);
    for (name, expected) in [
        ("newco-renamed", StatusCode::OK),
        ("default", StatusCode::CONFLICT),
        ("", StatusCode::BAD_REQUEST),
    ] {
        let (status, text) = w
            .call(
                Method::PATCH,
                "/api/v1/organization",
                Some(session),
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, expected, "{name}: {text}");
    }
    let (status, _) = w
        .call(
            Method::PATCH,
            "/api/v1/organization",
            Some(owner),
            Some(json!({"name": "not-default"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let page = |uri: String| async move {
        let (status, text) = w.call(Method::GET, &uri, Some(owner), None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap()
    };
    let all = page("/api/v1/audit?limit=1000".into()).await;
    assert!(all.len() > 10, "{}", all.len());
    let mut paged = page("/api/v1/audit?limit=4".into()).await;
    loop {
        let last = paged.last().unwrap()["id"].as_str().unwrap().to_string();
        let next = page(format!("/api/v1/audit?limit=4&before={last}")).await;
        if next.is_empty() {
            break;
        }
        paged.extend(next);
    }
    assert_eq!(paged, all);
}

/// Aggregates are the caller's rows only: an organization's totals are its connection's,
/// a customer's are its account's, and a customer never sees provider, list or effective
/// cost, in costs or exports.
#[tokio::test]
async fn totals_and_exports_are_scoped() {
    for w in World::every_backend().await {
        totals_and_exports_on(&w).await;
    }
}

async fn totals_and_exports_on(w: &World) {
    let acme = w
        .lake
        .costs(
            Some(MONTH),
            Some("acme-aws"),
            &billow_lake::costs::GroupBy::Service,
        )
        .await
        .unwrap();
    let acme_total: i128 = acme.iter().map(|r| r.billed.unwrap()).sum();
    let (_, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/costs?month={MONTH}&by=service"),
            Some(w.token(Role::Viewer)),
            None,
        )
        .await;
    let costs: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        costs["total"]["billed_cost"],
        billow_focus::money::format_decimal(acme_total)
    );

    let (_, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/costs?month={MONTH}&by=account"),
            Some(w.token(Role::Customer)),
            None,
        )
        .await;
    let costs: serde_json::Value = serde_json::from_str(&text).unwrap();
    for g in costs["groups"].as_array().unwrap() {
        assert!(
            g.get("list_cost").is_none() && g.get("effective_cost").is_none(),
            "{g}"
        );
        assert!(g.get("billed_cost").is_some());
    }
    let customer_scope =
        billow_lake::Scope::connections(["acme-aws"]).with_accounts([w.customer_account.clone()]);
    let theirs = w
        .lake
        .costs_in(
            &customer_scope,
            Some(MONTH),
            None,
            &billow_lake::costs::GroupBy::Service,
        )
        .await
        .unwrap();
    let theirs: i128 = theirs.iter().map(|r| r.billed.unwrap()).sum();
    assert_eq!(
        costs["total"]["billed_cost"],
        billow_focus::money::format_decimal(theirs)
    );
    assert!(theirs < acme_total);

    let (status, csv) = w
        .call(
            Method::GET,
            &format!("/api/v1/export/focus?month={MONTH}"),
            Some(w.token(Role::Customer)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let header = csv.lines().next().unwrap();
    assert!(header.contains("BilledCost"));
    for hidden in [
        "ListCost",
        "EffectiveCost",
        "ContractedCost",
        "ListUnitPrice",
        "x_Extensions",
    ] {
        assert!(
            !header.split(',').any(|c| c == hidden),
            "{hidden} in {header}"
        );
    }
    let rows = csv.lines().count() - 1;
    let (_, full) = w
        .call(
            Method::GET,
            &format!("/api/v1/export/focus?month={MONTH}"),
            Some(w.token(Role::Owner)),
            None,
        )
        .await;
    assert!(rows > 0 && rows < full.lines().count() - 1);

    // A customer with more cost types granted sees them.
    w.store
        .grant(
            &w.local,
            &email(Role::Customer),
            Role::Customer,
            Some("billed,effective".parse().unwrap()),
            std::slice::from_ref(&w.customer_account),
        )
        .await
        .unwrap();
    let (_, text) = w
        .call(
            Method::GET,
            &format!("/api/v1/costs?month={MONTH}"),
            Some(w.token(Role::Customer)),
            None,
        )
        .await;
    assert!(
        text.contains("effective_cost") && !text.contains("list_cost"),
        "{text}"
    );
    let _ = &w.globex_operator;
}

/// Errors have one shape; bodies are bounded; unknown routes and methods say where to look.
#[tokio::test]
async fn errors_have_one_shape() {
    let w = World::new().await;
    let owner = w.token(Role::Owner).to_string();
    let big = "x".repeat(billow_server::MAX_BODY_BYTES + 10);
    let cases: Vec<(Method, &str, Option<serde_json::Value>, StatusCode, &str)> = vec![
        (
            Method::GET,
            "/api/v1/nope",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::PUT,
            "/api/v1/me",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/api/v1/costs?month=2026-13x",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            "/api/v1/costs?from=2026-05&to=2026-04",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            "/api/v1/costs?month=2026-04&by=color",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            "/api/v1/export/focus?month=2026-04&format=xlsx",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": 5})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "a@b.example", "role": "boss"})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "acme-aws", "provider": "aws"})),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": big, "provider": "aws"})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let (got, text) = w.call(method.clone(), uri, Some(&owner), body).await;
        assert_eq!(got, status, "{method} {uri}: {text}");
        let error: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["error"]["code"], code, "{method} {uri}: {text}");
        assert!(error["error"]["message"].is_string());
    }
    // A body that is not JSON.
    let request = axum::http::Request::post("/api/v1/tokens")
        .header("authorization", format!("Bearer {owner}"))
        .body(axum::body::Body::from("name=x"))
        .unwrap();
    let response = tower::ServiceExt::oneshot(w.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Login is rate limited per client and email, with Retry-After.
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        let (status, _) = w
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "viewer@acme.example", "password": "wrong password!!"})),
            )
            .await;
        last = status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Health, readiness, the OpenAPI document and metrics need no credential.
    for uri in [
        "/api/v1/health",
        "/api/v1/ready",
        "/api/v1/openapi.json",
        "/metrics",
    ] {
        let (status, _) = w.call(Method::GET, uri, None, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    let (_, metrics) = w.call(Method::GET, "/metrics", None, None).await;
    assert!(metrics.contains("billow_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"429\"}"), "{metrics}");
}
