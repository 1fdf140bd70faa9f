#!/usr/bin/env python3
"""A/B of two karman binaries on the conformance Runnables (case `params`) in each language.

Both binaries serve the same app at once (a fresh instance per request at /<lang>/:id, with
`reuse:` at /<lang>-warm/:id); wrk loads each path of each binary in turn (`wrk -t1 -c1`,
ROUNDS rounds of DURATION seconds). Prints, per path and binary, the medians of req/s, p50,
the server's CPU time per request (user + kernel) and its minor page faults per request (both
from /proc/<pid>/stat). Everything listens on 127.0.0.1 and stops when the script ends.

    cp target/release/karman /tmp/karman-before     # then change, rebuild, and:
    bench/ab-languages.py /tmp/karman-before target/release/karman
    ROUNDS=5 PATHS="/js/7 /rust/7" bench/ab-languages.py OLD NEW

The guests come from scripts/build-guests (target/wasm32-wasip2/guest).
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUESTS = os.path.join(ROOT, "target", "wasm32-wasip2", "guest")
LANGUAGES = ["rust", "js", "python"]
FIRST_PORT = 18091


def directive() -> str:
    lines = ["identifier: bench.ab-languages", "appVersion: v1", "components:"]
    for lang in LANGUAGES:
        source = f"{GUESTS}/conformance_{lang}.wasm"
        lines.append(f"  - {{ name: {lang}, source: {source}, limits: {{ memory: 256MiB }} }}")
        lines.append(
            f"  - {{ name: {lang}-warm, source: {source}, limits: {{ memory: 256MiB }}, "
            "reuse: { maxUses: 1000000, poolSize: 64 } }"
        )
    lines.append("handlers:")
    for lang in LANGUAGES:
        for name in (lang, f"{lang}-warm"):
            lines.append(
                f"  - {{ type: request, method: GET, resource: /{name}/:id, steps: [ {{ fn: {name} }} ] }}"
            )
    return "\n".join(lines) + "\n"


def faults_and_cpu_ticks(pid: int) -> tuple[int, int]:
    """Minor faults and user + system clock ticks of `pid` (fields 10, 14 and 15 of stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[7]), int(fields[11]) + int(fields[12])


def wrk(url: str, duration: str) -> tuple[int, float, float]:
    """Requests, req/s and p50 in µs of one `wrk -t1 -c1` run; fails on a non-2xx answer."""
    out = subprocess.run(
        ["wrk", "-t1", "-c1", f"-d{duration}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in out:
        sys.exit(f"{url} answered errors:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out).groups()
    return requests, rps, float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: bench/ab-languages.py KARMAN_A KARMAN_B")
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    binaries = [os.path.realpath(b) for b in sys.argv[1:3]]
    rounds = int(os.environ.get("ROUNDS", "3"))
    duration = os.environ.get("DURATION", "3")
    paths = os.environ.get("PATHS", "/rust/7 /js/7 /js-warm/7 /python/7 /python-warm/7").split()

    work = tempfile.mkdtemp()
    servers = []
    try:
        with open(f"{work}/Directive.yaml", "w") as file:
            file.write(directive())
        for i, binary in enumerate(binaries):
            log = open(f"{work}/karman-{i}.log", "w")
            servers.append(subprocess.Popen(
                [binary, "serve", f"{work}/Directive.yaml", "--listen",
                 f"127.0.0.1:{FIRST_PORT + i}", "--cache-dir", f"{work}/cache-{i}"],
                stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, KARMAN_LOG="warn"),
            ))
        for i in range(len(servers)):
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{FIRST_PORT + i}/rust/1?case=params").read()
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                sys.exit(f"{binaries[i]} did not start: see {work}/karman-{i}.log")

        tick = os.sysconf("SC_CLK_TCK")
        samples: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
        for round_ in range(1, rounds + 1):
            for path in paths:
                for i, server in enumerate(servers):
                    faults, ticks = faults_and_cpu_ticks(server.pid)
                    url = f"http://127.0.0.1:{FIRST_PORT + i}{path}?case=params"
                    requests, rps, p50 = wrk(url, duration)
                    faults_after, ticks_after = faults_and_cpu_ticks(server.pid)
                    cpu_us = (ticks_after - ticks) * 1e6 / tick / requests
                    samples.setdefault((path, i), []).append(
                        (rps, p50, cpu_us, (faults_after - faults) / requests))
            print(f"round {round_} done", flush=True)

        print(f"{'path':16} {'binary':8} {'req/s':>8} {'p50 µs':>8} {'CPU µs/req':>11} {'faults/req':>11}")
        for path in paths:
            for i, name in enumerate(["A", "B"]):
                rps, p50, cpu, faults = (statistics.median(s[k] for s in samples[(path, i)]) for k in range(4))
                print(f"{path:16} {name:8} {rps:8.0f} {p50:8.0f} {cpu:11.0f} {faults:11.1f}")
            a, b = (statistics.median(s[1] for s in samples[(path, i)]) for i in range(2))
            print(f"{path:16} {'B/A p50':8} {b / a:8.2f}x")
    finally:
        for server in servers:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
