//! Looking for secrets where they must never be: a process tree's command lines and
//! environments, texts, and every file under a directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `pid` and every process below it.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        if let Some(ppid) = rest.split(' ').nth(1).and_then(|p| p.parse().ok()) {
            parents.entry(ppid).or_default().push(child);
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        tree.extend(parents.get(&tree[i]).cloned().unwrap_or_default());
        i += 1;
    }
    tree
}

/// Each secret found in `haystack`, named after `what`.
pub fn hits(what: &str, haystack: &[u8], secrets: &[(&str, &str)]) -> Vec<String> {
    secrets
        .iter()
        .filter(|(_, s)| haystack.windows(s.len()).any(|w| w == s.as_bytes()))
        .map(|(name, _)| format!("{name} in {what}"))
        .collect()
}

/// Every file under `dir` (recursively).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every secret found in the command lines and environments of `pid` and its descendants.
pub fn in_processes(pid: u32, secrets: &[(&str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for p in process_tree(pid) {
        for part in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(format!("/proc/{p}/{part}")) {
                found.extend(hits(&format!("/proc/{p}/{part}"), &bytes, secrets));
            }
        }
    }
    found
}
