//! `napsh web`'s pure rules: which bind addresses need TLS, session names that fit in a URL,
//! reading `zellij --version` and `zellij web --create-token`, the URL and the welcome text.

use std::net::IpAddr;

/// The Zellij release that first shipped the web client.
pub const MIN_ZELLIJ: (u32, u32, u32) = (0, 43, 0);

/// How `napsh web` may listen on `bind`: loopback is fine in plain HTTP; anything else needs
/// TLS (`--cert`/`--key`). `Err` is the one-line message for the user.
pub fn check_bind(bind: &str, has_tls: bool) -> Result<IpAddr, String> {
    let ip: IpAddr = bind.parse().map_err(|_| {
        format!("--bind {bind:?} is not an IP address: give one such as 127.0.0.1, 0.0.0.0 or 192.0.2.10")
    })?;
    if !ip.is_loopback() && !has_tls {
        return Err(format!(
            "--bind {ip} is reachable from other machines: add --cert CERT.pem --key KEY.pem to serve HTTPS, \
             or keep the default 127.0.0.1 behind a TLS reverse proxy (README: Browser terminal)"
        ));
    }
    Ok(ip)
}

/// A Zellij session name napsh accepts: it ends up in the URL path, so letters, digits, `-`,
/// `_` and `.` only (not starting with `.`), at most 64 characters.
pub fn check_session_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 64 || name.starts_with('.') || !ok_chars {
        return Err(format!(
            "--session {name:?}: use 1 to 64 letters, digits, '-', '_' or '.' (it becomes part of the URL)"
        ));
    }
    Ok(())
}

/// The version in `zellij --version` output (`zellij 0.45.1`).
pub fn parse_zellij_version(output: &str) -> Option<(u32, u32, u32)> {
    let word = output.split_whitespace().nth(1)?;
    let mut parts = word.split(['.', '-']).map(|p| p.parse::<u32>());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor)), Some(Ok(patch))) => Some((major, minor, patch)),
        _ => None,
    }
}

/// A login token as `zellij web --create-token` prints it (`token_3: <uuid>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedToken {
    /// Zellij's name for it (`token_3`): what `--revoke-token` takes.
    pub name: String,
    /// The secret itself.
    pub token: String,
}

/// The token in `zellij web --create-token` output; `None` when there is none.
pub fn parse_created_token(output: &str) -> Option<CreatedToken> {
    output.lines().find_map(|line| {
        let (name, rest) = line.trim().split_once(':')?;
        let token = rest.split_whitespace().next()?;
        let plausible = name.starts_with("token_")
            && !name.contains(char::is_whitespace)
            && token.len() >= 16
            && token.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        plausible.then(|| CreatedToken {
            name: name.to_string(),
            token: token.to_string(),
        })
    })
}

/// Token names in `zellij web --list-tokens` output (`token_1: created at …`).
pub fn parse_token_names(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.split_once(": created at").map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `zellij list-sessions --no-formatting` shows `session`, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Not listed.
    Absent,
    /// Running (reachable).
    Running,
    /// Listed as exited (resurrectable): it must be deleted before a new one takes its name.
    Exited,
}

/// The status of `session` in `zellij list-sessions --no-formatting` output
/// (`napsh [Created 3s ago] ` / `old [Created 1h ago] (EXITED - attach to resurrect)`).
pub fn session_status(list_output: &str, session: &str) -> SessionStatus {
    list_output
        .lines()
        .find(|line| line.split_whitespace().next() == Some(session))
        .map_or(SessionStatus::Absent, |line| {
            if line.contains("EXITED") {
                SessionStatus::Exited
            } else {
                SessionStatus::Running
            }
        })
}

/// The address a browser uses: `https` with TLS; an unspecified bind (`0.0.0.0`, `::`) is
/// shown as `HOST`, which the user replaces with this machine's name.
pub fn browser_url(bind: IpAddr, port: u16, tls: bool, session: &str) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = match bind {
        ip if ip.is_unspecified() => "HOST".to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    format!("{scheme}://{host}:{port}/{session}")
}

/// The text the session's first pane shows: the picker's key and how to use it (lines short
/// enough for half a browser window).
pub fn welcome_text(session: &str, picker_key: &str) -> String {
    format!(
        "napsh in the browser (Zellij session \"{session}\")\n\
         \n\
         \x20 {picker_key}  opens the device picker: type to filter,\n\
         \x20 {pad:width$}  Space selects, Enter connects (a pane per device)\n\
         \n\
         \x20 The first time, the picker asks for permissions: press y.\n\
         \x20 All of this runs on the machine that ran `napsh web`;\n\
         \x20 `napsh web --stop` there ends it.\n\n",
        pad = "",
        width = picker_key.chars().count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("127.0.0.1", false, true)]
    #[case("::1", false, true)]
    #[case("127.0.0.2", false, true)]
    #[case("0.0.0.0", false, false)]
    #[case("0.0.0.0", true, true)]
    #[case("192.0.2.10", false, false)]
    #[case("192.0.2.10", true, true)]
    #[case("localhost", true, false)]
    #[case("", false, false)]
    fn bind_rules(#[case] bind: &str, #[case] tls: bool, #[case] accepted: bool) {
        assert_eq!(check_bind(bind, tls).is_ok(), accepted, "{bind} tls={tls}");
    }

    #[test]
    fn non_loopback_without_tls_says_what_to_add() {
        let err = check_bind("0.0.0.0", false).unwrap_err();
        assert!(err.contains("--cert") && err.contains("--key"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[rstest]
    #[case("napsh", true)]
    #[case("fleet-2_a.b", true)]
    #[case("", false)]
    #[case(".hidden", false)]
    #[case("a/b", false)]
    #[case("a b", false)]
    #[case("ünï", false)]
    fn session_names(#[case] name: &str, #[case] ok: bool) {
        assert_eq!(check_session_name(name).is_ok(), ok, "{name}");
    }

    #[rstest]
    #[case("zellij 0.45.1\n", Some((0, 45, 1)))]
    #[case("zellij 0.43.0-rc.1", Some((0, 43, 0)))]
    #[case("zellij", None)]
    #[case("zellij x.y.z", None)]
    fn zellij_versions(#[case] out: &str, #[case] want: Option<(u32, u32, u32)>) {
        assert_eq!(parse_zellij_version(out), want);
        if let Some(v) = want {
            assert!(v >= MIN_ZELLIJ);
        }
    }

    #[test]
    fn created_token_is_found_after_the_banner() {
        let out = "Created token successfully\n\ntoken_3: 1f137be6-c798-440b-8c03-541e170bc671\n";
        assert_eq!(
            parse_created_token(out),
            Some(CreatedToken {
                name: "token_3".into(),
                token: "1f137be6-c798-440b-8c03-541e170bc671".into()
            })
        );
        assert_eq!(parse_created_token("Created token successfully\n"), None);
        assert_eq!(parse_created_token("error: token_1: nope\n"), None);
    }

    #[test]
    fn token_names_from_the_list() {
        let out = "token_1: created at 2026-11-21 19:42:02\ntoken_2: created at 2026-11-21 19:43:00 [READ-ONLY]\n";
        assert_eq!(parse_token_names(out), vec!["token_1", "token_2"]);
        assert!(parse_token_names("No active tokens.\n").is_empty());
    }

    #[rstest]
    #[case(
        "napsh [Created 0s ago] \nnapsh-2 [Created 1s ago] ",
        "napsh",
        SessionStatus::Running
    )]
    #[case("napsh-2 [Created 1s ago] ", "napsh", SessionStatus::Absent)]
    #[case(
        "napsh [Created 1h ago] (EXITED - attach to resurrect)",
        "napsh",
        SessionStatus::Exited
    )]
    #[case("No active zellij sessions found.", "napsh", SessionStatus::Absent)]
    fn sessions(#[case] out: &str, #[case] name: &str, #[case] want: SessionStatus) {
        assert_eq!(session_status(out, name), want);
    }

    #[rstest]
    #[case("127.0.0.1", false, "http://127.0.0.1:8082/napsh")]
    #[case("0.0.0.0", true, "https://HOST:8082/napsh")]
    #[case("::1", false, "http://[::1]:8082/napsh")]
    fn urls(#[case] bind: &str, #[case] tls: bool, #[case] want: &str) {
        assert_eq!(browser_url(bind.parse().unwrap(), 8082, tls, "napsh"), want);
    }

    #[test]
    fn welcome_names_the_key() {
        let text = welcome_text("napsh", "Alt s");
        assert!(
            text.contains("\n  Alt s  opens the device picker"),
            "{text}"
        );
        assert!(text.contains("\n         Space selects"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 64), "{text}");
        assert!(text.contains("napsh web --stop"));
    }
}
