#!/usr/bin/env bash
# Installs what napsh's demo and tests need, idempotently and fast when already present:
# OpenSSH (client + server), tmux, Chromium + Node.js + playwright-core (the browser test), the
# wasm32-wasip1 target, cargo-fuzz and Zellij 0.45.1.
# Usage: scripts/ensure-tools.sh [--no-zellij]
set -euo pipefail

ZELLIJ_VERSION=0.45.1
want_zellij=1
[ "${1:-}" = "--no-zellij" ] && want_zellij=0

say() { printf 'ensure-tools: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

ensure_apt_packages() {
  local missing=()
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v tmux >/dev/null || missing+=(tmux)
  # useradd/chpasswd/userdel: the keys-push test's throwaway device user.
  command -v useradd >/dev/null && command -v chpasswd >/dev/null || missing+=(passwd)
  command -v script >/dev/null || missing+=(util-linux)   # e2e_device: a terminal for napsh
  command -v man >/dev/null || missing+=(man-db)          # e2e_device: napsh man renders
  command -v groff >/dev/null || missing+=(groff-base)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v rsync >/dev/null || missing+=(rsync)   # napsh ssh-config e2e (rsync -e ssh)
  [ ${#missing[@]} -eq 0 ] && return 0
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
  say "installing zellij $ZELLIJ_VERSION with cargo (about 30 minutes on 2 cores, once)"
  cargo install --locked zellij --version "$ZELLIJ_VERSION"
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

# Ansible (napsh inventory e2e): ansible-core from PyPI, only when `ansible` is missing.
ensure_ansible() {
  command -v ansible >/dev/null && return 0
  say "installing ansible-core (pip)"
  python3 -m pip install -q ansible-core
}

ensure_apt_packages
ensure_ansible
ensure_web_e2e_modules
ensure_wasm_target
ensure_cargo_fuzz
[ "$want_zellij" -eq 1 ] && ensure_zellij
# sshd refuses to start without its privilege-separation directory.
[ -d /run/sshd ] || as_root mkdir -p /run/sshd
exit 0
