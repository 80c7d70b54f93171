//! Choosing the devices a fleet command acts on: named devices, every device, those carrying
//! a tag `KEY=VALUE`, or those in a SIM group; optionally online ones only.

use crate::device::Device;
use crate::resolve::{resolve, ResolveError};
use crate::sanitize::for_terminal;
use std::fmt;

/// Which devices a fleet command targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Device arguments (name tag, SIM id or IMSI), each naming exactly one device.
    Names(Vec<String>),
    /// Every device of the operator.
    All,
    /// Devices whose tag `key` equals `value` exactly.
    Tag {
        /// Tag name.
        key: String,
        /// Tag value.
        value: String,
    },
    /// Devices in the SIM group with this id.
    Group(String),
}

/// Why no target list could be made.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectError {
    /// A device argument named no single device.
    Resolve(ResolveError),
    /// The selection is empty.
    Nothing {
        /// The selector, in words.
        what: String,
        /// Whether `--online` removed devices that matched otherwise.
        online_filtered: bool,
    },
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::Resolve(e) => write!(f, "{e}"),
            SelectError::Nothing {
                what,
                online_filtered: true,
            } => write!(f, "no online device matches {what}"),
            SelectError::Nothing { what, .. } => {
                write!(
                    f,
                    "no device matches {what}; run `napsh devices` to list them"
                )
            }
        }
    }
}

impl std::error::Error for SelectError {}

/// Parses `KEY=VALUE` for `--tag` (both sides trimmed; the key must not be empty).
pub fn parse_tag(text: &str) -> Result<Selector, String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok(Selector::Tag {
            key: k.trim().to_string(),
            value: v.trim().to_string(),
        }),
        _ => Err(format!(
            "--tag expects KEY=VALUE (like role=kiosk), got \"{}\"",
            for_terminal(text)
        )),
    }
}

impl Selector {
    /// The selector in words, for messages (sanitised).
    pub fn describe(&self) -> String {
        match self {
            Selector::Names(n) => for_terminal(&n.join(" ")),
            Selector::All => "--all".into(),
            Selector::Tag { key, value } => for_terminal(&format!("tag {key}={value}")),
            Selector::Group(g) => for_terminal(&format!("group {g}")),
        }
    }

    /// Whether `device` is selected by a set-based selector (never for `Names`).
    fn picks(&self, device: &Device) -> bool {
        match self {
            Selector::Names(_) => false,
            Selector::All => true,
            Selector::Tag { key, value } => device.tags.get(key) == Some(value),
            Selector::Group(g) => device.group_id.as_deref() == Some(g.as_str()),
        }
    }
}

/// The devices `selector` targets, in `devices` order (names: in argument order, each device
/// once); with `online_only`, offline ones are dropped. An empty result is an error.
pub fn select<'a>(
    devices: &'a [Device],
    selector: &Selector,
    online_only: bool,
) -> Result<Vec<&'a Device>, SelectError> {
    let mut picked: Vec<&Device> = match selector {
        Selector::Names(names) => {
            let mut out: Vec<&Device> = Vec::new();
            for name in names {
                let d = resolve(devices, name).map_err(SelectError::Resolve)?;
                if !out.iter().any(|o| o.sim_id == d.sim_id) {
                    out.push(d);
                }
            }
            out
        }
        _ => devices.iter().filter(|d| selector.picks(d)).collect(),
    };
    let before = picked.len();
    if online_only {
        picked.retain(|d| d.online);
    }
    if picked.is_empty() {
        return Err(SelectError::Nothing {
            what: selector.describe(),
            online_filtered: before > 0,
        });
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn device(sim: &str, name: &str, online: bool, role: &str, group: Option<&str>) -> Device {
        let mut d = Device::named(sim, name);
        d.tags.insert("role".into(), role.into());
        d.online = online;
        d.group_id = group.map(Into::into);
        d
    }

    fn fleet() -> Vec<Device> {
        vec![
            device("1", "cam-a", true, "camera", Some("g1")),
            device("2", "cam-b", false, "camera", Some("g1")),
            device("3", "kiosk", true, "kiosk", Some("g2")),
            device("4", "loose", true, "kiosk", None),
        ]
    }

    fn ids(v: &[&Device]) -> Vec<String> {
        v.iter().map(|d| d.sim_id.clone()).collect()
    }

    #[rstest]
    #[case::all(Selector::All, false, &["1", "2", "3", "4"])]
    #[case::all_online(Selector::All, true, &["1", "3", "4"])]
    #[case::tag(parse_tag("role=camera").unwrap(), false, &["1", "2"])]
    #[case::tag_online(parse_tag(" role = camera ").unwrap(), true, &["1"])]
    #[case::group(Selector::Group("g2".into()), false, &["3"])]
    #[case::names_dedup(Selector::Names(vec!["kiosk".into(), "1".into(), "3".into()]), false, &["3", "1"])]
    fn selects(#[case] sel: Selector, #[case] online: bool, #[case] want: &[&str]) {
        let f = fleet();
        assert_eq!(ids(&select(&f, &sel, online).unwrap()), want);
    }

    #[test]
    fn empty_selections_explain_themselves() {
        let f = fleet();
        let err = select(&f, &Selector::Group("nope".into()), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no device matches group nope; run `napsh devices` to list them"
        );
        let names = Selector::Names(vec!["cam-b".into()]);
        let err = select(&f, &names, true).unwrap_err();
        assert_eq!(err.to_string(), "no online device matches cam-b");
        let err = select(&f, &Selector::Names(vec!["zzz".into()]), false).unwrap_err();
        assert!(matches!(err, SelectError::Resolve(_)));
    }

    #[rstest]
    #[case("role")]
    #[case("=x")]
    #[case("")]
    fn bad_tags_are_refused(#[case] text: &str) {
        assert!(parse_tag(text).unwrap_err().contains("KEY=VALUE"));
    }
}
