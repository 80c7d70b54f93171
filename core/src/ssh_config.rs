//! OpenSSH client configuration for napsh devices: quoting for ssh_config values and shell
//! commands (`%` tokens, spaces, quotes), the per-device `Host NAME.napsh` blocks with their
//! `ProxyCommand napsh proxy` and host-key pinning, and the same options as ssh arguments.

pub use crate::alias::alias_for_name;
use crate::alias::{name_aliases, AliasClaim, NameAlias};
use std::fmt;

/// The suffix of every generated host alias: `ssh kiosk-12.napsh`.
pub const ALIAS_SUFFIX: &str = ".napsh";

/// Why something cannot be written into an ssh configuration safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteError(pub String);

impl fmt::Display for QuoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QuoteError {}

/// Quotes `word` as an argument for a POSIX shell (`sh -c`): bare when it only holds safe
/// characters, else in single quotes (a `'` becomes `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    single_quoted(word)
}

/// Quotes `word` as the command (first word of a line): as [`shell_quote`], and quoted when
/// it would read as an assignment (`NAME=…` first on a line sets NAME and runs the next word).
pub fn shell_quote_command(word: &str) -> String {
    if looks_like_assignment(word) {
        return single_quoted(word);
    }
    shell_quote(word)
}

/// `'word'`, each `'` as `'\''`.
fn single_quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `NAME=…` with NAME a shell variable name (letters, digits, `_`, not starting with a digit).
fn looks_like_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Joins words into one shell command line (the first one quoted as the command).
pub fn shell_join(words: &[String]) -> String {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| match i {
            0 => shell_quote_command(w),
            _ => shell_quote(w),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes ssh's `%` tokens: the value is taken literally after ssh expands it.
pub fn escape_percent(text: &str) -> String {
    text.replace('%', "%%")
}

/// Refuses what no ssh_config quoting can carry: line breaks and NUL end the line, and
/// `${` is expanded by ssh as an environment variable in path options.
fn check_plain(what: &str, text: &str) -> Result<(), QuoteError> {
    let shown = crate::sanitize::for_terminal_truncated(text, 80);
    if text.contains(['\n', '\r', '\0']) {
        return Err(QuoteError(format!(
            "{what} {shown:?} contains a line break or NUL, which an ssh config cannot hold"
        )));
    }
    if text.contains("${") {
        return Err(QuoteError(format!(
            "{what} {shown:?} contains `${{`, which ssh would expand as an environment variable; use a path without it"
        )));
    }
    Ok(())
}

/// A path as one ssh_config argument: double-quoted, `\` and `"` escaped, `%` doubled.
/// Safe for `UserKnownHostsFile`, `IdentityFile` and `Include` (no glob characters there:
/// refused for `Include` by [`include_line`]).
pub fn config_path(what: &str, path: &str) -> Result<String, QuoteError> {
    check_plain(what, path)?;
    let escaped = escape_percent(path)
        .replace('\\', r"\\")
        .replace('"', "\\\"");
    Ok(format!("\"{escaped}\""))
}

/// The `Include` line that pulls napsh's generated file into `~/.ssh/config`.
pub fn include_line(path: &str) -> Result<String, QuoteError> {
    if path.contains(['*', '?', '[', ']']) {
        return Err(QuoteError(format!(
            "the generated config path {:?} contains a glob character, which `Include` would expand",
            crate::sanitize::for_terminal_truncated(path, 80)
        )));
    }
    check_plain("the generated config path", path)?;
    let escaped = path.replace('\\', r"\\").replace('"', "\\\"");
    Ok(format!("Include \"{escaped}\""))
}

/// The command ssh runs for a device (`ProxyCommand`): `napsh [--profile P] proxy SIM %p`,
/// shell-quoted, then `%`-escaped (ssh expands tokens first, then runs it with `sh -c`).
pub fn proxy_command(
    napsh: &str,
    profile: Option<&str>,
    sim_id: &str,
) -> Result<String, QuoteError> {
    check_plain("the napsh path", napsh)?;
    let mut words = vec![napsh.to_string()];
    if let Some(p) = profile {
        check_plain("the profile name", p)?;
        words.extend(["--profile".to_string(), p.to_string()]);
    }
    words.extend(["proxy".to_string(), sim_id.to_string()]);
    Ok(format!("{} %p", escape_percent(&shell_join(&words))))
}

/// What a device's pinned ssh connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedHost {
    /// SIM id: the host-key alias and what `napsh proxy` is given.
    pub sim_id: String,
    /// Remote user (napsh's rules).
    pub user: String,
    /// Device SSH port (napsh's rules, else 22).
    pub port: u16,
}

/// Where napsh and its files are, for the generated options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NapshPaths {
    /// Absolute path of the napsh binary.
    pub napsh: String,
    /// `--profile` to pass to `napsh proxy`, when one was chosen.
    pub profile: Option<String>,
    /// napsh's known_hosts file.
    pub known_hosts: String,
}

/// The ssh options that route a device through `napsh proxy` and pin its host key exactly as
/// `napsh ssh` does (alias = SIM id, napsh's own known_hosts, trust on first use then strict),
/// as `(keyword, value)` with values already quoted for ssh.
pub fn pinned_options(
    paths: &NapshPaths,
    host: &PinnedHost,
) -> Result<Vec<(&'static str, String)>, QuoteError> {
    check_sim_id(&host.sim_id)?;
    Ok(vec![
        (
            "ProxyCommand",
            proxy_command(&paths.napsh, paths.profile.as_deref(), &host.sim_id)?,
        ),
        ("HostKeyAlias", host.sim_id.clone()),
        (
            "UserKnownHostsFile",
            config_path("napsh's known_hosts path", &paths.known_hosts)?,
        ),
        ("GlobalKnownHostsFile", "/dev/null".into()),
        ("StrictHostKeyChecking", "accept-new".into()),
        ("CheckHostIP", "no".into()),
        ("HashKnownHosts", "no".into()),
        ("UpdateHostKeys", "no".into()),
        ("ServerAliveInterval", "15".into()),
        ("ServerAliveCountMax", "4".into()),
    ])
}

/// A SIM id goes unquoted into `HostKeyAlias` and the proxy command: digits (and letters for
/// other id schemes) only.
fn check_sim_id(sim_id: &str) -> Result<(), QuoteError> {
    if sim_id.is_empty() || !sim_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(QuoteError(format!(
            "SIM id {:?} is not alphanumeric",
            crate::sanitize::for_terminal_truncated(sim_id, 40)
        )));
    }
    Ok(())
}

/// A user name goes unquoted into `User`: refuse what would change its meaning.
fn check_user(user: &str) -> Result<(), QuoteError> {
    if user.is_empty()
        || user
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'%#\\$".contains(c))
    {
        return Err(QuoteError(format!(
            "user {:?} cannot be written into an ssh config (whitespace, quote, %, #, $ or \\)",
            crate::sanitize::for_terminal_truncated(user, 40)
        )));
    }
    Ok(())
}

/// The same options as ssh command-line arguments (`-o Keyword=value` …, then `-l USER -p
/// PORT`), for tools that take ssh arguments (Ansible's `ansible_ssh_common_args`).
pub fn pinned_args(paths: &NapshPaths, host: &PinnedHost) -> Result<Vec<String>, QuoteError> {
    check_user(&host.user)?;
    let mut args = Vec::new();
    for (key, value) in pinned_options(paths, host)? {
        args.extend(["-o".to_string(), format!("{key}={value}")]);
    }
    Ok(args)
}

/// A device as the generated config lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigHost {
    /// The `name` tag (any text).
    pub name: String,
    /// SIM id, user and port.
    pub pinned: PinnedHost,
}

/// Translates napsh's `ssh_extra_args` into config lines: `-i FILE` → `IdentityFile`, `-l U`
/// → `User`, `-o K=V` verbatim (ssh parses `-o` as a config line); anything else becomes a
/// comment saying it was not translated.
pub fn extra_args_lines(args: &[String]) -> Result<Vec<String>, QuoteError> {
    let mut lines = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let line = match (flag.as_str(), it.clone().next()) {
            ("-i", Some(file)) => format!("IdentityFile {}", config_path("IdentityFile", file)?),
            ("-o", Some(opt)) => {
                check_plain("ssh option", opt)?;
                opt.clone()
            }
            ("-l", Some(user)) => {
                check_user(user)?;
                format!("User {user}")
            }
            _ => {
                let shown = crate::sanitize::for_terminal_truncated(flag, 40);
                lines.push(format!("# napsh: ssh_extra_args {shown:?} not translated"));
                continue;
            }
        };
        it.next();
        lines.push(line);
    }
    Ok(lines)
}

/// Everything the generated file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigInput {
    /// napsh's binary, profile and known_hosts.
    pub paths: NapshPaths,
    /// napsh's `ssh_extra_args` (translated for every device).
    pub extra_args: Vec<String>,
    /// The devices.
    pub hosts: Vec<ConfigHost>,
}

/// The generated file and what to tell the user about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The ssh_config text.
    pub text: String,
    /// One terminal-safe sentence per device whose name gives no alias although it could
    /// (shared, or another device's SIM id or IMSI); also written into the file as comments.
    pub warnings: Vec<String>,
}

/// Renders the whole generated file: one `Host NAME.napsh SIM.napsh` block per device (a name
/// two devices share, or that is another device's SIM id, is left out: the SIM alias always
/// works), then the shared options. [`render_checked`] without IMSIs, warnings only as
/// comments.
pub fn render(input: &ConfigInput) -> Result<String, QuoteError> {
    render_checked(input, &[]).map(|r| r.text)
}

/// [`render`], where `imsis[i]` is the IMSI of `input.hosts[i]` (missing ones unknown): no
/// name alias is any device's SIM id or IMSI (ssh takes the first `Host` block that matches,
/// so such a name would take over the other device's alias).
pub fn render_checked(input: &ConfigInput, imsis: &[Option<&str>]) -> Result<Rendered, QuoteError> {
    let claims: Vec<AliasClaim<'_>> = input
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| AliasClaim {
            name: &h.name,
            sim_id: &h.pinned.sim_id,
            imsi: imsis.get(i).copied().flatten(),
        })
        .collect();
    let mut out = Rendered {
        text: String::from(
            "# Generated by `napsh ssh-config`: every device as NAME.napsh and SIMID.napsh.\n\
             # Regenerate after fleet changes: napsh ssh-config --install\n",
        ),
        warnings: Vec::new(),
    };
    for ((host, claim), verdict) in input.hosts.iter().zip(&claims).zip(name_aliases(&claims)) {
        let warning = verdict.warning(claim, ALIAS_SUFFIX);
        out.text.push('\n');
        if let Some(w) = &warning {
            out.text.push_str(&format!("# {w}\n"));
        }
        out.text
            .push_str(&host_block(&input.paths, host, &verdict)?);
        out.warnings.extend(warning);
    }
    let extra = extra_args_lines(&input.extra_args)?;
    if !extra.is_empty() {
        out.text.push_str(&format!("\nHost *{ALIAS_SUFFIX}\n"));
        for line in extra {
            out.text.push_str(&format!("    {line}\n"));
        }
    }
    Ok(out)
}

/// One device's block: `Host [NAME.napsh] SIM.napsh` and its options.
fn host_block(
    paths: &NapshPaths,
    host: &ConfigHost,
    name: &NameAlias,
) -> Result<String, QuoteError> {
    let sim = &host.pinned.sim_id;
    check_user(&host.pinned.user)?;
    let mut patterns: Vec<String> = name
        .alias()
        .map(|n| format!("{n}{ALIAS_SUFFIX}"))
        .into_iter()
        .collect();
    patterns.push(format!("{sim}{ALIAS_SUFFIX}"));
    let mut block = format!("Host {}\n", patterns.join(" "));
    block.push_str(&format!("    User {}\n", host.pinned.user));
    block.push_str(&format!("    Port {}\n", host.pinned.port));
    for (key, value) in pinned_options(paths, &host.pinned)? {
        block.push_str(&format!("    {key} {value}\n"));
    }
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn paths(napsh: &str, known_hosts: &str) -> NapshPaths {
        NapshPaths {
            napsh: napsh.into(),
            profile: None,
            known_hosts: known_hosts.into(),
        }
    }

    fn host(name: &str, sim: &str) -> ConfigHost {
        ConfigHost {
            name: name.into(),
            pinned: PinnedHost {
                sim_id: sim.into(),
                user: "pi".into(),
                port: 22,
            },
        }
    }

    #[rstest]
    #[case("napsh", "napsh")]
    #[case("/usr/bin/napsh", "/usr/bin/napsh")]
    #[case("/opt/my tools/napsh", "'/opt/my tools/napsh'")]
    #[case("/o'brien/napsh", r"'/o'\''brien/napsh'")]
    #[case("", "''")]
    #[case("$(reboot)", "'$(reboot)'")]
    #[case("a;b", "'a;b'")]
    #[case("HostKeyAlias=77", "HostKeyAlias=77")]
    fn shell_quoting(#[case] word: &str, #[case] quoted: &str) {
        assert_eq!(shell_quote(word), quoted);
    }

    // Found by fuzzing: bare, `FOO=bar` first on a line is an assignment, not the command.
    #[rstest]
    #[case("FOO=bar", "'FOO=bar'")]
    #[case("_x1=", "'_x1='")]
    #[case("--opt=1", "--opt=1")]
    #[case("/a=b/napsh", "/a=b/napsh")]
    #[case("1x=y", "1x=y")]
    #[case("a b", "'a b'")]
    fn command_quoting(#[case] word: &str, #[case] quoted: &str) {
        assert_eq!(shell_quote_command(word), quoted);
        let words = [word.to_string(), "X=1".to_string()];
        assert_eq!(shell_join(&words), format!("{quoted} X=1"));
    }

    #[rstest]
    #[case("/usr/bin/napsh", None, "/usr/bin/napsh proxy 8942 %p")]
    #[case("/opt/50% off/napsh", None, "'/opt/50%% off/napsh' proxy 8942 %p")]
    #[case(
        "/usr/bin/napsh",
        Some("work prof"),
        "/usr/bin/napsh --profile 'work prof' proxy 8942 %p"
    )]
    #[case("/x/%p/napsh", None, "/x/%%p/napsh proxy 8942 %p")]
    #[case("NAPSH=1", None, "'NAPSH=1' proxy 8942 %p")]
    fn proxy_commands(#[case] napsh: &str, #[case] profile: Option<&str>, #[case] want: &str) {
        assert_eq!(proxy_command(napsh, profile, "8942").unwrap(), want);
    }

    #[rstest]
    #[case("/home/u/kh", r#""/home/u/kh""#)]
    #[case("/home/a b/kh", r#""/home/a b/kh""#)]
    #[case("/home/100%/kh", r#""/home/100%%/kh""#)]
    #[case(r#"/q"uote\d/kh"#, r#""/q\"uote\\d/kh""#)]
    fn config_paths(#[case] path: &str, #[case] want: &str) {
        assert_eq!(config_path("p", path).unwrap(), want);
    }

    #[rstest]
    #[case("/a\nb", "line break")]
    #[case("/a\0b", "NUL")]
    #[case("/${HOME}/x", "environment variable")]
    fn unquotable_paths_are_refused(#[case] path: &str, #[case] why: &str) {
        let err = config_path("napsh's known_hosts path", path).unwrap_err().0;
        assert!(err.contains(why) && err.contains("known_hosts"), "{err}");
        assert!(proxy_command(path, None, "1").is_err());
    }

    #[rstest]
    #[case(
        "/home/u/.config/napsh/ssh_config",
        r#"Include "/home/u/.config/napsh/ssh_config""#
    )]
    #[case("/home/a b/%x", r#"Include "/home/a b/%x""#)]
    fn include_lines(#[case] path: &str, #[case] want: &str) {
        assert_eq!(include_line(path).unwrap(), want);
    }

    #[test]
    fn include_refuses_globs() {
        assert!(include_line("/home/*/c").unwrap_err().0.contains("glob"));
    }

    #[test]
    fn renders_a_pinned_block_per_device() {
        let input = ConfigInput {
            paths: paths(
                "/opt/na psh/napsh",
                "/home/u/.local/share/napsh/known_hosts",
            ),
            extra_args: vec![],
            hosts: vec![host("Kiosk 12", "8942000000000000012")],
        };
        let text = render(&input).unwrap();
        let want = "\nHost kiosk-12.napsh 8942000000000000012.napsh\n    User pi\n    Port 22\n    ProxyCommand '/opt/na psh/napsh' proxy 8942000000000000012 %p\n    HostKeyAlias 8942000000000000012\n    UserKnownHostsFile \"/home/u/.local/share/napsh/known_hosts\"\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking accept-new\n";
        assert!(text.contains(want), "{text}");
    }

    #[test]
    fn shared_names_only_get_sim_aliases() {
        let input = ConfigInput {
            paths: paths("/n", "/k"),
            extra_args: vec![],
            hosts: vec![host("cam", "1"), host("CAM", "2"), host("", "3")],
        };
        let text = render(&input).unwrap();
        assert!(!text.contains("Host cam.napsh"), "{text}");
        assert!(text.contains("Host 1.napsh\n") && text.contains("Host 2.napsh\n"));
        assert!(text.contains("# cam.napsh names several devices"));
        assert!(text.contains("Host 3.napsh\n"));
    }

    // Issue 3: ssh uses the first `Host` block that matches, so a device *named* like another
    // device's SIM id, listed first, took over `SIMID.napsh`. SIM ids win.
    #[test]
    fn a_name_never_takes_another_devices_sim_id_alias() {
        let victim = "8942000000000000001";
        let input = ConfigInput {
            paths: paths("/n", "/k"),
            extra_args: vec![],
            hosts: vec![
                host(
                    &format!("\u{1b}]\u{7}{victim}\u{202e}"),
                    "8942000000000000002",
                ),
                host("victim", victim),
            ],
        };
        let text = render(&input).unwrap();
        let matching: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("Host ") && l.contains(&format!("{victim}.napsh")))
            .collect();
        assert_eq!(
            matching,
            [format!("Host victim.napsh {victim}.napsh")],
            "{text}"
        );
        assert!(text.contains("Host 8942000000000000002.napsh\n"), "{text}");
        assert!(text.contains("SIM id or IMSI"), "a warning comment: {text}");
        let unsafe_char = |c: char| c != '\n' && crate::sanitize::is_unsafe(c);
        assert!(!text.chars().any(unsafe_char), "{text:?}");
    }

    #[test]
    fn a_name_equal_to_an_imsi_gets_no_alias_and_one_warning() {
        let input = ConfigInput {
            paths: paths("/n", "/k"),
            extra_args: vec![],
            hosts: vec![
                host("440100000000002", "1"),
                host("victim", "2"),
                host("cam", "3"),
            ],
        };
        let out = render_checked(&input, &[None, Some("440100000000002")]).unwrap();
        assert!(out.text.contains("Host 1.napsh\n"), "{}", out.text);
        assert!(out.text.contains("Host victim.napsh 2.napsh\n"));
        assert!(out.text.contains("Host cam.napsh 3.napsh\n"));
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(out.warnings[0]
            .contains("\"440100000000002\" of SIM 1 is another device's SIM id or IMSI"));
        assert!(out.text.contains(&format!("# {}\n", out.warnings[0])));
        assert_eq!(
            render(&input)
                .unwrap()
                .matches("Host 440100000000002")
                .count(),
            1
        );
    }

    #[test]
    fn extra_args_become_directives() {
        let args: Vec<String> = [
            "-i",
            "/k 1/id",
            "-o",
            "IdentitiesOnly=yes",
            "-v",
            "-l",
            "ops",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            extra_args_lines(&args).unwrap(),
            vec![
                "IdentityFile \"/k 1/id\"".to_string(),
                "IdentitiesOnly=yes".into(),
                "# napsh: ssh_extra_args \"-v\" not translated".into(),
                "User ops".into(),
            ]
        );
    }

    #[rstest]
    #[case("bad user")]
    #[case("50%")]
    #[case("a\"b")]
    #[case("")]
    fn users_that_cannot_be_written_are_refused(#[case] user: &str) {
        let mut h = host("x", "1");
        h.pinned.user = user.into();
        let input = ConfigInput {
            paths: paths("/n", "/k"),
            extra_args: vec![],
            hosts: vec![h],
        };
        assert!(render(&input).unwrap_err().0.contains("user"));
    }

    #[test]
    fn args_carry_the_same_pinning() {
        let p = PinnedHost {
            sim_id: "77".into(),
            user: "pi".into(),
            port: 22,
        };
        let args = pinned_args(&paths("/a b/napsh", "/k h"), &p).unwrap();
        assert!(args.contains(&"ProxyCommand='/a b/napsh' proxy 77 %p".to_string()));
        assert!(args.contains(&"HostKeyAlias=77".to_string()));
        assert!(args.contains(&"UserKnownHostsFile=\"/k h\"".to_string()));
        assert!(pinned_args(
            &paths("/n", "/k"),
            &PinnedHost {
                sim_id: "7 7".into(),
                ..p
            }
        )
        .is_err());
    }
}
