#!/usr/bin/env bash
# HTTP load, side by side in one run, same machine, same load tool (wrk):
#   1. `wasmtime serve` (wasmtime-cli 48.0.8, pooling allocator) on bench/guests/hello-http
#   2. Karman: the hello Runnable, one step, fresh instance per request
#   3. Karman: the same Runnable in a three-step sequence
#   4. Karman with opt-in instance reuse (`reuse:`), one and three steps
#   5. `karman serve` on the same wasi:http component as 1 (bench/guests/hello-http)
#   6. a native hyper hello (the ceiling)
# Prints req/s, p50 and p99 latency, and the ratios. Everything listens on 127.0.0.1 and stops
# when the script ends.
#
#   bench/http.sh                  # 10 s per target, wrk -t2 -c32
#   DURATION=30 CONNECTIONS=64 bench/http.sh
#
# wasmtime-cli is installed once (about 18 minutes on 2 cores) into $KARMAN_TOOLS
# (default ~/.cache/karman/tools) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
TOOLS=${KARMAN_TOOLS:-$HOME/.cache/karman/tools}
WASMTIME="$TOOLS/bin/wasmtime"
PORT_WASMTIME=18081 PORT_KARMAN=18082 PORT_NATIVE=18083 PORT_KARMAN_WASI=18084

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
if [ ! -x "$WASMTIME" ]; then
  echo "==> installing wasmtime-cli 48.0.8 into $TOOLS (once)"
  cargo install --locked --root "$TOOLS" wasmtime-cli@48.0.8
fi

echo "==> building (release) and the guests"
./scripts/build-guests
cargo build --quiet --target wasm32-wasip2 --profile guest -p hello-http
cargo build --quiet --release -p karman -p karman-bench --bin karman --bin native-hello
GUESTS=target/wasm32-wasip2/guest

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/Directive.yaml" <<YAML
identifier: bench.hello
appVersion: v1
components:
  - { name: hello, source: $PWD/$GUESTS/hello.wasm }
  - { name: hello-warm, source: $PWD/$GUESTS/hello.wasm, reuse: { maxUses: 1000000, poolSize: 64 } }
handlers:
  - { type: request, method: GET, resource: /hello/:name, steps: [ { fn: hello } ] }
  - type: request
    method: GET
    resource: /three/:name
    steps: [ { fn: hello }, { fn: hello, as: second }, { fn: hello, as: third } ]
  - { type: request, method: GET, resource: /warm/:name, steps: [ { fn: hello-warm } ] }
  - type: request
    method: GET
    resource: /warm3/:name
    steps: [ { fn: hello-warm }, { fn: hello-warm, as: second }, { fn: hello-warm, as: third } ]
YAML

wait_for() {
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "$1 did not come up" >&2; exit 1
}

"$WASMTIME" serve -S cli=y -O pooling-allocator=y --addr "127.0.0.1:$PORT_WASMTIME" "$GUESTS/hello_http.wasm" \
  > "$work/wasmtime.log" 2>&1 & pids+=($!)
KARMAN_LOG=warn target/release/karman serve "$work/Directive.yaml" --listen "127.0.0.1:$PORT_KARMAN" \
  --cache-dir "$work/cache" > "$work/karman.log" 2>&1 & pids+=($!)
KARMAN_LOG=warn target/release/karman serve "$GUESTS/hello_http.wasm" --addr "127.0.0.1:$PORT_KARMAN_WASI" \
  --cache-dir "$work/cache" > "$work/karman-wasi.log" 2>&1 & pids+=($!)
target/release/native-hello "127.0.0.1:$PORT_NATIVE" & pids+=($!)
wait_for "http://127.0.0.1:$PORT_WASMTIME/hello/bench"
wait_for "http://127.0.0.1:$PORT_KARMAN/hello/bench"
wait_for "http://127.0.0.1:$PORT_KARMAN_WASI/hello/bench"
wait_for "http://127.0.0.1:$PORT_NATIVE/hello/bench"

# Each target must answer the same thing before it is measured.
for url in "127.0.0.1:$PORT_WASMTIME/hello/bench" "127.0.0.1:$PORT_KARMAN/hello/bench" \
  "127.0.0.1:$PORT_KARMAN_WASI/hello/bench" "127.0.0.1:$PORT_NATIVE/hello/bench"; do
  [ "$(curl -s "http://$url")" = "Hello, bench!" ] || { echo "unexpected answer from $url" >&2; exit 1; }
done

# load <label> <url> [connections] [threads]: prints "label req/s p50 p99", records req/s in
# $work/<label> and p50 in $work/<label>.p50
load() {
  local out
  out=$(wrk -t"${4:-$THREADS}" -c"${3:-$CONNECTIONS}" -d"${DURATION}s" --latency "$2")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  printf '%-32s %12s %10s %10s %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
  echo "$rps" > "$work/$1"
  echo "$p50" > "$work/$1.p50"
}

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on $(nproc) cores"
printf '%-32s %12s %10s %10s\n' target "req/s" p50 p99
load wasmtime-serve "http://127.0.0.1:$PORT_WASMTIME/hello/bench"
load karman-1-step "http://127.0.0.1:$PORT_KARMAN/hello/bench"
load karman-3-steps "http://127.0.0.1:$PORT_KARMAN/three/bench"
load karman-reuse-1-step "http://127.0.0.1:$PORT_KARMAN/warm/bench"
load karman-reuse-3-steps "http://127.0.0.1:$PORT_KARMAN/warm3/bench"
load karman-serve-wasi-http "http://127.0.0.1:$PORT_KARMAN_WASI/hello/bench"
load native-hyper "http://127.0.0.1:$PORT_NATIVE/hello/bench"
echo
echo "one connection (latency without queueing): wrk -t1 -c1 -d${DURATION}s"
load karman-1-step-c1 "http://127.0.0.1:$PORT_KARMAN/hello/bench" 1 1
load karman-3-steps-c1 "http://127.0.0.1:$PORT_KARMAN/three/bench" 1 1
load karman-reuse-1-step-c1 "http://127.0.0.1:$PORT_KARMAN/warm/bench" 1 1
load karman-reuse-3-steps-c1 "http://127.0.0.1:$PORT_KARMAN/warm3/bench" 1 1

ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } print v }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "karman 1 step / wasmtime serve (throughput): $(ratio "$(cat "$work/karman-1-step")" "$(cat "$work/wasmtime-serve")")x   (target >= 1.5x)"
echo "karman serve x.wasm / wasmtime serve, same component (throughput): $(ratio "$(cat "$work/karman-serve-wasi-http")" "$(cat "$work/wasmtime-serve")")x"
echo "karman 1 step / native hyper (throughput):   $(ratio "$(cat "$work/karman-1-step")" "$(cat "$work/native-hyper")")x"
echo "karman reuse / native hyper (throughput):    $(ratio "$(cat "$work/karman-reuse-1-step")" "$(cat "$work/native-hyper")")x   (target >= 0.35x)"
echo "karman 3 steps / 1 step (p50, 1 connection): $(ratio "$(ms "$work/karman-3-steps-c1.p50")" "$(ms "$work/karman-1-step-c1.p50")")x   (target <= 1.5x)"
echo "karman 3 steps / 1 step (p50, $CONNECTIONS connections): $(ratio "$(ms "$work/karman-3-steps.p50")" "$(ms "$work/karman-1-step.p50")")x"
echo "karman reuse, 3 steps / 1 step (p50, 1 connection): $(ratio "$(ms "$work/karman-reuse-3-steps-c1.p50")" "$(ms "$work/karman-reuse-1-step-c1.p50")")x"
