//! Napter audit log for `napsh audit`: the query for one device, following pages, and the
//! table. `GET /v1/audit_logs/napter` answers newest first; `last_evaluated_key` is the
//! time (`createdAt`) of the last entry of the previous page.

use crate::sanitize::for_terminal;
use crate::soracom::NapterAuditLogEntry;

/// Entries `napsh audit` shows without `--limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit` the API accepts per page.
pub const MAX_PAGE: usize = 1000;

/// Query parameters of one page for the subscriber `imsi`.
pub fn page_query(imsi: &str, page_limit: usize, cursor: Option<&str>) -> Vec<(String, String)> {
    let mut q = vec![
        ("resource_type".to_string(), "Subscriber".to_string()),
        ("resource_id".to_string(), imsi.to_string()),
        (
            "limit".to_string(),
            page_limit.clamp(1, MAX_PAGE).to_string(),
        ),
    ];
    if let Some(c) = cursor {
        q.push(("last_evaluated_key".to_string(), c.to_string()));
    }
    q
}

/// The cursor of the next page, or `None` when this was the last: the `x-soracom-next-key`
/// header when the API sent one; otherwise, as the spec describes, the `createdAt` of the
/// page's last entry when the page came back full.
pub fn next_cursor(
    page: &[NapterAuditLogEntry],
    page_limit: usize,
    header: Option<&str>,
) -> Option<String> {
    if let Some(h) = header.filter(|h| !h.is_empty()) {
        return Some(h.to_string());
    }
    (page.len() >= page_limit)
        .then(|| page.last().map(|e| e.created_at.to_string()))
        .flatten()
}

/// Column titles of the audit table.
pub const AUDIT_HEADER: [&str; 5] = ["TIME (UTC)", "EVENT", "FROM", "MAPPING", "CONNECTION"];

/// The table cells, oldest first (entries arrive newest first); every cell sanitised.
pub fn audit_rows(newest_first: &[NapterAuditLogEntry]) -> Vec<Vec<String>> {
    let dash = || "-".to_string();
    newest_first
        .iter()
        .rev()
        .map(|e| {
            let d = e.direction.clone().unwrap_or_default();
            let addr = |ip: Option<String>, port: Option<u16>| match (ip, port) {
                (Some(ip), Some(p)) => for_terminal(&format!("{ip}:{p}")),
                (Some(ip), None) => for_terminal(&ip),
                _ => dash(),
            };
            vec![
                crate::journal::format_utc(e.created_at),
                for_terminal(&e.entry_type),
                addr(d.source_ip_address, d.source_port),
                addr(d.destination_ip_address, d.destination_port),
                e.connection_id.as_deref().map_or_else(dash, for_terminal),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soracom::NapterAuditLogDirection;

    fn entry(kind: &str, at: i64) -> NapterAuditLogEntry {
        NapterAuditLogEntry {
            entry_type: kind.into(),
            created_at: at,
            ..Default::default()
        }
    }

    #[test]
    fn query_names_the_subscriber_and_the_cursor() {
        let q = page_query("440101", 5000, Some("123"));
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("resource_type"), Some("Subscriber"));
        assert_eq!(get("resource_id"), Some("440101"));
        assert_eq!(get("limit"), Some("1000"));
        assert_eq!(get("last_evaluated_key"), Some("123"));
        assert!(page_query("1", 10, None)
            .iter()
            .all(|(k, _)| k != "last_evaluated_key"));
    }

    #[test]
    fn cursor_from_header_else_last_time_of_a_full_page() {
        let page = [entry("CREATED", 30), entry("CLOSED", 20)];
        assert_eq!(next_cursor(&page, 100, Some("25")).as_deref(), Some("25"));
        assert_eq!(next_cursor(&page, 2, None).as_deref(), Some("20"));
        assert_eq!(next_cursor(&page, 3, None), None);
        assert_eq!(next_cursor(&[], 3, Some("")), None);
    }

    #[test]
    fn rows_are_oldest_first_and_sanitised() {
        let mut connected = entry("CONNECTED", 2000);
        connected.direction = Some(NapterAuditLogDirection {
            source_ip_address: Some("1.2.3.4".into()),
            source_port: Some(5555),
            destination_ip_address: Some("9.9.9.9\x1b".into()),
            destination_port: Some(40000),
        });
        connected.connection_id = Some("c1".into());
        let rows = audit_rows(&[connected, entry("CREATED", 1000)]);
        assert_eq!(rows[0][1], "CREATED");
        assert_eq!(rows[0][2], "-");
        assert_eq!(rows[1][2], "1.2.3.4:5555");
        assert_eq!(rows[1][3], "9.9.9.9\\e:40000");
        assert_eq!(rows[1][4], "c1");
    }
}
