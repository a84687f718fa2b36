//! Request extractors whose rejections answer in the API's error shape, and the caller's
//! authentication.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body; a malformed or oversized one is a 400 or 413 in the API's shape.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let message = rejection.body_text();
    match status.as_u16() {
        413 => ApiError::new(status, "payload_too_large", message)
            .hint("request bodies are limited to 1 MiB"),
        415 => ApiError::new(status, "unsupported_media_type", message)
            .hint("send Content-Type: application/json"),
        // Malformed JSON and JSON of the wrong shape are the same mistake to a client: 400.
        _ => ApiError::bad_request(message)
            .hint("the request body must be JSON matching the schema in /api/v1/openapi.json"),
    }
}

/// Query parameters; bad ones are a 400 in the API's shape.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // HTML-form rules, so a repeated parameter (`filter=…&filter=…`) is a list.
        let query = parts.uri.query().unwrap_or_default();
        serde_html_form::from_str(query).map(ApiQuery).map_err(|e| {
            ApiError::bad_request(format!("bad query parameters: {e}"))
                .hint("see the parameters of this endpoint in /api/v1/openapi.json")
        })
    }
}

/// The authenticated caller: an API token or a login session's token, as
/// `Authorization: Bearer <token>` or the `billow_session` cookie.
pub(crate) struct Caller(pub(crate) billow_store::Access);

pub(crate) const SESSION_COOKIE: &str = "billow_session";

pub(crate) fn bearer(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (name, value) = c.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_string())
        })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = bearer(parts) else {
            return Err(ApiError::unauthenticated("no credential"));
        };
        Ok(Caller(state.store().authenticate(&secret).await?))
    }
}

/// The client's address (for login rate limits); `unknown` without a socket (tests).
pub(crate) struct ClientIp(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}
