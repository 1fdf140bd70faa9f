#!/usr/bin/env bash
# Creates or updates the virtual environment that builds Python guests (target/python-venv,
# relative to the repository root, or the directory given as $1) with the componentize-py
# version guest-sdks/python/pyproject.toml pins. Quick and silent when it is already in place.
# Called by scripts/build-guests before `python -m karman_sdk.build …`.
set -euo pipefail
sdk="$(cd "$(dirname "$0")/.." && pwd)"
cd "$sdk/../.."
venv="${1:-target/python-venv}"
version="$(sed -n 's/.*"componentize-py==\([^"]*\)".*/\1/p' "$sdk/pyproject.toml")"

if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "ensure-venv: Python guests need python3 >= 3.10 (with its venv module) to build" >&2
    exit 1
  fi
  echo "==> python3 -m venv $venv"
  python3 -m venv "$venv"
fi
installed="$("$venv/bin/python" -c \
  'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)"
if [ "$installed" != "$version" ]; then
  echo "==> $venv: pip install componentize-py==$version"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$version"
fi
