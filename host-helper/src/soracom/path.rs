//! API paths built from values the API gave napsh (SIM ids, IMSIs, mapping addresses):
//! [`segment`] percent-encodes one value, and [`check`] refuses a path that a URL parser would
//! rewrite (`..`, `.`, an empty segment) before it is ever sent.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (`A–Z a–z 0–9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as one URL path segment: every byte but the unreserved characters is
/// percent-encoded, and a segment of only dots (`.`, `..`) has its dots encoded too (which
/// [`check`] then refuses: URL parsers treat `%2E%2E` as `..`).
pub fn segment(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b == b'.') {
        return "%2E".repeat(text.len());
    }
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// Why `path` (`/sims/123`, below `/v1`) must not be requested: a segment that is empty or,
/// once decoded, `.` or `..`, or a raw `?` or `#` (the URL would silently point at another
/// operation).
pub fn check(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!(
            "refusing the API path {path:?}: it must start with /"
        ));
    };
    if path.contains(['?', '#']) {
        return Err(format!(
            "refusing the API path /v1{path}: it holds a raw `?` or `#` (an id not encoded)"
        ));
    }
    for seg in rest.split('/') {
        let decoded = seg.replace("%2e", ".").replace("%2E", ".");
        if seg.is_empty() || decoded == "." || decoded == ".." {
            return Err(format!(
                "refusing the API path /v1{path}: a segment is {seg:?} (an empty or invalid id \
                 from the API?)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_pass() {
        for p in [
            "/sims",
            "/sims/8942310022000012345",
            "/port_mappings/203.0.113.9/40001",
        ] {
            assert_eq!(check(p), Ok(()), "{p}");
        }
        assert_eq!(check(&format!("/sims/{}", segment("a/../b"))), Ok(()));
    }

    #[test]
    fn paths_a_url_parser_would_rewrite_are_refused() {
        for p in [
            "sims",
            "/sims/",
            "//sims",
            "/sims/..",
            "/sims/%2e%2E",
            "/a/./b",
            "/a/.%2e/b",
            "/sims/1?x",
            "/s/#",
        ] {
            assert!(check(p).is_err(), "{p}");
        }
    }
}
