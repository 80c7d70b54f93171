#!/usr/bin/env bash
# Closes scripts/test.sh: reads its log (a file, or stdin) and prints what ran besides tests on
# their own lines — fuzz targets, the fault matrix's not-applicable cells — then the one line
# that adds up the tests of every test binary (cargo's and the fault matrix's `test result:`
# lines): `total: N passed, M failed`.
# Usage: scripts/test-total.sh [LOG]
set -euo pipefail

awk '
  /^fuzz targets: / { print; next }
  /^fault matrix: [0-9]+ cells not applicable/ { print; next }
  /^test result:/ {
    for (i = 1; i < NF; i++) {
      if ($(i + 1) ~ /^passed/) p += $i
      if ($(i + 1) ~ /^failed/) f += $i
    }
  }
  END { printf "total: %d passed, %d failed\n", p, f }
' "${1:-/dev/stdin}"
