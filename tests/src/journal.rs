//! napsh's session journal as the e2e tests see it: `napsh history --json` entries of one
//! kind, with the journal and that output checked free of every secret napsh holds.

use crate::{TestEnv, AUTH_KEY};
use serde_json::Value;

/// The secrets of a test env: the auth key, and the API key and token napsh cached.
pub fn secrets(env: &TestEnv) -> Vec<(&'static str, String)> {
    let mut found = vec![("the auth key", AUTH_KEY.to_string())];
    let dir = env.path().join("cache/napsh/tokens");
    for file in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let text = std::fs::read(file.path()).unwrap_or_default();
        let v: Value = serde_json::from_slice(&text).unwrap_or_default();
        for (what, key) in [("the API key", "apiKey"), ("the API token", "token")] {
            if let Some(s) = v[key].as_str() {
                found.push((what, s.to_string()));
            }
        }
    }
    found
}

/// The journal entries of `kind` (oldest first), after checking that neither the journal
/// file nor `napsh history --json` holds a secret.
pub fn entries(env: &TestEnv, kind: &str) -> Vec<Value> {
    let out = env.run(&["history", "--json", "--limit", "10000"]);
    out.expect_code(0);
    let file = env.path().join("state/napsh/journal.jsonl");
    // Not there yet before the first entry (history then lists none).
    let journal = std::fs::read_to_string(file).unwrap_or_default();
    let secrets = secrets(env);
    assert!(secrets.len() >= 3, "napsh cached no API key and token");
    for (what, secret) in &secrets {
        for (source, text) in [("the journal", &journal), ("history --json", &out.stdout)] {
            assert!(
                !text.contains(secret.as_str()),
                "{what} is in {source}:\n{text}"
            );
        }
    }
    let all: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("history --json is not JSON ({e}): {}", out.stdout));
    all.as_array()
        .expect("history --json is an array")
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}
