//! `napsh access grant NAME (DEVICE… | --tag K=V | --group ID)`: the devices chosen (plus
//! the ones granted before, unless `--replace`), the permission document for exactly those
//! SIMs, and the calls that make it so — printed with `--dry-run`, else made in order:
//! create the user if missing, set the permission, revoke its tokens (an old token keeps
//! the old permission), generate a key and write the contractor's profile.

use super::{check_name, profile_out, sims_of};
use crate::app::App;
use crate::cli::access::GrantArgs;
use crate::cli::TargetArgs;
use crate::output;
use crate::soracom::api::Client;
use crate::soracom::users::SamUser;
use crate::state::grants::GrantLog;
use anyhow::Result;
use napsh_core::access::{grant_document, DESCRIPTION};
use napsh_core::ids::SimId;
use napsh_core::sanitize::for_terminal;
use napsh_core::soracom::users::UserDetail;
use napsh_core::Device;
use std::path::PathBuf;

/// What a grant will do.
struct Plan {
    /// The SIMs granted, sorted.
    sims: Vec<SimId>,
    /// The permission document (compact JSON, as sent).
    document: String,
    /// The user does not exist yet.
    create: bool,
    /// The user existed: its tokens are revoked after the change.
    revoke: bool,
    /// Where a new key's profile goes (`None`: no new key).
    profile: Option<PathBuf>,
}

/// Runs the grant.
pub async fn run(app: &App, a: GrantArgs) -> Result<i32> {
    check_name(&a.name)?;
    let chosen = select(app, &a).await?;
    let client = app.client()?;
    let operator = client.ensure_session().await?;
    let user = SamUser::new(&client, &operator, &a.name);
    let existing = user.get().await?;
    let plan = plan(app, &a, &chosen, existing.as_ref())?;
    if a.dry_run {
        print_dry_run(&a.name, &user, &plan);
        return Ok(0);
    }
    apply(&user, &plan).await?;
    if let Some(path) = &plan.profile {
        write_key(&client, &user, path, a.force).await?;
    }
    let sims: Vec<&str> = plan.sims.iter().map(SimId::as_str).collect();
    let log = GrantLog::new(&app.dirs.state, &client.profile().cache_key(), &a.name);
    if let Err(e) = log.set(&sims, crate::state::paths::now_ms()) {
        output::warn(&format!("could not update the local grant record: {e:#}"));
    }
    report(&a.name, &chosen, &plan);
    Ok(0)
}

/// The devices the arguments choose (from a fresh device list).
async fn select(app: &App, a: &GrantArgs) -> Result<Vec<Device>> {
    let targets = TargetArgs {
        devices: a.devices.clone(),
        all: false,
        tag: a.tag.clone(),
        group: a.group.clone(),
        online: false,
        parallel: 1,
        user: None,
    };
    crate::ssh::fanout::select_devices(app, &targets).await
}

/// The plan: earlier SIMs kept unless `--replace`, the document, which calls are needed.
fn plan(
    app: &App,
    a: &GrantArgs,
    chosen: &[Device],
    existing: Option<&UserDetail>,
) -> Result<Plan> {
    let mut sims: Vec<SimId> = chosen
        .iter()
        .map(|d| SimId::try_from(d.sim_id.as_str()))
        .collect::<Result<_, _>>()?;
    if let Some(u) = existing.filter(|_| !a.replace) {
        sims.extend(sims_of(&a.name, u.permission.as_deref())?.unwrap_or_default());
    }
    sims.sort();
    sims.dedup();
    let has_key = existing.is_some_and(|u| !u.auth_key_list.is_empty());
    let profile = match (has_key, &a.profile_out) {
        (true, None) => None,
        (_, explicit) => {
            let dir = crate::soracom::profile::profile_dir(
                &crate::soracom::profile::ProfileEnv::from_process(&app.dirs.home),
            );
            Some(profile_out::target(
                explicit.as_deref(),
                &dir,
                &a.name,
                a.force,
            )?)
        }
    };
    Ok(Plan {
        document: grant_document(&sims).to_json(false),
        sims,
        create: existing.is_none(),
        revoke: existing.is_some(),
        profile,
    })
}

/// The calls of a plan: (operationId, method, path).
fn calls(user: &SamUser, plan: &Plan) -> Vec<(&'static str, &'static str, String)> {
    let mut out = vec![("getUser", "GET", user.path(""))];
    if plan.create {
        out.push(("createUser", "POST", user.path("")));
    }
    out.push(("updateUserPermission", "PUT", user.path("/permission")));
    if plan.revoke {
        out.push(("revokeUserAuthTokens", "DELETE", user.path("/tokens")));
    }
    if plan.profile.is_some() {
        out.push(("generateUserAuthKey", "POST", user.path("/auth_keys")));
    }
    out
}

fn print_dry_run(name: &str, user: &SamUser, plan: &Plan) {
    let pretty = napsh_core::sam::Policy::parse(&plan.document)
        .map(|p| p.to_json(true))
        .unwrap_or_else(|_| plan.document.clone());
    output::line(&format!(
        "napsh access grant {} (dry run: nothing changed)",
        for_terminal(name)
    ));
    output::line("Permission document:");
    output::line(&pretty);
    output::line("Calls:");
    for (op, method, path) in calls(user, plan) {
        output::line(&format!("  {method:6} /v1{path}  ({op})"));
    }
    if let Some(p) = &plan.profile {
        output::line(&format!(
            "Profile: {} (0600, the key is never printed)",
            p.display()
        ));
    }
}

/// Creates the user if needed, sets the permission, revokes old tokens.
async fn apply(user: &SamUser<'_>, plan: &Plan) -> Result<()> {
    if plan.create {
        user.create(DESCRIPTION).await?;
    }
    user.set_permission(&plan.document).await?;
    if plan.revoke {
        user.revoke_tokens().await?;
    }
    Ok(())
}

/// Generates a key and writes it into the profile; a key whose profile could not be written
/// is deleted again, so that no key exists that nobody has.
async fn write_key(
    client: &Client,
    user: &SamUser<'_>,
    path: &std::path::Path,
    force: bool,
) -> Result<()> {
    let key = user.generate_key().await?;
    let text = profile_out::body(&client.profile().endpoint, &key);
    if let Err(e) = profile_out::write(path, &text, force) {
        if let Err(undo) = user.delete_key(&key.auth_key_id).await {
            output::warn(&format!(
                "could not delete the unused auth key {}: {}",
                key.auth_key_id,
                crate::error::one_line(&undo)
            ));
        }
        return Err(e);
    }
    Ok(())
}

fn report(name: &str, chosen: &[Device], plan: &Plan) {
    let labels: Vec<String> = chosen.iter().map(|d| for_terminal(d.label())).collect();
    output::note(&format!(
        "napsh: {} may now reach {} device(s) with napsh ({} chosen now: {})",
        for_terminal(name),
        plan.sims.len(),
        labels.len(),
        labels.join(", ")
    ));
    match &plan.profile {
        Some(p) => output::note(&format!(
            "napsh: the contractor's profile is {} (0600; hand it over privately: it holds the auth key). They use it as ~/.soracom/<name>.json, e.g. `napsh --profile <name> devices`",
            p.display()
        )),
        None => output::note("napsh: its existing auth key keeps working (--profile-out FILE writes a profile with a new one)"),
    }
}
