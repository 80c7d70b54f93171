//! SAM users of the emulated operator: their auth keys and permission documents, and who a
//! token speaks for. A SAM user's token carries the permission it had when issued (as the
//! real API may keep it until the token is revoked); every `/v1` call of such a token is
//! checked against it (`api::require_token`), with `napsh_core::sam`'s grammar.

use napsh_core::sam::Policy;
use napsh_core::soracom::users::{AuthKeyInfo, UserDetail};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most SAM users the emulator keeps.
pub const MAX_USERS: usize = 1_000;
/// Most auth keys per user (the real API allows two).
pub const MAX_KEYS: usize = 2;

/// One auth key (its secret kept to check `/v1/auth`).
#[derive(Debug, Clone)]
pub struct SamKey {
    /// `keyId-…`.
    pub id: String,
    /// `secret-…`.
    pub secret: String,
    /// Creation (unix seconds).
    pub created_s: i64,
}

/// One SAM user.
#[derive(Debug, Clone)]
pub struct SamUser {
    /// Description.
    pub description: Option<String>,
    /// The permission document as set (text) and parsed; `None` = none set (nothing allowed).
    pub permission: Option<(String, Arc<Policy>)>,
    /// Auth keys.
    pub keys: Vec<SamKey>,
    /// Creation (unix seconds).
    pub created_s: i64,
    /// Last update (unix seconds).
    pub updated_s: i64,
}

impl SamUser {
    /// A new user with `description`, created at `now_s`.
    pub fn new(description: Option<String>, now_s: i64) -> Self {
        SamUser {
            description,
            permission: None,
            keys: Vec::new(),
            created_s: now_s,
            updated_s: now_s,
        }
    }

    /// The wire `UserDetailResponse` of user `name`.
    pub fn detail(&self, name: &str) -> UserDetail {
        UserDetail {
            user_name: name.to_string(),
            auth_key_list: self.key_infos(),
            create_date_time: Some(self.created_s),
            update_date_time: Some(self.updated_s),
            description: self.description.clone(),
            has_password: false,
            permission: self.permission.as_ref().map(|(text, _)| text.clone()),
            role_list: Vec::new(),
        }
    }

    /// The wire `AuthKeyResponse`s (never a secret).
    pub fn key_infos(&self) -> Vec<AuthKeyInfo> {
        self.keys
            .iter()
            .map(|k| AuthKeyInfo {
                auth_key_id: k.id.clone(),
                create_date_time: Some(k.created_s),
                last_used_date_time: None,
            })
            .collect()
    }

    /// The policy a token issued now carries (empty: nothing allowed).
    pub fn policy(&self) -> Arc<Policy> {
        self.permission
            .as_ref()
            .map_or_else(|| Arc::new(Policy::default()), |(_, p)| p.clone())
    }
}

/// Who a SAM token speaks for.
#[derive(Debug, Clone)]
pub struct SamIdentity {
    /// The SAM user's name.
    pub user_name: String,
    /// Its permission when the token was issued.
    pub policy: Arc<Policy>,
}

/// Every SAM user, by name.
pub type SamUsers = BTreeMap<String, SamUser>;

/// The user and key matching an `authKeyId`/`authKey` pair.
pub fn by_auth_key<'a>(
    users: &'a SamUsers,
    id: &str,
    secret: &str,
) -> Option<(&'a String, &'a SamUser)> {
    users
        .iter()
        .find(|(_, u)| u.keys.iter().any(|k| k.id == id && k.secret == secret))
}

/// Whether `name` is a SAM user name the emulator accepts: 1 to 100 ASCII letters, digits,
/// `-`, `_`, `.` or `@`.
pub fn valid_user_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}
