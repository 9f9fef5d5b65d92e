#!/usr/bin/env bash
# Property-based API testing against the real binary: schemathesis generates requests from
# /openapi.json and checks that the server never errors (5xx), answers only documented statuses,
# matches the documented response schemas and content types.
# Usage: scripts/schemathesis.sh [max-examples per operation, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-100}"
pip install -q 'schemathesis==4.32.5'
cargo build -q
DATA="$(mktemp -d)"
LOG="$DATA/demo.log"
./target/debug/countersign demo --data-dir "$DATA/d" --listen 127.0.0.1:7799 >"$LOG" 2>&1 &
DEMO=$!
trap 'kill $DEMO 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do grep -q COUNTERSIGN_API_KEY "$LOG" && break; sleep 0.2; done
KEY="$(grep -o 'COUNTERSIGN_API_KEY=cs_[0-9a-f]*' "$LOG" | head -1 | cut -d= -f2)"
schemathesis run http://127.0.0.1:7799/openapi.json -H "Authorization: Bearer $KEY" \
  -c not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
  -n "$EXAMPLES" --phases examples,coverage,fuzzing -w 2
