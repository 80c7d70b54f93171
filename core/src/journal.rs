//! The session journal's format: one JSON object per line saying who reached which device,
//! when, from where, through which mapping, for what, and how it ended; plus choosing and
//! rendering entries for `napsh history`. Never holds a secret.

use crate::messages::ErrorKind;
use crate::sanitize::{for_terminal, for_terminal_truncated};
use serde::{Deserialize, Serialize};

/// Version of the line format (`v` field).
pub const FORMAT_VERSION: u32 = 1;
/// Entries `napsh history` shows without `--limit`.
pub const DEFAULT_LIMIT: usize = 20;

/// One session to one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Line format version ([`FORMAT_VERSION`]).
    pub v: u32,
    /// Local user who ran napsh.
    pub local_user: String,
    /// napsh's process id.
    pub pid: u32,
    /// Device name tag (untrusted text).
    pub device: String,
    /// SIM id.
    pub sim_id: String,
    /// What the session was for: `ssh`, `exec`, `keys-push`, `keys-list`, `proxy`, …
    pub kind: String,
    /// Start (unix ms).
    pub started_at: i64,
    /// End (unix ms).
    pub ended_at: i64,
    /// `ended_at - started_at`.
    pub duration_ms: i64,
    /// Source range the mapping allows (our address), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Mapping used, `ip:port`, when one was ensured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    /// Whether that mapping was reused (`false`: created for this session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_reused: Option<bool>,
    /// The device port reached, for sessions to a chosen port (`proxy`, `tunnel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Exit code of the remote command or session, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What went wrong, when napsh itself failed (`offline`, `ssh`, …) or was interrupted
    /// (`interrupted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JournalEntry {
    /// The outcome in a few words: `exit 0`, `offline`, …
    pub fn outcome(&self) -> String {
        match (&self.error, self.exit_code) {
            (Some(e), _) => for_terminal(e),
            (None, Some(c)) => format!("exit {c}"),
            (None, None) => "-".into(),
        }
    }
}

/// The `error` text of a failure kind (its snake_case name, as in `--json` errors).
pub fn error_name(kind: ErrorKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "internal".into())
}

/// The entry as one journal line, newline included.
pub fn to_line(entry: &JournalEntry) -> String {
    let mut line = serde_json::to_string(entry).unwrap_or_default();
    line.push('\n');
    line
}

/// Every well-formed entry of a journal's text, in file order (a torn or foreign line is
/// skipped, never fatal).
pub fn parse(text: &str) -> Vec<JournalEntry> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The last `limit` entries (newest last), only those of `device` (exact name tag or SIM id)
/// when given.
pub fn select<'a>(
    entries: &'a [JournalEntry],
    device: Option<&str>,
    limit: usize,
) -> Vec<&'a JournalEntry> {
    let mut picked: Vec<&JournalEntry> = entries
        .iter()
        .filter(|e| device.is_none_or(|d| e.device == d || e.sim_id == d))
        .collect();
    picked.sort_by_key(|e| e.started_at);
    let skip = picked.len().saturating_sub(limit);
    picked.split_off(skip)
}

/// Column titles of the history table.
pub const HISTORY_HEADER: [&str; 9] = [
    "START (UTC)",
    "DURATION",
    "USER",
    "DEVICE",
    "SIM ID",
    "KIND",
    "MAPPING",
    "FROM",
    "OUTCOME",
];

/// The history table's cells for each entry (every cell sanitised).
pub fn history_rows(entries: &[&JournalEntry]) -> Vec<Vec<String>> {
    let dash = || "-".to_string();
    entries
        .iter()
        .map(|e| {
            let mapping = e.mapping.as_deref().map_or_else(dash, |m| {
                let how = match e.mapping_reused {
                    Some(true) => " (reused)",
                    Some(false) => " (created)",
                    None => "",
                };
                format!("{}{how}", for_terminal(m))
            });
            vec![
                format_utc(e.started_at),
                format_elapsed(e.duration_ms),
                for_terminal_truncated(&e.local_user, 16),
                for_terminal_truncated(&e.device, 28),
                for_terminal(&e.sim_id),
                kind_cell(e),
                mapping,
                e.source.as_deref().map_or_else(dash, for_terminal),
                e.outcome(),
            ]
        })
        .collect()
}

/// The KIND cell: `ssh`, or with the device port `tunnel:8080`.
fn kind_cell(e: &JournalEntry) -> String {
    let kind = for_terminal_truncated(&e.kind, 12);
    match e.port {
        Some(port) => format!("{kind}:{port}"),
        None => kind,
    }
}

/// `1.2s`, `3m04s`, `1h02m`: a session's length.
pub fn format_elapsed(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 60_000 {
        return format!("{}.{}s", ms / 1000, (ms % 1000) / 100);
    }
    crate::device::format_duration(ms / 1000)
}

/// `2026-11-21 20:30:05` (UTC) for a unix-ms timestamp.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn entry(device: &str, sim: &str, started: i64) -> JournalEntry {
        JournalEntry {
            v: FORMAT_VERSION,
            local_user: "alice".into(),
            pid: 42,
            device: device.into(),
            sim_id: sim.into(),
            kind: "ssh".into(),
            started_at: started,
            ended_at: started + 1500,
            duration_ms: 1500,
            source: Some("198.51.100.7/32".into()),
            mapping: Some("203.0.113.1:40000".into()),
            mapping_reused: Some(false),
            port: None,
            exit_code: Some(0),
            error: None,
        }
    }

    #[test]
    fn line_is_one_camel_case_json_object() {
        let line = to_line(&entry("kiosk", "8981", 0));
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        for key in [
            "\"localUser\":\"alice\"",
            "\"simId\":\"8981\"",
            "\"mappingReused\":false",
            "\"durationMs\":1500",
            "\"exitCode\":0",
        ] {
            assert!(line.contains(key), "{key} in {line}");
        }
        assert!(
            !line.contains("error"),
            "absent fields are left out: {line}"
        );
        assert_eq!(parse(&line), vec![entry("kiosk", "8981", 0)]);
    }

    #[test]
    fn a_device_port_is_kept_and_shown_with_the_kind_and_older_lines_still_parse() {
        let mut e = entry("kiosk", "8981", 0);
        e.kind = "tunnel".into();
        e.port = Some(8080);
        let line = to_line(&e);
        assert!(line.contains("\"port\":8080"), "{line}");
        assert_eq!(parse(&line), vec![e.clone()]);
        assert_eq!(history_rows(&[&e])[0][5], "tunnel:8080");
        let old = to_line(&entry("kiosk", "8981", 0));
        assert!(!old.contains("port"), "{old}");
        assert_eq!(history_rows(&[&parse(&old)[0]])[0][5], "ssh");
    }

    #[test]
    fn hostile_names_stay_on_one_line_and_torn_lines_are_skipped() {
        let e = entry("evil\n{\"x\":1}\x1b[2J", "1", 5);
        let text = format!("{}{{\"torn\n{}", to_line(&e), to_line(&entry("b", "2", 6)));
        let parsed = parse(&text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].device, e.device);
        let rows = history_rows(&[&parsed[0]]);
        assert!(rows[0][3].starts_with("evil\\n"), "{:?}", rows[0][3]);
        assert!(!rows[0].iter().any(|c| c.contains('\x1b')));
    }

    #[test]
    fn select_filters_by_name_or_sim_and_keeps_the_newest_last() {
        let all = vec![
            entry("a", "1", 30),
            entry("b", "2", 10),
            entry("a", "1", 20),
            entry("a", "1", 40),
        ];
        let starts = |v: Vec<&JournalEntry>| v.iter().map(|e| e.started_at).collect::<Vec<_>>();
        assert_eq!(starts(select(&all, None, 10)), [10, 20, 30, 40]);
        assert_eq!(starts(select(&all, Some("a"), 2)), [30, 40]);
        assert_eq!(starts(select(&all, Some("2"), 5)), [10]);
        assert!(select(&all, Some("zzz"), 5).is_empty());
    }

    #[test]
    fn rows_show_mapping_origin_and_outcome() {
        let mut failed = entry("a", "1", 0);
        failed.exit_code = None;
        failed.error = Some(error_name(ErrorKind::Offline));
        failed.mapping = None;
        let ok = entry("a", "1", 0);
        let rows = history_rows(&[&ok, &failed]);
        assert_eq!(rows[0][6], "203.0.113.1:40000 (created)");
        assert_eq!(rows[0][8], "exit 0");
        assert_eq!(rows[1][6], "-");
        assert_eq!(rows[1][8], "offline");
        assert_eq!(rows[0].len(), HISTORY_HEADER.len());
    }

    #[rstest]
    #[case(0, "1970-01-01 00:00:00")]
    #[case(951_782_400_000, "2000-02-29 00:00:00")]
    #[case(1_795_293_005_000, "2026-11-21 20:30:05")]
    fn utc_times(#[case] ms: i64, #[case] want: &str) {
        assert_eq!(format_utc(ms), want);
    }

    #[rstest]
    #[case(1234, "1.2s")]
    #[case(184_000, "3m04s")]
    #[case(3_720_000, "1h02m")]
    fn elapsed(#[case] ms: i64, #[case] want: &str) {
        assert_eq!(format_elapsed(ms), want);
    }
}
