//! The SAM user operations under `/v1/operators/{operator_id}/users`: users, their auth
//! keys, their permission document, and revoking their tokens. Answers follow the spec
//! (`201`/`204` without a body where it declares none); errors are Soracom error bodies.

use crate::api::parse_json;
use crate::errors::{ApiError, ApiResult};
use crate::sam::{valid_user_name, SamKey, SamUser, MAX_KEYS, MAX_USERS};
use crate::state::{AppState, Inner};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use napsh_core::sam::Policy;
use napsh_core::soracom::users::{
    AuthKeyInfo, GeneratedAuthKey, UserDescription, UserDetail, UserPermission,
};
use std::sync::Arc;

/// `{operator_id}` and `{user_name}` of the path.
type UserPath = Path<(String, String)>;

fn no_such_user() -> ApiError {
    ApiError::not_found("AUM0010", "The SAM user does not exist.")
}

/// Checks the operator id of the path and the user name's form.
fn check_path(state: &AppState, operator_id: &str, user_name: &str) -> ApiResult<()> {
    if operator_id != state.operator_id {
        return Err(ApiError::bad_request("AUM0008", "Invalid operator ID."));
    }
    if !valid_user_name(user_name) {
        return Err(ApiError::bad_request("AUM0014", "Invalid SAM user name."));
    }
    Ok(())
}

/// Runs `f` on user `user_name` (404 when unknown).
fn with_user<T>(
    state: &AppState,
    (operator_id, user_name): (String, String),
    f: impl FnOnce(&mut SamUser, &mut Inner) -> ApiResult<T>,
) -> ApiResult<T> {
    check_path(state, &operator_id, &user_name)?;
    let now_s = state.clock_ms() / 1000;
    let mut inner = state.lock();
    let mut user = inner.sam.remove(&user_name).ok_or_else(no_such_user)?;
    let out = f(&mut user, &mut inner);
    if out.is_ok() {
        user.updated_s = now_s;
    }
    inner.sam.insert(user_name, user);
    out
}

/// `GET …/users` (`listUsers`).
pub async fn list(
    State(state): State<AppState>,
    Path(operator_id): Path<String>,
) -> ApiResult<Json<Vec<UserDetail>>> {
    if operator_id != state.operator_id {
        return Err(ApiError::bad_request("AUM0008", "Invalid operator ID."));
    }
    let inner = state.lock();
    Ok(Json(inner.sam.iter().map(|(n, u)| u.detail(n)).collect()))
}

/// `GET …/users/{user_name}` (`getUser`).
pub async fn get(State(state): State<AppState>, Path(p): UserPath) -> ApiResult<Json<UserDetail>> {
    let name = p.1.clone();
    with_user(&state, p, |u, _| Ok(Json(u.detail(&name))))
}

/// `POST …/users/{user_name}` (`createUser`): 201, no body; 400 when it exists.
pub async fn create(
    State(state): State<AppState>,
    Path((op, name)): UserPath,
    body: Bytes,
) -> ApiResult<StatusCode> {
    check_path(&state, &op, &name)?;
    let req: UserDescription = parse_json(&body)?;
    let now_s = state.clock_ms() / 1000;
    let mut inner = state.lock();
    if inner.sam.contains_key(&name) {
        return Err(ApiError::bad_request(
            "AUM0016",
            "The SAM user already exists.",
        ));
    }
    if inner.sam.len() >= MAX_USERS {
        return Err(ApiError::bad_request("AUM0017", "Too many SAM users."));
    }
    inner.sam.insert(name, SamUser::new(req.description, now_s));
    Ok(StatusCode::CREATED)
}

/// `PUT …/users/{user_name}` (`updateUser`): the description.
pub async fn update(
    State(state): State<AppState>,
    Path(p): UserPath,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let req: UserDescription = parse_json(&body)?;
    with_user(&state, p, |u, _| {
        u.description = req.description;
        Ok(StatusCode::OK)
    })
}

/// `DELETE …/users/{user_name}` (`deleteUser`): the user, its keys and its tokens.
pub async fn delete(
    State(state): State<AppState>,
    Path((op, name)): UserPath,
) -> ApiResult<StatusCode> {
    check_path(&state, &op, &name)?;
    let mut inner = state.lock();
    inner.sam.remove(&name).ok_or_else(no_such_user)?;
    revoke_tokens_of(&mut inner, &name);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/auth_keys` (`listUserAuthKeys`).
pub async fn list_keys(
    State(state): State<AppState>,
    Path(p): UserPath,
) -> ApiResult<Json<Vec<AuthKeyInfo>>> {
    with_user(&state, p, |u, _| Ok(Json(u.key_infos())))
}

/// `POST …/auth_keys` (`generateUserAuthKey`): the secret is in this answer only.
pub async fn generate_key(
    State(state): State<AppState>,
    Path(p): UserPath,
) -> ApiResult<Json<GeneratedAuthKey>> {
    let now_s = state.clock_ms() / 1000;
    with_user(&state, p, |u, _| {
        if u.keys.len() >= MAX_KEYS {
            return Err(ApiError::bad_request(
                "AUM0018",
                "The SAM user already has the maximum number of AuthKeys.",
            ));
        }
        let key = SamKey {
            id: format!("keyId-{}", uuid::Uuid::new_v4().simple()),
            secret: format!(
                "secret-{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            created_s: now_s,
        };
        let answer = GeneratedAuthKey {
            auth_key_id: key.id.clone(),
            auth_key: key.secret.clone(),
        };
        u.keys.push(key);
        Ok(Json(answer))
    })
}

/// `DELETE …/auth_keys/{auth_key_id}` (`deleteUserAuthKey`).
pub async fn delete_key(
    State(state): State<AppState>,
    Path((op, name, key_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    with_user(&state, (op, name), |u, _| {
        let before = u.keys.len();
        u.keys.retain(|k| k.id != key_id);
        if u.keys.len() == before {
            return Err(ApiError::not_found(
                "AUM0019",
                "The AuthKey does not exist.",
            ));
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `GET …/permission` (`getUserPermission`): `""` when none is set.
pub async fn get_permission(
    State(state): State<AppState>,
    Path(p): UserPath,
) -> ApiResult<Json<UserPermission>> {
    with_user(&state, p, |u, _| {
        Ok(Json(UserPermission {
            permission: u
                .permission
                .as_ref()
                .map(|(t, _)| t.clone())
                .unwrap_or_default(),
            description: None,
        }))
    })
}

/// `PUT …/permission` (`updateUserPermission`): 400 for a document outside the subset the
/// emulator understands (see `napsh_core::sam`).
pub async fn set_permission(
    State(state): State<AppState>,
    Path(p): UserPath,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let req: UserPermission = parse_json(&body)?;
    let policy = Policy::parse(&req.permission)
        .map_err(|e| ApiError::bad_request("AUM0015", format!("Invalid permission: {e}")))?;
    with_user(&state, p, |u, _| {
        u.permission = Some((req.permission, Arc::new(policy)));
        Ok(StatusCode::OK)
    })
}

/// `DELETE …/permission` (`deleteUserPermission`).
pub async fn delete_permission(
    State(state): State<AppState>,
    Path(p): UserPath,
) -> ApiResult<StatusCode> {
    with_user(&state, p, |u, _| {
        u.permission = None;
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `DELETE …/tokens` (`revokeUserAuthTokens`): every API key and token of the user.
pub async fn revoke_tokens(
    State(state): State<AppState>,
    Path(p): UserPath,
) -> ApiResult<StatusCode> {
    let name = p.1.clone();
    with_user(&state, p, |_, inner| {
        revoke_tokens_of(inner, &name);
        Ok(StatusCode::NO_CONTENT)
    })
}

fn revoke_tokens_of(inner: &mut Inner, user_name: &str) {
    for t in inner.tokens.values_mut() {
        if t.sam.as_ref().is_some_and(|s| s.user_name == user_name) {
            t.revoked = true;
        }
    }
}
