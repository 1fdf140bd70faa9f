#!/usr/bin/env bash
# Memory of `karman serve` (its resident set, from /proc/<pid>/status):
#   1. IN_FLIGHT (default 1000) requests at once, each a fresh instance of the `slow` Runnable
#      sleeping 100 ms: RSS before, RSS under that load (the highest of the samples), and the
#      difference per in-flight instance;
#   2. a soak: SOAK seconds (default 600) of wrk -t2 -c32 on the hello Runnable, a fresh
#      instance per request, RSS sampled every SAMPLE seconds: the first sample, the last, and
#      the growth between them.
# Everything listens on 127.0.0.1 and stops when the script ends.
#
#   bench/memory.sh                             # IN_FLIGHT=1000 SOAK=600 SAMPLE=30
#   SOAK=60 SAMPLE=10 bench/memory.sh
#
# With RESULTS=<file> it also appends `measure|result|target` lines there (bench/all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

IN_FLIGHT=${IN_FLIGHT:-1000}
SOAK=${SOAK:-600}
SAMPLE=${SAMPLE:-30}
PORT=18086

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
build
GUESTS=$PWD/target/wasm32-wasip2/guest
# wrk and Karman each hold one descriptor per connection.
needed=$((IN_FLIGHT + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$needed" ]; then
  ulimit -n "$needed" 2>/dev/null \
    || { echo "$IN_FLIGHT connections need at least $needed open files (ulimit -n)" >&2; exit 1; }
fi

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/Directive.yaml" <<YAML
identifier: bench.memory
appVersion: v1
components:
  - { name: hello, source: $GUESTS/hello.wasm }
  - { name: slow, source: $GUESTS/slow.wasm }
handlers:
  - { type: request, method: GET, resource: /hello/:name, steps: [ { fn: hello } ] }
  - { type: request, method: GET, resource: /slow/:id, steps: [ { fn: slow } ] }
YAML

KARMAN_LOG=warn target/release/karman serve "$work/Directive.yaml" --listen "127.0.0.1:$PORT" \
  --cache-dir "$work/cache" --max-instances $((IN_FLIGHT + 100)) \
  --max-connections $((IN_FLIGHT + 100)) > "$work/karman.log" 2>&1 & pid=$!
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/hello/memory" && break
  sleep 0.1
done
[ "$(curl -s "http://127.0.0.1:$PORT/slow/1?ms=1")" = done ] || { echo "slow does not answer" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# Warm up (the first requests fault in code and pool slots), then settle.
wrk -t2 -c32 -d2s "http://127.0.0.1:$PORT/hello/memory" > /dev/null
sleep 1
idle=$(rss_kib)

echo "==> $IN_FLIGHT requests in flight (a fresh instance each, sleeping 100 ms), 10 s"
wrk -t2 -c"$IN_FLIGHT" -d10s --timeout 10s --latency "http://127.0.0.1:$PORT/slow/1?ms=100" > "$work/inflight.txt" &
load=$!
peak=0
for _ in $(seq 1 18); do
  sleep 0.5
  now=$(rss_kib)
  [ "$now" -gt "$peak" ] && peak=$now
done
wait "$load"
if grep -q "Non-2xx\|Socket errors" "$work/inflight.txt"; then
  echo "errors under $IN_FLIGHT in-flight requests:" >&2; cat "$work/inflight.txt" >&2; exit 1
fi
rps=$(awk '/Requests\/sec/ { print $2 }' "$work/inflight.txt")
sleep 2
after=$(rss_kib)
per=$(awk -v p="$peak" -v i="$idle" -v n="$IN_FLIGHT" 'BEGIN { printf "%.0f KiB", (p - i) / n }')
echo "RSS idle $(mib "$idle"), under load $(mib "$peak") ($rps req/s, $IN_FLIGHT in flight), 2 s after $(mib "$after")"
echo "RSS per in-flight instance: $per"

echo "==> soak: ${SOAK} s of wrk -t2 -c32 on a fresh instance per request, RSS every ${SAMPLE} s"
wrk -t2 -c32 -d"${SOAK}s" "http://127.0.0.1:$PORT/hello/memory" > "$work/soak.txt" &
load=$!
samples=()
elapsed=0
while [ "$elapsed" -lt "$SOAK" ]; do
  sleep "$SAMPLE"
  elapsed=$((elapsed + SAMPLE))
  kill -0 "$pid" || { echo "karman exited during the soak" >&2; exit 1; }
  samples+=("$(rss_kib)")
  echo "  ${elapsed} s: RSS $(mib "${samples[-1]}")"
done
wait "$load"
if grep -q "Non-2xx\|Socket errors" "$work/soak.txt"; then
  echo "errors during the soak:" >&2; cat "$work/soak.txt" >&2; exit 1
fi
soak_rps=$(awk '/Requests\/sec/ { print $2 }' "$work/soak.txt")
first=${samples[0]} last=${samples[-1]}
growth=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%+.1f%%", (b - a) * 100 / a }')
echo "soak: $soak_rps req/s; RSS after ${SAMPLE} s $(mib "$first"), at the end $(mib "$last") ($growth)"

results=(
  "Memory, RSS idle → $IN_FLIGHT in flight (100 ms each)|$(mib "$idle") → $(mib "$peak")|bounded"
  "Memory, RSS per in-flight fresh instance|$per|—"
  "Memory, RSS over a ${SOAK} s soak (first → last sample)|$(mib "$first") → $(mib "$last") ($growth)|no growth"
)
echo
report "${results[@]}"
