#!/usr/bin/env bash
# API load benchmark (issue 5): `billow serve` (fast build) over the 5M-row month of
# bench/ingest.sh, held under cost queries for 60 s by wrk (Debian's package) on loopback:
# 2 threads, 32 connections, each request one of the month's groupings (service, account,
# region, day, category, billing account, tags) or a dashboard's filtered, per-day or paged
# query, or the overview, with an API token. A second run holds only the overview, for its
# latency alone. Prints requests/s, latency
# percentiles and errors. Not a test: numbers go in notes. Target: ≥ 500 req/s at p99 < 100 ms,
# zero errors.
#
#   bench/api-load.sh                   # 60 s
#   DURATION=20s CONNECTIONS=64 bench/api-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}
DURATION=${DURATION:-60s}
CONNECTIONS=${CONNECTIONS:-32}
. bench/common.sh
if ! command -v wrk >/dev/null; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  $SUDO apt-get install -y -q wrk >/dev/null 2>&1 ||
    { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q wrk >/dev/null; }
fi

SRC=$OUT/src-$ROWS
generate "$SRC" "$ROWS" 10
DATA=$OUT/api-data
if [ ! -d "$DATA/lake" ]; then
  "$BILLOW" --data-dir "$DATA" --quiet ingest aws-cur "$SRC/cur/billow-cur" --connection bench
fi
"$BILLOW" --data-dir "$DATA" --quiet user add bench@example.com --role viewer 2>/dev/null || true
TOKEN=$("$BILLOW" --data-dir "$DATA" token create --user bench@example.com --name load --days 1)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BILLOW" --data-dir "$DATA" --quiet serve --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break; sleep 0.1; done
# One request to check the answer before timing.
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/costs?month=2026-10&by=service" |
  "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("check: total billed", r["total"]["billed_cost"], "rows", r["total"]["rows"])'
LUA=$(mktemp --suffix=.lua)
cat > "$LUA" <<'LUA'
-- The month's groupings, and what a dashboard asks besides: a daily trend per connection,
-- top accounts of one region, one category's services per day, a page of accounts.
local costs = {"by=service", "by=account", "by=region", "by=day", "by=category", "by=billing-account",
  "by=connection&granularity=day", "by=account&filter=region=us-east-1&limit=10",
  "by=service&granularity=day&filter=category=Usage", "by=account&limit=20&offset=20&cost_type=effective",
  "by=tag:team", "by=tag:env&granularity=day"}
local paths = {}
for _, q in ipairs(costs) do paths[#paths + 1] = "/api/v1/costs?month=2026-10&" .. q end
-- The dashboard's overview (cards, 30-day trend, top accounts, services, regions, tag values).
paths[#paths + 1] = "/api/v1/overview?as_of=2026-10-20&days=30"
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUA
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" -s "$LUA" "http://127.0.0.1:$PORT" | tee "$OUT/api-load.txt"
echo "== the overview alone (4 connections, warm)"
sed -i 's|^request = function()|paths = {"/api/v1/overview?as_of=2026-10-20\&days=30"}\nrequest = function()|' "$LUA"
wrk -t1 -c4 -d"${OVERVIEW_DURATION:-20s}" --latency -H "Authorization: Bearer $TOKEN" -s "$LUA" "http://127.0.0.1:$PORT" | tee -a "$OUT/api-load.txt"
rm -f "$LUA"
