//! `POST /v1/auth` (three credential forms, and the auth keys of SAM users) and
//! `POST /v1/auth/logout`.

use crate::api::{parse_json, Caller};
use crate::errors::{ApiError, ApiResult};
use crate::fleet::Credential;
use crate::sam::SamIdentity;
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
    let principal = match state.credentials.iter().position(|c| matches(c, &req)) {
        Some(index) => Principal::Fleet(index),
        None => sam_principal(&state, &req).ok_or_else(ApiError::bad_credentials)?,
    };
    Ok(Json(issue_token(&state, principal, &req, timeout)))
}

/// Who signs in: a fleet credential, or a SAM user by one of its auth keys.
enum Principal {
    /// Index into the fleet credentials.
    Fleet(usize),
    /// A SAM user, with its permission now.
    Sam(SamIdentity),
}

/// The SAM user whose auth key `req` presents.
fn sam_principal(state: &AppState, req: &AuthRequest) -> Option<Principal> {
    let (id, secret) = (req.auth_key_id.as_deref()?, req.auth_key.as_deref()?);
    let inner = state.lock();
    let (name, user) = crate::sam::by_auth_key(&inner.sam, id, secret)?;
    Some(Principal::Sam(SamIdentity {
        user_name: name.clone(),
        policy: user.policy(),
    }))
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

fn issue_token(state: &AppState, who: Principal, req: &AuthRequest, timeout: u64) -> AuthResponse {
    let api_key = format!("api-{}", uuid::Uuid::new_v4());
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let (credential, sam) = match who {
        Principal::Fleet(i) => (Some(i), None),
        Principal::Sam(identity) => (None, Some(identity)),
    };
    let user_name = match (&sam, credential) {
        (Some(identity), _) => Some(identity.user_name.clone()),
        (None, Some(i)) => {
            let password_form =
                req.user_name.is_some() && req.email.is_none() && req.auth_key_id.is_none();
            password_form
                .then(|| state.credentials[i].user_name.clone())
                .flatten()
        }
        (None, None) => None,
    };
    let operator_id = credential
        .and_then(|i| state.credentials[i].operator_id.clone())
        .unwrap_or_else(|| state.operator_id.clone());
    state.lock().tokens.insert(
        token.clone(),
        Token {
            api_key: api_key.clone(),
            credential,
            sam,
            expires_at_ms: now_ms() + (timeout as i64) * 1000,
            revoked: false,
        },
    );
    AuthResponse {
        api_key,
        token,
        operator_id,
        user_name,
    }
}
