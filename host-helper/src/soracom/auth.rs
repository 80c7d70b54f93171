//! The API session (apiKey + token) and its on-disk cache: one 0600 file per profile, endpoint
//! and credential identity, reused until shortly before the token expires.

use crate::soracom::profile::Profile;
use crate::state::paths::{now_ms, read_private, write_private};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Token lifetime napsh asks for, in seconds (Soracom's default, stated explicitly).
pub const TOKEN_TIMEOUT_SECS: u64 = 86_400;
/// A cached token is not reused when it expires within this many milliseconds.
const EXPIRY_MARGIN_MS: i64 = 10 * 60 * 1000;

/// An authenticated API session.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// `X-Soracom-API-Key`.
    pub api_key: String,
    /// `X-Soracom-Token`.
    pub token: String,
    /// Operator the session belongs to.
    pub operator_id: String,
    /// When the token expires (unix ms).
    pub expires_at_ms: i64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Session(operator {}, expires {})",
            self.operator_id, self.expires_at_ms
        )
    }
}

impl Session {
    /// Whether the token is still good for a while at `now`.
    pub fn is_fresh(&self, now: i64) -> bool {
        now + EXPIRY_MARGIN_MS < self.expires_at_ms
    }
}

/// The token cache file of one profile.
#[derive(Debug, Clone)]
pub struct TokenCache {
    /// `<cache>/tokens/<profile-key>.json`.
    path: PathBuf,
}

impl TokenCache {
    /// The cache for `profile` under napsh's cache dir.
    pub fn for_profile(cache_dir: &Path, profile: &Profile) -> Self {
        TokenCache {
            path: cache_dir
                .join("tokens")
                .join(format!("{}.json", profile.cache_key())),
        }
    }

    /// The file path.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached session when present, private and fresh.
    pub fn load(&self) -> Option<Session> {
        let bytes = read_private(&self.path).ok().flatten()?;
        let session: Session = serde_json::from_slice(&bytes).ok()?;
        session.is_fresh(now_ms()).then_some(session)
    }

    /// Stores a session (atomically, 0600).
    pub fn store(&self, session: &Session) -> Result<()> {
        write_private(&self.path, &serde_json::to_vec(session)?)
    }

    /// Forgets the cached session.
    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soracom::profile::Credentials;
    use std::os::unix::fs::PermissionsExt;

    fn profile(name: &str) -> Profile {
        Profile {
            name: name.into(),
            path: "/p".into(),
            endpoint: "http://x".into(),
            credentials: Credentials::AuthKey {
                id: "k".into(),
                key: "SECRET".into(),
            },
            headers: Default::default(),
        }
    }

    fn session(expires: i64) -> Session {
        Session {
            api_key: "ak".into(),
            token: "tok".into(),
            operator_id: "OP".into(),
            expires_at_ms: expires,
        }
    }

    #[test]
    fn round_trip_private_and_keyed_without_secret() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::for_profile(dir.path(), &profile("a"));
        assert!(!cache.path().to_string_lossy().contains("SECRET"));
        assert_ne!(
            cache.path(),
            TokenCache::for_profile(dir.path(), &profile("b")).path()
        );
        cache.store(&session(now_ms() + 3_600_000)).unwrap();
        let mode = std::fs::metadata(cache.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(cache.load().unwrap().token, "tok");
    }

    #[test]
    fn nearly_expired_and_loose_files_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::for_profile(dir.path(), &profile("a"));
        cache.store(&session(now_ms() + 60_000)).unwrap();
        assert!(cache.load().is_none());
        cache.store(&session(now_ms() + 3_600_000)).unwrap();
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(cache.load().is_none());
    }

    #[test]
    fn debug_hides_token() {
        assert!(!format!("{:?}", session(0)).contains("tok"));
    }
}
