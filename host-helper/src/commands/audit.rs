//! `napsh audit`: Soracom's Napter audit log for one device (`GET /v1/audit_logs/napter`
//! filtered to its IMSI), every page followed until `--limit` entries.

use crate::app::App;
use crate::cli::AuditArgs;
use crate::error::NapshError;
use crate::output;
use crate::soracom::api::Client;
use anyhow::{Context, Result};
use napsh_core::audit::{audit_rows, next_cursor, page_query, AUDIT_HEADER, MAX_PAGE};
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal;
use napsh_core::soracom::{headers, NapterAuditLogEntry};
use reqwest::Method;

/// Runs `napsh audit`.
pub async fn run(app: &App, args: AuditArgs) -> Result<i32> {
    if args.limit == 0 {
        return Err(NapshError::config("--limit must be at least 1").into());
    }
    let device = crate::napter::devices::resolve_all(app, &[args.device.as_str()])
        .await?
        .remove(0);
    let imsi = device.imsi.clone().ok_or_else(|| {
        NapshError::new(
            ErrorKind::NotFound,
            format!("{} has no IMSI to look up", for_terminal(device.label())),
        )
        .hint("the audit log is filed by IMSI; check the SIM in the console")
    })?;
    let client = app.client()?;
    let newest_first = fetch(&client, &imsi, args.limit).await?;
    let oldest_first: Vec<&NapterAuditLogEntry> = newest_first.iter().rev().collect();
    if args.json {
        output::json(&oldest_first);
        return Ok(0);
    }
    if newest_first.is_empty() {
        output::note(&format!(
            "napsh: no Napter audit entries for {} (IMSI {})",
            for_terminal(device.label()),
            for_terminal(&imsi)
        ));
        return Ok(0);
    }
    for line in output::table(&AUDIT_HEADER, &audit_rows(&newest_first)) {
        output::line(&line);
    }
    Ok(0)
}

/// The newest `limit` entries of subscriber `imsi`, newest first, following pages.
async fn fetch(client: &Client, imsi: &str, limit: usize) -> Result<Vec<NapterAuditLogEntry>> {
    const PATH: &str = "/audit_logs/napter";
    let mut out: Vec<NapterAuditLogEntry> = Vec::new();
    let mut cursor: Option<String> = None;
    while out.len() < limit {
        let page_limit = (limit - out.len()).min(MAX_PAGE);
        let query = page_query(imsi, page_limit, cursor.as_deref());
        let refs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = client.request(Method::GET, PATH, &refs, None).await?;
        let page: Vec<NapterAuditLogEntry> = serde_json::from_slice(&answer.body)
            .map_err(|e| {
                NapshError::new(
                    ErrorKind::Api,
                    format!("GET /v1{PATH}: unexpected answer: {e}"),
                )
            })
            .context("reading the Napter audit log")?;
        let header = answer
            .headers
            .get(headers::NEXT_KEY)
            .and_then(|v| v.to_str().ok());
        let next = next_cursor(&page, page_limit, header);
        out.extend(page);
        match next {
            Some(n) if Some(&n) != cursor.as_ref() => cursor = Some(n),
            _ => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}
