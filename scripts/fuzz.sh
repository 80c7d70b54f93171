#!/usr/bin/env bash
# Fuzzes napsh-core's parsers with cargo-fuzz (libFuzzer): API responses (also drifted),
# soracom-cli profiles, device arguments, the picker feed, `napsh tunnel -p` specs,
# sh/ssh_config quoting, Ansible inventory names, the guide's word wrapper, `napsh exec`
# output and SIM id / IMSI validation (every target in fuzz/Cargo.toml).
#
#   scripts/fuzz.sh                 a short run: FUZZ_SECONDS (default 4) per target, on an
#                                   unoptimised build (30 s to build instead of 3 min); part
#                                   of scripts/test.sh
#   scripts/fuzz.sh --long          10 minutes per target (FUZZ_SECONDS overrides), optimised
#   scripts/fuzz.sh [--long] T...   only targets T...
#
# Installs cargo-fuzz when missing; runs on the stable toolchain (RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz pass its -Z flags). Seeds are in fuzz/seeds/T; what libFuzzer finds goes to
# fuzz/corpus/T (git-ignored); a crash stops the run, and its input is in fuzz/artifacts/T
# (replay: RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz --sanitizer none -a T
# fuzz/artifacts/T/crash-…).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-4}
build=--dev
if [ "${1:-}" = "--long" ]; then
  secs=${FUZZ_SECONDS:-600}
  build=--release
  shift
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# Coverage instrumentation without a sanitizer: napsh-core is safe Rust; debug assertions
# (-a) catch overflows and broken invariants.
flags=(--fuzz-dir fuzz --sanitizer none -a "$build")
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
cargo fuzz build "${flags[@]}"

passed=0 failed=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  echo "fuzz: $t for ${secs}s"
  if cargo fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$secs" -max_len=65536 -print_final_stats=0 >"fuzz/last-$t.log" 2>&1; then
    passed=$((passed + 1))
    echo "fuzz: $t ok ($(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "fuzz/last-$t.log" | tail -1) runs)"
  else
    failed=$((failed + 1))
    tail -40 "fuzz/last-$t.log"
    echo "fuzz: $t FAILED: the crashing input is in fuzz/artifacts/$t/" >&2
  fi
done
# Not a `test result:` line: fuzz targets are not tests, and scripts/test.sh's total counts tests.
echo "fuzz targets: $passed ran clean, $failed crashed (not counted as tests)"
[ "$failed" -eq 0 ]
