//! Everything napsh prints: warnings, JSON lines, the device and mapping tables. Untrusted text
//! is sanitised here; a closed stdout (`napsh devices | head`) ends napsh quietly.

use napsh_core::device::{format_age, format_duration};
use napsh_core::messages::{DeviceEntry, MappingSummary};
use napsh_core::sanitize::{for_terminal, for_terminal_truncated};
use serde::Serialize;
use std::io::Write;

/// Width the name column is cut to.
const NAME_WIDTH: usize = 28;

/// Prints `napsh: warning: …` on stderr (never fails: stderr may be gone after SIGHUP).
pub fn warn(message: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "napsh: warning: {}",
        for_terminal(message)
    );
}

/// Prints a line of already-safe text on stderr (never fails).
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Prints a line of already-safe text on stdout; exits quietly when stdout is closed.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Prints a value as one JSON line (serde_json escapes control characters).
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(text) => line(&napsh_core::sanitize::json_for_terminal(&text)),
        Err(e) => warn(&format!("could not serialise output: {e}")),
    }
}

/// Aligns rows of cells into columns by display width (cells are already sanitised).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let width = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let render = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(widths[i] - width(cell) + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![render(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| render(r.iter().map(String::as_str).collect())),
    );
    out
}

/// "ip:port (45m left, napsh)" for a mapping.
pub fn mapping_cell(m: &MappingSummary, now_ms: i64) -> String {
    let left = m
        .expires_at
        .map(|t| format!("{} left", format_duration((t - now_ms) / 1000)))
        .unwrap_or_else(|| "no expiry".into());
    let owner = if m.owned { ", napsh" } else { "" };
    format!("{} ({left}{owner})", for_terminal(&m.endpoint))
}

/// The `napsh devices` table.
pub fn devices_table(entries: &[DeviceEntry], now_ms: i64) -> Vec<String> {
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let d = &e.device;
            vec![
                for_terminal_truncated(d.label(), NAME_WIDTH),
                if d.online { "online" } else { "offline" }.to_string(),
                for_terminal(&d.sim_id),
                d.imsi.as_deref().map(for_terminal).unwrap_or_else(dash),
                format_age(d.last_seen, now_ms),
                d.group_id
                    .as_deref()
                    .map(|g| for_terminal_truncated(g, 20))
                    .unwrap_or_else(dash),
                d.speed_class
                    .as_deref()
                    .map(for_terminal)
                    .unwrap_or_else(dash),
                if e.mappings.is_empty() {
                    dash()
                } else {
                    e.mappings
                        .iter()
                        .map(|m| mapping_cell(m, now_ms))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "STATUS",
            "SIM ID",
            "IMSI",
            "LAST SEEN",
            "GROUP",
            "SPEED",
            "MAPPING",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use napsh_core::soracom::TagSet;
    use napsh_core::Device;

    #[test]
    fn table_aligns_and_sanitises_names() {
        let mut tags = TagSet::new();
        tags.insert("name".into(), "evil\x1b[2J".into());
        let entry = DeviceEntry {
            device: Device {
                sim_id: "8981".into(),
                imsi: Some("4401".into()),
                name: format!("evil\x1b[2J{}", "x".repeat(100)),
                online: true,
                tags,
                group_id: None,
                speed_class: Some("s1.fast".into()),
                last_seen: Some(0),
                status: None,
                ue_ip_address: None,
            },
            mappings: vec![MappingSummary {
                endpoint: "203.0.113.1:40000".into(),
                hostname: None,
                device_port: 22,
                expires_at: Some(600_000),
                owned: true,
            }],
        };
        let lines = devices_table(&[entry], 0);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("NAME"));
        assert!(!lines[1].contains('\x1b'));
        assert!(lines[1].contains("…"));
        assert!(
            lines[1].contains("203.0.113.1:40000 (10m00s left, napsh)"),
            "{}",
            lines[1]
        );
    }
}
