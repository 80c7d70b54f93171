//! The device model: a Soracom SIM normalised into what napsh shows and connects to.

use crate::soracom::{Sim, TagSet};
use serde::{Deserialize, Serialize};

/// One device of the fleet, as `napsh devices --json` prints it and the plugin shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// SIM id: the stable identity of the device (also its host-key alias).
    pub sim_id: String,
    /// IMSI used to address it (attached one when online).
    pub imsi: Option<String>,
    /// The `name` tag; empty when unnamed. Untrusted text: sanitise before display.
    pub name: String,
    /// Whether the SIM has a data session now.
    pub online: bool,
    /// Every tag, including `name`.
    pub tags: TagSet,
    /// SIM group id.
    pub group_id: Option<String>,
    /// Speed class such as `s1.standard`.
    pub speed_class: Option<String>,
    /// When the session status last changed (unix ms).
    pub last_seen: Option<i64>,
    /// SIM status (`active`, `inactive`, …).
    pub status: Option<String>,
    /// Address of the device inside the Soracom network.
    pub ue_ip_address: Option<String>,
}

impl Device {
    /// Normalises a SIM from the API.
    pub fn from_sim(sim: &Sim) -> Self {
        let session = sim.session_status.clone().unwrap_or_default();
        Device {
            sim_id: sim.sim_id.clone(),
            imsi: sim.primary_imsi().map(str::to_string),
            name: sim.tags.get("name").cloned().unwrap_or_default(),
            online: session.online,
            tags: sim.tags.clone(),
            group_id: sim.group_id.clone(),
            speed_class: sim.speed_class.clone(),
            last_seen: session.last_updated_at,
            status: sim.status.clone(),
            ue_ip_address: session.ue_ip_address,
        }
    }

    /// A device known only by SIM id and name tag: offline, no other tag, nothing else known.
    pub fn named(sim_id: &str, name: &str) -> Self {
        let mut tags = TagSet::new();
        tags.insert("name".into(), name.into());
        Device {
            sim_id: sim_id.into(),
            imsi: None,
            name: name.into(),
            online: false,
            tags,
            group_id: None,
            speed_class: None,
            last_seen: None,
            status: None,
            ue_ip_address: None,
        }
    }

    /// The name to show: the name tag, or the SIM id when unnamed.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.sim_id
        } else {
            &self.name
        }
    }

    /// The ordering napsh lists devices in: online first, then by label, then SIM id.
    pub fn display_order(a: &Device, b: &Device) -> std::cmp::Ordering {
        b.online
            .cmp(&a.online)
            .then_with(|| a.label().to_lowercase().cmp(&b.label().to_lowercase()))
            .then_with(|| a.sim_id.cmp(&b.sim_id))
    }
}

/// Sorts devices in [`Device::display_order`].
pub fn sort_for_display(devices: &mut [Device]) {
    devices.sort_by(Device::display_order);
}

/// "3m ago"-style age of a timestamp, for tables.
pub fn format_age(then_ms: Option<i64>, now_ms: i64) -> String {
    let Some(then) = then_ms else {
        return "-".into();
    };
    let secs = ((now_ms - then) / 1000).max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// "1h05m"-style duration, for mapping time left.
pub fn format_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soracom::SessionStatus;
    use rstest::rstest;

    fn sim(id: &str, name: &str, online: bool) -> Sim {
        let mut tags = TagSet::new();
        tags.insert("name".into(), name.into());
        Sim {
            sim_id: id.into(),
            tags,
            session_status: Some(SessionStatus {
                online,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn online_first_then_name() {
        let mut devices: Vec<Device> = [
            sim("3", "b", false),
            sim("1", "z", true),
            sim("2", "a", true),
        ]
        .iter()
        .map(Device::from_sim)
        .collect();
        sort_for_display(&mut devices);
        let ids: Vec<_> = devices.iter().map(|d| d.sim_id.as_str()).collect();
        assert_eq!(ids, ["2", "1", "3"]);
    }

    #[test]
    fn unnamed_device_is_labelled_by_sim_id() {
        let d = Device::from_sim(&sim("8981", "", true));
        assert_eq!(d.label(), "8981");
    }

    #[rstest]
    #[case(None, "-")]
    #[case(Some(995_000), "5s ago")]
    #[case(Some(1_000_000 - 7_200_000), "2h ago")]
    fn ages(#[case] then: Option<i64>, #[case] expected: &str) {
        assert_eq!(format_age(then, 1_000_000), expected);
    }

    #[rstest]
    #[case(3900, "1h05m")]
    #[case(61, "1m01s")]
    #[case(-5, "0s")]
    fn durations(#[case] secs: i64, #[case] expected: &str) {
        assert_eq!(format_duration(secs), expected);
    }
}
