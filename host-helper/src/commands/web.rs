//! `napsh web`: the fleet in a browser through Zellij's web client — start or reuse the web
//! server, the session with the picker's key and a login token; `--stop` undoes what napsh did.

use crate::cli::WebArgs;
use crate::error::NapshError;
use crate::output;
use crate::state::paths::{ensure_private_dir, write_private, Dirs};
use crate::zellij::install::{write_plugin, InstallPaths};
use crate::zellij::web::{require_zellij, web_server_answers, Zellij};
use crate::zellij::web_files::{
    remove_if_present, web_config, web_layout, WebFiles, WebSettings, WebState,
};
use anyhow::{Context, Result};
use napsh_core::sanitize::for_terminal;
use napsh_core::web::{browser_url, check_bind, check_session_name, welcome_text};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Defaults of the settings.
const DEFAULT_BIND: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 8082;
const DEFAULT_SESSION: &str = "napsh";
const DEFAULT_PICKER_KEY: &str = "Alt s";

/// How the user learns the login token.
enum TokenNews {
    /// A new token, to be shown once.
    Show(String),
    /// A new token, written to this 0600 file.
    Stored(PathBuf),
    /// The token napsh created earlier still works; it was stored here, if anywhere.
    Unchanged(Option<PathBuf>),
}

/// Runs `napsh web`; `profile` is the global `--profile`.
pub async fn run(args: WebArgs, profile: Option<String>) -> Result<i32> {
    let files = WebFiles::new(&Dirs::from_env()?);
    let state = files.load_state()?;
    if args.stop {
        return stop(&files, state).await;
    }
    require_zellij()?;
    start(&files, state, &args, profile).await
}

async fn start(
    files: &WebFiles,
    previous: Option<WebState>,
    args: &WebArgs,
    profile: Option<String>,
) -> Result<i32> {
    let server_up = match &previous {
        Some(state) => web_server_answers(&state.settings.address()).await,
        None => false,
    };
    if let (Some(state), true) = (&previous, server_up) {
        refuse_impostor(files, &state.settings)?;
    }
    let last = previous.as_ref().map(|s| &s.settings);
    let settings = match (last, server_up) {
        (Some(running), true) => keep_running_settings(running, args, profile)?,
        _ => settings_from_args(args, last, profile)?,
    };
    let zellij = zellij_for(files, &settings)?;
    ensure_private_dir(&files.dir)?;
    // What napsh started is recorded after each step, so that a failure in a later step still
    // leaves `--stop` able to undo it. A token napsh made earlier (also before a reboot) is
    // kept while Zellij still knows it.
    let mut state = WebState {
        settings,
        started_server: !server_up || previous.as_ref().is_some_and(|s| s.started_server),
        started_session: previous.as_ref().is_some_and(|s| s.started_session),
        token_name: previous.as_ref().and_then(|s| s.token_name.clone()),
        token_file: previous.as_ref().and_then(|s| s.token_file.clone()),
    };
    if !server_up {
        refuse_foreign_server(&state.settings).await?;
        write_session_files(files, &state.settings)?;
        zellij.start_web_server(&state.settings.address()).await?;
        files.save_state(&state)?;
    }
    let created_session = zellij.ensure_session(&state.settings.session, &files.layout)?;
    state.started_session |= created_session;
    files.save_state(&state)?;
    let news = ensure_token(files, &zellij, &mut state, args)?;
    files.save_state(&state)?;
    report(&state, server_up, created_session, &news);
    Ok(0)
}

/// Refuses to start when something already answers as a Zellij web server where napsh's would
/// listen: it is not napsh's (napsh would have found its record), so napsh must not take it over
/// (nor stop it later).
async fn refuse_foreign_server(settings: &WebSettings) -> Result<()> {
    if web_server_answers(&settings.address()).await {
        return Err(NapshError::config(format!(
            "a Zellij web server that napsh did not start already answers on port {}",
            settings.port
        ))
        .hint("choose another --port, or stop that server (`zellij web --stop`)")
        .into());
    }
    Ok(())
}

/// Refuses to go on (and so to show a login token) when what answers on the recorded port is
/// not the web server napsh started: another local user can take the port after a reboot and
/// answer `/info/version` like Zellij, to collect the token typed into it.
fn refuse_impostor(files: &WebFiles, settings: &WebSettings) -> Result<()> {
    if zellij_for(files, settings)?.owns_listener(settings.port) {
        return Ok(());
    }
    Err(NapshError::config(format!(
        "something answers on port {} like a Zellij web server, but it is not the Zellij web server napsh started (another local user may have taken the port): no login token is shown for it",
        settings.port
    ))
    .hint("find out what listens there (ss -ltnp), or run `napsh web --stop` and then `napsh web --port PORT` with another port")
    .into())
}

/// The settings of a running `napsh web`; arguments asking for others are refused.
fn keep_running_settings(
    running: &WebSettings,
    args: &WebArgs,
    profile: Option<String>,
) -> Result<WebSettings> {
    // Unspecified settings default to the running ones, so any difference was asked for.
    let changed = settings_from_args(args, Some(running), profile)? != *running;
    if changed {
        return Err(NapshError::config(format!(
            "napsh web already runs on {}",
            url_of(running)
        ))
        .hint("run `napsh web --stop` first to change --bind, --port, --cert, --session, --picker-key or --profile")
        .into());
    }
    Ok(running.clone())
}

/// Validated settings: the arguments, else those of the last run (`previous`), else the defaults.
fn settings_from_args(
    args: &WebArgs,
    previous: Option<&WebSettings>,
    profile: Option<String>,
) -> Result<WebSettings> {
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            Some((existing_file("--cert", cert)?, existing_file("--key", key)?))
        }
        _ if args.bind.is_some() => None,
        _ => previous.and_then(|p| p.cert.clone().zip(p.key.clone())),
    };
    let bind_text = match (&args.bind, previous) {
        (Some(bind), _) => bind.clone(),
        (None, Some(p)) => p.bind.to_string(),
        (None, None) => DEFAULT_BIND.to_string(),
    };
    let bind = check_bind(&bind_text, tls.is_some()).map_err(NapshError::config)?;
    let session = args
        .session
        .clone()
        .or_else(|| previous.map(|p| p.session.clone()))
        .unwrap_or_else(|| DEFAULT_SESSION.to_string());
    check_session_name(&session).map_err(NapshError::config)?;
    let (cert, key) = tls.unzip();
    Ok(WebSettings {
        bind,
        port: args
            .port
            .or(previous.map(|p| p.port))
            .unwrap_or(DEFAULT_PORT),
        cert,
        key,
        session,
        picker_key: args
            .picker_key
            .clone()
            .or_else(|| previous.map(|p| p.picker_key.clone()))
            .unwrap_or_else(|| DEFAULT_PICKER_KEY.to_string()),
        profile: profile.or_else(|| previous.and_then(|p| p.profile.clone())),
    })
}

/// `path` made absolute (Zellij's server runs elsewhere); it must be a readable file.
fn existing_file(flag: &str, path: &Path) -> Result<PathBuf> {
    std::fs::File::open(path)
        .and_then(|_| path.canonicalize())
        .map_err(|e| {
            NapshError::config(format!(
                "{flag} {}: {e}",
                for_terminal(&path.display().to_string())
            ))
            .hint("give the path of a PEM file")
            .into()
        })
}

fn zellij_for(files: &WebFiles, settings: &WebSettings) -> Result<Zellij> {
    let home = directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .context("cannot find your home directory")?;
    Ok(Zellij {
        config: files.config.clone(),
        log: files.log.clone(),
        cwd: home,
        profile: settings.profile.clone(),
    })
}

/// The plugin (embedded in this napsh, where `napsh zellij install` puts it), the Zellij config
/// (the user's plus napsh's keybinding and web options), the layout and its welcome text.
fn write_session_files(files: &WebFiles, settings: &WebSettings) -> Result<()> {
    let install = InstallPaths::detect(None)?;
    write_plugin(&install.wasm_file)?;
    let user_config = match std::fs::read_to_string(&install.config_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(e).with_context(|| format!("reading {}", install.config_file.display()))
        }
    };
    let helper = std::env::current_exe().context("finding this napsh binary")?;
    let config = web_config(
        &user_config,
        settings,
        &install.wasm_file,
        &helper,
        &files.layout,
    )
    .with_context(|| {
        format!(
            "building napsh web's Zellij config from {}",
            install.config_file.display()
        )
    })?;
    write_private(&files.config, config.as_bytes())?;
    write_private(
        &files.welcome,
        welcome_text(&settings.session, &settings.picker_key).as_bytes(),
    )?;
    write_private(&files.layout, web_layout(&files.welcome).as_bytes())
}

/// Makes sure a login token of napsh's exists: a new one with `--new-token` or when napsh's is
/// gone, else the old one is kept. A new token is shown once on a terminal, else written 0600.
fn ensure_token(
    files: &WebFiles,
    zellij: &Zellij,
    state: &mut WebState,
    args: &WebArgs,
) -> Result<TokenNews> {
    let existing = zellij.token_names()?;
    let current = state
        .token_name
        .clone()
        .filter(|name| existing.contains(name));
    if current.is_some() && !args.new_token {
        return Ok(TokenNews::Unchanged(state.token_file.clone()));
    }
    if let Some(name) = current {
        zellij.revoke_token(&name)?;
    }
    if let Some(old_file) = state.token_file.take() {
        remove_if_present(&old_file)?;
    }
    let created = zellij.create_token()?;
    state.token_name = Some(created.name);
    let chosen = args
        .token_file
        .as_deref()
        .map(|path| {
            std::path::absolute(path).with_context(|| format!("--token-file {}", path.display()))
        })
        .transpose()?;
    let file = chosen
        .or_else(|| (!std::io::stdout().is_terminal()).then(|| files.default_token_file.clone()));
    match file {
        Some(path) => {
            write_private(&path, format!("{}\n", created.token).as_bytes())
                .with_context(|| format!("writing the login token to {}", path.display()))?;
            state.token_file = Some(path.clone());
            Ok(TokenNews::Stored(path))
        }
        None => Ok(TokenNews::Show(created.token)),
    }
}

fn url_of(settings: &WebSettings) -> String {
    browser_url(
        settings.bind,
        settings.port,
        settings.cert.is_some(),
        &settings.session,
    )
}

/// Tells the user where to go, how to log in, the picker's key and how to stop.
fn report(state: &WebState, reused_server: bool, created_session: bool, news: &TokenNews) {
    let settings = &state.settings;
    if !settings.bind.is_loopback() {
        output::warn(&format!(
            "the web server listens on {}:{}, reachable from other machines: anyone with the login token \
             gets a shell as you here. Keep the token secret; prefer a VPN, an SSH tunnel or a reverse proxy \
             with its own authentication",
            settings.bind, settings.port
        ));
    }
    let server = if reused_server {
        "already running"
    } else {
        "started"
    };
    let session = if created_session {
        "created"
    } else {
        "already running"
    };
    output::line(&format!(
        "napsh web: Zellij's web server {server}, session \"{}\" {session}",
        settings.session
    ));
    let host_note = if settings.bind.is_unspecified() {
        " (HOST: this machine's name or address)"
    } else {
        ""
    };
    output::line(&format!("  open    {}{host_note}", url_of(settings)));
    match news {
        TokenNews::Show(token) => {
            output::line("  log in  paste this login token (shown once, napsh does not keep it; tick \"Remember me\" to stay logged in):");
            output::line(&format!("          {token}"));
        }
        TokenNews::Stored(path) => output::line(&format!(
            "  log in  paste the login token from {} (new, 0600; tick \"Remember me\" to stay logged in)",
            path.display()
        )),
        TokenNews::Unchanged(Some(path)) => output::line(&format!(
            "  log in  with the login token in {} (`napsh web --new-token` replaces it)",
            path.display()
        )),
        TokenNews::Unchanged(None) => output::line(
            "  log in  with the login token shown when napsh web started (lost it? `napsh web --new-token`)",
        ),
    }
    output::line(&format!(
        "  picker  {} opens the device picker; each device opens in its own pane",
        settings.picker_key
    ));
    output::line("  stop    napsh web --stop (ends the server and the session, revokes the token)");
}

/// `napsh web --stop`: stops what napsh started and revokes napsh's token.
async fn stop(files: &WebFiles, state: Option<WebState>) -> Result<i32> {
    let Some(state) = state else {
        output::line("napsh web is not running: nothing to stop");
        return Ok(0);
    };
    let zellij = zellij_for(files, &state.settings)?;
    let mut done = Vec::new();
    if state.started_session {
        zellij.kill_session(&state.settings.session)?;
        done.push(format!("session \"{}\" ended", state.settings.session));
    }
    if let Some(name) = &state.token_name {
        if zellij.token_names()?.contains(name) {
            zellij.revoke_token(name)?;
        }
        done.push(format!("login token {name} revoked"));
    }
    if let Some(file) = &state.token_file {
        remove_if_present(file)?;
    }
    if state.started_server {
        zellij.stop_web_server(&state.settings.address()).await?;
        done.push(format!(
            "web server on port {} stopped",
            state.settings.port
        ));
    }
    files.remove_state()?;
    output::line(&format!("napsh web: {}", done.join(", ")));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(bind: Option<&str>, port: Option<u16>) -> WebArgs {
        WebArgs {
            stop: false,
            bind: bind.map(str::to_string),
            port,
            cert: None,
            key: None,
            session: None,
            picker_key: None,
            token_file: None,
            new_token: false,
        }
    }

    #[test]
    fn defaults_then_last_run_then_arguments() {
        let fresh = settings_from_args(&args(None, None), None, None).unwrap();
        assert_eq!(
            (fresh.bind.to_string(), fresh.port, fresh.session.as_str()),
            ("127.0.0.1".to_string(), 8082, "napsh")
        );
        assert_eq!(fresh.picker_key, "Alt s");
        let last = WebSettings {
            port: 9000,
            profile: Some("prod".into()),
            ..fresh.clone()
        };
        let again = settings_from_args(&args(None, None), Some(&last), None).unwrap();
        assert_eq!(again, last);
        let other = settings_from_args(&args(None, Some(9100)), Some(&last), None).unwrap();
        assert_eq!((other.port, other.profile.as_deref()), (9100, Some("prod")));
    }

    #[test]
    fn a_running_server_refuses_other_settings_only_when_asked() {
        let running = settings_from_args(&args(None, Some(9000)), None, None).unwrap();
        assert!(keep_running_settings(&running, &args(None, None), None).is_ok());
        assert!(
            keep_running_settings(&running, &args(Some("127.0.0.1"), Some(9000)), None).is_ok()
        );
        let err = keep_running_settings(&running, &args(None, Some(9001)), None).unwrap_err();
        assert!(format!("{err:#}").contains("--stop"), "{err:#}");
        assert!(keep_running_settings(&running, &args(None, None), Some("other".into())).is_err());
    }

    #[test]
    fn non_loopback_needs_tls() {
        let err = settings_from_args(&args(Some("0.0.0.0"), None), None, None).unwrap_err();
        assert!(format!("{err:#}").contains("--cert"), "{err:#}");
    }
}
