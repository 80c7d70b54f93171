#!/usr/bin/env bash
# Installs what napsh's demo and tests need, idempotently and fast when already present:
# OpenSSH (client + server), tmux, the wasm32-wasip1 target and Zellij 0.45.1.
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

# Ansible (napsh inventory e2e): ansible-core from PyPI, only when `ansible` is missing.
ensure_ansible() {
  command -v ansible >/dev/null && return 0
  say "installing ansible-core (pip)"
  python3 -m pip install -q ansible-core
}

ensure_apt_packages
ensure_ansible
ensure_wasm_target
[ "$want_zellij" -eq 1 ] && ensure_zellij
# sshd refuses to start without its privilege-separation directory.
[ -d /run/sshd ] || as_root mkdir -p /run/sshd
exit 0
