#!/usr/bin/env bash
# Installs what napsh's demo and tests need, idempotently, and fast (a few checks, no network)
# when everything is already there.
#
#   scripts/ensure-tools.sh              everything the tests need (scripts/test.sh)
#   scripts/ensure-tools.sh --demo       only what the demo needs (scripts/demo.sh): OpenSSH
#                                        client and server, tmux, the wasm32-wasip1 target, Zellij
#   scripts/ensure-tools.sh --no-zellij  the tests' tools without Zellij
#   scripts/ensure-tools.sh --bench      the tests' tools and socat (scripts/bench-reach.sh
#                                        compares napsh tunnel with it)
#
# The tests add: util-linux `script`, man/groff, passwd (a throwaway device user), rsync,
# Chromium + Node.js + playwright-core (the browser test), Debian's ansible-core, cargo-fuzz.
#
# Zellij 0.45.1 is built with cargo, without fat LTO (ZELLIJ_PROFILE below): the default
# release profile of Zellij (fat LTO, one codegen unit) spends most of its build in one
# single-threaded link step, which on 2 cores is the bulk of a fresh machine's wait.
set -euo pipefail

ZELLIJ_VERSION=0.45.1
# Profile override for `cargo install zellij`: no LTO, 16 codegen units (both cores busy).
ZELLIJ_PROFILE=(CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16)
# Where a Python venv with ansible-core goes when Debian's package cannot be installed.
TOOLS_CACHE="${NAPSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/napsh-tools}"

mode=tests
want_zellij=1
for arg in "$@"; do
  case "$arg" in
    --demo) mode=demo ;;
    --bench) mode=bench ;;
    --no-zellij) want_zellij=0 ;;
    *) echo "usage: scripts/ensure-tools.sh [--demo | --bench] [--no-zellij]" >&2; exit 2 ;;
  esac
done

say() { printf 'ensure-tools: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

# Debian packages missing for the demo (and, unless --demo, for the tests).
missing_apt_packages() {
  [ -x /usr/sbin/sshd ] || echo openssh-server
  command -v ssh >/dev/null || echo openssh-client
  command -v tmux >/dev/null || echo tmux
  [ "$mode" = demo ] && return 0
  # useradd/chpasswd/userdel: the keys-push test's throwaway device user.
  { command -v useradd >/dev/null && command -v chpasswd >/dev/null; } || echo passwd
  command -v script >/dev/null || echo util-linux   # e2e_device: a terminal for napsh
  command -v man >/dev/null || echo man-db          # e2e_device: napsh man renders
  command -v groff >/dev/null || echo groff-base
  [ -x /usr/bin/chromium ] || echo chromium
  command -v node >/dev/null || echo nodejs
  command -v npm >/dev/null || echo npm
  command -v rsync >/dev/null || echo rsync         # napsh ssh-config e2e (rsync -e ssh)
  ansible_works || echo ansible-core               # napsh inventory e2e
  [ "$mode" = bench ] || return 0
  command -v socat >/dev/null || echo socat          # bench-reach.sh: tunnel vs socat
}

ensure_apt_packages() {
  local missing
  mapfile -t missing < <(missing_apt_packages)
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    say "not a Debian-like system: install ${missing[*]} yourself"
    return 0
  fi
  say "installing ${missing[*]} (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_wasm_target() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1 && return 0
  say "adding the wasm32-wasip1 target"
  rustup target add wasm32-wasip1
}

ensure_zellij() {
  if command -v zellij >/dev/null && zellij --version 2>/dev/null | grep -q " $ZELLIJ_VERSION\$"; then
    return 0
  fi
  say "building zellij $ZELLIJ_VERSION with cargo, without fat LTO (once; about 15-20 minutes on 2 idle cores)"
  env "${ZELLIJ_PROFILE[@]}" cargo install --locked zellij --version "$ZELLIJ_VERSION"
}

# playwright-core for the browser test (web-e2e/), pinned by its package-lock.json; it never
# downloads a browser (the test drives Debian's /usr/bin/chromium).
ensure_web_e2e_modules() {
  local dir; dir="$(dirname "$0")/../web-e2e"
  [ -d "$dir/node_modules/playwright-core" ] && return 0
  say "npm ci in web-e2e (playwright-core)"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}

ensure_cargo_fuzz() {
  command -v cargo-fuzz >/dev/null && return 0
  say "installing cargo-fuzz (about a minute, once)"
  cargo install --locked cargo-fuzz
}

# Whether `ansible` and `ansible-playbook` run (a pyenv shim without the package does not).
ansible_works() {
  command -v ansible >/dev/null && ansible-playbook --version >/dev/null 2>&1
}

# Ansible (napsh inventory e2e): Debian's ansible-core (installed with the other packages);
# where there is no apt, a venv under $TOOLS_CACHE (scripts/test.sh puts its bin/ on PATH). Never
# `pip install` into the system Python: Debian marks it externally managed.
ensure_ansible() {
  ansible_works && return 0
  local venv="$TOOLS_CACHE/venv"
  if [ -x "$venv/bin/ansible" ]; then return 0; fi
  say "installing ansible-core in a venv: $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q ansible-core
}

ensure_apt_packages
ensure_wasm_target
if [ "$mode" != demo ]; then
  ensure_ansible
  ensure_web_e2e_modules
  ensure_cargo_fuzz
fi
if [ "$want_zellij" -eq 1 ]; then ensure_zellij; fi
# sshd refuses to start without its privilege-separation directory.
[ -d /run/sshd ] || as_root mkdir -p /run/sshd
exit 0
