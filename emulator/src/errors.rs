//! Soracom-style API errors: `{"code":"AAA0000","message":"…"}` bodies with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use napsh_core::soracom::ApiErrorBody;

/// An error answered to an API client with a Soracom error body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Component-prefixed code (`AUM` auth, `COM` common, `SEM` sessions/port mappings).
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// Builds an error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 for a request that fails validation.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 for a resource that does not exist (or is not disclosed).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 401 for credentials that do not authenticate.
    pub fn bad_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUM0001",
            "Authentication failed: invalid credentials.",
        )
    }

    /// 401 for a request without a live API key / token pair.
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUM0004",
            "The API key or token is invalid.",
        )
    }

    /// 401 for a token past its lifetime (or revoked).
    pub fn expired_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUM0005",
            "The API token has expired. Please authenticate again.",
        )
    }

    /// 403 naming the SAM permission the caller lacks.
    pub fn permission_denied(operation: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AUM0009",
            format!("You are not allowed to perform this operation. Permission `{operation}` is required."),
        )
    }

    /// The wire body of this error.
    pub fn body(&self) -> ApiErrorBody {
        ApiErrorBody {
            code: self.code.to_string(),
            message: self.message.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// Result type of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
