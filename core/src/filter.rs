//! Fuzzy filtering of the device list as the user types: over name, SIM id, IMSI and tags.
//!
//! Haystacks are built once per list (not per keystroke); a keystroke re-scores every device
//! with nucleo's matcher, which keeps 10,000 devices well inside a frame.

use crate::messages::DeviceEntry;
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32String};

/// Pre-built search text for every device of a list, and a reusable matcher.
pub struct DeviceFilter {
    /// One haystack per device, same order as the list it was built from.
    haystacks: Vec<Utf32String>,
    /// nucleo's matcher (holds scratch buffers; reused across keystrokes).
    matcher: Matcher,
}

impl DeviceFilter {
    /// Builds haystacks for `entries`.
    pub fn new(entries: &[DeviceEntry]) -> Self {
        let haystacks = entries
            .iter()
            .map(|e| Utf32String::from(haystack(e)))
            .collect();
        DeviceFilter {
            haystacks,
            matcher: Matcher::new(Config::DEFAULT),
        }
    }

    /// Indexes of the entries matching `query`, best match first (ties keep list order).
    /// An empty query matches everything in list order.
    pub fn matching(&mut self, query: &str) -> Vec<usize> {
        if query.trim().is_empty() {
            return (0..self.haystacks.len()).collect();
        }
        let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
        let mut scored: Vec<(u32, usize)> = self
            .haystacks
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                pattern
                    .score(h.slice(..), &mut self.matcher)
                    .map(|s| (s, i))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, i)| i).collect()
    }
}

/// The text a device is searched by: name first (it scores best), then ids and tag values.
fn haystack(entry: &DeviceEntry) -> String {
    let d = &entry.device;
    let mut parts: Vec<&str> = vec![&d.name, &d.sim_id];
    parts.extend(d.imsi.as_deref());
    parts.extend(d.group_id.as_deref());
    parts.extend(
        d.tags
            .iter()
            .filter(|(k, _)| k.as_str() != "name")
            .map(|(_, v)| v.as_str()),
    );
    parts.join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::device::Device;
    use crate::soracom::TagSet;
    use rstest::rstest;

    pub(crate) fn entry(
        sim_id: &str,
        name: &str,
        online: bool,
        tags: &[(&str, &str)],
    ) -> DeviceEntry {
        let mut all = TagSet::new();
        all.insert("name".into(), name.into());
        for (k, v) in tags {
            all.insert((*k).into(), (*v).into());
        }
        DeviceEntry {
            device: Device {
                sim_id: sim_id.into(),
                imsi: Some(format!("4401{sim_id}")),
                name: name.into(),
                online,
                tags: all,
                group_id: None,
                speed_class: None,
                last_seen: None,
                status: None,
                ue_ip_address: None,
            },
            mappings: vec![],
        }
    }

    fn fleet() -> Vec<DeviceEntry> {
        vec![
            entry("111", "kiosk-osaka-01", true, &[("site", "osaka")]),
            entry("222", "kiosk-tokyo-07", true, &[("site", "tokyo")]),
            entry("333", "weather-hokkaido", false, &[("site", "sapporo")]),
            entry("444", "gateway-factory-a", true, &[("role", "gateway")]),
        ]
    }

    #[rstest]
    #[case::empty_matches_all("", &[0, 1, 2, 3])]
    #[case::fuzzy_name("osaka", &[0])]
    #[case::fuzzy_subsequence("kos", &[0, 1, 2])]
    #[case::case_insensitive("TOKYO", &[1])]
    #[case::by_sim_id("333", &[2])]
    #[case::by_imsi("4401444", &[3])]
    #[case::by_tag_value("sapporo", &[2])]
    #[case::nothing("zzzz", &[])]
    fn filters(#[case] query: &str, #[case] expected: &[usize]) {
        let list = fleet();
        let mut filter = DeviceFilter::new(&list);
        assert_eq!(filter.matching(query), expected);
    }

    #[test]
    fn better_matches_come_first() {
        let list = vec![
            entry("1", "k-i-o-s-k", true, &[]),
            entry("2", "kiosk", true, &[]),
        ];
        let mut filter = DeviceFilter::new(&list);
        assert_eq!(filter.matching("kiosk"), vec![1, 0]);
    }
}
