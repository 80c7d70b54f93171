#!/usr/bin/env bash
# Runs every napsh test: unit tests, the emulator's conformance tests, the end-to-end tests
# against real OpenSSH servers and the plugin's tests inside a real Zellij. Installs what is
# missing first (scripts/ensure-tools.sh), builds the plugin, then runs cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh
scripts/build-plugin.sh
cargo test --workspace --locked --no-fail-fast
