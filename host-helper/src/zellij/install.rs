//! `napsh zellij install`: puts the embedded plugin where Zellij finds it and adds the picker's
//! keybinding to the user's `config.kdl`, idempotently (backup first, no duplicates).

use crate::error::NapshError;
use anyhow::{bail, Context, Result};
use napsh_core::sanitize::for_terminal_truncated;
use napsh_core::zellij_compat::{install_hint, verdict, Verdict, ZellijUse, ZellijVersion};
use std::path::{Path, PathBuf};

/// The plugin, built from `plugin/` and embedded at build time (empty when it was not built).
pub const PLUGIN_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/napsh.wasm"));

/// First line of the block napsh manages inside `keybinds`.
const BEGIN_MARK: &str = "// napsh:begin (managed by `napsh zellij install`)";
/// Last line of that block.
const END_MARK: &str = "// napsh:end";

/// Where things go.
#[derive(Debug, Clone)]
pub struct InstallPaths {
    /// Zellij's config file.
    pub config_file: PathBuf,
    /// Where the plugin is written.
    pub wasm_file: PathBuf,
}

impl InstallPaths {
    /// Zellij's own lookup: `$ZELLIJ_CONFIG_FILE`, else `$ZELLIJ_CONFIG_DIR/config.kdl`, else
    /// `~/.config/zellij/config.kdl` — whatever `$XDG_CONFIG_HOME` says: Zellij (0.45) creates
    /// and reads `~/.config/zellij` first. The plugin goes in `plugins/` beside the config file.
    pub fn detect(config_dir: Option<&Path>) -> Result<Self> {
        let dir = match config_dir {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os("ZELLIJ_CONFIG_DIR") {
                Some(dir) => PathBuf::from(dir),
                None => directories::BaseDirs::new()
                    .context("cannot find your home directory: pass --config-dir")?
                    .home_dir()
                    .join(".config/zellij"),
            },
        };
        let config_file = match (config_dir, std::env::var_os("ZELLIJ_CONFIG_FILE")) {
            (None, Some(file)) => PathBuf::from(file),
            _ => dir.join("config.kdl"),
        };
        let wasm_file = config_file
            .parent()
            .unwrap_or(&dir)
            .join("plugins")
            .join("napsh.wasm");
        Ok(InstallPaths {
            config_file,
            wasm_file,
        })
    }
}

/// The keybinding napsh adds, as a `shared_except "locked"` block, between marker comments.
pub fn keybinding_block(key: &str, wasm_file: &Path, helper: &Path, indent: &str) -> String {
    format!(
        "{indent}{BEGIN_MARK}\n\
         {indent}shared_except \"locked\" {{\n\
         {indent}    bind {} {{\n\
         {indent}        LaunchOrFocusPlugin {} {{\n\
         {indent}            floating true\n\
         {indent}            move_to_focused_tab true\n\
         {indent}            helper {}\n\
         {indent}        }}\n\
         {indent}    }}\n\
         {indent}}}\n\
         {indent}{END_MARK}\n",
        kdl_string(key),
        kdl_string(&format!("file:{}", wasm_file.display())),
        kdl_string(&helper.display().to_string()),
    )
}

/// `s` as a quoted KDL string.
pub fn kdl_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `config` with napsh's keybinding block in its `keybinds` node (replacing an earlier napsh
/// block, adding a `keybinds` node when there is none). Everything else is left as written.
pub fn merge_keybinding(
    config: &str,
    block_without_indent: impl Fn(&str) -> String,
) -> Result<String> {
    let config = remove_managed_block(config);
    let doc: kdl::KdlDocument = config
        .parse()
        .context("your Zellij config.kdl does not parse as KDL")?;
    let keybinds = doc.nodes().iter().find(|n| n.name().value() == "keybinds");
    let merged = match keybinds {
        Some(node) => {
            let span = node.span();
            let node_text = &config[span.offset()..span.offset() + span.len()];
            let close = node_text
                .rfind('}')
                .context("the keybinds block in config.kdl has no closing brace")?;
            let insert_at = span.offset() + close;
            let before = &config[..insert_at];
            let newline = if before.ends_with('\n') { "" } else { "\n" };
            format!(
                "{before}{newline}{}{}",
                block_without_indent("    "),
                &config[insert_at..]
            )
        }
        None => {
            let sep = if config.is_empty() || config.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            format!(
                "{config}{sep}keybinds {{\n{}}}\n",
                block_without_indent("    ")
            )
        }
    };
    merged
        .parse::<kdl::KdlDocument>()
        .context("napsh produced an invalid config.kdl (a bug): nothing was written")?;
    Ok(merged)
}

/// `config` without napsh's marker-delimited block.
fn remove_managed_block(config: &str) -> String {
    let mut out = String::with_capacity(config.len());
    let mut inside = false;
    for line in config.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == BEGIN_MARK {
            inside = true;
        } else if inside && trimmed == END_MARK {
            inside = false;
        } else if !inside {
            out.push_str(line);
        }
    }
    out
}

/// What napsh tells the user about the `zellij` on PATH before using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZellijNews {
    /// Everything works with it: the line saying so.
    Fine(String),
    /// Worth a warning: a caveat of its version, or no (readable) Zellij for an install that
    /// does not need one yet.
    Warning(String),
}

/// Checks the `zellij` on PATH for `usage` (`zellij --version`): refuses a version the plugin
/// (or the web client) cannot run on, and a missing Zellij for `napsh web`; otherwise says
/// what works.
pub fn check_zellij(usage: ZellijUse) -> Result<ZellijNews> {
    let refuse =
        |why: String| -> anyhow::Error { NapshError::config(why).hint(install_hint()).into() };
    let out = match std::process::Command::new("zellij")
        .arg("--version")
        .output()
    {
        Ok(out) => out,
        Err(_) if usage == ZellijUse::Picker => {
            return Ok(ZellijNews::Warning(format!(
                "zellij is not on PATH: the picker needs Zellij to run in ({})",
                install_hint()
            )))
        }
        Err(_) => return Err(refuse("zellij is not on PATH".to_string())),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = ZellijVersion::parse(&text) else {
        let said = format!(
            "`zellij --version` says {:?}, not a version napsh can read",
            for_terminal_truncated(text.trim(), 60)
        );
        return match usage {
            ZellijUse::Picker => Ok(ZellijNews::Warning(said)),
            ZellijUse::Web => Err(refuse(said)),
        };
    };
    match verdict(version, usage) {
        Verdict::Refuse(why) => Err(refuse(why)),
        Verdict::Limited(text) => Ok(ZellijNews::Warning(text)),
        Verdict::Works(text) => Ok(ZellijNews::Fine(text)),
    }
}

/// What an install did, for the user.
#[derive(Debug)]
pub struct InstallReport {
    /// Where the plugin was written.
    pub wasm_file: PathBuf,
    /// The config file changed (or created).
    pub config_file: PathBuf,
    /// The backup of the previous config, when there was one.
    pub backup: Option<PathBuf>,
    /// Whether the config already had exactly this block.
    pub unchanged: bool,
}

/// Writes the plugin and merges the keybinding into the config (backup first, atomic writes).
pub fn install(paths: &InstallPaths, key: &str, helper: &Path) -> Result<InstallReport> {
    write_plugin(&paths.wasm_file)?;
    let existing = match std::fs::read_to_string(&paths.config_file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("reading {}", paths.config_file.display()))
        }
    };
    let current = existing.clone().unwrap_or_default();
    let merged = merge_keybinding(&current, |indent| {
        keybinding_block(key, &paths.wasm_file, helper, indent)
    })
    .with_context(|| format!("updating {}", paths.config_file.display()))?;
    if existing.as_deref() == Some(merged.as_str()) {
        return Ok(InstallReport {
            wasm_file: paths.wasm_file.clone(),
            config_file: paths.config_file.clone(),
            backup: None,
            unchanged: true,
        });
    }
    let backup = match &existing {
        Some(text) => {
            let backup = backup_path(&paths.config_file);
            write_atomically(&backup, text.as_bytes(), 0o600)?;
            Some(backup)
        }
        None => None,
    };
    write_atomically(&paths.config_file, merged.as_bytes(), 0o644)?;
    Ok(InstallReport {
        wasm_file: paths.wasm_file.clone(),
        config_file: paths.config_file.clone(),
        backup,
        unchanged: false,
    })
}

/// Writes the embedded plugin to `wasm_file` (atomically; untouched when it is already there).
pub fn write_plugin(wasm_file: &Path) -> Result<()> {
    if PLUGIN_WASM.is_empty() {
        bail!(
            "this napsh was built without its Zellij plugin: run scripts/build-plugin.sh, then rebuild napsh \
             (or point the keybinding at a napsh.wasm you built: `napsh zellij install --print`)"
        );
    }
    if std::fs::read(wasm_file).is_ok_and(|bytes| bytes == PLUGIN_WASM) {
        return Ok(());
    }
    write_atomically(wasm_file, PLUGIN_WASM, 0o644)
}

fn backup_path(config: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    config.with_file_name(format!("config.kdl.napsh-backup-{stamp}"))
}

/// Writes `bytes` to a temp file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().context("path has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.napsh-tmp-{}",
        path.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(indent: &str) -> String {
        keybinding_block(
            "Alt s",
            Path::new("/home/me/.config/zellij/plugins/napsh.wasm"),
            Path::new("/usr/bin/napsh"),
            indent,
        )
    }

    #[test]
    fn adds_keybinds_node_when_missing() {
        let merged = merge_keybinding("theme \"dracula\"\n", block).unwrap();
        assert!(
            merged.starts_with("theme \"dracula\"\nkeybinds {\n"),
            "{merged}"
        );
        assert!(merged
            .contains("LaunchOrFocusPlugin \"file:/home/me/.config/zellij/plugins/napsh.wasm\""));
    }

    #[test]
    fn merges_into_existing_keybinds_keeping_everything_else() {
        let config = "// mine\nkeybinds clear-defaults=true {\n    normal {\n        bind \"Alt x\" { NewPane; }\n    }\n}\ntheme \"x\"\n";
        let merged = merge_keybinding(config, block).unwrap();
        assert_eq!(merged.matches("keybinds").count(), 1, "{merged}");
        assert!(merged.contains("bind \"Alt x\" { NewPane; }"));
        assert!(merged.ends_with("}\ntheme \"x\"\n"), "{merged}");
    }

    #[test]
    fn second_run_changes_nothing_and_never_duplicates() {
        let once = merge_keybinding("keybinds {\n}\n", block).unwrap();
        let twice = merge_keybinding(&once, block).unwrap();
        assert_eq!(once, twice);
        assert_eq!(twice.matches(BEGIN_MARK).count(), 1);
    }

    #[test]
    fn a_new_key_replaces_the_old_block() {
        let once = merge_keybinding("", block).unwrap();
        let other = |indent: &str| {
            keybinding_block(
                "Alt d",
                Path::new("/p/napsh.wasm"),
                Path::new("/b/napsh"),
                indent,
            )
        };
        let again = merge_keybinding(&once, other).unwrap();
        assert!(
            again.contains("\"Alt d\"") && !again.contains("\"Alt s\""),
            "{again}"
        );
    }

    #[test]
    fn broken_config_is_refused() {
        let err = merge_keybinding("keybinds {", block).unwrap_err();
        assert!(format!("{err:#}").contains("does not parse"), "{err:#}");
    }

    #[test]
    fn install_backs_up_and_is_idempotent() {
        if PLUGIN_WASM.is_empty() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let paths = InstallPaths {
            config_file: dir.path().join("config.kdl"),
            wasm_file: dir.path().join("plugins/napsh.wasm"),
        };
        std::fs::write(&paths.config_file, "theme \"x\"\n").unwrap();
        let first = install(&paths, "Alt s", Path::new("/usr/bin/napsh")).unwrap();
        assert!(first.backup.is_some() && !first.unchanged);
        assert_eq!(std::fs::read(&paths.wasm_file).unwrap(), PLUGIN_WASM);
        let second = install(&paths, "Alt s", Path::new("/usr/bin/napsh")).unwrap();
        assert!(second.unchanged && second.backup.is_none());
    }
}
