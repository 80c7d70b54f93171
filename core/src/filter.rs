//! Fuzzy filtering of the device list as the user types: over name, SIM id, IMSI and tags.
//!
//! Haystacks are built once per list (not per keystroke). Typing narrows: when the new query
//! extends the previous one, only the previous matches are re-scored; Backspace reuses the
//! result kept for the shorter query. A full scan of 10,000 devices happens only when the
//! query changes some other way.

use crate::picker_feed::PickerDevice;
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32String};

/// Pre-built search text for every device of a list, and a reusable matcher.
pub struct DeviceFilter {
    /// One haystack per device, same order as the list it was built from.
    haystacks: Vec<Utf32String>,
    /// nucleo's matcher (holds scratch buffers; reused across keystrokes).
    matcher: Matcher,
    /// Results of the queries typed so far, each a prefix of the next (the typing history).
    history: Vec<(String, Vec<usize>)>,
}

impl DeviceFilter {
    /// Builds haystacks for `entries`.
    pub fn new(entries: &[PickerDevice]) -> Self {
        let haystacks = entries
            .iter()
            .map(|e| Utf32String::from(haystack(e)))
            .collect();
        DeviceFilter {
            haystacks,
            matcher: Matcher::new(Config::DEFAULT),
            history: Vec::new(),
        }
    }

    /// Indexes of the entries matching `query`, best match first (ties keep list order).
    /// An empty query matches everything in list order.
    pub fn matching(&mut self, query: &str) -> Vec<usize> {
        if query.trim().is_empty() {
            self.history.clear();
            return (0..self.haystacks.len()).collect();
        }
        self.history
            .retain(|(earlier, _)| narrows_monotonically(earlier, query));
        if let Some((last, result)) = self.history.last() {
            if last == query {
                return result.clone();
            }
        }
        let result = match self.history.last() {
            Some((_, candidates)) => {
                let candidates = candidates.clone();
                self.score(query, candidates.into_iter())
            }
            None => self.score(query, 0..self.haystacks.len()),
        };
        self.history.push((query.to_string(), result.clone()));
        result
    }

    /// Scores `candidates` against `query`, best first, ties in list order. Plain words use
    /// nucleo's greedy fuzzy match (fast enough per keystroke for 10,000 devices); a query
    /// with nucleo's syntax (`!`, `^`, `$`, `'`) goes through its full pattern matcher.
    fn score(&mut self, query: &str, candidates: impl Iterator<Item = usize>) -> Vec<usize> {
        let mut scored: Vec<(u32, usize)> = if uses_pattern_syntax(query) {
            let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
            candidates
                .filter_map(|i| {
                    let score = pattern.score(self.haystacks[i].slice(..), &mut self.matcher);
                    score.map(|s| (s, i))
                })
                .collect()
        } else {
            let words: Vec<Utf32String> = query
                .split_whitespace()
                .map(|w| Utf32String::from(w.to_lowercase()))
                .collect();
            candidates
                .filter_map(|i| self.greedy_score(i, &words).map(|s| (s, i)))
                .collect()
        };
        scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, i)| i).collect()
    }

    /// Sum of the greedy fuzzy scores of every word in device `index`'s haystack, or `None`
    /// when a word does not match.
    fn greedy_score(&mut self, index: usize, words: &[Utf32String]) -> Option<u32> {
        let haystack = self.haystacks[index].slice(..);
        words.iter().try_fold(0u32, |total, word| {
            let score = self.matcher.fuzzy_match_greedy(haystack, word.slice(..))?;
            Some(total + u32::from(score))
        })
    }
}

/// Whether the query uses nucleo's pattern syntax (negation, anchors, exact quotes, escapes).
fn uses_pattern_syntax(query: &str) -> bool {
    query.contains(['!', '^', '$', '\\', '\''])
}

/// Whether every device matching `query` also matches `earlier`, so that `earlier`'s matches
/// are the only candidates: `query` extends it, and neither uses nucleo's negation (`!`),
/// anchors (`^`, `$`), exact-match quotes or escapes, which break that rule.
fn narrows_monotonically(earlier: &str, query: &str) -> bool {
    query.starts_with(earlier)
        && !uses_pattern_syntax(earlier)
        && !uses_pattern_syntax(query)
        && !earlier.ends_with(' ')
}

/// The text a device is searched by: name first (it scores best), then ids and tag values.
fn haystack(d: &PickerDevice) -> String {
    [d.name.as_str(), &d.sim_id, &d.imsi, &d.group, &d.tag_values].join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::device::Device;
    use crate::messages::DeviceEntry;
    use crate::soracom::TagSet;
    use rstest::rstest;

    pub(crate) fn entry(
        sim_id: &str,
        name: &str,
        online: bool,
        tags: &[(&str, &str)],
    ) -> PickerDevice {
        let mut all = TagSet::new();
        all.insert("name".into(), name.into());
        for (k, v) in tags {
            all.insert((*k).into(), (*v).into());
        }
        let entry = DeviceEntry {
            device: Device {
                imsi: Some(format!("4401{sim_id}")),
                online,
                tags: all,
                ..Device::named(sim_id, name)
            },
            mappings: vec![],
        };
        PickerDevice::from(&entry)
    }

    fn fleet() -> Vec<PickerDevice> {
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
    fn typing_and_backspace_agree_with_a_fresh_filter() {
        let list = fleet();
        let mut typed = DeviceFilter::new(&list);
        for query in [
            "k", "ki", "kio", "kios", "kio", "ki", "w", "we", "", "o", "os",
        ] {
            let mut fresh = DeviceFilter::new(&list);
            assert_eq!(
                typed.matching(query),
                fresh.matching(query),
                "query {query:?}"
            );
        }
    }

    #[test]
    fn negation_is_not_narrowed() {
        let list = fleet();
        let mut typed = DeviceFilter::new(&list);
        typed.matching("!os");
        assert_eq!(
            typed.matching("!osa"),
            DeviceFilter::new(&list).matching("!osa")
        );
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
