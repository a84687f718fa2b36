use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use billow_lake::Lake;
use billow_store::{Access, Keyring, MasterKey, Role, Store};
use billow_synth::aws_cur::{CurSpec, write_delivery};
use tower::ServiceExt;

pub(crate) const PASSWORD: &str = "correct horse battery";
pub(crate) const MONTH: &str = "2026-04";

/// Two organizations over one lake: `default` (connection acme-aws, a member of every role)
/// and `globex` (connection globex-aws, one owner).
pub(crate) struct World {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) backend: &'static str,
    postgres: Option<(String, String)>,
    pub(crate) store: Store,
    pub(crate) lake: Lake,
    pub(crate) app: Router,
    pub(crate) local: Access,
    pub(crate) globex_operator: Access,
    /// Bearer tokens of default's members, by role.
    pub(crate) tokens: Vec<(Role, String)>,
    pub(crate) gus_token: String,
    pub(crate) gus_token_id: String,
    /// A small CUR file (name, bytes) for uploads to the `acme-uploads` connection.
    pub(crate) upload: (String, Vec<u8>),
    /// An entry of the other organization's audit log.
    pub(crate) gus_audit_id: String,
    pub(crate) customer_account: String,
    /// Values only globex's data holds: its account ids and organization id.
    pub(crate) globex_only: BTreeSet<String>,
}

pub(crate) fn email(role: Role) -> String {
    format!("{role}@acme.example")
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop cannot await: a thread of its own drops the database.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(admin) = sqlx_admin(&admin_url).await {
                        let _ = execute(
                            &admin,
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The PostgreSQL server of `BILLOW_TEST_POSTGRES_URL`, for creating and dropping the
/// tests' databases.
async fn sqlx_admin(url: &str) -> Result<sqlx::AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await
}

async fn execute(pool: &sqlx::AnyPool, sql: String) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .map(|_| ())
}

impl World {
    /// The same world on SQLite and, when `BILLOW_TEST_POSTGRES_URL` is set, on PostgreSQL
    /// (required when `BILLOW_REQUIRE_POSTGRES=1`).
    pub(crate) async fn every_backend() -> Vec<World> {
        let mut worlds = vec![World::new().await];
        match std::env::var("BILLOW_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => {
                let name = format!(
                    "billow_api_{}_{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                );
                let admin = sqlx_admin(&url).await.unwrap();
                execute(&admin, format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await;
                let (base, _) = url.rsplit_once('/').unwrap();
                worlds.push(World::on(Some((url.clone(), format!("{base}/{name}"), name))).await);
            }
            _ if std::env::var("BILLOW_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
                panic!("BILLOW_REQUIRE_POSTGRES=1 but BILLOW_TEST_POSTGRES_URL is not set")
            }
            _ => eprintln!("PostgreSQL skipped: set BILLOW_TEST_POSTGRES_URL to run it"),
        }
        worlds
    }

    pub(crate) async fn new() -> World {
        World::on(None).await
    }

    /// `postgres`: (admin URL, database URL, database name).
    async fn on(postgres: Option<(String, String, String)>) -> World {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let lake = Lake::open(&data).await.unwrap();
        for (connection, seed) in [("acme-aws", 31), ("globex-aws", 32)] {
            let spec = CurSpec::new(seed, 2026, 4).with_rows(1_500).with_files(2);
            let d = write_delivery(&dir.path().join(connection), &spec).unwrap();
            billow_ingest::ingest_aws_cur(
                &lake,
                &d.report_dir,
                &billow_ingest::IngestOptions::new(connection),
                &billow_ingest::NoProgress,
            )
            .await
            .unwrap();
        }
        let key = MasterKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let url = postgres
            .as_ref()
            .map_or_else(|| Store::sqlite_url(&data), |(_, url, _)| url.clone());
        std::fs::create_dir_all(&data).unwrap();
        let store = Store::open(&url, Keyring::with_key(key)).await.unwrap();
        let local = store.local_owner().await.unwrap();
        let globex = store.create_organization("globex").await.unwrap();
        let globex_operator = Access {
            org_id: globex.id.clone(),
            ..local.clone()
        };
        store
            .adopt_connection(&local, "acme-aws", "aws")
            .await
            .unwrap();
        store
            .adopt_connection(&globex_operator, "globex-aws", "aws")
            .await
            .unwrap();

        let account_of = |connection: &str| {
            let lake = lake.clone();
            let connection = connection.to_string();
            async move {
                let batches = lake
                    .sql(&format!(
                        "SELECT DISTINCT SubAccountId FROM focus WHERE x_ConnectionId = '{connection}' AND SubAccountId IS NOT NULL \
                         UNION SELECT DISTINCT BillingAccountId FROM focus WHERE x_ConnectionId = '{connection}'"
                    ))
                    .await
                    .unwrap();
                let mut ids = BTreeSet::new();
                for b in &batches {
                    ids.extend(
                        billow_lake::string_column(b, 0)
                            .unwrap()
                            .iter()
                            .flatten()
                            .map(str::to_string),
                    );
                }
                ids
            }
        };
        let acme_accounts = account_of("acme-aws").await;
        let mut globex_only: BTreeSet<String> = account_of("globex-aws")
            .await
            .difference(&acme_accounts)
            .cloned()
            .collect();
        globex_only.insert(globex.id.clone());
        let customer_account = acme_accounts
            .iter()
            .find(|a| !a.is_empty())
            .cloned()
            .unwrap();

        let mut tokens = Vec::new();
        for role in Role::ALL {
            let accounts = if role == Role::Customer {
                vec![customer_account.clone()]
            } else {
                vec![]
            };
            store
                .add_member(
                    &local,
                    &email(role),
                    "",
                    Some(PASSWORD),
                    role,
                    None,
                    &accounts,
                )
                .await
                .unwrap();
            let (_, secret) = store
                .create_token(&local, Some(&email(role)), "matrix", None, 30)
                .await
                .unwrap();
            tokens.push((role, secret));
        }
        store
            .add_member(
                &globex_operator,
                "gus@globex.example",
                "Gus",
                Some(PASSWORD),
                Role::Owner,
                None,
                &[],
            )
            .await
            .unwrap();
        let (gus, gus_token) = store
            .create_token(
                &globex_operator,
                Some("gus@globex.example"),
                "gus",
                None,
                30,
            )
            .await
            .unwrap();
        store
            .create_connection(&local, "acme-uploads", "aws", serde_json::json!({}))
            .await
            .unwrap();
        let delivery = write_delivery(
            &dir.path().join("uploads"),
            &CurSpec::new(31, 2026, 3).with_rows(300).with_files(1),
        )
        .unwrap();
        let upload_file = &delivery.files[0];
        let upload = (
            upload_file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            std::fs::read(upload_file).unwrap(),
        );
        let gus_audit_id = store
            .audit_log(&globex_operator, 1, None)
            .await
            .unwrap()
            .remove(0)
            .id;
        let app = billow_server::app(billow_server::AppState::new(store.clone(), lake.clone()));
        World {
            _dir: dir,
            backend: if postgres.is_some() {
                "postgres"
            } else {
                "sqlite"
            },
            postgres: postgres.map(|(admin, _, name)| (admin, name)),
            store,
            lake,
            app,
            local,
            globex_operator,
            tokens,
            gus_token,
            gus_token_id: gus.id,
            gus_audit_id,
            upload,
            customer_account,
            globex_only,
        }
    }

    pub(crate) fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    /// Sends a request; returns the status and the body as text.
    pub(crate) async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, String) {
        self.call_on(&self.app, method, uri, token, body).await
    }

    /// [`World::call`] on another router over the same store and lake (another server's
    /// state: its running syncs, its scheduler).
    pub(crate) async fn call_on(
        &self,
        app: &Router,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, String) {
        let body = body.map(|b| b.to_string().into_bytes());
        let content_type = if body.is_some() {
            "application/json"
        } else {
            ""
        };
        send(
            app,
            method,
            uri,
            token,
            content_type,
            body.unwrap_or_default(),
        )
        .await
    }

    /// Sends a request with a body of any type (none when `content_type` is empty).
    pub(crate) async fn call_raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        send(&self.app, method, uri, token, content_type, body).await
    }
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    if !content_type.is_empty() {
        request = request.header("content-type", content_type);
    }
    let request = request.body(Body::from(body)).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
