//! The picker's device feed: the few fields the picker shows and searches, in a compact line
//! format that `napsh devices --picker` prints and the plugin parses.
//!
//! Why not the `--json` output: Zellij runs plugins in an interpreter with a 16 MB memory cap.
//! 10,000 devices as JSON are ~3 MB and, parsed into full `DeviceEntry` values with their tag
//! maps, exceed the cap; this feed is about a third of the size and parses into flat structs.

use crate::device::Device;
use crate::messages::DeviceEntry;

/// First line of the feed (lets the plugin refuse a helper speaking another version).
pub const HEADER: &str = "napsh-picker-feed v1";

/// One device as the picker holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerDevice {
    /// SIM id (identity; what panes and commands are keyed by).
    pub sim_id: String,
    /// IMSI, searched.
    pub imsi: String,
    /// Name tag (untrusted: sanitised when drawn); empty when unnamed.
    pub name: String,
    /// Whether the SIM has a data session.
    pub online: bool,
    /// Group id, shown and searched.
    pub group: String,
    /// Last session change (unix ms).
    pub last_seen: Option<i64>,
    /// Whether a live mapping exists.
    pub has_mapping: bool,
    /// Latest expiry of its live mappings (unix ms).
    pub mapping_expires: Option<i64>,
    /// Other tag values, space-separated, searched only.
    pub tag_values: String,
}

impl PickerDevice {
    /// The name to show: the name tag, or the SIM id when unnamed.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.sim_id
        } else {
            &self.name
        }
    }

    /// Online first, then by label, then SIM id (as `Device::display_order`).
    pub fn display_order(a: &PickerDevice, b: &PickerDevice) -> std::cmp::Ordering {
        b.online
            .cmp(&a.online)
            .then_with(|| a.label().to_lowercase().cmp(&b.label().to_lowercase()))
            .then_with(|| a.sim_id.cmp(&b.sim_id))
    }
}

impl From<&DeviceEntry> for PickerDevice {
    fn from(entry: &DeviceEntry) -> Self {
        let d: &Device = &entry.device;
        let tag_values: Vec<&str> = d
            .tags
            .iter()
            .filter(|(k, _)| k.as_str() != "name")
            .map(|(_, v)| v.as_str())
            .collect();
        PickerDevice {
            sim_id: d.sim_id.clone(),
            imsi: d.imsi.clone().unwrap_or_default(),
            name: d.name.clone(),
            online: d.online,
            group: d.group_id.clone().unwrap_or_default(),
            last_seen: d.last_seen,
            has_mapping: !entry.mappings.is_empty(),
            mapping_expires: entry.mappings.iter().filter_map(|m| m.expires_at).max(),
            tag_values: tag_values.join(" "),
        }
    }
}

/// The feed for `entries`: the header, then one tab-separated line per device.
pub fn encode(entries: &[DeviceEntry]) -> String {
    let mut out = String::with_capacity(64 + entries.len() * 120);
    out.push_str(HEADER);
    out.push('\n');
    for entry in entries {
        let d = PickerDevice::from(entry);
        let fields = [
            escape(&d.sim_id),
            escape(&d.imsi),
            escape(&d.name),
            u8::from(d.online).to_string(),
            escape(&d.group),
            d.last_seen.map(|t| t.to_string()).unwrap_or_default(),
            u8::from(d.has_mapping).to_string(),
            d.mapping_expires.map(|t| t.to_string()).unwrap_or_default(),
            escape(&d.tag_values),
        ];
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    out
}

/// Parses a feed; an error names the line that is wrong.
pub fn decode(text: &str) -> Result<Vec<PickerDevice>, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some(HEADER) => {}
        Some(other) => {
            return Err(format!(
                "the napsh helper sent an unknown device feed ({other:.40}): update napsh"
            ))
        }
        None => return Err("the napsh helper sent an empty device feed".into()),
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| decode_line(l).map_err(|e| format!("device feed line {}: {e}", i + 2)))
        .collect()
}

fn decode_line(line: &str) -> Result<PickerDevice, String> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != 9 {
        return Err(format!("expected 9 fields, got {}", f.len()));
    }
    let time = |s: &str| -> Result<Option<i64>, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| format!("bad time {s:.20}"))
        }
    };
    Ok(PickerDevice {
        sim_id: unescape(f[0]),
        imsi: unescape(f[1]),
        name: unescape(f[2]),
        online: f[3] == "1",
        group: unescape(f[4]),
        last_seen: time(f[5])?,
        has_mapping: f[6] == "1",
        mapping_expires: time(f[7])?,
        tag_values: unescape(f[8]),
    })
}

/// Escapes the feed's separators (`\t`, `\n`, `\r`) and the escape character.
fn escape(s: &str) -> String {
    if !s.contains(['\\', '\t', '\n', '\r']) {
        return s.to_string();
    }
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MappingSummary;
    use crate::soracom::TagSet;

    fn entry(name: &str, online: bool) -> DeviceEntry {
        let mut tags = TagSet::new();
        tags.insert("name".into(), name.into());
        tags.insert("site".into(), "osaka".into());
        DeviceEntry {
            device: Device {
                imsi: Some("440100000000001".into()),
                online,
                tags,
                group_id: Some("grp".into()),
                last_seen: Some(1_700_000_000_000),
                ..Device::named("8981000000000000001", name)
            },
            mappings: vec![MappingSummary {
                endpoint: "127.0.0.1:1".into(),
                hostname: None,
                device_port: 22,
                expires_at: Some(1_700_000_360_000),
                owned: true,
            }],
        }
    }

    #[test]
    fn round_trips_including_hostile_names() {
        let entries = vec![entry("kiosk-12", true), entry("evil\t\n\\x\x1b[31m", false)];
        let decoded = decode(&encode(&entries)).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0], PickerDevice::from(&entries[0]));
        assert_eq!(decoded[1].name, "evil\t\n\\x\x1b[31m");
        assert_eq!(decoded[0].mapping_expires, Some(1_700_000_360_000));
        assert_eq!(decoded[0].tag_values, "osaka");
    }

    #[test]
    fn wrong_header_or_line_is_named() {
        assert!(decode("{\"json\":1}")
            .unwrap_err()
            .contains("unknown device feed"));
        let err = decode(&format!("{HEADER}\na\tb\n")).unwrap_err();
        assert!(err.contains("line 2") && err.contains("9 fields"), "{err}");
    }
}
