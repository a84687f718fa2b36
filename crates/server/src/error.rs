//! One error shape for every endpoint: `{"error": {"code", "message", "hint"}}` with the
//! matching status. Failures (5xx) are logged with their cause and answered without it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong and what to do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`bad_request`, `unauthenticated`, `forbidden`,
    /// `not_found`, `conflict`, `payload_too_large`, `too_many_requests`, `internal`,
    /// `unavailable`).
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    hint: Option<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            hint: None,
            retry_after: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message).hint(
            "send `Authorization: Bearer <token>` with an API token (billow token create) or the token POST /api/v1/auth/login returned",
        )
    }

    pub(crate) fn too_many_requests(retry_after: u64) -> Self {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many login attempts",
        )
        .hint(format!("wait {retry_after} seconds before trying again"));
        e.retry_after = Some(retry_after);
        e
    }

    /// A failure whose cause stays in the log.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to answer; the cause is in its log",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                hint: self.hint,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<billow_store::Error> for ApiError {
    fn from(e: billow_store::Error) -> Self {
        use billow_store::Error as E;
        match &e {
            E::Invalid { .. } => ApiError::bad_request(e.to_string()),
            E::NotFound { .. } => ApiError::not_found(e.to_string()),
            E::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
                .hint("choose another name, or change the existing one"),
            E::Forbidden { .. } => ApiError::forbidden(e.to_string()),
            E::Unauthenticated(_) => ApiError::unauthenticated(e.to_string()),
            E::Unseal { .. } | E::MasterKey(_) => ApiError::internal(&e)
                .hint("the server's master key does not open this secret; set it again"),
            _ => ApiError::internal(&e),
        }
    }
}

impl From<billow_lake::Error> for ApiError {
    fn from(e: billow_lake::Error) -> Self {
        ApiError::internal(&e)
    }
}

impl From<billow_ingest::Error> for ApiError {
    fn from(e: billow_ingest::Error) -> Self {
        match &e {
            billow_ingest::Error::Hidden { .. } => ApiError::forbidden(e.to_string())
                .hint("ask an Owner or Admin for the billed and effective cost types"),
            _ => ApiError::internal(&e),
        }
    }
}

/// The responses every authenticated endpoint may give besides its own.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
