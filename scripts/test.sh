#!/usr/bin/env bash
# Runs every napsh test: unit tests, the emulator's conformance tests and the end-to-end
# tests against real OpenSSH servers. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

zellij_flag=--no-zellij
[ -d plugin ] && zellij_flag=
scripts/ensure-tools.sh $zellij_flag

cargo test --workspace --locked --no-fail-fast
