#!/usr/bin/env bash
# The same Runnable in each guest language (the conformance components, case `params`), side by
# side in one run: component size, and per-request latency and throughput through Karman, each
# request a fresh instance, then with `reuse:`. Everything listens on 127.0.0.1 and stops when
# the script ends.
#
#   bench/languages.sh                 # wrk, 10 s per target: -t1 -c1 (latency), -t2 -c32
#   DURATION=30 bench/languages.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
PORT=18085

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
echo "==> building (release) and the guests"
./scripts/build-guests
cargo build --quiet --release -p karman --bin karman
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
for _ in $(seq 1 600); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/rust/1?case=params" && break
  sleep 0.2
done

for lang in rust js python; do
  answer=$(curl -s "http://127.0.0.1:$PORT/$lang/7?case=params")
  [ "$answer" = "id=7;q=-;method=GET;url=/$lang/7?case=params" ] \
    || { echo "unexpected answer from $lang: $answer" >&2; exit 1; }
done

# load <url> <connections> <threads>: "req/s p50 p99"
load() {
  local out
  out=$(wrk -t"$3" -c"$2" -d"${DURATION}s" --latency "$1")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    echo "errors while loading $1:" >&2
    grep "Non-2xx\|Socket errors" <<<"$out" >&2
    exit 1
  fi
  printf '%s %s %s' "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
}

echo
echo "wrk ${DURATION}s per target on $(nproc) cores; a fresh instance per request unless 'reuse'"
printf '%-8s %10s %8s %10s %10s %12s %10s %12s\n' language size "p50 c1" "p99 c1" "req/s c1" \
  "req/s c32" "p50 reuse" "req/s reuse"
for lang in rust js python; do
  size=$(du -k "$GUESTS/conformance_$lang.wasm" | cut -f1)
  read -r rps1 p50 p99 <<<"$(load "http://127.0.0.1:$PORT/$lang/7?case=params" 1 1)"
  read -r rps32 _ _ <<<"$(load "http://127.0.0.1:$PORT/$lang/7?case=params" 32 2)"
  read -r rpsw p50w _ <<<"$(load "http://127.0.0.1:$PORT/$lang-warm/7?case=params" 1 1)"
  printf '%-8s %8s K %8s %10s %10s %12s %10s %12s\n' "$lang" "$size" "$p50" "$p99" "$rps1" \
    "$rps32" "$p50w" "$rpsw"
done
