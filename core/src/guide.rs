//! The manual connection guide: what to click in the Soracom console, and the exact `ssh`
//! line when a mapping exists. Shown when automation fails, by the CLI and the plugin.

use crate::device::format_duration;
use crate::messages::Endpoint;
use crate::sanitize::for_terminal;

/// Everything the guide needs to be specific to one device.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideInput {
    /// Device name (untrusted) or SIM id.
    pub device_label: String,
    /// SIM id, when known.
    pub sim_id: Option<String>,
    /// One sentence: why automation failed, if it did.
    pub reason: Option<String>,
    /// Device port to open (22 for SSH).
    pub device_port: u16,
    /// Mapping duration napsh would use, in seconds.
    pub duration_secs: u64,
    /// Source range to allow (our public IP /32), when known.
    pub source_cidr: Option<String>,
    /// User to log in as.
    pub user: String,
    /// The live mapping, when there is one.
    pub endpoint: Option<Endpoint>,
    /// Current time (unix ms), for "expires in".
    pub now_ms: i64,
}

/// The guide as lines of plain, already-sanitised text.
pub fn guide_lines(input: &GuideInput) -> Vec<String> {
    let label = for_terminal(&input.device_label);
    let mut lines = vec![format!("Manual connection guide for {label}")];
    if let Some(reason) = &input.reason {
        lines.push(format!("Why: {}", for_terminal(reason)));
    }
    lines.push(String::new());
    if let Some(ep) = &input.endpoint {
        lines.extend(endpoint_lines(input, ep));
        lines.push(String::new());
        lines.push("If that fails, create a fresh mapping by hand:".into());
    }
    lines.extend(console_steps(input, &label));
    lines.push(String::new());
    lines.extend(common_causes());
    lines
}

/// The guide screen's reason line — its most important sentence — word-wrapped to `width`
/// cells instead of cut with "…": sanitised, each line indented by one space, at least one
/// line.
pub fn reason_lines(reason: &str, width: usize) -> Vec<String> {
    crate::wrap::wrap_to_width(&format!(" {}", for_terminal(reason)), width)
}

/// The guide's lines with each sentence broken over lines for an 80-column terminal joined
/// again (a line starting with a lower-case letter continues the one before), so that a pane
/// of another width wraps whole paragraphs instead of leaving stubs such as "does not".
pub fn paragraphs<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let continues = line.starts_with(|c: char| c.is_ascii_lowercase());
        match out.last_mut() {
            Some(last) if continues && !last.trim().is_empty() => {
                last.push(' ');
                last.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// The guide as one string.
pub fn guide_text(input: &GuideInput) -> String {
    guide_lines(input).join("\n")
}

fn endpoint_lines(input: &GuideInput, ep: &Endpoint) -> Vec<String> {
    let expiry = ep
        .expires_at
        .map(|t| {
            format!(
                " (expires in {})",
                format_duration((t - input.now_ms) / 1000)
            )
        })
        .unwrap_or_default();
    vec![
        format!("A mapping exists{expiry}. Connect with:"),
        format!(
            "  ssh -p {} {}@{}",
            ep.port,
            for_terminal(&input.user),
            for_terminal(ep.host())
        ),
    ]
}

fn console_steps(input: &GuideInput, label: &str) -> Vec<String> {
    let sim = input
        .sim_id
        .as_deref()
        .map(|s| format!(" (SIM ID {})", for_terminal(s)))
        .unwrap_or_default();
    let source = input
        .source_cidr
        .as_deref()
        .map(for_terminal)
        .unwrap_or_else(|| "your public IP address with /32".into());
    vec![
        "In the Soracom User Console:".into(),
        "  1. Menu → SIM Management.".into(),
        format!("  2. Select the SIM of {label}{sim}."),
        "  3. Actions → On-demand remote access.".into(),
        format!("  4. Device port: {}.", input.device_port),
        format!(
            "  5. Duration: {} ({} seconds; at most 8 hours).",
            format_duration(input.duration_secs as i64),
            input.duration_secs
        ),
        format!("  6. Access source IP range: {source}."),
        "  7. Leave TLS off for SSH, then Create.".into(),
        "  8. Note the hostname and port shown, then run:".into(),
        format!("       ssh -p PORT {}@HOSTNAME", for_terminal(&input.user)),
    ]
}

fn common_causes() -> Vec<String> {
    vec![
        "Common causes: the device is offline; the mapping expired; the source range does not"
            .into(),
        "match your current IP (VPN or proxy); the wrong device port; TLS switched on for SSH;"
            .into(),
        "a SAM user without PortMapping:* permissions; a firewall on the device.".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> GuideInput {
        GuideInput {
            device_label: "kiosk-12".into(),
            sim_id: Some("8981".into()),
            reason: Some("kiosk-12 is offline (no data session)".into()),
            device_port: 22,
            duration_secs: 3600,
            source_cidr: Some("198.51.100.7/32".into()),
            user: "pi".into(),
            endpoint: None,
            now_ms: 0,
        }
    }

    #[test]
    fn guide_has_reason_and_console_steps() {
        let text = guide_text(&input());
        assert!(text.contains("Why: kiosk-12 is offline"));
        assert!(text.contains("On-demand remote access"));
        assert!(text.contains("Device port: 22"));
        assert!(text.contains("3600 seconds"));
        assert!(text.contains("198.51.100.7/32"));
    }

    #[test]
    fn guide_fills_in_ssh_line_when_mapping_exists() {
        let mut i = input();
        i.endpoint = Some(Endpoint {
            ip_address: "203.0.113.45".into(),
            port: 40123,
            hostname: Some("203-0-113-45.napter.soracom.io".into()),
            device_port: 22,
            expires_at: Some(1_800_000),
            reused: true,
        });
        let text = guide_text(&i);
        assert!(
            text.contains("ssh -p 40123 pi@203-0-113-45.napter.soracom.io"),
            "{text}"
        );
        assert!(text.contains("expires in 30m00s"), "{text}");
    }

    #[test]
    fn hostile_label_is_sanitised() {
        let mut i = input();
        i.device_label = "evil\x1b]0;x\x07".into();
        assert!(!guide_text(&i).contains('\x1b'));
    }

    #[test]
    fn the_reason_wraps_instead_of_being_cut() {
        let reason =
            "offline (no data session) — power it on / check its cellular signal, then retry";
        for width in [40, 80, 100] {
            let lines = reason_lines(reason, width);
            let joined: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
            assert_eq!(joined.join(" "), reason, "no word lost at {width}");
            assert!(
                lines.iter().all(|l| l.starts_with(' ') && !l.contains('…')),
                "{lines:?}"
            );
            assert!(
                lines.iter().all(|l| crate::wrap::cells(l) <= width),
                "{width}: {lines:?}"
            );
        }
        assert_eq!(reason_lines(reason, 40).len(), 2);
        assert_eq!(reason_lines(reason, 100).len(), 1);
        assert_eq!(reason_lines("short", 80), vec![" short".to_string()]);
        assert_eq!(
            reason_lines("evil\u{1b}[31m", 80),
            vec![" evil\\e[31m".to_string()]
        );
    }

    #[test]
    fn paragraphs_join_broken_sentences_and_keep_lists() {
        let text = guide_text(&input());
        let joined = paragraphs(text.lines());
        let causes = joined
            .iter()
            .find(|l| l.starts_with("Common causes:"))
            .unwrap();
        assert!(
            causes.contains("does not match your current IP")
                && causes.ends_with("a firewall on the device."),
            "{causes}"
        );
        assert!(joined.iter().any(|l| l == "  1. Menu → SIM Management."));
        assert!(joined.iter().any(|l| l.is_empty()), "blank lines stay");
        assert_eq!(
            joined.len(),
            text.lines().count() - 2,
            "only the two continuation lines were joined"
        );
    }
}
