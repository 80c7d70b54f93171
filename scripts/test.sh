#!/usr/bin/env bash
# Runs every napsh test: unit tests, the emulator's conformance tests, the end-to-end tests
# against real OpenSSH servers and the plugin's tests inside a real Zellij. Installs what is
# missing first (scripts/ensure-tools.sh), builds the plugin, runs cargo test, then a short
# fuzzing run of the core parsers (scripts/fuzz.sh), and closes
# with one line adding up every test binary's result.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh
scripts/build-plugin.sh

log=$(mktemp -t napsh-test.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
# A few seconds of fuzzing per parser (scripts/fuzz.sh --long for a real run).
scripts/fuzz.sh 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
