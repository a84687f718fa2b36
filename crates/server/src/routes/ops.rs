//! Health, readiness, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    #[schema(example = "ok")]
    status: String,
    version: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/api/v1/health", tag = "ops", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Readiness: the metadata database answers and the lake's directory is readable.
#[utoipa::path(get, path = "/api/v1/ready", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub(crate) async fn ready(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let unavailable = |what: String| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", what)
            .hint("check the server's log; it retries on the next request")
    };
    state
        .store()
        .ping()
        .await
        .map_err(|e| unavailable(format!("metadata database: {e}")))?;
    std::fs::metadata(state.lake().root())
        .map_err(|e| unavailable(format!("data directory: {e}")))?;
    Ok(Json(Health {
        status: "ready".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// Prometheus metrics (text format).
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.metrics().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
