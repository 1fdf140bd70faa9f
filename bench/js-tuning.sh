#!/usr/bin/env bash
# What one of karman-js-build's tunings of the bindings (tuneBindings in
# guest-sdks/js/build.mjs) is worth. Builds a JavaScript Runnable twice, with the SDK's build
# and with a copy of it that leaves that tuning out; one `karman serve` serves both, fresh and
# with `reuse:`, and wrk -t1 -c1 loads each in turn (ROUNDS rounds of DURATION seconds). Prints
# the median p50 and the server's CPU time per request (user + kernel, from /proc/<pid>/stat).
#
#   bench/js-tuning.sh debug-logs   # bench/js-calls.js (200 calls into the host per run),
#                                   # with and without the bindings' debug logging
#   bench/js-tuning.sh builtins     # the conformance Runnable (case `params`), with and
#                                   # without the built-in classes resolved before the snapshot
#   bench/js-tuning.sh calls        # the conformance Runnable (case `params`), with and without
#                                   # the lowering, data view and await tunings, and the SDK's
#                                   # `runnable` as it was before them (always async)
#   ROUNDS=5 DURATION=3 (the defaults), SKIP_BUILD=1 to use target/release/karman as it is
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

TUNING=${1:-debug-logs}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
PORT=18089
case "$TUNING" in
  debug-logs)
    entry=bench/js-calls.js query='case=bench' answer=800
    # A pattern that never matches: the logging stays.
    untune='s|replaceAll(DEBUG_LOG_CALL, |replaceAll(/(?!)/g, |'
    marker='\[Instruction::CallWasm\] enter' marked=without ;;
  builtins)
    entry=conformance/js/app.js query='case=params' answer='id=7;q=-;method=GET;url=/'
    untune="s|^    RESOLVE_BUILTINS\$|    ''|"
    marker='karman-js-build: [0-9]+ globals resolved' marked=with ;;
  calls)
    entry=conformance/js/app.js query='case=params' answer='id=7;q=-;method=GET;url=/'
    # Patterns that never match (a regex or string that is truthy comes first), and the SDK
    # from a copy whose `runnable` always returns a promise (written below).
    untune="s#^const STRING_LOWERING =#const STRING_LOWERING = /(?!)/g || #;
      s#^const AWAIT_RUN = #const AWAIT_RUN = /(?!)/g || #;
      s#^  generated:\$#  generated: '(never)' ||#;
      s#join(SDK_DIR, 'src/index.js')#'SDK_COPY/index.js'#"
    marker='karman-js-build: lowered [1-9][0-9]* string arguments' marked=with ;;
  *) echo "usage: bench/js-tuning.sh debug-logs|builtins|calls" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --quiet --release -p karman
guest-sdks/js/scripts/ensure-deps.sh

work=$(mktemp -d)
pid=
untuned=guest-sdks/js/.build-without-tuning.mjs
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work" "$untuned"; }
trap cleanup EXIT

# "with" is the SDK's build, "without" the copy that leaves the tuning out; the marker is in
# the build named by $marked only, which shows that the copy changed what it should.
sed "${untune//SDK_COPY/$work/sdk}" guest-sdks/js/build.mjs > "$untuned"
if [ "$TUNING" = calls ]; then
  cp -r guest-sdks/js/src "$work/sdk"
  # `runnable` before 2026-12-05: an async function, so every run returns a promise.
  cat > "$work/sdk/runnable.js" <<'EOF'
import { log } from 'karman:runnable/log@0.1.0';
import { RunError, capabilityErrorOf } from './errors.js';
import { toBytes, typeOf } from './text.js';

export function runnable(handler) {
  return async function run(input) {
    try {
      return toBytes(await handler(input), 'the output of run');
    } catch (error) {
      if (error instanceof RunError) throw error;
      const capabilityError = capabilityErrorOf(error);
      if (capabilityError) throw RunError.fromCapabilityError(capabilityError);
      log('error', `run threw ${error}${error?.stack ? `\n${error.stack}` : ''}`);
      const name = typeof error?.name === 'string' ? error.name : typeOf(error);
      throw new RunError(500, `unhandled ${name}`);
    }
  };
}
EOF
fi
node guest-sdks/js/build.mjs "$entry" -o "$work/with.wasm"
node "$untuned" "$entry" -o "$work/without.wasm"
other=$([ "$marked" = with ] && echo without || echo with)
grep -qaE "$marker" "$work/$marked.wasm" && ! grep -qaE "$marker" "$work/$other.wasm" \
  || { echo "the two builds do not differ in their $TUNING" >&2; exit 1; }

targets=(with with-warm without without-warm)
{
  echo "identifier: bench.js-tuning"
  echo "appVersion: v1"
  echo "components:"
  for build in with without; do
    echo "  - { name: $build, source: $work/$build.wasm, limits: { memory: 256MiB } }"
    echo "  - { name: $build-warm, source: $work/$build.wasm, limits: { memory: 256MiB }, reuse: { maxUses: 1000000, poolSize: 64 } }"
  done
  echo "handlers:"
  for target in "${targets[@]}"; do
    echo "  - { type: request, method: GET, resource: /$target/:id, steps: [ { fn: $target } ] }"
  done
} > "$work/Directive.yaml"

KARMAN_LOG=warn target/release/karman serve "$work/Directive.yaml" --listen "127.0.0.1:$PORT" \
  --cache-dir "$work/cache" > "$work/karman.log" 2>&1 & pid=$!
wait_for "http://127.0.0.1:$PORT/with/7?$query" 240
for target in "${targets[@]}"; do
  got=$(curl -s "http://127.0.0.1:$PORT/$target/7?$query")
  [[ "$got" == "$answer"* ]] || { echo "unexpected answer from $target: $got" >&2; exit 1; }
done

cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
ticks=$(getconf CLK_TCK)
echo "$TUNING: $entry, wrk -t1 -c1 ${DURATION}s per target on $(nproc) cores, $ROUNDS interleaved rounds"
for round in $(seq 1 "$ROUNDS"); do
  for target in "${targets[@]}"; do
    before=$(cpu)
    load "$target" "http://127.0.0.1:$PORT/$target/7?$query" 1 1
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
echo "with / without the $TUNING tuning, p50 with reuse: $(ratio "$(median with-warm 2)" "$(median without-warm 2)")x," \
  "fresh: $(ratio "$(median with 2)" "$(median without 2)")x"
