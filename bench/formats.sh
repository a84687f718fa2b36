#!/usr/bin/env bash
# Format benchmark (issue 4): a generated Azure EA amortized export (CSV, as Azure writes it)
# and a generated GCP detailed billing export (gzip JSON lines, as BigQuery exports it), each
# ROWS rows (default 5M), then, in the same run on the same files:
#   billow  ingest azure / ingest gcp → exact FOCUS rows in a Delta table (+ raw zone, records)
#   polars  scan_csv / scan_ndjson → sink_parquet (zstd, 2 threads): a plain copy, no mapping
# Prints wall seconds, CPU seconds, peak RSS, rows/s and the ratios. Not a test.
#
#   bench/formats.sh                # 5M rows each
#   ROWS=1000000 bench/formats.sh   # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}
FILES=${FILES:-10}
. bench/common.sh

mkdir -p "$OUT"
AZURE=$OUT/azure-$ROWS
GCP=$OUT/gcp-$ROWS
generate "$AZURE" "$ROWS" "$FILES" --provider azure
generate "$GCP" "$ROWS" "$FILES" --provider gcp
AZURE_FILES=$(ls "$AZURE"/enrollment-amortized/*/*/*.csv | tr '\n' ' ')
GCP_FILES=$(ls "$GCP"/*.json.gz | tr '\n' ' ')
AZURE_ROWS=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['amortized_rows'])" "$AZURE.json")
GCP_ROWS=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['rows'])" "$GCP.json")
echo "Azure amortized: $AZURE_ROWS rows, $(du -ch $AZURE_FILES | tail -1 | cut -f1); GCP: $GCP_ROWS rows, $(du -ch $GCP_FILES | tail -1 | cut -f1)"

RES=$OUT/results-formats-$ROWS.txt
: > "$RES.azure"; : > "$RES.gcp"
rm -rf "$OUT/data-formats" "$OUT/polars-azure.parquet" "$OUT/polars-gcp.parquet"
measure billow_azure_ingest "$BILLOW" --data-dir "$OUT/data-formats" --quiet ingest azure "$AZURE/enrollment-amortized" --connection azure >> "$RES.azure"
measure polars_azure_copy env POLARS_MAX_THREADS=2 "$PY" -c "
import polars as pl, sys
pl.scan_csv(sys.argv[1:-1], infer_schema_length=10000).sink_parquet(sys.argv[-1], compression='zstd')
" $AZURE_FILES "$OUT/polars-azure.parquet" >> "$RES.azure"
measure billow_gcp_ingest "$BILLOW" --data-dir "$OUT/data-formats" --quiet ingest gcp "$GCP" --connection gcp >> "$RES.gcp"
measure polars_gcp_copy env POLARS_MAX_THREADS=2 "$PY" -c "
import polars as pl, sys
pl.scan_ndjson(sys.argv[1:-1], infer_schema_length=10000).sink_parquet(sys.argv[-1], compression='zstd')
" $GCP_FILES "$OUT/polars-gcp.parquet" >> "$RES.gcp"
# Both months must reconcile after the timed runs.
"$BILLOW" --data-dir "$OUT/data-formats" --quiet reconcile --month 2026-10 > /dev/null

report "$RES.azure" "$AZURE_ROWS" billow_azure_ingest polars_azure_copy
report "$RES.gcp" "$GCP_ROWS" billow_gcp_ingest polars_gcp_copy
