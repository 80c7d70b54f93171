//! When `napsh access grant` granted each device, per profile and SAM user (`access.json`
//! in the state directory, 0600). Only for display (`napsh access show`): the permission
//! document on Soracom's side stays the truth of what is granted.

use crate::state::paths::{read_private, write_private};
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `"<profile key>/<user>"` → SIM id → granted at (unix ms).
type Grants = BTreeMap<String, BTreeMap<String, i64>>;

/// The record in `state_dir`.
pub struct GrantLog {
    /// `access.json`.
    path: PathBuf,
    /// `"<profile key>/<user>"`.
    key: String,
}

impl GrantLog {
    /// The record of `user` under profile `profile_key`.
    pub fn new(state_dir: &Path, profile_key: &str, user: &str) -> Self {
        GrantLog {
            path: state_dir.join("access.json"),
            key: format!("{profile_key}/{user}"),
        }
    }

    fn read(&self) -> Grants {
        read_private(&self.path)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// When each SIM was granted, as far as this machine knows.
    pub fn since(&self) -> BTreeMap<String, i64> {
        self.read().remove(&self.key).unwrap_or_default()
    }

    /// Records `sims` as granted (keeping earlier times), forgetting the SIMs not listed.
    pub fn set(&self, sims: &[&str], now_ms: i64) -> Result<()> {
        let mut all = self.read();
        let old = all.remove(&self.key).unwrap_or_default();
        let entry = sims
            .iter()
            .map(|s| (s.to_string(), old.get(*s).copied().unwrap_or(now_ms)))
            .collect();
        all.insert(self.key.clone(), entry);
        write_private(&self.path, &serde_json::to_vec_pretty(&all)?)
    }

    /// Forgets the user.
    pub fn clear(&self) -> Result<()> {
        let mut all = self.read();
        if all.remove(&self.key).is_some() {
            write_private(&self.path, &serde_json::to_vec_pretty(&all)?)?;
        }
        Ok(())
    }
}
