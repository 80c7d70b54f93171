//! Name aliases: what a device's name tag turns into as `NAME.napsh` (ssh-config) and as its
//! Ansible host name, and which devices get none. A name tag is written by anyone with tag
//! permission, so ids win: a name that is another device's SIM id or IMSI, or that several
//! devices share, names no device.

use crate::sanitize::for_terminal_truncated;
use std::collections::{BTreeMap, BTreeSet};

/// The `.napsh` alias of a device name: lower case (ssh lowercases host names), letters,
/// digits, `-` and `_` kept, every other run of characters one `-`; `None` when nothing is
/// left.
pub fn alias_for_name(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// What a device could be called by: its name tag and its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AliasClaim<'a> {
    /// The `name` tag (untrusted text; may be empty).
    pub name: &'a str,
    /// SIM id.
    pub sim_id: &'a str,
    /// IMSI, when known.
    pub imsi: Option<&'a str>,
}

/// The name alias a device gets, or why it gets none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameAlias {
    /// The alias is this device's alone.
    Own(String),
    /// The name gives no alias of its own: empty, nothing left once cleaned, or the device's
    /// own SIM id or IMSI (its id alias already answers to it).
    NoName,
    /// Several devices' names give this alias: it names none of them.
    Shared(String),
    /// This alias is another device's SIM id or IMSI: ids win, no device gets it as a name.
    AnotherDevicesId(String),
}

impl NameAlias {
    /// The alias, when the device has one of its own.
    pub fn alias(&self) -> Option<&str> {
        match self {
            NameAlias::Own(alias) => Some(alias),
            _ => None,
        }
    }

    /// One terminal-safe sentence for a device whose name gives no alias although it could
    /// (shared or another device's id); `None` otherwise.
    pub fn warning(&self, claim: &AliasClaim<'_>, suffix: &str) -> Option<String> {
        let sim = for_terminal_truncated(claim.sim_id, 40);
        match self {
            NameAlias::Shared(alias) => Some(format!(
                "{alias}{suffix} names several devices: use the SIM id alias ({sim}{suffix})"
            )),
            NameAlias::AnotherDevicesId(_) => Some(format!(
                "the name {:?} of SIM {sim} is another device's SIM id or IMSI, so it gives no alias: use {sim}{suffix}",
                for_terminal_truncated(claim.name, 60)
            )),
            NameAlias::Own(_) | NameAlias::NoName => None,
        }
    }
}

/// The name alias of each claim (same order): a name alias that is any SIM id or IMSI of
/// another device, or that two names share, goes to no device.
pub fn name_aliases(claims: &[AliasClaim<'_>]) -> Vec<NameAlias> {
    let mut id_owners: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (i, c) in claims.iter().enumerate() {
        for id in std::iter::once(c.sim_id).chain(c.imsi) {
            id_owners.entry(id.to_lowercase()).or_default().insert(i);
        }
    }
    let aliases: Vec<Option<String>> = claims.iter().map(|c| alias_for_name(c.name)).collect();
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for alias in aliases.iter().flatten() {
        *uses.entry(alias.as_str()).or_default() += 1;
    }
    aliases
        .iter()
        .enumerate()
        .map(|(i, alias)| {
            let Some(alias) = alias else {
                return NameAlias::NoName;
            };
            match id_owners.get(alias.as_str()) {
                Some(owners) if owners.iter().any(|&o| o != i) => {
                    NameAlias::AnotherDevicesId(alias.clone())
                }
                Some(_) => NameAlias::NoName,
                None if uses[alias.as_str()] > 1 => NameAlias::Shared(alias.clone()),
                None => NameAlias::Own(alias.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("kiosk-12", Some("kiosk-12"))]
    #[case("Kiosk 12 (Osaka)", Some("kiosk-12-osaka"))]
    #[case("  ..  ", None)]
    #[case("", None)]
    #[case("cam_01", Some("cam_01"))]
    #[case("a*b?c!d,e", Some("a-b-c-d-e"))]
    #[case("\u{1b}[31mred", Some("31mred"))]
    #[case("日本", None)]
    fn aliases(#[case] name: &str, #[case] want: Option<&str>) {
        assert_eq!(alias_for_name(name).as_deref(), want);
    }

    fn claim<'a>(name: &'a str, sim_id: &'a str, imsi: Option<&'a str>) -> AliasClaim<'a> {
        AliasClaim { name, sim_id, imsi }
    }

    #[test]
    fn ids_win_over_names() {
        let claims = [
            claim("8942000000000000002", "8942000000000000001", None),
            claim("victim", "8942000000000000002", Some("440100000000002")),
            claim("440100000000002", "8942000000000000003", None),
            claim("Own-Sim", "own-sim", None),
            claim("cam", "8942000000000000005", None),
            claim("CAM", "8942000000000000006", None),
            claim("", "8942000000000000007", None),
            claim(
                "8942000000000000009",
                "8942000000000000008",
                Some("8942000000000000009"),
            ),
        ];
        assert_eq!(
            name_aliases(&claims),
            [
                NameAlias::AnotherDevicesId("8942000000000000002".into()),
                NameAlias::Own("victim".into()),
                NameAlias::AnotherDevicesId("440100000000002".into()),
                NameAlias::NoName,
                NameAlias::Shared("cam".into()),
                NameAlias::Shared("cam".into()),
                NameAlias::NoName,
                NameAlias::NoName,
            ]
        );
    }

    #[test]
    fn warnings_are_terminal_safe() {
        let hostile = "\u{1b}]\u{7}8942000000000000002\u{202e}";
        let claims = [
            claim(hostile, "89420\u{1b}[2J01", None),
            claim("victim", "8942000000000000002", None),
        ];
        let verdicts = name_aliases(&claims);
        assert_eq!(
            verdicts[0],
            NameAlias::AnotherDevicesId("8942000000000000002".into())
        );
        let warning = verdicts[0].warning(&claims[0], ".napsh").unwrap();
        assert!(
            !warning.chars().any(crate::sanitize::is_unsafe),
            "{warning:?}"
        );
        assert!(warning.contains("SIM id or IMSI"), "{warning}");
        assert_eq!(verdicts[1].warning(&claims[1], ".napsh"), None);
    }
}
