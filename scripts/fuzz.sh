#!/usr/bin/env bash
# Fuzz every parser that takes outside input (fuzz/fuzz_targets: an ingest body, a claim, an
# SMS for the filter, a Twilio form, a Connect event, a smishing report, the policy TOML, an
# exercise scenario, a text a customer pastes into the app, a PASSporT and a TNAuthList) for
# SECONDS each (default 60), starting from the seed corpora in fuzz/seeds. A crash stops the
# script; reproduce it with `cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-…` and keep it
# as a unit test. Prints the executions per target (the figures BENCHMARKS.md records).
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# cargo fuzz passes -Z flags (sanitizer, coverage); this machine has only the stable toolchain.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
SUMMARY="$(mktemp)"
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  LOG="$(mktemp)"
  if ! cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 \
      -max_len=65536 -timeout=10 >"$LOG" 2>&1; then
    tail -n 60 "$LOG"
    echo "fuzz target $t FAILED: see fuzz/artifacts/$t" >&2
    exit 1
  fi
  RUNS="$(grep -o 'Done [0-9]* runs' "$LOG" | grep -o '[0-9]*' || echo '?')"
  printf '%-14s %12s executions in %s s, no crash\n' "$t" "$RUNS" "$SECS" | tee -a "$SUMMARY"
done
echo "== fuzz summary"
cat "$SUMMARY"
