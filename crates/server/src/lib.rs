//! Billow's HTTP API: JSON under `/api/v1`, described by the OpenAPI document it serves at
//! `/api/v1/openapi.json`. It authenticates each request (API token or login session),
//! hands the caller's [`billow_store::Access`] to the store, which checks the permission,
//! and reads the lake only through the caller's [`billow_lake::Scope`] (its organization's
//! connections, its accounts, its cost types). Errors have one shape (code, message, hint);
//! failures are logged and answered without internals. It holds no business logic the CLI
//! would need: both call the same library functions.
//!
//! ```no_run
//! # async fn demo(store: billow_store::Store, lake: billow_lake::Lake) {
//! let app = billow_server::app(billow_server::AppState::new(store, lake));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! billow_server::serve(listener, app).await.unwrap();
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod extract;
mod metrics;
mod routes;
mod state;
mod sync;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use state::{AppState, DEFAULT_MAX_UPLOAD_BYTES, ServerOptions};
pub use sync::schedule;

use crate::routes::{account, dashboard, data, ops, uploads, web};

/// The largest request body accepted (JSON requests; exports are responses).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Billow API",
        description = "Multi-cloud cost data as exact FOCUS rows: authentication, users, tokens, connections, costs and exports.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth"), (name = "organizations"), (name = "users"), (name = "tokens"), (name = "connections"),
        (name = "ingestions"), (name = "costs"), (name = "audit"), (name = "ops"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`billow token create`) or the token of POST /api/v1/auth/login",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document and the router it describes.
fn parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(account::login))
        .routes(routes!(account::logout))
        .routes(routes!(account::me))
        .routes(routes!(account::organization, account::rename_organization))
        .routes(routes!(
            account::list_organizations,
            account::create_organization
        ))
        .routes(routes!(account::list_users, account::add_user))
        .routes(routes!(account::grant, account::remove_user))
        .routes(routes!(account::list_tokens, account::create_token))
        .routes(routes!(account::revoke_token))
        .routes(routes!(account::audit))
        .routes(routes!(data::list_connections, data::create_connection))
        .routes(routes!(
            data::get_connection,
            data::update_connection,
            data::delete_connection
        ))
        .routes(routes!(data::sync_connection))
        .routes(routes!(data::set_secret))
        .routes(routes!(data::test_connection))
        .routes(routes!(uploads::upload))
        .routes(routes!(data::history))
        .routes(routes!(data::reconciliation))
        .routes(routes!(data::costs))
        .routes(routes!(dashboard::overview))
        .routes(routes!(data::export_focus))
        .split_for_parts()
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

/// The whole application: the API, `/metrics`, errors in one shape for unknown routes and
/// methods, bounded bodies, and request metrics.
pub fn app(state: AppState) -> Router {
    let (api, doc) = parts();
    let doc = std::sync::Arc::new(doc);
    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = std::sync::Arc::clone(&doc);
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .route("/metrics", get(ops::metrics))
    .route("/", get(web::index))
    .route("/index.html", get(web::index))
    .route("/assets/{*path}", get(web::asset))
    .fallback(|| async {
        ApiError::not_found("no such endpoint")
            .hint("the endpoints are listed in /api/v1/openapi.json")
    })
    .method_not_allowed_fallback(|| async {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        )
        .hint("the methods of each endpoint are listed in /api/v1/openapi.json")
    })
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        metrics::record,
    ))
    .with_state(state)
}

/// Serves `app` on `listener` until the process is stopped (Ctrl-C ends it gracefully).
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
