//! Harness for service targets and direct LAN connections: a fake `docker` on the device side
//! (the devices are local sshd processes, so a script in the test's directory stands in for
//! it) and a plain real sshd on 127.0.0.1 that is no Soracom device.

use crate::TestEnv;
use anyhow::{Context, Result};
pub use napsh_emulator::sshd::SshServer;
pub use napsh_emulator::LatencyConfig;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The fake docker: `ps --format …` prints the running services (directories of `services/`
/// holding a `running` file, sorted); `exec [-i|-it] NAME CMD…` runs CMD inside the service
/// (its directory as working directory, `NAPSH_FAKE_SERVICE=NAME`, `NAPSH_FAKE_TTY=yes|no`) and
/// appends `NAME<TAB>FLAGS` to `exec.log`; a service that is not running is refused like
/// docker does (exit 1).
const FAKE_DOCKER: &str = r#"#!/bin/sh
root=$(dirname "$0")
case "$1" in
ps)
    for d in "$root"/services/*; do
        [ -f "$d/running" ] && printf '%s\n' "$(basename "$d")"
    done
    exit 0 ;;
exec)
    shift
    tty=no
    flags=
    while [ $# -gt 0 ]; do
        case "$1" in
        -i) flags="$flags$1"; shift ;;
        -it|-ti|-t) flags="$flags$1"; tty=yes; shift ;;
        *) break ;;
        esac
    done
    name=$1
    shift
    if [ ! -f "$root/services/$name/running" ]; then
        echo "Error response from daemon: No such container: $name" >&2
        exit 1
    fi
    printf '%s\t%s\n' "$name" "$flags" >> "$root/exec.log"
    cd "$root/services/$name" || exit 1
    NAPSH_FAKE_SERVICE=$name NAPSH_FAKE_TTY=$tty exec "$@" ;;
*)
    echo "fake docker: unsupported command $1" >&2
    exit 2 ;;
esac
"#;

/// A fake docker installed in a directory of the env, with its services.
pub struct FakeDocker {
    /// Directory holding the script, `services/` and `exec.log`.
    root: PathBuf,
}

impl FakeDocker {
    /// Installs the script under `<env>/fake-docker/docker` with no services yet.
    pub fn install(env: &TestEnv) -> Result<Self> {
        let root = env.path().join("fake-docker");
        std::fs::create_dir_all(root.join("services")).context("creating services/")?;
        let script = root.join("docker");
        std::fs::write(&script, FAKE_DOCKER).context("writing the fake docker")?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
        Ok(FakeDocker { root })
    }

    /// Adds a service; `running` says whether `ps` lists it (a stopped one still exists).
    pub fn add_service(&self, name: &str, running: bool) -> Result<PathBuf> {
        let dir = self.root.join("services").join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if running {
            std::fs::write(dir.join("running"), "")?;
        }
        Ok(dir)
    }

    /// The config lines pointing napsh's service templates at this fake docker.
    pub fn config(&self) -> String {
        let script = self.script().display().to_string();
        format!(
            "service_exec = {:?}\nservice_list = {:?}\n",
            format!("{script} exec {{tty}} {{service}} sh -c {{command}}"),
            format!("{script} ps --format '{{{{.Names}}}}'"),
        )
    }

    /// The script's path.
    pub fn script(&self) -> PathBuf {
        self.root.join("docker")
    }

    /// `(service, flags)` of every `exec` that ran, in order.
    pub fn execs(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.root.join("exec.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, f)| (n.to_string(), f.to_string()))
            .collect()
    }

    /// The fake docker's root (services live below it).
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// A plain real sshd on 127.0.0.1 accepting the env's key: a device on the LAN, unknown to
/// Soracom. Stopped when dropped.
pub fn lan_sshd(env: &TestEnv, name: &str) -> Result<SshServer> {
    SshServer::spawn(
        env.path().join("lan").join(name),
        Some(&env.key_path().with_extension("pub")),
    )
}
