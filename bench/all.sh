#!/usr/bin/env bash
# Every comparison of bench/ in one go, then one table of the results against their targets:
#   bench/http.sh        HTTP against native hyper (and `wasmtime serve` when installed)
#   bench/languages.sh   the conformance Runnable in Rust, JavaScript and Python
#   stream-throughput    core NATS, JetStream and Kafka against raw client loops
#   startup              ten components to the first answer, cold and warm cache
#   bench/memory.sh      RSS with 1,000 requests in flight, and over a soak
#
#   scripts/services && bench/all.sh            # about 20 minutes on 2 cores (10 of them the soak)
#   SOAK=60 ROUNDS=1 bench/all.sh               # a quick look
#
# Each part keeps its own knobs (DURATION, ROUNDS, MESSAGES, SOAK, …; see each script). Needs the
# services of scripts/services (NATS with JetStream) and wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
echo "==> building (release) and the guests"
./scripts/build-guests
cargo build --quiet --release -p karman -p karman-bench --bins
export SKIP_BUILD=1

RESULTS=$(mktemp)
export RESULTS
# The table, also of the parts that ran when one fails.
table() {
  local status=$?
  echo
  echo "## bench/all.sh, $(date -u +%Y-%m-%d), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  [ "$status" -eq 0 ] || echo "(stopped early: a part failed, exit status $status)"
  echo
  echo "| measure | result | target |"
  echo "|---------|--------|--------|"
  while IFS='|' read -r measure result target; do
    echo "| $measure | $result | $target |"
  done < "$RESULTS"
  rm -f "$RESULTS"
}
trap table EXIT

part() { # <name> <command…>: runs a part and prints how long it took
  local started=$SECONDS
  echo
  echo "==> $1"
  "${@:2}"
  echo "==> $1: $((SECONDS - started)) s"
}
part "HTTP" bench/http.sh
part "languages" bench/languages.sh
part "streams" target/release/stream-throughput
part "start-up" target/release/startup
part "memory" bench/memory.sh

