#!/usr/bin/env bash
# Runs every napsh test: unit tests, the emulator's conformance tests, the end-to-end tests
# against real OpenSSH servers and the plugin's tests inside a real Zellij. Installs what is
# missing first (scripts/ensure-tools.sh; Zellij builds while the plugin and the tests do),
# runs cargo test, then a short fuzzing run of the core parsers (scripts/fuzz.sh), and closes
# with one line adding up the tests of every test binary (scripts/test-total.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp -t napsh-test.XXXXXX)
tools_pid=''
cleanup() {
  rm -f "$log"
  if [ -n "$tools_pid" ]; then kill -- "-$tools_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

scripts/ensure-tools.sh --no-zellij
# Where Debian's ansible-core could not be installed, ensure-tools.sh made a venv with it.
venv="${NAPSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/napsh-tools}/venv/bin"
if [ -x "$venv/ansible" ]; then export PATH="$venv:$PATH"; fi
# Zellij, a long cargo build on a fresh machine that only the end-to-end tests run, builds
# (in its own process group) while the plugin and the tests do.
setsid scripts/ensure-tools.sh & tools_pid=$!
scripts/build-plugin.sh
cargo test --workspace --locked --no-run -q
wait "$tools_pid" || { tools_pid=''; echo "test: installing Zellij failed (see above)" >&2; exit 1; }
tools_pid=''

status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
# A few seconds of fuzzing per parser (scripts/fuzz.sh --long for a real run).
scripts/fuzz.sh 2>&1 | tee -a "$log" || status=$?
# Fuzz targets and not-applicable fault-matrix cells on their own lines; the total counts tests.
scripts/test-total.sh "$log"
exit "$status"
