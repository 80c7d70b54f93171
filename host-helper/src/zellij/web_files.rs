//! `napsh web`'s files in `$XDG_STATE_HOME/napsh/web/`: the Zellij config it runs with (the
//! user's config.kdl plus the picker's keybinding and the web options), the session layout, the
//! welcome text, the 0600 state record (what napsh started), and the default token file.

use crate::state::paths::{read_private, write_private, Dirs};
use crate::zellij::install::{kdl_string, keybinding_block, merge_keybinding};
use crate::zellij::web::WebAddress;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Top-level config options `napsh web` decides; the user's values for them are replaced.
const MANAGED_OPTIONS: &[&str] = &[
    "default_layout",
    "web_sharing",
    "web_server",
    "web_server_ip",
    "web_server_port",
    "web_server_cert",
    "web_server_key",
];

/// Options added only when the user's config does not set them (no first-run pop-ups).
const QUIET_OPTIONS: &[&str] = &["show_startup_tips", "show_release_notes"];

/// The paths of `napsh web`'s files.
#[derive(Debug, Clone)]
pub struct WebFiles {
    /// The directory (0700).
    pub dir: PathBuf,
    /// Zellij config used for the web server and the session.
    pub config: PathBuf,
    /// Layout of the session.
    pub layout: PathBuf,
    /// Text the session's first pane prints.
    pub welcome: PathBuf,
    /// What napsh started ([`WebState`], JSON).
    pub state: PathBuf,
    /// Where a new token goes when it is not shown (0600).
    pub default_token_file: PathBuf,
    /// Output of the Zellij servers napsh starts.
    pub log: PathBuf,
}

impl WebFiles {
    /// The files under napsh's state directory.
    pub fn new(dirs: &Dirs) -> Self {
        let dir = dirs.state.join("web");
        WebFiles {
            config: dir.join("config.kdl"),
            layout: dir.join("layout.kdl"),
            welcome: dir.join("welcome.txt"),
            state: dir.join("state.json"),
            default_token_file: dir.join("token"),
            log: dir.join("zellij.log"),
            dir,
        }
    }

    /// What napsh started last time, if it recorded anything.
    pub fn load_state(&self) -> Result<Option<WebState>> {
        let Some(bytes) = read_private(&self.state)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "reading {} (delete it if napsh web is not running)",
                self.state.display()
            )
        })
    }

    /// Records what napsh started (0600, atomically).
    pub fn save_state(&self, state: &WebState) -> Result<()> {
        let json = serde_json::to_vec_pretty(state).context("serialising the web state")?;
        write_private(&self.state, &json)
    }

    /// Forgets the record (after `--stop`).
    pub fn remove_state(&self) -> Result<()> {
        remove_if_present(&self.state)
    }
}

/// Removes `path`; a missing file is fine.
pub fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// What `napsh web` runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSettings {
    /// Address the web server binds.
    pub bind: IpAddr,
    /// Its port.
    pub port: u16,
    /// TLS certificate (PEM), absolute.
    pub cert: Option<PathBuf>,
    /// TLS key (PEM), absolute.
    pub key: Option<PathBuf>,
    /// The Zellij session the browser attaches to.
    pub session: String,
    /// The key that opens the picker.
    pub picker_key: String,
    /// The soracom-cli profile the session's napsh uses (`napsh --profile P web`), as
    /// `SORACOM_PROFILE`; `None`: napsh's usual choice.
    #[serde(default)]
    pub profile: Option<String>,
}

impl WebSettings {
    /// Where the web server listens.
    pub fn address(&self) -> WebAddress {
        WebAddress {
            bind: self.bind,
            port: self.port,
            tls: self.cert.clone().zip(self.key.clone()),
        }
    }
}

/// What `napsh web` started and created, so that a second run reuses it and `--stop` undoes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebState {
    /// The settings it runs with.
    pub settings: WebSettings,
    /// napsh started the web server (so `--stop` stops it).
    pub started_server: bool,
    /// napsh created the session (so `--stop` kills it).
    pub started_session: bool,
    /// Zellij's name of the login token napsh created (revoked by `--stop`).
    pub token_name: Option<String>,
    /// The file napsh wrote that token to, if it did not show it (deleted by `--stop`).
    pub token_file: Option<PathBuf>,
}

/// Zellij's config for `napsh web`: `user_config` as written, minus the options napsh decides,
/// plus the picker's keybinding (replacing one `napsh zellij install` added) and the web options.
pub fn web_config(
    user_config: &str,
    settings: &WebSettings,
    wasm_file: &Path,
    helper: &Path,
    layout: &Path,
) -> Result<String> {
    let mut doc: kdl::KdlDocument = user_config
        .parse()
        .context("your Zellij config.kdl does not parse as KDL")?;
    doc.nodes_mut()
        .retain(|node| !MANAGED_OPTIONS.contains(&node.name().value()));
    let already_set = |name: &str| doc.nodes().iter().any(|n| n.name().value() == name);
    let quiet: Vec<String> = QUIET_OPTIONS
        .iter()
        .filter(|name| !already_set(name))
        .map(|name| format!("{name} false\n"))
        .collect();
    let merged = merge_keybinding(&doc.to_string(), |indent| {
        keybinding_block(&settings.picker_key, wasm_file, helper, indent)
    })?;
    let mut out = merged;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("// napsh web: the options below are set by `napsh web` (this file is rewritten when it starts)\n");
    out.push_str(&quiet.concat());
    out.push_str(&format!("default_layout {}\n", kdl_path(layout)));
    out.push_str("web_sharing \"on\"\n");
    out.push_str(&format!(
        "web_server_ip {}\n",
        kdl_string(&settings.bind.to_string())
    ));
    out.push_str(&format!("web_server_port {}\n", settings.port));
    if let (Some(cert), Some(key)) = (&settings.cert, &settings.key) {
        out.push_str(&format!("web_server_cert {}\n", kdl_path(cert)));
        out.push_str(&format!("web_server_key {}\n", kdl_path(key)));
    }
    out.parse::<kdl::KdlDocument>()
        .context("napsh produced an invalid Zellij config (a bug)")?;
    Ok(out)
}

/// The session's layout: tab bar, one shell pane that first prints `welcome`, status bar.
pub fn web_layout(welcome: &Path) -> String {
    let script = "cat \"$0\"; exec \"${SHELL:-/bin/sh}\"";
    format!(
        "layout {{\n\
         \x20   default_tab_template {{\n\
         \x20       pane size=1 borderless=true {{ plugin location=\"zellij:tab-bar\"; }}\n\
         \x20       children\n\
         \x20       pane size=2 borderless=true {{ plugin location=\"zellij:status-bar\"; }}\n\
         \x20   }}\n\
         \x20   tab name=\"napsh\" {{\n\
         \x20       pane name=\"shell\" command=\"sh\" {{ args \"-c\" {} {}; }}\n\
         \x20   }}\n\
         }}\n",
        kdl_string(script),
        kdl_path(welcome)
    )
}

/// `path` as a quoted KDL string.
fn kdl_path(path: &Path) -> String {
    kdl_string(&path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(bind: &str, tls: bool) -> WebSettings {
        WebSettings {
            bind: bind.parse().unwrap(),
            port: 8082,
            cert: tls.then(|| PathBuf::from("/etc/c.pem")),
            key: tls.then(|| PathBuf::from("/etc/k.pem")),
            session: "napsh".into(),
            picker_key: "Alt s".into(),
            profile: None,
        }
    }

    fn config(user: &str, s: &WebSettings) -> String {
        web_config(
            user,
            s,
            Path::new("/z/plugins/napsh.wasm"),
            Path::new("/bin/napsh"),
            Path::new("/s/layout.kdl"),
        )
        .unwrap()
    }

    #[test]
    fn keeps_the_users_settings_and_replaces_the_managed_ones() {
        let user = "theme \"dracula\"\nweb_server_port 9999\ndefault_layout \"compact\"\nshow_startup_tips true\nkeybinds {\n    normal {\n        bind \"Alt x\" { NewPane; }\n    }\n}\n";
        let out = config(user, &settings("127.0.0.1", false));
        assert!(out.contains("theme \"dracula\""), "{out}");
        assert!(out.contains("bind \"Alt x\" { NewPane; }"), "{out}");
        assert!(!out.contains("9999") && !out.contains("compact"), "{out}");
        assert!(out.contains("show_startup_tips true") && !out.contains("show_startup_tips false"));
        assert!(out.contains("show_release_notes false"));
        assert!(
            out.contains("web_server_ip \"127.0.0.1\"\nweb_server_port 8082\n"),
            "{out}"
        );
        assert!(out.contains("default_layout \"/s/layout.kdl\""));
        assert!(out.contains("web_sharing \"on\""));
        assert!(out.contains("bind \"Alt s\""));
        assert!(out.contains("LaunchOrFocusPlugin \"file:/z/plugins/napsh.wasm\""));
        assert!(!out.contains("web_server_cert"));
    }

    #[test]
    fn tls_paths_go_into_the_config() {
        let out = config("", &settings("0.0.0.0", true));
        assert!(
            out.contains("web_server_cert \"/etc/c.pem\"\nweb_server_key \"/etc/k.pem\"\n"),
            "{out}"
        );
    }

    #[test]
    fn an_installed_picker_binding_is_replaced_not_duplicated() {
        let once = config("", &settings("127.0.0.1", false));
        let twice = config(&once, &settings("127.0.0.1", false));
        assert_eq!(twice.matches("LaunchOrFocusPlugin").count(), 1, "{twice}");
        assert_eq!(twice.matches("web_server_port").count(), 1, "{twice}");
    }

    #[test]
    fn a_broken_user_config_is_refused() {
        let err = web_config(
            "keybinds {",
            &settings("127.0.0.1", false),
            Path::new("/w"),
            Path::new("/h"),
            Path::new("/l"),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("does not parse"));
    }

    #[test]
    fn layout_parses_and_prints_the_welcome() {
        let layout = web_layout(Path::new("/s/welcome \"x\".txt"));
        let doc: kdl::KdlDocument = layout.parse().expect(&layout);
        assert_eq!(doc.nodes()[0].name().value(), "layout");
        assert!(layout.contains(r#""/s/welcome \"x\".txt""#), "{layout}");
    }
}
