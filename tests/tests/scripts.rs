//! The setup scripts a fresh machine runs first, against fake installers: what
//! `scripts/ensure-tools.sh` installs for the demo and for the tests (and how: Zellij without
//! fat LTO, Debian's ansible-core rather than pip), that a second run installs nothing, and
//! that `scripts/test-total.sh` counts tests only.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fake machine: a copy of ensure-tools.sh in an empty tree, and a PATH of fake installers
/// (`apt-get`, `cargo`, `rustup`, `python3`; `npm` once apt-get installed it) that log the
/// calls that install something and "install" fake commands into the same directory.
struct FakeMachine {
    /// Root of everything.
    dir: tempfile::TempDir,
}

/// The fake installers. `$LOG` receives one line per call; apt-get turns each package into the
/// commands it provides.
const FAKES: &[(&str, &str)] = &[
    (
        "apt-get",
        r#"echo "apt-get $*" >>"$LOG"
[ "$1" = install ] || exit 0
for p in "$@"; do case "$p" in
  openssh-client) mk ssh ;; tmux) mk tmux ;; passwd) mk useradd; mk chpasswd ;;
  util-linux) mk script ;; man-db) mk man ;; groff-base) mk groff ;; nodejs) mk node ;;
  npm) cat "$BIN/.npm" >"$BIN/npm"; chmod +x "$BIN/npm" ;; rsync) mk rsync ;; socat) mk socat ;; ansible-core) mk ansible; mk ansible-playbook ;;
esac; done"#,
    ),
    (
        "cargo",
        r#"echo "cargo $* LTO=${CARGO_PROFILE_RELEASE_LTO:-} CGU=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-}" >>"$LOG"
case "$*" in *zellij*) printf '#!/bin/sh\necho "zellij 0.45.1"\n' >"$BIN/zellij"; chmod +x "$BIN/zellij" ;;
  *cargo-fuzz*) mk cargo-fuzz ;; esac"#,
    ),
    (
        "rustup",
        r#"case "$*" in "target list --installed") [ -e "$BIN/.wasm" ] && echo wasm32-wasip1 ;;
  "target add wasm32-wasip1") echo "rustup $*" >>"$LOG"; : >"$BIN/.wasm" ;; esac; exit 0"#,
    ),
    (
        ".npm",
        r#"echo "npm $*" >>"$LOG"; mkdir -p node_modules/playwright-core"#,
    ),
    ("python3", r#"echo "python3 $*" >>"$LOG"; exit 1"#),
];

impl FakeMachine {
    fn new() -> FakeMachine {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(dir.path().join("tree/scripts")).unwrap();
        std::fs::create_dir_all(dir.path().join("tree/web-e2e")).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(
            repo().join("scripts/ensure-tools.sh"),
            dir.path().join("tree/scripts/ensure-tools.sh"),
        )
        .unwrap();
        let mk = "mk() { printf '#!/bin/sh\\nexit 0\\n' >\"$BIN/$1\"; chmod +x \"$BIN/$1\"; }\n";
        for (name, body) in FAKES {
            write_executable(&bin.join(name), &format!("#!/bin/bash\n{mk}{body}\n"));
        }
        // What any machine has: the shell and the few tools the script itself uses.
        for tool in [
            "bash", "env", "id", "grep", "dirname", "mkdir", "cat", "chmod",
        ] {
            let real = which(tool);
            std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
        }
        FakeMachine { dir }
    }

    /// Runs ensure-tools.sh with `args`; the calls it made to installers.
    fn ensure_tools(&self, args: &[&str]) -> Vec<String> {
        let log = self.dir.path().join("log");
        let before = std::fs::read_to_string(&log).unwrap_or_default().len();
        let bin = self.dir.path().join("bin");
        let out = Command::new(bin.join("bash"))
            .arg(self.dir.path().join("tree/scripts/ensure-tools.sh"))
            .args(args)
            .env_clear()
            .env("PATH", &bin)
            .env("BIN", &bin)
            .env("LOG", &log)
            .env("HOME", self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ensure-tools.sh {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text[before..].lines().map(str::to_string).collect()
    }
}

fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn which(tool: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The packages of the `apt-get install` call among `calls`.
fn apt_installed(calls: &[String]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| c.strip_prefix("apt-get install "))
        .flat_map(|rest| rest.split_whitespace().filter(|w| !w.starts_with('-')))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_demo_installs_only_the_demo_tools_and_zellij_without_fat_lto() {
    let machine = FakeMachine::new();
    let calls = machine.ensure_tools(&["--demo"]);
    let packages = apt_installed(&calls);
    for wanted in ["openssh-client", "tmux"] {
        assert!(packages.contains(&wanted.to_string()), "{calls:#?}");
    }
    for unwanted in [
        "chromium",
        "nodejs",
        "npm",
        "ansible-core",
        "rsync",
        "man-db",
    ] {
        assert!(
            !packages.contains(&unwanted.to_string()),
            "{unwanted}: {calls:#?}"
        );
    }
    assert!(
        calls.contains(&"rustup target add wasm32-wasip1".to_string()),
        "{calls:#?}"
    );
    let zellij: Vec<_> = calls
        .iter()
        .filter(|c| c.starts_with("cargo install"))
        .collect();
    assert_eq!(zellij.len(), 1, "only Zellij is built: {calls:#?}");
    assert!(
        zellij[0].contains("--locked zellij --version 0.45.1 LTO=false CGU=16"),
        "{}",
        zellij[0]
    );
    assert!(!calls.iter().any(|c| c.starts_with("npm")), "{calls:#?}");

    assert_eq!(
        machine.ensure_tools(&["--demo"]),
        Vec::<String>::new(),
        "second run"
    );
}

#[test]
fn the_tests_get_debian_ansible_core_never_pip_and_a_second_run_installs_nothing() {
    let machine = FakeMachine::new();
    machine.ensure_tools(&["--demo"]);
    let calls = machine.ensure_tools(&[]);
    let packages = apt_installed(&calls);
    for wanted in [
        "ansible-core",
        "nodejs",
        "npm",
        "rsync",
        "man-db",
        "util-linux",
    ] {
        assert!(
            packages.contains(&wanted.to_string()),
            "{wanted}: {calls:#?}"
        );
    }
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("pip") || c.starts_with("python3")),
        "no pip into the system Python: {calls:#?}"
    );
    assert!(calls
        .iter()
        .any(|c| c.starts_with("cargo install --locked cargo-fuzz")));
    assert!(calls.iter().any(|c| c.starts_with("npm ci")), "{calls:#?}");
    assert!(
        !calls.iter().any(|c| c.contains("zellij")),
        "Zellij is there already: {calls:#?}"
    );

    assert!(!packages.contains(&"socat".to_string()), "{calls:#?}");
    assert_eq!(
        machine.ensure_tools(&[]),
        Vec::<String>::new(),
        "second run"
    );

    // The benchmarks add socat, and only that.
    let bench = machine.ensure_tools(&["--bench"]);
    assert_eq!(apt_installed(&bench), ["socat"], "{bench:#?}");
    assert_eq!(machine.ensure_tools(&["--bench"]), Vec::<String>::new());
}

#[test]
fn the_closing_total_counts_tests_only() {
    let log = "\
test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s
fault matrix: 14 cells not applicable (not counted as tests)
test result: FAILED. 30 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out
fuzz targets: 11 ran clean, 0 crashed (not counted as tests)
";
    let mut child = Command::new("bash")
        .arg(repo().join("scripts/test-total.sh"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), log.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "fault matrix: 14 cells not applicable (not counted as tests)",
            "fuzz targets: 11 ran clean, 0 crashed (not counted as tests)",
            "total: 42 passed, 2 failed",
        ],
        "{text}"
    );
}
