#!/usr/bin/env bash
# The napsh benchmark suite: every figure of BENCHMARKS.md, measured side by side in one run
# and printed as ratios (markdown). Never part of the tests: nothing here asserts a time.
#
#   scripts/bench.sh              everything (about 5 minutes once built)
#   BENCH_RUNS=9 scripts/bench.sh more runs per figure (medians are reported)
#
# 1–4, 7: target/release/napsh-bench (tests/src/bin/napsh-bench.rs): the emulator in-process
#          with 100 ms of latency on every API call, real sshd devices, the release napsh.
# 5:       scripts/bench-picker.sh: the picker's filter (criterion), first paint and memory in a
#          real Zellij.
# 6:       scripts/bench-reach.sh (napsh tunnel / proxy throughput and latency).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}

scripts/ensure-tools.sh >/dev/null
scripts/build-plugin.sh
cargo build --release --locked -q -p napsh -p napsh-emulator -p napsh-e2e --bins

echo "## Machine"
echo
echo "- $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "- $(uname -sr); $(ssh -V 2>&1); zellij $(zellij --version 2>/dev/null | awk '{print $2}')"
echo "- napsh $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$target/release/napsh-bench" --napsh "$target/release/napsh" --runs "${BENCH_RUNS:-5}"

echo "### 5. Picker with 10,000 devices"
echo
scripts/bench-picker.sh
echo
echo "### 6. napsh tunnel / napsh proxy"
echo
scripts/bench-reach.sh
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
