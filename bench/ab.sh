#!/usr/bin/env bash
# A/B of two karman binaries on the hello app, side by side with native hyper: both serve at
# once, and wrk loads each in turn (ROUNDS rounds of DURATION seconds, wrk -t2 -c32). Prints
# the median req/s and the server's CPU time per request (user + kernel, from /proc) of each.
#
#   cp target/release/karman /tmp/karman-before     # then change, rebuild, and:
#   bench/ab.sh /tmp/karman-before target/release/karman
#   ROUNDS=5 PATHS="/warm/bench" bench/ab.sh OLD NEW
#
# Paths: /hello/bench (a fresh instance per request), /three/bench (three steps),
# /warm/bench and /warm3/bench (`reuse:`): bench/lib.sh's hello_app. The guests and
# native-hello come from `build` (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

[ $# -eq 2 ] || { echo "usage: bench/ab.sh KARMAN_A KARMAN_B" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
read -r -a paths <<<"${PATHS:-/hello/bench /warm/bench}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
build

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

hello_app "$work/Directive.yaml"

declare -A port=([A]=18111 [B]=18112 [native]=18113) pid
KARMAN_LOG=warn "$A" serve "$work/Directive.yaml" --listen "127.0.0.1:${port[A]}" \
  --cache-dir "$work/cache-a" > "$work/a.log" 2>&1 & pids+=($!); pid[A]=$!
KARMAN_LOG=warn "$B" serve "$work/Directive.yaml" --listen "127.0.0.1:${port[B]}" \
  --cache-dir "$work/cache-b" > "$work/b.log" 2>&1 & pids+=($!); pid[B]=$!
target/release/native-hello "127.0.0.1:${port[native]}" & pids+=($!); pid[native]=$!
for target in A B native; do
  url="http://127.0.0.1:${port[$target]}/hello/bench"
  wait_for "$url"
  [ "$(curl -s "$url")" = "Hello, bench!" ] || { echo "$target does not answer on $url" >&2; exit 1; }
done

# CPU ticks (user + kernel) of a process.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "A: $A"
echo "B: $B"
echo "wrk -t2 -c32 -d${DURATION}s on $(nproc) cores, $ROUNDS interleaved rounds"
for round in $(seq 1 "$ROUNDS"); do
  for path in "${paths[@]}"; do
    for target in A B native; do
      # native-hello answers every path with the hello; it is loaded on the first one only.
      [ "$target" = native ] && [ "$path" != "${paths[0]}" ] && continue
      before=$(ticks "${pid[$target]}")
      out=$(wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:${port[$target]}$path")
      after=$(ticks "${pid[$target]}")
      awk -v t0="$before" -v t1="$after" -v hz="$hz" '
        /Requests\/sec/ { rps = $2 } / requests in / { n = $1 }
        END { printf "%s %.2f\n", rps, (t1 - t0) / hz * 1e6 / n }' <<<"$out" \
        >> "$work/$target${path//\//_}"
    done
  done
  echo "round $round done"
done

echo
printf '%-8s %-16s %12s %20s\n' target path "req/s" "CPU µs/request"
for path in "${paths[@]}"; do
  for target in A B native; do
    file="$target${path//\//_}"
    [ -f "$work/$file" ] || continue
    printf '%-8s %-16s %12.0f %20.2f\n' "$target" "$path" "$(median "$file" 1)" "$(median "$file" 2)"
  done
  printf '%-8s %-16s %11sx\n' "B/A" "$path" "$(ratio "$(median "B${path//\//_}" 1)" "$(median "A${path//\//_}" 1)")"
done
