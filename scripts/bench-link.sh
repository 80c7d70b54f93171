#!/usr/bin/env bash
# The link benchmark: `napsh ssh --resume` over a bad cellular link, against the emulator's
# data-plane faults with real sshd devices running real tmux (tests/src/bin/napsh-bench-link):
#   - a 30 s blackhole: how soon the dead link is found, how soon the session is back after;
#   - a cut: how soon the session is back;
#   - a long session cut three times: output lost (device-side tmux history), and the same
#     counter in a plain session for contrast;
#   - 300 ms round trip and 1 Mbit/s: keystroke echo and a transfer, napsh ssh vs plain ssh.
# Markdown on stdout; nothing is asserted (timings vary with the machine and its load).
# Usage: scripts/bench-link.sh   (env: BENCH_RUNS=3 BENCH_SESSION_SECS=300 BENCH_MB=10;
#        BENCH_DEBUG=1 uses debug builds: the figures are link-bound, not CPU-bound)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh --no-zellij >/dev/null
profile=release
[ "${BENCH_DEBUG:-0}" = 1 ] && profile=debug
cargo build --profile "${profile/debug/dev}" --locked -q -p napsh -p napsh-e2e --bin napsh --bin napsh-bench-link
bin="${CARGO_TARGET_DIR:-$(pwd)/target}/$profile"

echo "- $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; $(uname -sr); $(ssh -V 2>&1); $(tmux -V)"
echo "- napsh $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes') ($profile); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$bin/napsh-bench-link" --napsh "$bin/napsh" --runs "${BENCH_RUNS:-3}" \
  --session-secs "${BENCH_SESSION_SECS:-300}" --mb "${BENCH_MB:-10}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
