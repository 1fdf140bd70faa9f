#!/usr/bin/env bash
# What the debug logging of componentize-js's bindings costs a JavaScript call into the host.
# Builds bench/js-calls.js (200 calls per run) twice: with the SDK's build, which
# takes those calls out of the bindings (`withoutDebugLogs` in guest-sdks/js/build.mjs), and
# with a copy of it that leaves them in. One `karman serve` serves both, fresh and with
# `reuse:`; wrk -t1 -c1 loads each in turn (ROUNDS rounds of DURATION seconds). Prints the
# median p50 and the server's CPU time per request (user + kernel, from /proc/<pid>/stat).
#
#   bench/js-calls.sh                   # ROUNDS=5, DURATION=3
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
PORT=18089
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --quiet --release -p karman
guest-sdks/js/scripts/ensure-deps.sh

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The copy of build.mjs that keeps the logging: its pattern can never match.
sed 's|replaceAll(DEBUG_LOG_CALL, |replaceAll(/(?!)/g, |' guest-sdks/js/build.mjs \
  > guest-sdks/js/.build-with-debug-logs.mjs
trap 'rm -f guest-sdks/js/.build-with-debug-logs.mjs; cleanup' EXIT
node guest-sdks/js/build.mjs bench/js-calls.js -o "$work/without.wasm"
node guest-sdks/js/.build-with-debug-logs.mjs bench/js-calls.js -o "$work/with.wasm"
marker='[Instruction::CallWasm] enter'
grep -qF "$marker" "$work/with.wasm" && ! grep -qF "$marker" "$work/without.wasm" \
  || { echo "the two builds do not differ in their debug logging" >&2; exit 1; }

targets=(with with-warm without without-warm)
{
  echo "identifier: bench.js-calls"
  echo "appVersion: v1"
  echo "components:"
  for build in with without; do
    echo "  - { name: $build, source: $work/$build.wasm, limits: { memory: 256MiB } }"
    echo "  - { name: $build-warm, source: $work/$build.wasm, limits: { memory: 256MiB }, reuse: { maxUses: 1000000, poolSize: 64 } }"
  done
  echo "handlers:"
  for target in "${targets[@]}"; do
    echo "  - { type: request, method: GET, resource: /$target, steps: [ { fn: $target } ] }"
  done
} > "$work/Directive.yaml"

KARMAN_LOG=warn target/release/karman serve "$work/Directive.yaml" --listen "127.0.0.1:$PORT" \
  --cache-dir "$work/cache" > "$work/karman.log" 2>&1 & pid=$!
for _ in $(seq 1 1200); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/with?case=bench" && break
  sleep 0.2
done
for target in "${targets[@]}"; do
  answer=$(curl -s "http://127.0.0.1:$PORT/$target?case=bench")
  [ "$answer" = 800 ] || { echo "unexpected answer from $target: $answer" >&2; exit 1; }
done

cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
ticks=$(getconf CLK_TCK)
echo "wrk -t1 -c1 ${DURATION}s per target on $(nproc) cores, $ROUNDS interleaved rounds"
for round in $(seq 1 "$ROUNDS"); do
  for target in "${targets[@]}"; do
    before=$(cpu)
    load "$target" "http://127.0.0.1:$PORT/$target?case=bench" 1 1
    after=$(cpu)
    tail -1 "$work/$target" | awk -v t=$((after - before)) -v hz="$ticks" -v d="$DURATION" \
      '{ printf "%.1f\n", t * 1e6 / hz / ($1 * d) }' >> "$work/$target.cpu"
  done
done

printf '%-22s %10s %14s\n' build "p50" "CPU µs/request"
for target in "${targets[@]}"; do
  cpu_median=$(sort -g "$work/$target.cpu" | awk '{ v[NR]=$1 } END { print v[int((NR+1)/2)] }')
  printf '%-22s %8.3fms %14s\n' "$target" "$(median "$target" 2)" "$cpu_median"
done
echo
echo "without / with debug logging, p50 with reuse: $(ratio "$(median without-warm 2)" "$(median with-warm 2)")x," \
  "fresh: $(ratio "$(median without 2)" "$(median with 2)")x"
