#!/usr/bin/env bash
# Property-based API testing against the real binary: schemathesis generates requests from
# /openapi.json and checks that the server never errors (5xx), answers only documented statuses,
# matches the documented response schemas and content types. Runs against `demo` on the embedded
# store, then against `serve` on a database of its own on the PostgreSQL the tests use
# (COUNTERSIGN_TEST_DATABASE_URL, default the machine's; dropped after; skipped, and said so, when
# there is none, except under CI=true).
# Usage: scripts/schemathesis.sh [max-examples per operation, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-100}"
ADMIN="${COUNTERSIGN_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pip install -q 'schemathesis==4.32.5'
cargo build -q
DATA="$(mktemp -d)"
PIDS=()
DB=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$DB" ] && psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$DATA"
}
trap cleanup EXIT

# Every check, zero failures, against the server at $1 with the key $2.
check() {
  schemathesis run "$1/openapi.json" -H "Authorization: Bearer $2" \
    -c not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    -n "$EXAMPLES" --phases examples,coverage,fuzzing -w 2
}

# Wait until the log $1 has a line matching $2.
wait_for() {
  for _ in $(seq 1 150); do grep -q "$2" "$1" && return 0; sleep 0.2; done
  echo "the server did not start: $(cat "$1")" >&2
  return 1
}

echo "-- the embedded store (demo)"
./target/debug/countersign demo --data-dir "$DATA/d" --listen 127.0.0.1:7799 >"$DATA/demo.log" 2>&1 &
PIDS+=($!)
wait_for "$DATA/demo.log" COUNTERSIGN_API_KEY
KEY="$(grep -o 'COUNTERSIGN_API_KEY=cs_[0-9a-f]*' "$DATA/demo.log" | head -1 | cut -d= -f2)"
check http://127.0.0.1:7799 "$KEY"

echo "-- PostgreSQL (serve, store = \"postgres\")"
if ! psql "$ADMIN" -qAtc "SELECT 1" >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "no PostgreSQL at $ADMIN, and CI=true: the PostgreSQL run must not be skipped" >&2
    exit 1
  fi
  echo "SKIPPED: no PostgreSQL at $ADMIN (set COUNTERSIGN_TEST_DATABASE_URL to run against one)"
  exit 0
fi
DB="cs_schemathesis_$$"
psql "$ADMIN" -qc "CREATE DATABASE $DB"
./target/debug/countersign keygen --name schemathesis --scopes admin >"$DATA/key.txt"
KEY="$(grep -o 'cs_[0-9a-f]*' "$DATA/key.txt" | head -1)"
COUNTERSIGN_API_KEYS="$(grep -o "schemathesis:admin:[0-9a-f]*" "$DATA/key.txt")" \
COUNTERSIGN_STORE=postgres COUNTERSIGN_DATABASE_URL="${ADMIN%/*}/$DB" \
COUNTERSIGN_BODY_HMAC_KEY="$(printf '5%.0s' $(seq 1 64))" \
  ./target/debug/countersign serve --data-dir "$DATA/pg" --listen 127.0.0.1:7798 >"$DATA/serve.log" 2>&1 &
PIDS+=($!)
wait_for "$DATA/serve.log" "listening on"
check http://127.0.0.1:7798 "$KEY"
