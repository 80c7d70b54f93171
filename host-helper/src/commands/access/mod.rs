//! `napsh access`: delegated maintenance. `grant` (in `grant`) creates or updates a SAM user
//! whose permission reaches only chosen devices and writes its profile (`profile_out`);
//! `list` and `show` read the users back; `revoke` takes the access away.

mod grant;
mod profile_out;

use crate::app::App;
use crate::cli::access::{AccessCommand, ListArgs, RevokeArgs, ShowArgs};
use crate::error::NapshError;
use crate::output;
use crate::soracom::users::{list_users, SamUser};
use crate::state::grants::GrantLog;
use anyhow::Result;
use napsh_core::access::{granted_sims, DESCRIPTION};
use napsh_core::ids::SimId;
use napsh_core::messages::ErrorKind;
use napsh_core::sam::Policy;
use napsh_core::sanitize::for_terminal;
use napsh_core::soracom::users::UserDetail;
use serde::Serialize;

/// Runs `napsh access …`.
pub async fn run(app: &App, command: AccessCommand) -> Result<i32> {
    match command {
        AccessCommand::Grant(a) => grant::run(app, a).await,
        AccessCommand::List(a) => list(app, a).await,
        AccessCommand::Show(a) => show(app, a).await,
        AccessCommand::Revoke(a) => revoke(app, a).await,
    }
}

/// Refuses a SAM user name outside what Soracom accepts, before any call.
fn check_name(name: &str) -> Result<()> {
    let ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        return Ok(());
    }
    Err(
        NapshError::config(format!("{:?} is not a SAM user name", for_terminal(name)))
            .hint("use 1 to 100 letters, digits, `-`, `_`, `.` or `@`")
            .into(),
    )
}

/// The SIMs a user's permission grants: `Ok(None)` without a permission; an error naming the
/// problem when it is not one napsh wrote.
fn sims_of(name: &str, permission: Option<&str>) -> Result<Option<Vec<SimId>>> {
    let Some(text) = permission.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let not_ours = |why: String| {
        NapshError::config(format!(
            "the permission of SAM user {} was not written by napsh access ({why})",
            for_terminal(name)
        ))
        .hint("grant with --replace to overwrite it, or edit it in the Soracom console")
    };
    let policy = Policy::parse(text).map_err(|e| not_ours(e.to_string()))?;
    Ok(Some(granted_sims(&policy).map_err(|e| not_ours(e.0))?))
}

/// One user in `access list --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    /// The SAM user.
    user_name: String,
    /// Devices granted (`null` when its permission is not napsh's).
    devices: Option<usize>,
    /// Auth keys it holds.
    auth_keys: usize,
}

/// `napsh access list`: the users napsh manages (its description marker).
async fn list(app: &App, a: ListArgs) -> Result<i32> {
    let client = app.client()?;
    let operator = client.ensure_session().await?;
    let users: Vec<UserDetail> = list_users(&client, &operator).await?;
    let listed: Vec<Listed> = users
        .iter()
        .filter(|u| u.description.as_deref() == Some(DESCRIPTION))
        .map(|u| Listed {
            user_name: u.user_name.clone(),
            devices: sims_of(&u.user_name, u.permission.as_deref())
                .ok()
                .map(|s| s.map_or(0, |s| s.len())),
            auth_keys: u.auth_key_list.len(),
        })
        .collect();
    if a.json {
        return Ok(json(&listed));
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            vec![
                for_terminal(&l.user_name),
                l.devices.map_or("not napsh's".into(), |n| n.to_string()),
                l.auth_keys.to_string(),
            ]
        })
        .collect();
    Ok(table(&["USER", "DEVICES", "AUTH KEYS"], &rows))
}

/// One device in `access show --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    /// SIM id.
    sim_id: String,
    /// Its name tag, when the device list knows the SIM.
    name: Option<String>,
    /// When this machine granted it (unix ms), when known.
    since_ms: Option<i64>,
}

/// `napsh access show NAME`: the devices granted, and since when.
async fn show(app: &App, a: ShowArgs) -> Result<i32> {
    check_name(&a.name)?;
    let client = app.client()?;
    let operator = client.ensure_session().await?;
    let user = SamUser::new(&client, &operator, &a.name)
        .get()
        .await?
        .ok_or_else(|| {
            NapshError::new(
                ErrorKind::NotFound,
                format!("there is no SAM user {}", for_terminal(&a.name)),
            )
            .hint("`napsh access list` shows the users napsh manages")
        })?;
    let sims = sims_of(&a.name, user.permission.as_deref())?.unwrap_or_default();
    let entries = crate::napter::devices::list(app, false, false)
        .await?
        .entries;
    let since = GrantLog::new(&app.dirs.state, &client.profile().cache_key(), &a.name).since();
    let shown: Vec<Shown> = sims
        .iter()
        .map(|s| Shown {
            sim_id: s.to_string(),
            name: entries
                .iter()
                .find(|e| e.device.sim_id == s.as_str())
                .map(|e| e.device.name.clone()),
            since_ms: since.get(s.as_str()).copied(),
        })
        .collect();
    if a.json {
        return Ok(json(&shown));
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|s| {
            vec![
                for_terminal(s.name.as_deref().unwrap_or("-")),
                s.sim_id.clone(),
                s.since_ms.map_or(
                    "unknown (granted elsewhere)".into(),
                    napsh_core::journal::format_utc,
                ),
            ]
        })
        .collect();
    output::line(&format!(
        "{}: {} device(s), {} auth key(s)",
        for_terminal(&a.name),
        shown.len(),
        user.auth_key_list.len()
    ));
    Ok(table(&["DEVICE", "SIM ID", "GRANTED (UTC)"], &rows))
}

/// Prints `value` as one JSON line; exit code 0.
fn json<T: Serialize>(value: &T) -> i32 {
    output::json(value);
    0
}

/// Prints rows (already terminal-safe) under `header`; exit code 0.
fn table(header: &[&str], rows: &[Vec<String>]) -> i32 {
    for line in output::table(header, rows) {
        output::line(&line);
    }
    0
}

/// `napsh access revoke NAME`: auth keys, permission, tokens (and the user with
/// `--delete-user`), in that order, so that nothing it held keeps working.
async fn revoke(app: &App, a: RevokeArgs) -> Result<i32> {
    check_name(&a.name)?;
    let client = app.client()?;
    let operator = client.ensure_session().await?;
    let user = SamUser::new(&client, &operator, &a.name);
    if user.get().await?.is_none() {
        return Err(NapshError::new(
            ErrorKind::NotFound,
            format!("there is no SAM user {}", for_terminal(&a.name)),
        )
        .into());
    }
    let keys = user.keys().await?;
    for k in &keys {
        user.delete_key(&k.auth_key_id).await?;
    }
    user.delete_permission().await?;
    user.revoke_tokens().await?;
    if a.delete_user {
        user.delete().await?;
    }
    if let Err(e) = GrantLog::new(&app.dirs.state, &client.profile().cache_key(), &a.name).clear() {
        output::warn(&format!("could not update the local grant record: {e:#}"));
    }
    output::note(&format!(
        "napsh: access of {} revoked: {} auth key(s) deleted, permission deleted, tokens revoked{}",
        for_terminal(&a.name),
        keys.len(),
        if a.delete_user { ", user deleted" } else { "" }
    ));
    Ok(0)
}
