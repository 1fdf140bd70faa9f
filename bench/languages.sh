#!/usr/bin/env bash
# The same Runnable in each guest language (the conformance components, case `params`), side by
# side in one run: component size, and per-request latency and throughput through Karman, each
# request a fresh instance, then with `reuse:`. Everything listens on 127.0.0.1 and stops when
# the script ends.
#
# The languages are measured in turns, ROUNDS rounds, and the medians are printed.
#
#   bench/languages.sh                 # ROUNDS=3, wrk 5 s per target: -t1 -c1 (latency), -t2 -c32
#   ROUNDS=5 DURATION=10 bench/languages.sh
#
# With RESULTS=<file> it also appends `measure|result|target` lines there (bench/all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
PORT=18085

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
build
GUESTS=$PWD/target/wasm32-wasip2/guest

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

{
  echo "identifier: bench.languages"
  echo "appVersion: v1"
  echo "components:"
  for lang in rust js python; do
    echo "  - { name: $lang, source: $GUESTS/conformance_$lang.wasm, limits: { memory: 256MiB } }"
    echo "  - { name: $lang-warm, source: $GUESTS/conformance_$lang.wasm, limits: { memory: 256MiB }, reuse: { maxUses: 1000000, poolSize: 64 } }"
  done
  echo "handlers:"
  for lang in rust js python; do
    echo "  - { type: request, method: GET, resource: /$lang/:id, steps: [ { fn: $lang } ] }"
    echo "  - { type: request, method: GET, resource: /$lang-warm/:id, steps: [ { fn: $lang-warm } ] }"
  done
} > "$work/Directive.yaml"

KARMAN_LOG=warn target/release/karman serve "$work/Directive.yaml" --listen "127.0.0.1:$PORT" \
  --cache-dir "$work/cache" > "$work/karman.log" 2>&1 & pid=$!
wait_for "http://127.0.0.1:$PORT/rust/1?case=params" 120

for lang in rust js python; do
  answer=$(curl -s "http://127.0.0.1:$PORT/$lang/7?case=params")
  [ "$answer" = "id=7;q=-;method=GET;url=/$lang/7?case=params" ] \
    || { echo "unexpected answer from $lang: $answer" >&2; exit 1; }
done

echo
echo "wrk ${DURATION}s per target on $(nproc) cores, $ROUNDS interleaved rounds; a fresh instance per request unless 'reuse'"
for round in $(seq 1 "$ROUNDS"); do
  for lang in rust js python; do
    load "$lang-c1" "http://127.0.0.1:$PORT/$lang/7?case=params" 1 1
    load "$lang-c32" "http://127.0.0.1:$PORT/$lang/7?case=params" 32 2
    load "$lang-reuse" "http://127.0.0.1:$PORT/$lang-warm/7?case=params" 1 1
  done
  echo "round $round done"
done

printf '%-8s %10s %10s %10s %10s %10s %14s %12s\n' language size "p50 c1" "p99 c1" "req/s c1" \
  "req/s c32" "p50 reuse" "req/s reuse"
for lang in rust js python; do
  size=$(du -k "$GUESTS/conformance_$lang.wasm" | cut -f1)
  printf '%-8s %8s K %8.3fms %8.3fms %10.0f %10.0f %12.3fms %12.0f\n' "$lang" "$size" \
    "$(median "$lang-c1" 2)" "$(median "$lang-c1" 3)" "$(median "$lang-c1" 1)" \
    "$(median "$lang-c32" 1)" "$(median "$lang-reuse" 2)" "$(median "$lang-reuse" 1)"
done

results=(
  "JavaScript / Rust, p50 of a fresh instance (1 conn.)|$(ratio "$(median js-c1 2)" "$(median rust-c1 2)")x|<= 3x"
  "JavaScript / Rust, p50 with reuse: (1 conn.)|$(ratio "$(median js-reuse 2)" "$(median rust-reuse 2)")x|<= 2x"
  "Python / Rust, p50 of a fresh instance (1 conn.)|$(ratio "$(median python-c1 2)" "$(median rust-c1 2)")x|—"
  "Python / Rust, p50 with reuse: (1 conn.)|$(ratio "$(median python-reuse 2)" "$(median rust-reuse 2)")x|<= 1.3x"
)
echo
report "${results[@]}"
