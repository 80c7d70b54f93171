//! The last failure napsh saw per device (XDG state dir), so that `napsh guide` can say why
//! a device could not be reached even when asked later by the plugin.

use crate::state::paths::{now_ms, read_private, write_private_unsynced};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One recorded failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The one-line error message.
    pub message: String,
    /// When it happened (unix ms).
    pub at_ms: i64,
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("last-failures.json")
}

fn load(state_dir: &Path) -> BTreeMap<String, Failure> {
    read_private(&path(state_dir))
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records (or with `None`, clears) the last failure for `sim_id`. Best effort.
pub fn record(state_dir: &Path, sim_id: &str, message: Option<&str>) {
    let mut all = load(state_dir);
    match message {
        Some(m) => {
            all.insert(
                sim_id.to_string(),
                Failure {
                    message: m.to_string(),
                    at_ms: now_ms(),
                },
            );
        }
        None => {
            if all.remove(sim_id).is_none() {
                return;
            }
        }
    }
    if let Ok(bytes) = serde_json::to_vec(&all) {
        let _ = write_private_unsynced(&path(state_dir), &bytes);
    }
}

/// The last failure recorded for `sim_id`.
pub fn last(state_dir: &Path, sim_id: &str) -> Option<Failure> {
    load(state_dir).remove(sim_id)
}
