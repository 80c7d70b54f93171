//! Wire types of the SAM user operations `napsh access` calls (`/operators/{operator_id}/
//! users…`): users, their auth keys and their permission document. Field names as in the
//! official spec; fields napsh only shows are optional.

use serde::{Deserialize, Serialize};

/// `CreateUserRequest` / `UpdateUserRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserDescription {
    /// Free text shown in the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `AuthKeyResponse`: one auth key of a SAM user (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthKeyInfo {
    /// `keyId-…`.
    pub auth_key_id: String,
    /// Creation time (unix seconds).
    #[serde(default)]
    pub create_date_time: Option<i64>,
    /// Last use (unix seconds), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_date_time: Option<i64>,
}

/// `UserDetailResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    /// The user's name.
    pub user_name: String,
    /// Its auth keys.
    #[serde(default)]
    pub auth_key_list: Vec<AuthKeyInfo>,
    /// Creation time (unix seconds).
    #[serde(default)]
    pub create_date_time: Option<i64>,
    /// Last update (unix seconds).
    #[serde(default)]
    pub update_date_time: Option<i64>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a console password is set.
    #[serde(default)]
    pub has_password: bool,
    /// The permission document (JSON text), when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Roles (napsh neither reads nor writes them).
    #[serde(default)]
    pub role_list: Vec<serde_json::Value>,
}

/// `GenerateUserAuthKeyResponse`: the secret is in this answer only.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedAuthKey {
    /// `keyId-…`.
    pub auth_key_id: String,
    /// `secret-…`: never printed or logged.
    pub auth_key: String,
}

impl std::fmt::Debug for GeneratedAuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedAuthKey {{ auth_key_id: {:?}, auth_key: <hidden> }}",
            self.auth_key_id
        )
    }
}

/// `SetUserPermissionRequest` / `GetUserPermissionResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPermission {
    /// The permission document as JSON text.
    pub permission: String,
    /// Description (request only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
