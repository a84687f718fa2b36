//! Planted secrets (passwords, connection secrets, other tokens) never appear in any
//! response or log line, whatever endpoint is called.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::Method;
use billow_store::Role;
use serde_json::json;

use crate::fixture::{MONTH, PASSWORD, World};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn planted_secrets_never_reach_responses_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = World::new().await;
    const AWS_SECRET: &str = "wJalrXUtnFEMI-planted-AWS-secret";
    const PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----planted";
    let owner = w.token(Role::Owner).to_string();
    let mut responses = Vec::new();
    let mut call =
        async |method: Method, uri: &str, token: Option<&str>, body: Option<serde_json::Value>| {
            let (_, text) = w.call(method, uri, token, body).await;
            responses.push((uri.to_string(), text));
        };
    call(
        Method::PUT,
        "/api/v1/connections/acme-aws/secrets/secret_access_key",
        Some(&owner),
        Some(json!({"value": AWS_SECRET})),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/connections",
        Some(&owner),
        Some(json!({"name": "oci-main", "provider": "oci"})),
    )
    .await;
    call(
        Method::PUT,
        "/api/v1/connections/oci-main/secrets/private_key",
        Some(&owner),
        Some(json!({"value": PRIVATE_KEY})),
    )
    .await;
    // A secret name that is refused must not echo the value either.
    call(
        Method::PUT,
        "/api/v1/connections/oci-main/secrets/bad%20name",
        Some(&owner),
        Some(json!({"value": PRIVATE_KEY})),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "viewer@acme.example", "password": PASSWORD})),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "viewer@acme.example", "password": "wrong-but-planted-pw"})),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/users",
        Some(&owner),
        Some(json!({"email": "new@acme.example", "password": "short", "role": "viewer"})),
    )
    .await;
    for uri in [
        "/api/v1/me".to_string(),
        "/api/v1/organization".into(),
        "/api/v1/organizations".into(),
        "/api/v1/users".into(),
        "/api/v1/tokens?all=true".into(),
        "/api/v1/audit?limit=1000".into(),
        "/api/v1/connections".into(),
        "/api/v1/connections/acme-aws".into(),
        "/api/v1/connections/oci-main".into(),
        format!("/api/v1/ingestions?connection=acme-aws&month={MONTH}"),
        format!("/api/v1/reconciliation?month={MONTH}"),
        format!("/api/v1/costs?month={MONTH}&by=tag:team"),
        format!("/api/v1/overview?as_of={MONTH}-15"),
        format!("/api/v1/export/focus?month={MONTH}&format=csv"),
        "/api/v1/openapi.json".into(),
        "/metrics".into(),
    ] {
        call(Method::GET, &uri, Some(&owner), None).await;
    }
    call(
        Method::POST,
        "/api/v1/connections/oci-main/test",
        Some(&owner),
        None,
    )
    .await;
    call(Method::POST, "/api/v1/auth/logout", Some(&owner), None).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let other_tokens: Vec<&str> = w.tokens.iter().map(|(_, t)| t.as_str()).collect();
    for (uri, body) in &responses {
        for planted in [AWS_SECRET, PRIVATE_KEY, PASSWORD, "wrong-but-planted-pw"]
            .iter()
            .copied()
            .chain(other_tokens.iter().copied())
            .chain([w.gus_token.as_str()])
        {
            assert!(!body.contains(planted), "{uri} returned a planted secret");
            assert!(!logs.contains(planted), "the log holds a planted secret");
        }
    }
    // The secrets are set: their fingerprints show.
    let shown = &responses
        .iter()
        .find(|(u, _)| u == "/api/v1/connections/oci-main")
        .unwrap()
        .1;
    assert!(
        shown.contains("private_key") && shown.contains("sha256:"),
        "{shown}"
    );
    // And the connector can still open them.
    let local = w.store.local_owner().await.unwrap();
    assert_eq!(
        w.store
            .reveal_secret(&local, "oci-main", "private_key")
            .await
            .unwrap()
            .expose(),
        PRIVATE_KEY
    );
}
