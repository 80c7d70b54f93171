//! The SAM user operations `napsh access` calls (`/operators/{operator_id}/users/…`), one
//! function per operation of the official spec; every path segment is percent-encoded. An
//! auth key's secret is only ever held in memory (`GeneratedAuthKey` hides it from `Debug`).

use crate::error;
use crate::soracom::api::Client;
use crate::soracom::path::segment;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::soracom::users::{
    AuthKeyInfo, GeneratedAuthKey, UserDescription, UserDetail, UserPermission,
};
use reqwest::Method;

/// One SAM user of one operator.
pub struct SamUser<'a> {
    /// The signed-in client (the owner's profile).
    client: &'a Client,
    /// `/operators/{operator_id}/users/{user_name}`, encoded.
    base: String,
}

/// `/operators/{operator_id}/users`, encoded.
pub fn users_path(operator_id: &str) -> String {
    format!("/operators/{}/users", segment(operator_id))
}

/// `listUsers`: `GET /operators/{operator_id}/users`.
pub async fn list_users(client: &Client, operator_id: &str) -> Result<Vec<UserDetail>> {
    client.get(&users_path(operator_id), &[]).await
}

impl<'a> SamUser<'a> {
    /// User `name` of `operator_id`.
    pub fn new(client: &'a Client, operator_id: &str, name: &str) -> Self {
        SamUser {
            client,
            base: format!("{}/{}", users_path(operator_id), segment(name)),
        }
    }

    /// The path of `what` under this user (`""` = the user itself).
    pub fn path(&self, what: &str) -> String {
        format!("{}{what}", self.base)
    }

    async fn call(
        &self,
        method: Method,
        what: &str,
        body: Option<serde_json::Value>,
    ) -> Result<()> {
        self.client
            .request(method, &self.path(what), &[], body)
            .await
            .map(drop)
    }

    /// `getUser`; `None` when there is no such user (404).
    pub async fn get(&self) -> Result<Option<UserDetail>> {
        match self.client.get(&self.path(""), &[]).await {
            Ok(u) => Ok(Some(u)),
            Err(e) if error::kind_of(&e) == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `createUser`.
    pub async fn create(&self, description: &str) -> Result<()> {
        let body = UserDescription {
            description: Some(description.to_string()),
        };
        self.call(Method::POST, "", Some(serde_json::to_value(body)?))
            .await
    }

    /// `updateUserPermission`: replaces the permission document.
    pub async fn set_permission(&self, document: &str) -> Result<()> {
        let body = UserPermission {
            permission: document.to_string(),
            description: None,
        };
        self.call(
            Method::PUT,
            "/permission",
            Some(serde_json::to_value(body)?),
        )
        .await
    }

    /// `deleteUserPermission`.
    pub async fn delete_permission(&self) -> Result<()> {
        self.call(Method::DELETE, "/permission", None).await
    }

    /// `generateUserAuthKey`: the new key, secret included (shown in this answer only).
    pub async fn generate_key(&self) -> Result<GeneratedAuthKey> {
        self.client
            .post(&self.path("/auth_keys"), &serde_json::json!({}))
            .await
    }

    /// `listUserAuthKeys`.
    pub async fn keys(&self) -> Result<Vec<AuthKeyInfo>> {
        self.client.get(&self.path("/auth_keys"), &[]).await
    }

    /// `deleteUserAuthKey`.
    pub async fn delete_key(&self, auth_key_id: &str) -> Result<()> {
        let what = format!("/auth_keys/{}", segment(auth_key_id));
        self.call(Method::DELETE, &what, None).await
    }

    /// `revokeUserAuthTokens`: every API key and token the user holds stops working.
    pub async fn revoke_tokens(&self) -> Result<()> {
        self.call(Method::DELETE, "/tokens", None).await
    }

    /// `deleteUser`.
    pub async fn delete(&self) -> Result<()> {
        self.call(Method::DELETE, "", None).await
    }
}
