#!/usr/bin/env bash
# HTTP load, side by side in one run, same machine, same load tool (wrk):
#   1. Karman: the hello Runnable, one step, a fresh instance per request
#   2. Karman: the same Runnable in a three-step sequence
#   3. Karman with opt-in instance reuse (`reuse:`), one and three steps
#   4. `karman serve` on a wasi:http hello component (bench/guests/hello-http)
#   5. a native hyper hello (the ceiling)
#   6. `wasmtime serve` (wasmtime-cli 48.0.8, pooling allocator) on the component of 4, when
#      installed in $KARMAN_TOOLS/bin (default ~/.cache/karman/tools; WASMTIME=install installs
#      it there, about 18 minutes on 2 cores)
# The targets are measured in turns, ROUNDS rounds of DURATION seconds each, and the median
# of each is printed with the ratios. Everything listens on 127.0.0.1 and stops when the
# script ends.
#
#   bench/http.sh                               # ROUNDS=3 DURATION=5, wrk -t2 -c32
#   ROUNDS=5 DURATION=10 CONNECTIONS=64 bench/http.sh
#
# With RESULTS=<file> it also appends `measure|result|target` lines there (bench/all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
TOOLS=${KARMAN_TOOLS:-$HOME/.cache/karman/tools}
WASMTIME_BIN="$TOOLS/bin/wasmtime"
PORT_WASMTIME=18081 PORT_KARMAN=18082 PORT_NATIVE=18083 PORT_KARMAN_WASI=18084

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
if [ ! -x "$WASMTIME_BIN" ] && [ "${WASMTIME:-}" = install ]; then
  echo "==> installing wasmtime-cli 48.0.8 into $TOOLS (once)"
  cargo install --locked --root "$TOOLS" wasmtime-cli@48.0.8
fi

build
cargo build --quiet --target wasm32-wasip2 --profile guest -p hello-http
GUESTS=target/wasm32-wasip2/guest

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

hello_app "$work/Directive.yaml"

targets=(karman-1-step karman-3-steps karman-reuse-1-step karman-reuse-3-steps karman-serve-wasi-http native-hyper)
declare -A url=(
  [karman-1-step]="http://127.0.0.1:$PORT_KARMAN/hello/bench"
  [karman-3-steps]="http://127.0.0.1:$PORT_KARMAN/three/bench"
  [karman-reuse-1-step]="http://127.0.0.1:$PORT_KARMAN/warm/bench"
  [karman-reuse-3-steps]="http://127.0.0.1:$PORT_KARMAN/warm3/bench"
  [karman-serve-wasi-http]="http://127.0.0.1:$PORT_KARMAN_WASI/hello/bench"
  [native-hyper]="http://127.0.0.1:$PORT_NATIVE/hello/bench"
  [wasmtime-serve]="http://127.0.0.1:$PORT_WASMTIME/hello/bench"
)

if [ -x "$WASMTIME_BIN" ]; then
  "$WASMTIME_BIN" serve -S cli=y -O pooling-allocator=y --addr "127.0.0.1:$PORT_WASMTIME" \
    "$GUESTS/hello_http.wasm" > "$work/wasmtime.log" 2>&1 & pids+=($!)
  targets+=(wasmtime-serve)
else
  echo "==> wasmtime-cli is not in $TOOLS/bin: 'wasmtime serve' is left out (WASMTIME=install adds it)"
fi
KARMAN_LOG=warn target/release/karman serve "$work/Directive.yaml" --listen "127.0.0.1:$PORT_KARMAN" \
  --cache-dir "$work/cache" > "$work/karman.log" 2>&1 & pids+=($!)
KARMAN_LOG=warn target/release/karman serve "$GUESTS/hello_http.wasm" --addr "127.0.0.1:$PORT_KARMAN_WASI" \
  --cache-dir "$work/cache" > "$work/karman-wasi.log" 2>&1 & pids+=($!)
target/release/native-hello "127.0.0.1:$PORT_NATIVE" & pids+=($!)

# Each target must answer the same thing before it is measured.
for target in "${targets[@]}"; do
  wait_for "${url[$target]}"
  [ "$(curl -s "${url[$target]}")" = "Hello, bench!" ] \
    || { echo "unexpected answer from $target (${url[$target]})" >&2; exit 1; }
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on $(nproc) cores, $ROUNDS interleaved rounds"
for round in $(seq 1 "$ROUNDS"); do
  for target in "${targets[@]}"; do
    load "$target" "${url[$target]}" "$CONNECTIONS" "$THREADS"
  done
  # One connection: latency without queueing.
  for target in karman-1-step karman-3-steps karman-reuse-1-step karman-reuse-3-steps; do
    load "$target-c1" "${url[$target]}" 1 1
  done
  echo "round $round done"
done

echo
printf '%-28s %12s %10s %10s\n' "target (median)" "req/s" "p50 ms" "p99 ms"
for target in "${targets[@]}"; do
  printf '%-28s %12.0f %10.3f %10.3f\n' "$target" "$(median "$target" 1)" "$(median "$target" 2)" "$(median "$target" 3)"
done
for target in karman-1-step karman-3-steps karman-reuse-1-step karman-reuse-3-steps; do
  printf '%-28s %12.0f %10.3f %10.3f\n' "$target-c1" "$(median "$target-c1" 1)" "$(median "$target-c1" 2)" "$(median "$target-c1" 3)"
done

native=$(median native-hyper 1)
results=(
  "HTTP, reuse: / native hyper (req/s)|$(ratio "$(median karman-reuse-1-step 1)" "$native")x|>= 0.70x"
  "HTTP, fresh instance / native hyper (req/s)|$(ratio "$(median karman-1-step 1)" "$native")x|>= 0.40x"
  "HTTP, 3 steps / 1 step (req/s, fresh)|$(ratio "$(median karman-3-steps 1)" "$(median karman-1-step 1)")x|>= 0.60x"
  "HTTP, p99 fresh / p99 native ($CONNECTIONS conn.)|$(ratio "$(median karman-1-step 3)" "$(median native-hyper 3)")x|<= 2x"
  "HTTP, 3 steps / 1 step (p50, 1 conn.)|$(ratio "$(median karman-3-steps-c1 2)" "$(median karman-1-step-c1 2)")x|<= 1.5x"
  "HTTP, karman serve wasi:http / native hyper (req/s)|$(ratio "$(median karman-serve-wasi-http 1)" "$native")x|—"
)
if [ -x "$WASMTIME_BIN" ]; then
  results+=(
    "HTTP, fresh instance / wasmtime serve (req/s)|$(ratio "$(median karman-1-step 1)" "$(median wasmtime-serve 1)")x|>= 1.5x"
    "HTTP, karman serve / wasmtime serve, same wasi:http component|$(ratio "$(median karman-serve-wasi-http 1)" "$(median wasmtime-serve 1)")x|—"
  )
fi
echo
report "${results[@]}"
