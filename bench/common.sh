# Shared by the bench scripts: the fast build, the Python peers' venv, and `measure`.
# Sourced from the repository root.
OUT=${BENCH_OUT:-bench/out}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --locked --profile fast --bin billow $(scripts/features)
BILLOW=$CARGO_TARGET_DIR/fast/billow

VENV=${BENCH_VENV:-$OUT/venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "polars==1.44.2" "duckdb==1.5.6"
fi
PY=$VENV/bin/python

measure() { # name, command...: prints "name wall cpu rss_mb"
  local name=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2/1024}' "$log")
  printf '%s %s %s %s\n' "$name" "$wall" "$cpu" "$rss"
  rm -f "$log"
}

# generate DIR ROWS FILES [SYNTH_ARG...]: a month (October 2026, seed 42) of ROWS rows in FILES
# files written by `billow synth` into DIR (AWS CUR unless the arguments name another provider),
# its expected totals in DIR.json; kept for the next run.
generate() {
  local dir=$1 rows=$2 files=$3
  shift 3
  [ -f "$dir/.done" ] && return 0
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  echo "generating $rows rows in $files files${*:+ ($*)}..."
  "$BILLOW" synth "$dir" "$@" --month 2026-10 --rows "$rows" --files "$files" --seed 42 > "$dir.json"
  touch "$dir/.done"
}

# report RESULTS_FILE ROWS BILLOW_RUN PEER...: the table and the ratios of one run.
report() {
  "$PY" - "$@" <<'PY'
import sys
path, rows, ours, peers = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
r = {l.split()[0]: tuple(map(float, l.split()[1:])) for l in open(path)}
print(f"\n{'run':20} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13} {'rows/s':>12}")
for k, (w, c, m) in r.items():
    rate = f"{rows / w:,.0f}" if k.endswith(("ingest", "copy")) else ""
    print(f"{k:20} {w:8.2f} {c:8.2f} {m:13.0f} {rate:>12}")
b = r[ours]
for peer in peers:
    p = r[peer]
    print(f"{ours} vs {peer}: {p[0] / b[0]:.2f}x faster (wall), {p[2] / b[2]:.2f}x less memory")
PY
}
