#!/usr/bin/env bash
# Installs the JavaScript SDK's build dependencies (componentize-js, esbuild, …) as
# package-lock.json pins them, when guest-sdks/js/node_modules is missing or was installed from
# another package.json or package-lock.json. Called by scripts/build-guests before
# `node guest-sdks/js/build.mjs …`.
#
# Not `npm ci`: it refuses this lock file, which lacks some optional platform packages of
# jco's dependencies (rolldown, componentize-qjs and jco-node-fs builds for other systems) that
# the registry does not have at the pinned versions. `npm install --no-save` installs the
# locked versions and leaves both files untouched.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "ensure-deps: $tool not found; JavaScript guests need Node.js >= 20 and npm" >&2
    exit 1
  fi
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "ensure-deps: Node.js $(node --version) is too old; JavaScript guests need Node.js >= 20" >&2
  exit 1
fi

stamp=node_modules/.karman-deps.sha256
wanted="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi
echo "==> npm install (guest-sdks/js)"
npm install --no-save --no-audit --no-fund --loglevel=error
echo "$wanted" >"$stamp"
