#!/usr/bin/env bash
# Instructions an ingest executes (valgrind cachegrind's `I refs`), for comparing the CPU work of
# two builds where wall and CPU times swing too much between identical runs to show a change of a
# few percent (shared or throttled machines). Counts do not swing: the same binary on the same
# files executes the same instructions, give or take thread scheduling.
#
#   bench/instructions.sh                      # the fast build of this tree
#   bench/instructions.sh old/billow billow    # any billow binaries, side by side
#
# Ingests a ROWS-row CUR month (default 200,000 rows in 2 files, about 40 s per binary under
# valgrind) and prints, per binary, all instructions and those outside SHA-256: valgrind
# emulates a CPU without SHA extensions, so hashing the sources runs in software there and
# would weigh ~20% instead of ~2%. Then the functions that executed the most. Not a test.
# Needs valgrind (Debian: apt install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000}
FILES=${FILES:-2}
command -v valgrind >/dev/null || { echo "needs valgrind (Debian: apt install valgrind)" >&2; exit 2; }
. bench/common.sh

SRC=$OUT/src-$ROWS
generate "$SRC" "$ROWS" "$FILES"
[ $# -gt 0 ] || set -- "$BILLOW"

printf '\n%-40s %18s %18s\n' binary instructions "outside SHA-256"
for bin in "$@"; do
  data=$(mktemp -d)
  profile=$(mktemp)
  log=$(mktemp)
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$profile" \
    "$bin" --data-dir "$data" --quiet ingest aws-cur "$SRC/cur/billow-cur" --connection bench \
    >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
  cg_annotate "$profile" > "$log.annotated"
  read -r total sha < <(awk '
    /PROGRAM TOTALS/ && !t {gsub(",", "", $1); t = $1}
    /sha2::sha256/ {gsub(",", "", $1); s += $1}
    END {printf "%.0f %.0f\n", t, s}' "$log.annotated")
  printf '%-40s %18.0f %18.0f\n' "$bin" "$total" "$((total - sha))"
  cp "$log.annotated" "$OUT/instructions-$(basename "$bin").txt"
  rm -rf "$data" "$profile" "$log" "$log.annotated"
done
echo
echo "Per function: $OUT/instructions-<binary>.txt (cg_annotate)."
