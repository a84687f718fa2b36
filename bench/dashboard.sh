#!/usr/bin/env bash
# Dashboard page speed (issue 6): the demo organization (fast build), `billow serve`, and
# headless Chromium (web/e2e/page-speed.mjs) opening the overview and the explorer from a
# blank page 10 times each: time from navigation until the page is drawn with its data.
# Not a test: numbers go in notes. Target: the overview interactive within 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
bash scripts/deps test
[ -d web/node_modules/playwright-core ] || (cd web && npm ci --no-audit --no-fund --loglevel=error)
DATA=$OUT/dashboard-data
export DEMO_AS_OF=${DEMO_AS_OF:-2026-11-24}
if [ ! -d "$DATA/lake" ]; then
  "$BILLOW" --data-dir "$DATA" --quiet demo --no-serve --as-of "$DEMO_AS_OF"
fi
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$BILLOW" --data-dir "$DATA" --quiet serve --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break; sleep 0.1; done
BILLOW_URL="http://127.0.0.1:$PORT" node web/e2e/page-speed.mjs | tee "$OUT/dashboard.txt"
