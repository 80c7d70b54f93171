//! soracom-cli profiles, read exactly as soracom-cli reads them: which file, which
//! credentials, which endpoint. Secrets never appear in `Debug` output or logs.

use crate::error::NapshError;
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
pub use napsh_core::profile_file::Credentials;
use napsh_core::profile_file::ProfileFile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Profile sources that come from the environment, captured once (tests pass their own).
#[derive(Debug, Clone, Default)]
pub struct ProfileEnv {
    /// `SORACOM_PROFILE_DIR`.
    pub profile_dir: Option<PathBuf>,
    /// `SORACOM_PROFILE`.
    pub profile_name: Option<String>,
    /// `SORACOM_ENDPOINT`.
    pub endpoint: Option<String>,
    /// The home directory (for `~/.soracom`).
    pub home: PathBuf,
}

impl ProfileEnv {
    /// Reads the variables of the real environment.
    pub fn from_process(home: &Path) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        ProfileEnv {
            profile_dir: var("SORACOM_PROFILE_DIR").map(PathBuf::from),
            profile_name: var("SORACOM_PROFILE"),
            endpoint: var("SORACOM_ENDPOINT"),
            home: home.to_path_buf(),
        }
    }
}

/// A loaded, usable profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Profile name (`default`, `prod`…).
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// API endpoint without `/v1` and without a trailing slash.
    pub endpoint: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// Extra HTTP headers sent with every request.
    pub headers: BTreeMap<String, String>,
}

impl Profile {
    /// A key naming this profile + endpoint + credential identity (no secret), for caches.
    pub fn cache_key(&self) -> String {
        crate::state::paths::digest(&[&self.name, &self.endpoint, &self.credentials.identity()])
    }
}

/// The profile name in effect: `--profile` > `SORACOM_PROFILE` > `default`.
pub fn profile_name(cli: Option<&str>, env: &ProfileEnv) -> String {
    cli.map(str::to_string)
        .or_else(|| env.profile_name.clone())
        .unwrap_or_else(|| "default".into())
}

/// The directory profiles live in: `SORACOM_PROFILE_DIR` > `~/.soracom`.
pub fn profile_dir(env: &ProfileEnv) -> PathBuf {
    env.profile_dir
        .clone()
        .unwrap_or_else(|| env.home.join(".soracom"))
}

/// Loads the profile selected by `cli` / the environment.
pub fn load(cli: Option<&str>, env: &ProfileEnv) -> Result<Profile> {
    let name = profile_name(cli, env);
    load_named(&name, env, 0)
}

fn load_named(name: &str, env: &ProfileEnv, depth: usize) -> Result<Profile> {
    if depth > 4 {
        return Err(NapshError::config(format!(
            "profile '{name}': sourceProfile chain is too long (a loop?)"
        ))
        .into());
    }
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return Err(NapshError::config(format!("'{name}' is not a valid profile name")).into());
    }
    let path = profile_dir(env).join(format!("{name}.json"));
    let mut file = read_profile_file(&path)?;
    if let Some(command) = file.profile_command.clone() {
        file = run_profile_command(&command, &path)?.or_defaults_from(&file);
    }
    let credentials = match file
        .credentials()
        .map_err(|m| missing(&path, m.have, m.field))?
    {
        Some(c) => c,
        None => match file.source_profile.as_deref() {
            Some(source) => {
                load_named(source, env, depth + 1)
                    .with_context(|| {
                        format!("loading sourceProfile '{source}' of {}", path.display())
                    })?
                    .credentials
            }
            None => return Err(no_credentials(&path)),
        },
    };
    Ok(Profile {
        name: name.to_string(),
        endpoint: file
            .endpoint(env.endpoint.as_deref())
            .map_err(|coverage| bad_coverage(&path, &coverage))?,
        path,
        credentials,
        headers: file.headers.clone(),
    })
}

fn read_profile_file(path: &Path) -> Result<ProfileFile> {
    if !path.exists() {
        return Err(NapshError::new(
            ErrorKind::NoCredentials,
            format!("no soracom-cli profile at {}", path.display()),
        )
        .hint("create it with `soracom configure`, or pick another with --profile / SORACOM_PROFILE / SORACOM_PROFILE_DIR")
        .into());
    }
    if crate::state::paths::is_loose(path)? {
        return Err(NapshError::new(
            ErrorKind::NoCredentials,
            format!(
                "refusing to use {}: it is readable or writable by other users",
                path.display()
            ),
        )
        .hint(format!("run `chmod 600 {}`", path.display()))
        .into());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_profile(&text, &path.display().to_string())
}

fn parse_profile(text: &str, origin: &str) -> Result<ProfileFile> {
    ProfileFile::parse(text).map_err(|e| {
        NapshError::config(format!("{origin} is not a valid soracom-cli profile: {e}"))
            .hint("fix the JSON or recreate it with `soracom configure`")
            .into()
    })
}

fn run_profile_command(command: &str, path: &Path) -> Result<ProfileFile> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running the profileCommand of {}", path.display()))?;
    if !output.status.success() {
        return Err(NapshError::new(
            ErrorKind::NoCredentials,
            format!(
                "the profileCommand of {} failed ({})",
                path.display(),
                output.status
            ),
        )
        .hint("run it by hand to see why")
        .into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    parse_profile(
        &text,
        &format!("the output of the profileCommand of {}", path.display()),
    )
}

fn no_credentials(path: &Path) -> anyhow::Error {
    NapshError::new(
        ErrorKind::NoCredentials,
        format!("{} has no credentials", path.display()),
    )
    .hint("set authKeyId and authKey (recommended), or email and password, or operatorId, username and password")
    .into()
}

fn bad_coverage(path: &Path, coverage: &str) -> anyhow::Error {
    NapshError::config(format!(
        "{} has coverageType \"{}\"",
        path.display(),
        napsh_core::sanitize::for_terminal(coverage)
    ))
    .hint("use \"jp\" or \"g\"")
    .into()
}

fn missing(path: &Path, have: &str, field: &str) -> anyhow::Error {
    NapshError::new(
        ErrorKind::NoCredentials,
        format!("{} has {have} but no {field}", path.display()),
    )
    .hint(format!("add \"{field}\" to the profile"))
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(format!("{name}.json"));
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    fn env(home: &Path) -> ProfileEnv {
        ProfileEnv {
            home: home.to_path_buf(),
            ..Default::default()
        }
    }

    const KEY: &str = r#"{"coverageType":"jp","authKeyId":"keyId-1","authKey":"secret-1"}"#;

    #[test]
    fn name_precedence_cli_env_default() {
        let mut e = env(Path::new("/h"));
        assert_eq!(profile_name(None, &e), "default");
        e.profile_name = Some("fromenv".into());
        assert_eq!(profile_name(None, &e), "fromenv");
        assert_eq!(profile_name(Some("cli"), &e), "cli");
    }

    #[test]
    fn dir_precedence_env_over_home() {
        let home = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        write(&home.path().join(".soracom"), "default", KEY);
        write(
            other.path(),
            "default",
            r#"{"authKeyId":"keyId-2","authKey":"s"}"#,
        );
        let mut e = env(home.path());
        assert_eq!(
            load(None, &e).unwrap().credentials.identity(),
            "authKeyId:keyId-1"
        );
        e.profile_dir = Some(other.path().to_path_buf());
        assert_eq!(
            load(None, &e).unwrap().credentials.identity(),
            "authKeyId:keyId-2"
        );
    }

    #[test]
    fn endpoint_precedence() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".soracom");
        write(
            &dir,
            "g",
            r#"{"coverageType":"g","authKeyId":"k","authKey":"s"}"#,
        );
        write(
            &dir,
            "sb",
            r#"{"coverageType":"jp","sandbox":true,"authKeyId":"k","authKey":"s"}"#,
        );
        write(
            &dir,
            "ep",
            r#"{"coverageType":"g","endpoint":"http://127.0.0.1:9/","authKeyId":"k","authKey":"s"}"#,
        );
        let mut e = env(home.path());
        assert_eq!(
            load(Some("g"), &e).unwrap().endpoint,
            "https://g.api.soracom.io"
        );
        assert_eq!(
            load(Some("sb"), &e).unwrap().endpoint,
            "https://api-sandbox.soracom.io"
        );
        assert_eq!(load(Some("ep"), &e).unwrap().endpoint, "http://127.0.0.1:9");
        e.endpoint = Some("http://override:1/v1".into());
        assert_eq!(load(Some("ep"), &e).unwrap().endpoint, "http://override:1");
    }

    #[test]
    fn loose_permissions_are_refused_with_chmod_hint() {
        let home = tempfile::tempdir().unwrap();
        let path = write(&home.path().join(".soracom"), "default", KEY);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(None, &env(home.path())).unwrap_err();
        let text = crate::error::one_line(&err);
        assert!(
            text.contains(&format!("chmod 600 {}", path.display())),
            "{text}"
        );
        assert_eq!(crate::error::kind_of(&err), ErrorKind::NoCredentials);
    }

    #[test]
    fn sam_username_becomes_user_name_on_the_wire() {
        let home = tempfile::tempdir().unwrap();
        write(
            &home.path().join(".soracom"),
            "default",
            r#"{"operatorId":"OP1","username":"napsh","password":"pw"}"#,
        );
        let p = load(None, &env(home.path())).unwrap();
        let body = serde_json::to_value(p.credentials.auth_request(86400)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"operatorId":"OP1","userName":"napsh","password":"pw","tokenTimeoutSeconds":86400})
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".soracom");
        let path = write(&dir, "default", r#"{"authKeyId":"k"}"#);
        let text = crate::error::one_line(&load(None, &env(home.path())).unwrap_err());
        assert!(
            text.contains(&path.display().to_string()) && text.contains("no authKey"),
            "{text}"
        );
        write(&dir, "default", r#"{"coverageType":"jp"}"#);
        let text = crate::error::one_line(&load(None, &env(home.path())).unwrap_err());
        assert!(text.contains("has no credentials"), "{text}");
        let text = crate::error::one_line(&load(Some("nope"), &env(home.path())).unwrap_err());
        assert!(text.contains("nope.json"), "{text}");
    }

    #[test]
    fn profile_command_and_source_profile() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".soracom");
        write(&dir, "base", KEY);
        write(
            &dir,
            "child",
            r#"{"coverageType":"g","sourceProfile":"base"}"#,
        );
        write(
            &dir,
            "cmd",
            r#"{"coverageType":"g","profileCommand":"echo '{\"email\":\"a@b\",\"password\":\"p\"}'"}"#,
        );
        let e = env(home.path());
        let child = load(Some("child"), &e).unwrap();
        assert_eq!(child.credentials.identity(), "authKeyId:keyId-1");
        assert_eq!(child.endpoint, "https://g.api.soracom.io");
        let cmd = load(Some("cmd"), &e).unwrap();
        assert_eq!(cmd.credentials.identity(), "email:a@b");
        assert_eq!(cmd.endpoint, "https://g.api.soracom.io");
    }

    #[test]
    fn debug_output_has_no_secret() {
        let c = Credentials::AuthKey {
            id: "keyId".into(),
            key: "TOPSECRET".into(),
        };
        assert!(!format!("{c:?}").contains("TOPSECRET"));
    }
}
