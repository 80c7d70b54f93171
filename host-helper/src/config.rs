//! napsh's own configuration (`config.toml`): default user, per-device rules (user, port,
//! password source), mapping duration, source range, ssh extra arguments, timeouts; and
//! the checks of its keys (the source range's CIDR syntax, service templates, `lan_sims`).

use crate::error::NapshError;
use anyhow::{Context, Result};
use ipnet::IpNet;
use napsh_core::resume::ResumeMode;
use napsh_core::sanitize::{for_terminal, for_terminal_truncated};
use napsh_core::service;
use napsh_core::Device;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Longest Napter mapping Soracom allows, in seconds (8 hours).
pub const MAX_DURATION_SECS: u64 = 28_800;
/// Default IP-echo service for source detection.
pub const DEFAULT_IP_ECHO_URL: &str = "https://checkip.amazonaws.com";

/// Where a device's password comes from, in the OS keyring.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringRef {
    /// Keyring service name.
    pub service: String,
    /// Keyring account name.
    pub account: String,
}

/// One `[[rules]]` table: settings for the devices it matches.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Glob over the device name tag (`kiosk-*`).
    pub match_name: Option<String>,
    /// `key=value` tag the device must carry (`role=kiosk`).
    pub match_tag: Option<String>,
    /// User to log in as.
    pub user: Option<String>,
    /// Device SSH port.
    pub port: Option<u16>,
    /// Shell command printing the password on stdout.
    pub password_command: Option<String>,
    /// Password in the OS keyring.
    pub password_keyring: Option<KeyringRef>,
    /// Plain password (only with `allow_plain_password = true`).
    pub password: Option<String>,
    /// How to run a command inside a service on these devices (see `Config::service_exec`).
    pub service_exec: Option<String>,
    /// How to list the running services on these devices (see `Config::service_list`).
    pub service_list: Option<String>,
    /// Keep these devices' sessions across link drops (see `Config::resume`).
    pub resume: Option<ResumeMode>,
}

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// User when no rule or flag says otherwise (`pi`).
    pub default_user: Option<String>,
    /// Mapping lifetime in seconds (default 3600, at most 28800).
    #[serde(default = "default_duration")]
    pub mapping_duration_secs: u64,
    /// Source CIDR allowed to connect (else detected).
    pub source_cidr: Option<String>,
    /// Plain-text IP-echo service used to detect our public address.
    #[serde(default = "default_ip_echo")]
    pub ip_echo_url: String,
    /// Extra arguments passed to `ssh` before napsh's own (`["-i", "~/.ssh/k"]`).
    #[serde(default)]
    pub ssh_extra_args: Vec<String>,
    /// Per-request API timeout in seconds.
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// Honour `password = "…"` in rules.
    #[serde(default)]
    pub allow_plain_password: bool,
    /// Allow a world-open source range (`0.0.0.0/0`, `::/0`) on new mappings
    /// (`--allow-any-source` does the same for one command).
    #[serde(default)]
    pub allow_any_source: bool,
    /// Per-device rules, first match per setting wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Public key `napsh keys push` installs (default: the first of ~/.ssh/id_ed25519.pub,
    /// id_ecdsa.pub, id_rsa.pub); a leading `~/` means the home directory.
    pub ssh_public_key: Option<String>,
    /// Template of the remote command that runs `{command}` inside `{service}` (`{tty}`:
    /// `-it` or `-i`); default `napsh_core::service::DEFAULT_EXEC` (docker exec).
    pub service_exec: Option<String>,
    /// Remote command printing the running services, one per line; default
    /// `napsh_core::service::DEFAULT_LIST` (docker ps).
    pub service_list: Option<String>,
    /// LAN address (IP or `.local` name) → SIM id: a direct connection to that address pins
    /// and checks the SIM's host key instead of a `lan:<address>` one.
    #[serde(default)]
    pub lan_sims: std::collections::BTreeMap<String, String>,
    /// Interactive sessions survive link drops: the shell runs in tmux or screen on the device
    /// and napsh reconnects (`auto`, `tmux`, `screen`; default `off`; `--resume` per command).
    pub resume: Option<ResumeMode>,
}

fn default_duration() -> u64 {
    3600
}
fn default_ip_echo() -> String {
    DEFAULT_IP_ECHO_URL.into()
}
fn default_timeout() -> u64 {
    15
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("empty config parses")
    }
}

/// The config path: `$NAPSH_CONFIG` > `$XDG_CONFIG_HOME/napsh/config.toml`.
pub fn config_path(config_dir: &Path) -> PathBuf {
    std::env::var_os("NAPSH_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir.join("config.toml"))
}

/// Loads the config (defaults when the file does not exist).
pub fn load(path: &Path) -> Result<Config> {
    if !path.exists() {
        return Ok(Config::default());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text, path)
}

/// Parses and validates config text read from `path`.
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    let config: Config = toml::from_str(text).map_err(|e| {
        NapshError::config(format!(
            "{}: {}",
            path.display(),
            e.message().trim().replace('\n', " ")
        ))
        .hint("fix the file (see `napsh --help` for the keys)")
    })?;
    validate(&config, path)?;
    Ok(config)
}

fn validate(config: &Config, path: &Path) -> Result<()> {
    validate_duration(config.mapping_duration_secs).map_err(|e| {
        NapshError::config(format!(
            "{}: mapping_duration_secs: {}",
            path.display(),
            e.why
        ))
        .hint(e.hint.unwrap_or_default())
    })?;
    if let Some(cidr) = &config.source_cidr {
        parse_cidr(cidr).with_context(|| format!("{}: source_cidr", path.display()))?;
    }
    if config.request_timeout_secs == 0 {
        return Err(NapshError::config(format!(
            "{}: request_timeout_secs must be at least 1",
            path.display()
        ))
        .into());
    }
    for (i, rule) in config.rules.iter().enumerate() {
        validate_rule(rule).with_context(|| format!("{}: rules[{}]", path.display(), i))?;
    }
    validate_service_and_lan(config, path)?;
    Ok(())
}

/// Checks the service templates (global and per rule) and the `lan_sims` table.
fn validate_service_and_lan(config: &Config, path: &Path) -> Result<()> {
    let bad = |why: String| NapshError::config(format!("{}: {why}", path.display()));
    service::validate_templates(
        config.service_exec.as_deref(),
        config.service_list.as_deref(),
    )
    .map_err(bad)?;
    for (i, rule) in config.rules.iter().enumerate() {
        service::validate_templates(rule.service_exec.as_deref(), rule.service_list.as_deref())
            .map_err(|why| bad(format!("rules[{i}]: {why}")))?;
    }
    for (address, sim_id) in &config.lan_sims {
        if napsh_core::lan::canonical(address).is_none() {
            return Err(bad(format!(
                "lan_sims: \"{}\" is not an IP address or a .local name",
                for_terminal(address)
            ))
            .into());
        }
        if sim_id.is_empty() || !sim_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(format!(
                "lan_sims: \"{}\" is not a SIM id (digits only)",
                for_terminal(sim_id)
            ))
            .into());
        }
    }
    Ok(())
}

/// Parses a source range (`198.51.100.7/32`; a bare address means a single host). A range
/// with host bits set is refused, naming the network meant (never silently truncated).
pub fn parse_cidr(text: &str) -> Result<IpNet> {
    napsh_core::source_range::parse(text).map_err(|e| {
        let shown = for_terminal_truncated(text.trim(), 60);
        NapshError::config(e.message(&shown)).into()
    })
}

/// Checks a mapping duration: seconds, 1 minute to 8 hours.
pub fn validate_duration(secs: u64) -> std::result::Result<u64, NapshError> {
    if secs > MAX_DURATION_SECS {
        return Err(NapshError::config(format!(
            "{secs} seconds is more than the 28800 seconds (8 hours) Soracom allows"
        ))
        .hint(format!(
            "the duration is in seconds, not minutes: {secs} minutes would be {} seconds; use at most 28800",
            secs.saturating_mul(60)
        )));
    }
    if secs < 60 {
        return Err(
            NapshError::config(format!("{secs} seconds is too short for a mapping"))
                .hint("use at least 60 (the duration is in seconds)"),
        );
    }
    Ok(secs)
}

fn validate_rule(rule: &Rule) -> Result<()> {
    if rule.match_name.is_none() && rule.match_tag.is_none() {
        return Err(NapshError::config("a rule needs match_name or match_tag").into());
    }
    if let Some(glob) = &rule.match_name {
        globset::Glob::new(glob)
            .map_err(|e| NapshError::config(format!("match_name \"{glob}\": {e}")))?;
    }
    if let Some(tag) = &rule.match_tag {
        if !tag.contains('=') {
            return Err(NapshError::config(format!("match_tag \"{tag}\" is not key=value")).into());
        }
    }
    Ok(())
}

impl Rule {
    /// Whether this rule applies to `device` (all given matchers must match).
    pub fn matches(&self, device: &Device) -> bool {
        let name_ok = self.match_name.as_ref().is_none_or(|glob| {
            globset::Glob::new(glob)
                .map(|g| g.compile_matcher().is_match(&device.name))
                .unwrap_or(false)
        });
        let tag_ok = self.match_tag.as_ref().is_none_or(|tag| {
            let (k, v) = tag.split_once('=').unwrap_or((tag, ""));
            device.tags.get(k.trim()).map(String::as_str) == Some(v.trim())
        });
        name_ok && tag_ok
    }
}

/// How napsh obtains a device password.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordSource {
    /// Run this shell command; its stdout (minus the trailing newline) is the password.
    Command(String),
    /// Read from the OS keyring.
    Keyring(KeyringRef),
    /// The value from the config file.
    Plain(String),
}

/// Everything the rules decide for one device.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceSettings {
    /// User from the first matching rule with a user.
    pub user: Option<String>,
    /// Port from the first matching rule with a port.
    pub port: Option<u16>,
    /// Password source from the first matching rule with one.
    pub password: Option<PasswordSource>,
    /// `service_exec` from the first matching rule with one.
    pub service_exec: Option<String>,
    /// `service_list` from the first matching rule with one.
    pub service_list: Option<String>,
    /// `resume` from the first matching rule with one.
    pub resume: Option<ResumeMode>,
}

impl Config {
    /// The settings for `device`: for each setting, the first matching rule that sets it.
    pub fn settings_for(&self, device: &Device) -> DeviceSettings {
        let mut out = DeviceSettings::default();
        for rule in self.rules.iter().filter(|r| r.matches(device)) {
            out.user = out.user.or(rule.user.clone());
            out.port = out.port.or(rule.port);
            out.service_exec = out.service_exec.or(rule.service_exec.clone());
            out.service_list = out.service_list.or(rule.service_list.clone());
            out.resume = out.resume.or(rule.resume);
            if out.password.is_none() {
                out.password = self.password_source(rule);
            }
        }
        out
    }

    fn password_source(&self, rule: &Rule) -> Option<PasswordSource> {
        if let Some(cmd) = &rule.password_command {
            return Some(PasswordSource::Command(cmd.clone()));
        }
        if let Some(k) = &rule.password_keyring {
            return Some(PasswordSource::Keyring(k.clone()));
        }
        match &rule.password {
            Some(p) if self.allow_plain_password => Some(PasswordSource::Plain(p.clone())),
            Some(_) => {
                crate::output::warn("ignoring a plain `password` in a config rule: set `allow_plain_password = true` to use it (better: password_command)");
                None
            }
            None => None,
        }
    }

    /// The user: `USER@` / `--user` (given) > rule > `default_user` > `pi`.
    pub fn user_for(&self, given: Option<&str>, device: &Device) -> String {
        given
            .map(str::to_string)
            .or_else(|| self.settings_for(device).user)
            .or_else(|| self.default_user.clone())
            .unwrap_or_else(|| "pi".into())
    }
}

/// Fetches the password a source describes.
pub fn fetch_password(source: &PasswordSource) -> Result<String> {
    match source {
        PasswordSource::Plain(p) => Ok(p.clone()),
        PasswordSource::Command(cmd) => {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("running password_command")?;
            if !out.status.success() {
                return Err(NapshError::config(format!(
                    "password_command failed ({})",
                    out.status
                ))
                .hint("run it by hand to see why")
                .into());
            }
            let text = String::from_utf8(out.stdout)
                .map_err(|_| NapshError::config("password_command printed non-UTF-8 output"))?;
            Ok(text
                .strip_suffix('\n')
                .unwrap_or(&text)
                .trim_end_matches('\r')
                .to_string())
        }
        PasswordSource::Keyring(k) => Err(NapshError::config(format!(
            "password_keyring (service \"{}\") is not supported yet",
            k.service
        ))
        .hint(format!(
            "use password_command = \"secret-tool lookup service {} account {}\" instead",
            k.service, k.account
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use napsh_core::soracom::TagSet;

    fn device(name: &str, tags: &[(&str, &str)]) -> Device {
        let mut all = TagSet::new();
        all.insert("name".into(), name.into());
        for (k, v) in tags {
            all.insert((*k).into(), (*v).into());
        }
        Device {
            online: true,
            tags: all,
            ..Device::named("8981", name)
        }
    }

    fn p() -> &'static Path {
        Path::new("/etc/napsh.toml")
    }

    #[test]
    fn defaults() {
        let c = parse("", p()).unwrap();
        assert_eq!(c.mapping_duration_secs, 3600);
        assert_eq!(c.ip_echo_url, DEFAULT_IP_ECHO_URL);
        assert_eq!(c.request_timeout_secs, 15);
        assert_eq!(c.user_for(None, &device("x", &[])), "pi");
    }

    #[test]
    fn unknown_key_is_named_with_file() {
        let err = parse("defualt_user = \"x\"", p()).unwrap_err();
        let text = crate::error::one_line(&err);
        assert!(
            text.contains("defualt_user") && text.contains("/etc/napsh.toml"),
            "{text}"
        );
        let err = parse("[[rules]]\nmatch_name = \"a\"\nusr = \"x\"", p()).unwrap_err();
        assert!(crate::error::one_line(&err).contains("usr"));
    }

    #[test]
    fn duration_in_minutes_is_explained() {
        let err = parse("mapping_duration_secs = 86400", p()).unwrap_err();
        let text = crate::error::one_line(&err);
        assert!(
            text.contains("seconds, not minutes") && text.contains("28800"),
            "{text}"
        );
        assert!(parse("mapping_duration_secs = 28800", p()).is_ok());
    }

    #[test]
    fn bad_cidr_is_rejected() {
        let err = parse("source_cidr = \"300.1.1.1/32\"", p()).unwrap_err();
        assert!(crate::error::one_line(&err).contains("source_cidr"));
    }

    #[test]
    fn rules_first_match_per_setting_then_default() {
        let c = parse(
            r#"
default_user = "admin"
allow_plain_password = true
[[rules]]
match_name = "kiosk-*"
user = "kiosk"
[[rules]]
match_tag = "role=gw"
port = 2222
password = "pw"
[[rules]]
match_name = "*"
user = "fallback"
port = 22
"#,
            p(),
        )
        .unwrap();
        let kiosk = device("kiosk-12", &[("role", "gw")]);
        let s = c.settings_for(&kiosk);
        assert_eq!(s.user.as_deref(), Some("kiosk"));
        assert_eq!(s.port, Some(2222));
        assert_eq!(s.password, Some(PasswordSource::Plain("pw".into())));
        assert_eq!(c.user_for(Some("root"), &kiosk), "root");
        assert_eq!(c.user_for(None, &device("other", &[])), "fallback");
        let no_rules = parse("default_user = \"admin\"", p()).unwrap();
        assert_eq!(no_rules.user_for(None, &kiosk), "admin");
    }

    #[test]
    fn resume_is_global_and_per_rule_and_checked() {
        let c = parse(
            "resume = \"auto\"\n[[rules]]\nmatch_tag = \"role=cam\"\nresume = \"off\"\n",
            p(),
        )
        .unwrap();
        assert_eq!(c.resume, Some(ResumeMode::Auto));
        let cam = device("cam-1", &[("role", "cam")]);
        assert_eq!(c.settings_for(&cam).resume, Some(ResumeMode::Off));
        assert_eq!(c.settings_for(&device("kiosk", &[])).resume, None);
        let err = parse("resume = \"always\"", p()).unwrap_err();
        let text = crate::error::one_line(&err);
        assert!(text.contains("always") && text.contains("screen"), "{text}");
    }

    #[test]
    fn plain_password_needs_opt_in() {
        let c = parse("[[rules]]\nmatch_name = \"*\"\npassword = \"pw\"", p()).unwrap();
        assert_eq!(c.settings_for(&device("a", &[])).password, None);
    }

    #[test]
    fn password_command_output_is_trimmed() {
        let pw = fetch_password(&PasswordSource::Command("printf 'se cret\\n'".into())).unwrap();
        assert_eq!(pw, "se cret");
    }

    /// The policy itself is tabled in `napsh_core::source_range`; here: its refusal is a
    /// config error (exit 2) whose one line names the network meant.
    #[test]
    fn a_bad_source_range_is_a_config_error_naming_the_network() {
        let err = parse_cidr("10.1.2.3/8").unwrap_err();
        assert_eq!(
            crate::error::kind_of(&err),
            napsh_core::messages::ErrorKind::Config
        );
        assert!(crate::error::one_line(&err).contains("10.0.0.0/8"));
        assert_eq!(
            parse_cidr(" 198.51.100.7 ").unwrap().to_string(),
            "198.51.100.7/32"
        );
    }
}
