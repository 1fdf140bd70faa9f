# Shell helpers the bench scripts share (sourced, not run). Each script sets `work` (a
# temporary directory) before calling `load`, `median` or `report`.

# build: the release binaries and the guests, unless SKIP_BUILD is set (bench/all.sh builds
# once for every part).
build() {
  [ -n "${SKIP_BUILD:-}" ] && return 0
  echo "==> building (release) and the guests"
  ./scripts/build-guests
  cargo build --quiet --release -p karman -p karman-bench --bins
}

# hello_app <file>: writes the hello app the HTTP comparisons serve: the hello Runnable fresh
# (/hello/:name, three steps at /three/:name) and with `reuse:` (/warm/:name, /warm3/:name).
hello_app() {
  local guests=$PWD/target/wasm32-wasip2/guest
  cat > "$1" <<YAML
identifier: bench.hello
appVersion: v1
components:
  - { name: hello, source: $guests/hello.wasm }
  - { name: hello-warm, source: $guests/hello.wasm, reuse: { maxUses: 1000000, poolSize: 64 } }
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
}

# wait_for <url> [seconds]: polls until the url answers (30 s at most, or <seconds>: a server
# compiling JavaScript and Python components takes longer), then stops the script.
wait_for() {
  for _ in $(seq 1 $(( ${2:-30} * 10 ))); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "$1 did not come up" >&2; exit 1
}

# load <label> <url> <connections> <threads>: one wrk run of DURATION seconds; appends
# "req/s p50-ms p99-ms" to $work/<label>. Any non-2xx answer or socket error stops the script.
load() {
  local out errors
  out=$(wrk -t"$4" -c"$3" -d"${DURATION}s" --latency "$2")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  if [ -n "$errors" ]; then echo "errors while loading $2: $errors" >&2; exit 1; fi
  awk '/Requests\/sec/ { rps=$2 }
       function ms(v) { if (v ~ /us$/) { sub(/us$/,"",v); return v/1000 }
                        if (v ~ /ms$/) { sub(/ms$/,"",v); return v+0 }
                        sub(/s$/,"",v); return v*1000 }
       $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
       END { print rps, p50, p99 }' <<<"$out" >> "$work/$1"
}

# median <label> <column>: the median over the runs of column 1 (req/s), 2 (p50) or 3 (p99)
median() { awk -v c="$2" '{ print $c }' "$work/$1" | sort -g | awk '{ v[NR]=$1 } END { print v[int((NR+1)/2)] }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# report <"measure|result|target">…: prints each line, and appends it to $RESULTS if set.
report() {
  local line measure result target
  for line in "$@"; do
    IFS='|' read -r measure result target <<<"$line"
    printf '%-62s %-22s (target %s)\n' "$measure" "$result" "$target"
    if [ -n "${RESULTS:-}" ]; then echo "$line" >> "$RESULTS"; fi
  done
}
