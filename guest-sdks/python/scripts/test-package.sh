#!/usr/bin/env bash
# Tests karman-sdk as a user gets it: builds the wheel, installs it into a fresh virtual
# environment outside the repository (componentize-py comes from PyPI), builds a Runnable there
# with the `karman-py-build` console script and no file of the repository, and checks the
# wheel's contents and metadata, the component, and that nothing installed refers back to the
# repository. Fails non-zero, naming the problem, on the first thing that is wrong.
#
#   guest-sdks/python/scripts/test-package.sh      # from any directory
#   KEEP_DIR=1 guest-sdks/python/scripts/test-package.sh   # keep the temp directory
#
# The wheel is built from a copy of the SDK (in the temp directory), so the repository gets no
# build/ or *.egg-info and a stale build/ cannot slip files into the wheel; the copy gets
# __pycache__ directories on purpose, which the wheel must leave out.
# $PYTHON (default python3, 3.10 or later) builds the wheel and the environment.
set -euo pipefail
sdk="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$sdk/../.." && pwd)"
python="${PYTHON:-python3}"
LC_NUMERIC=C # a decimal point in $EPOCHREALTIME, for the timings
version=0.1.0
wheel_name="karman_sdk-$version-py3-none-any.whl"
dist_info="karman_sdk-$version.dist-info"

fail() {
  echo "test-package: FAILED: $*" >&2
  exit 1
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/karman-sdk-package.XXXXXX")"
case "$tmp" in "$repo"/*) fail "the temp directory $tmp is inside the repository $repo" ;; esac
cleanup() {
  if [ -n "${KEEP_DIR:-}" ]; then
    echo "test-package: kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

since() { awk -v from="$1" -v to="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", to - from }'; }
started=$EPOCHREALTIME
step() { # <title>: ends the previous step (printing its time) and starts the next
  [ -n "${step_title:-}" ] && echo "    $step_title: $(since "$step_started")"
  step_title="$1"
  step_started=$EPOCHREALTIME
  [ -n "$1" ] && echo "==> $1"
  return 0
}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null ||
  fail "$python must be Python 3.10 or later (set \$PYTHON)"

step "pip wheel (a copy of $sdk)"
mkdir "$tmp/src"
tar -C "$sdk" --exclude=./build --exclude='./*.egg-info' --exclude=__pycache__ -cf - . |
  tar -C "$tmp/src" -xf -
"$python" -m compileall -q "$tmp/src/karman_sdk" >/dev/null
[ -d "$tmp/src/karman_sdk/__pycache__" ] || fail "compileall made no __pycache__ in the copy"
"$python" -m pip wheel --quiet --no-deps -w "$tmp/dist" "$tmp/src" ||
  fail "pip wheel could not build $sdk"
[ -f "$tmp/dist/$wheel_name" ] || fail "no $wheel_name in $tmp/dist: $(ls "$tmp/dist")"

step "the wheel's files and metadata"
"$python" - "$tmp/dist/$wheel_name" "$tmp/src" "$version" <<'EOF' || fail "the wheel is wrong (above)"
import sys
import zipfile
from pathlib import Path

wheel, src, version = zipfile.ZipFile(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
dist_info = f"karman_sdk-{version}.dist-info"
problems = []
names = set(wheel.namelist())


def member(name: str) -> str:
    """A file of the wheel as text, or "" (and a problem) when it is missing."""
    if name not in names:
        problems.append(f"the wheel has no {name}")
        return ""
    return wheel.read(name).decode()


package = src / "karman_sdk"
expected = {f"karman_sdk/{p.name}" for p in package.glob("*.py")} | {"karman_sdk/py.typed"}
expected |= {f"karman_sdk/{p.relative_to(package).as_posix()}" for p in package.rglob("*.wit")}
if not any(name.startswith("karman_sdk/wit/deps/") for name in expected):
    problems.append(f"no wit/deps/*.wit in {package}/wit (copy the repository's wit/ there)")
package_files = {name for name in names if not name.startswith(dist_info + "/")}
for name in sorted(expected - package_files):
    problems.append(f"missing from the wheel: {name}")
for name in sorted(package_files - expected):
    problems.append(f"in the wheel but not expected: {name}")
for name in sorted(expected & package_files):
    if wheel.read(name) != (src / name).read_bytes():
        problems.append(f"{name} in the wheel differs from the source")

metadata = member(f"{dist_info}/METADATA")
headers = metadata.split("\n\n", 1)[0].splitlines()
for line in (
    "Name: karman-sdk",
    f"Version: {version}",
    "License-Expression: Apache-2.0",
    "License-File: LICENSE",
    "Requires-Dist: componentize-py==0.25.1",
    "Requires-Python: >=3.10",
):
    if line not in headers:
        problems.append(f"METADATA lacks `{line}`")
if any(line.startswith("License:") for line in headers):
    problems.append("METADATA has a legacy License: field beside License-Expression")
if "Apache License" not in member(f"{dist_info}/licenses/LICENSE"):
    problems.append(f"{dist_info}/licenses/LICENSE is not the Apache License")
entry_points = member(f"{dist_info}/entry_points.txt").split()
if entry_points[:4] != ["[console_scripts]", "karman-py-build", "=", "karman_sdk.build:main"]:
    problems.append(f"entry_points.txt is {entry_points}, not the karman-py-build console script")

for problem in problems:
    print(f"  {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

step "a fresh venv outside the repository, pip install the wheel"
"$python" -m venv "$tmp/venv"
venv="$tmp/venv"
# No PYTHONPATH from the caller (it might point into the repository).
unset PYTHONPATH
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$tmp/dist/$wheel_name" ||
  fail "pip install $wheel_name failed"
[ -x "$venv/bin/karman-py-build" ] || fail "pip installed no karman-py-build console script"
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
[ -f "$site/karman_sdk/wit/runnable.wit" ] || fail "no karman_sdk/wit/runnable.wit in $site"
help="$(COLUMNS=1000 "$venv/bin/karman-py-build" --help)"
grep -qF "$site/karman_sdk/wit" <<<"$help" ||
  fail "karman-py-build --help names no default WIT inside the venv ($site/karman_sdk/wit): $help"

step "nothing installed refers to the repository"
if grep -rlF -e "$repo" "$site/karman_sdk" "$site/$dist_info" "$venv/bin/karman-py-build"; then
  fail "the files above (installed) name the repository path $repo"
fi
if grep -rlF --include='*.py' -e "guest-sdks" -e "../wit" "$site/karman_sdk"; then
  fail "the modules above (installed) refer to the repository's layout"
fi

step "karman-py-build: a Runnable with several capabilities"
mkdir "$tmp/app"
cat >"$tmp/app/greeting.py" <<'EOF'
"""A module next to app.py: the build finds it in the app's directory."""


def greeting(name: str, visits: int) -> str:
    return f"Hello, {name}! (visit {visits})"
EOF
cat >"$tmp/app/app.py" <<'EOF'
from greeting import greeting

from karman_sdk import RunError, cache, log, req, resp, runnable, sql


@runnable
def run(input: bytes) -> str:
    name = req.url_param("name") or "world"
    if len(input) > 1024:
        raise RunError(413, "the input is too large")
    visits = int(cache.get(f"seen:{name}") or 0) + 1
    cache.set(f"seen:{name}", str(visits), ttl_ms=86_400_000)
    with sql.begin() as tx:
        tx.execute("record-visit", [name, visits])
        tx.commit()
    log.info(f"{name}: visit {visits}")
    resp.set_header("x-visits", str(visits))
    return greeting(name, visits)
EOF
(cd "$tmp/app" && "$venv/bin/karman-py-build" app.py -o build/app.wasm) ||
  fail "karman-py-build could not build $tmp/app/app.py"

step "the result is a karman:runnable component"
"$python" - "$tmp/app/build/app.wasm" <<'EOF' || fail "the component is wrong (above)"
import sys

data = open(sys.argv[1], "rb").read()
problems = []
# The binary format's preamble: magic, then version 0x0d and layer 1 (a component, not a module).
if data[:8] != b"\0asm\x0d\x00\x01\x00":
    problems.append(f"it does not start with the component preamble: {data[:8].hex(' ')}")
for interface in ("req", "resp", "cache", "sql", "log"):
    name = f"karman:runnable/{interface}@0.1.0".encode()
    if name not in data:
        problems.append(f"it does not import {name.decode()}")
if len(data) < 1 << 20:
    problems.append(f"it is {len(data)} bytes, too small to hold CPython")
for problem in problems:
    print(f"  {problem}", file=sys.stderr)
if not problems:
    print(f"    {sys.argv[1]}: {len(data) / 2**20:.1f} MiB, a component importing karman:runnable")
sys.exit(1 if problems else 0)
EOF

step "karman-py-build names a missing app"
if out="$(cd "$tmp/app" && "$venv/bin/karman-py-build" missing.py -o build/x.wasm 2>&1)"; then
  fail "karman-py-build succeeded on a missing app.py"
fi
grep -qF "no such file: missing.py" <<<"$out" || fail "karman-py-build said, for a missing app: $out"

step ""
echo "test-package: passed in $(since "$started")"
