//! Following `x-soracom-next-key` safely: a key seen before (A, B, A…) ends the listing, and
//! so do too many pages or entries; list items that napsh cannot use are skipped and told
//! in one warning per listing.

use crate::soracom::api::Limits;
use napsh_core::soracom::answer::{Items, SkippedItem};
use napsh_core::soracom::headers;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Skipped items named in the warning (the rest are only counted).
const NAMED_SKIPS: usize = 3;

/// Where one listing stands.
pub struct Pager {
    /// `GET /v1/sims`, for errors.
    what: String,
    /// The bounds.
    limits: Limits,
    /// The key to ask for next (`None` before the first page).
    next: Option<String>,
    /// Digests of every key followed so far (a key may be long; its digest is 32 bytes).
    seen: HashSet<[u8; 32]>,
    /// Pages read.
    pages: usize,
    /// Entries received, skipped ones included.
    received: usize,
    /// The first skipped entries, with their position in the whole listing.
    skipped: Vec<SkippedItem>,
    /// Entries skipped in all.
    skipped_count: usize,
}

impl Pager {
    /// A listing of `what` (`GET /v1/sims`) within `limits`.
    pub fn new(what: String, limits: Limits) -> Self {
        Pager {
            what,
            limits,
            next: None,
            seen: HashSet::new(),
            pages: 0,
            received: 0,
            skipped: Vec::new(),
            skipped_count: 0,
        }
    }

    /// The key of the page to ask for (`None` for the first).
    pub fn next_key(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// Takes in one page; its usable items, or why the listing must stop.
    pub fn take<T>(&mut self, page: Items<T>) -> Result<Vec<T>, String> {
        let offset = self.received;
        self.pages += 1;
        self.received += page.items.len() + page.skipped_count;
        self.skipped_count += page.skipped_count;
        let room = NAMED_SKIPS.saturating_sub(self.skipped.len());
        self.skipped
            .extend(page.skipped.into_iter().take(room).map(|s| SkippedItem {
                index: s.index + offset,
                why: s.why,
            }));
        if self.received > self.limits.max_items {
            return Err(format!(
                "{} sent more than {} entries: stopped (napsh's limit)",
                self.what, self.limits.max_items
            ));
        }
        Ok(page.items)
    }

    /// Follows `key` (the next page's, `None` at the end): `Ok(true)` to go on, `Ok(false)`
    /// at the end, or why the listing must stop (a key seen before, too many pages).
    pub fn advance_to(&mut self, key: Option<&str>) -> Result<bool, String> {
        let Some(key) = key else {
            return Ok(false);
        };
        if !self.seen.insert(Sha256::digest(key.as_bytes()).into()) {
            return Err(format!(
                "Soracom sent the page key of an earlier page again for {} after {} pages \
                 (a paging loop): stopped",
                self.what, self.pages
            ));
        }
        if self.pages >= self.limits.max_pages {
            return Err(format!(
                "{} has more than {} pages: stopped (napsh's limit)",
                self.what, self.limits.max_pages
            ));
        }
        self.next = Some(key.to_string());
        Ok(true)
    }

    /// The one warning about skipped entries, when any were.
    pub fn skip_warning(&self) -> Option<String> {
        skip_warning(&self.what, self.received, self.skipped_count, &self.skipped)
    }
}

/// The `x-soracom-next-key` of a page, when it has a non-empty one.
pub fn next_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(headers::NEXT_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
}

/// "skipped 1 of 40 entries of GET /v1/sims: entry 3 has no `simId`" (positions 1-based).
pub fn skip_warning(
    what: &str,
    received: usize,
    count: usize,
    named: &[SkippedItem],
) -> Option<String> {
    if count == 0 {
        return None;
    }
    let reasons: Vec<String> = named
        .iter()
        .map(|s| format!("entry {} {}", s.index + 1, s.why))
        .collect();
    let more = count.saturating_sub(named.len());
    let more = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    Some(format!(
        "skipped {count} of {received} entries in Soracom's answer to {what}: {}{more}",
        reasons.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use napsh_core::soracom::answer::{parse_items, AnswerError};

    fn headers_with(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(headers::NEXT_KEY, key.parse().unwrap());
        h
    }

    #[test]
    fn skipped_entries_are_numbered_across_pages_and_told_once() {
        let mut p = Pager::new("GET /v1/sims".into(), Limits::default());
        let first = parse_items::<napsh_core::soracom::Sim>(br#"[{"simId":"1"},{}]"#).unwrap();
        assert_eq!(p.take(first).unwrap().len(), 1);
        assert!(p.advance_to(next_key(&headers_with("k1"))).unwrap());
        let second = parse_items(br#"[{"simId":"3"},{"simId":[]},{},{},{}]"#).unwrap();
        assert_eq!(p.take::<napsh_core::soracom::Sim>(second).unwrap().len(), 1);
        assert!(!p.advance_to(next_key(&headers_with(""))).unwrap());
        assert_eq!(
            p.skip_warning().unwrap(),
            "skipped 5 of 7 entries in Soracom's answer to GET /v1/sims: entry 2 has no \
             `simId`; entry 4 has an unusable `simId`: invalid type: sequence, expected a \
             string; entry 5 has no `simId`; and 2 more"
        );
    }

    #[test]
    fn no_warning_when_nothing_was_skipped() {
        assert_eq!(skip_warning("GET /v1/sims", 5, 0, &[]), None);
        let one = [SkippedItem {
            index: 0,
            why: AnswerError::Missing("ipAddress".into()),
        }];
        assert_eq!(
            skip_warning("GET /v1/port_mappings", 1, 1, &one).unwrap(),
            "skipped 1 of 1 entries in Soracom's answer to GET /v1/port_mappings: entry 1 has \
             no `ipAddress`"
        );
    }
}
