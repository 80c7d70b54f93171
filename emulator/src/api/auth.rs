//! `POST /v1/auth` (three credential forms) and `POST /v1/auth/logout`.

use crate::api::{parse_json, Caller};
use crate::errors::{ApiError, ApiResult};
use crate::fleet::Credential;
use crate::state::{now_ms, AppState, Token};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use napsh_core::soracom::{AuthRequest, AuthResponse};

/// Token lifetime when the request names none (seconds).
const DEFAULT_TOKEN_TIMEOUT: u64 = 86_400;
/// Accepted `tokenTimeoutSeconds` range.
const TOKEN_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 180..=172_800;

/// `POST /v1/auth`.
pub async fn auth(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<AuthResponse>> {
    let req: AuthRequest = parse_json(&body)?;
    let timeout = req.token_timeout_seconds.unwrap_or(DEFAULT_TOKEN_TIMEOUT);
    if !TOKEN_TIMEOUT_RANGE.contains(&timeout) {
        return Err(ApiError::bad_request(
            "AUM0012",
            "tokenTimeoutSeconds must be between 180 and 172800.",
        ));
    }
    if !has_complete_form(&req) {
        return Err(ApiError::bad_request(
            "AUM0002",
            "Specify authKeyId and authKey, email and password, or operatorId, userName and password.",
        ));
    }
    let index = state
        .credentials
        .iter()
        .position(|c| matches(c, &req))
        .ok_or_else(ApiError::bad_credentials)?;
    Ok(Json(issue_token(&state, index, &req, timeout)))
}

/// `POST /v1/auth/logout`: revokes the presented token.
pub async fn logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> StatusCode {
    if let Some(t) = state.lock().tokens.get_mut(&caller.token) {
        t.revoked = true;
    }
    StatusCode::NO_CONTENT
}

fn has_complete_form(req: &AuthRequest) -> bool {
    (req.auth_key_id.is_some() && req.auth_key.is_some())
        || (req.email.is_some() && req.password.is_some())
        || (req.operator_id.is_some() && req.user_name.is_some() && req.password.is_some())
}

/// Whether `req` presents credential `c` in any of the three forms.
fn matches(c: &Credential, req: &AuthRequest) -> bool {
    let both = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    let key_form = both(&c.auth_key_id, &req.auth_key_id) && both(&c.auth_key, &req.auth_key);
    let root_form = both(&c.email, &req.email) && both(&c.password, &req.password);
    let sam_form = c.email.is_none()
        && both(&c.operator_id, &req.operator_id)
        && both(&c.user_name, &req.user_name)
        && both(&c.password, &req.password);
    key_form || root_form || sam_form
}

fn issue_token(state: &AppState, index: usize, req: &AuthRequest, timeout: u64) -> AuthResponse {
    let cred = &state.credentials[index];
    let api_key = format!("api-{}", uuid::Uuid::new_v4());
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    state.lock().tokens.insert(
        token.clone(),
        Token {
            api_key: api_key.clone(),
            credential: index,
            expires_at_ms: now_ms() + (timeout as i64) * 1000,
            revoked: false,
        },
    );
    let sam = req.user_name.is_some() && req.email.is_none() && req.auth_key_id.is_none();
    AuthResponse {
        api_key,
        token,
        operator_id: cred
            .operator_id
            .clone()
            .unwrap_or_else(|| state.operator_id.clone()),
        user_name: if sam { cred.user_name.clone() } else { None },
    }
}
