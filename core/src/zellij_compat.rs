//! Which Zellij versions napsh's picker plugin and `napsh web` work with, and what to tell the
//! user about the one installed.
//!
//! How the limits were decided (the plugin is built with zellij-tile 0.45.1): since 0.38 Zellij
//! loads a plugin of any zellij-tile version (there is no version check any more); plugin and
//! host talk protobuf, so a plugin works on a Zellij whose protocol knows every command it sends
//! and every event it subscribes to. Read from Zellij's `plugin_command.proto`/`event.proto` at
//! each release tag:
//! - the events `CommandPaneOpened`, `CommandPaneExited` and `PaneClosed` (which the picker
//!   subscribes to, in one `Subscribe` that an older Zellij rejects whole, keys included)
//!   first appear in 0.41.0, which also brought today's key format: the picker needs 0.41;
//! - `OpenCommandPaneInNewTab` (the `panes "tab"` setting) first appears in 0.44.0;
//! - the web client (`zellij web`, tokens) first appears in 0.43.0;
//! - from 0.41.0 to 0.45.x (and on Zellij's main branch after 0.45) the protocol only grew:
//!   no field or variant the plugin uses was renumbered or removed. A newer Zellij should
//!   therefore run the plugin; it is said to be untested rather than refused.

use std::fmt;

/// A Zellij version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ZellijVersion(pub u32, pub u32, pub u32);

impl fmt::Display for ZellijVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl ZellijVersion {
    /// The version in `zellij --version` output (`zellij 0.45.1`, `zellij 0.43.0-rc.1`).
    pub fn parse(output: &str) -> Option<Self> {
        crate::web::parse_zellij_version(output).map(|(a, b, c)| ZellijVersion(a, b, c))
    }
}

/// The zellij-tile version the plugin is built with (and the Zellij the tests run).
pub const PLUGIN_BUILT_FOR: ZellijVersion = ZellijVersion(0, 45, 1);
/// The oldest Zellij whose protocol has every event and key the picker needs.
pub const MIN_PICKER: ZellijVersion = ZellijVersion(0, 41, 0);
/// The oldest Zellij that can open a command pane in a new tab (`panes "tab"`).
pub const MIN_TAB_PANES: ZellijVersion = ZellijVersion(0, 44, 0);
/// The oldest Zellij with the web client (`napsh web`).
pub const MIN_WEB: ZellijVersion = ZellijVersion(0, 43, 0);

/// What napsh is about to use Zellij for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZellijUse {
    /// The picker plugin in a terminal (`napsh zellij install`).
    Picker,
    /// The picker through Zellij's web client (`napsh web`).
    Web,
}

/// What works with an installed Zellij.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It cannot work: the one-line reason, to refuse with.
    Refuse(String),
    /// Everything works: one line saying so.
    Works(String),
    /// It works with a caveat (a setting that needs a newer Zellij, or a Zellij newer than
    /// the tested one): one line saying what works and what does not.
    Limited(String),
}

/// The verdict on Zellij `version` for `usage`.
pub fn verdict(version: ZellijVersion, usage: ZellijUse) -> Verdict {
    if version < MIN_PICKER {
        return Verdict::Refuse(format!(
            "Zellij {version} cannot run napsh's picker: the plugin (built for Zellij \
             {PLUGIN_BUILT_FOR}) needs the pane events and key format of Zellij {MIN_PICKER} or newer"
        ));
    }
    if usage == ZellijUse::Web && version < MIN_WEB {
        return Verdict::Refuse(format!(
            "Zellij {version} has no web client: napsh web needs Zellij {MIN_WEB} or newer"
        ));
    }
    let what = match usage {
        ZellijUse::Picker => "the picker works",
        ZellijUse::Web => "napsh web and its picker work",
    };
    if version < MIN_TAB_PANES {
        Verdict::Limited(format!(
            "Zellij {version}: {what}, except the `panes \"tab\"` setting (Zellij \
             {MIN_TAB_PANES}+); the plugin is built for {PLUGIN_BUILT_FOR}"
        ))
    } else if (version.0, version.1) > (PLUGIN_BUILT_FOR.0, PLUGIN_BUILT_FOR.1) {
        Verdict::Limited(format!(
            "Zellij {version} is newer than the {PLUGIN_BUILT_FOR} the plugin is built and tested \
             for: {what} as far as its plugin protocol goes (it only grows), untested; if the \
             picker misbehaves, run Zellij {PLUGIN_BUILT_FOR}"
        ))
    } else {
        Verdict::Works(format!(
            "Zellij {version}: {what} (the plugin is built for {PLUGIN_BUILT_FOR})"
        ))
    }
}

/// How to install the Zellij the plugin is built for.
pub fn install_hint() -> String {
    format!(
        "install Zellij {PLUGIN_BUILT_FOR}: cargo install --locked zellij --version {PLUGIN_BUILT_FOR} \
         (or scripts/ensure-tools.sh --demo in napsh's source tree)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn v(text: &str) -> ZellijVersion {
        ZellijVersion::parse(&format!("zellij {text}")).unwrap()
    }

    #[rstest]
    #[case("0.40.1", ZellijUse::Picker)]
    #[case("0.38.0", ZellijUse::Picker)]
    #[case("0.40.1", ZellijUse::Web)]
    #[case("0.42.2", ZellijUse::Web)]
    fn refused(#[case] version: &str, #[case] usage: ZellijUse) {
        let Verdict::Refuse(why) = verdict(v(version), usage) else {
            panic!("{version} must be refused for {usage:?}");
        };
        assert!(why.contains(version), "{why}");
    }

    #[rstest]
    #[case(
        "0.41.0",
        ZellijUse::Picker,
        false,
        "except the `panes \"tab\"` setting"
    )]
    #[case("0.43.1", ZellijUse::Web, false, "except the `panes \"tab\"` setting")]
    #[case("0.44.3", ZellijUse::Picker, true, "(the plugin is built for 0.45.1)")]
    #[case(
        "0.45.1",
        ZellijUse::Web,
        true,
        "napsh web and its picker work (the plugin"
    )]
    #[case("0.46.0", ZellijUse::Picker, false, "newer than the 0.45.1")]
    #[case("1.0.0", ZellijUse::Web, false, "untested")]
    fn works(
        #[case] version: &str,
        #[case] usage: ZellijUse,
        #[case] fully: bool,
        #[case] says: &str,
    ) {
        let text = match verdict(v(version), usage) {
            Verdict::Works(text) if fully => text,
            Verdict::Limited(text) if !fully => text,
            other => panic!("{version} for {usage:?}: {other:?}"),
        };
        assert!(text.contains(says), "{text}");
        assert!(text.starts_with(&format!("Zellij {version}")), "{text}");
    }

    #[test]
    fn built_for_the_plugins_zellij_tile() {
        let manifest = include_str!("../../plugin/Cargo.toml");
        let pin = format!("zellij-tile = \"={PLUGIN_BUILT_FOR}\"");
        assert!(manifest.contains(&pin), "plugin/Cargo.toml must pin {pin}");
    }

    #[test]
    fn the_limits_are_ordered_and_match_napsh_web() {
        assert!(MIN_PICKER < MIN_WEB && MIN_WEB < MIN_TAB_PANES);
        assert!(MIN_TAB_PANES <= PLUGIN_BUILT_FOR);
        let (a, b, c) = crate::web::MIN_ZELLIJ;
        assert_eq!(ZellijVersion(a, b, c), MIN_WEB);
    }

    #[test]
    fn versions_parse_and_print() {
        assert_eq!(v("0.45.1"), ZellijVersion(0, 45, 1));
        assert_eq!(v("0.43.0-rc.1").to_string(), "0.43.0");
        assert_eq!(ZellijVersion::parse("zellij"), None);
        assert!(install_hint().contains("--version 0.45.1"));
    }
}
