#!/usr/bin/env bash
# Tests @karman/sdk as a user gets it: `npm pack`, then, in empty projects outside the
# repository, nothing but the tarball and the npm registry.
#
#   1. The tarball holds the SDK, the build helper and the WIT (wit/runnable.wit, wit/deps/).
#   2. A project that installs only the tarball (for the types) gets no other package, and
#      `karman-js-build` there fails naming the `npm install --save-dev` line of the build tools.
#   3. A project as `karman new --lang js` writes it (the SDK and the build tools,
#      componentize-js, preview2-shim and esbuild, as dev dependencies) builds app.js with
#      `npx karman-js-build`.
#   4. No file of the project (package.json, package-lock.json, node_modules/@karman/sdk)
#      names the repository.
#   5. With jco added to the project: componentize-js still loads; the component of step 3
#      imports exactly the karman:runnable interfaces app.js calls, and its bindings do not
#      log their calls into the host (the jco build below does); the same app, bundled by
#      esbuild, builds with `npx jco componentize` against the package's wit/ (the files
#      `karman wit --out wit` writes) and the @karman/sdk/jco-preopen preload that jco 1.35
#      needs to read them.
#
# Usage: bash guest-sdks/js/scripts/test-package.sh   (from any directory)
#   KEEP_DIR=<dir>  work in <dir> (created if missing; it must be empty and outside the
#                   repository) and leave it there; by default a temporary directory, removed.
# Needs Node.js >= 20 and npm, and the npm registry (or a warm ~/.npm cache). Exits non-zero
# on any failure.
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$SDK_DIR/../.." && pwd)"
NPM_FLAGS=(--no-audit --no-fund --loglevel=error --prefer-offline)
export npm_config_update_notifier=false

fail() {
  echo "test-package: FAIL: $*" >&2
  exit 1
}

for tool in node npm; do
  command -v "$tool" >/dev/null || fail "$tool not found: install Node.js >= 20 with npm"
done

# The tool versions, from the SDK's package.json: the peers a project installs, and jco.
version_of() {
  # shellcheck disable=SC2016 # the $ and backquotes are JavaScript's
  node -e '
    const pkg = require(process.argv[1]);
    const name = process.argv[2];
    const v = (pkg.peerDependencies ?? {})[name] ?? (pkg.devDependencies ?? {})[name];
    if (!v) { console.error(`${name}: not in ${process.argv[1]}`); process.exit(1); }
    console.log(v);' "$SDK_DIR/package.json" "$1"
}
COMPONENTIZE_JS="$(version_of @bytecodealliance/componentize-js)"
PREVIEW2_SHIM="$(version_of @bytecodealliance/preview2-shim)"
ESBUILD="$(version_of esbuild)"
JCO="$(version_of @bytecodealliance/jco)"
BUILD_TOOLS="@bytecodealliance/componentize-js@$COMPONENTIZE_JS"
BUILD_TOOLS+=" @bytecodealliance/preview2-shim@$PREVIEW2_SHIM esbuild@$ESBUILD"

if [ -n "${KEEP_DIR:-}" ]; then
  mkdir -p "$KEEP_DIR"
  WORK="$(cd "$KEEP_DIR" && pwd)"
  case "$WORK/" in "$REPO_DIR"/*) fail "KEEP_DIR=$KEEP_DIR is inside the repository $REPO_DIR" ;; esac
  [ -z "$(ls -A "$WORK")" ] || fail "KEEP_DIR=$KEEP_DIR is not empty"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/karman-js-package.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
fi
case "$WORK/" in "$REPO_DIR"/*) fail "the work directory $WORK is inside the repository" ;; esac

STARTED=$SECONDS
step_started=$SECONDS
step() {
  echo "test-package: $* (+$((SECONDS - step_started)) s)"
  step_started=$SECONDS
}

# Checks a component: `check_component <file.wasm> <karman interfaces, comma-separated>`. Its
# world must import exactly those karman:runnable interfaces, export `run`, and import no WASI
# interface of a disabled feature (stdout/stdin, HTTP, files, sockets). Run in a project: it
# uses the project's @bytecodealliance/jco (its JavaScript API, no extra install).
check_component() {
  node --input-type=module - "$1" "$2" <<'EOF'
import { componentWit, metadataShow } from '@bytecodealliance/jco';
import { readFile } from 'node:fs/promises';

const [file, wanted] = process.argv.slice(2);
const fail = (message) => {
  console.error(`test-package: FAIL: ${file}: ${message}`);
  process.exit(1);
};
const bytes = await readFile(file);
const [root] = await metadataShow(bytes).catch((error) =>
  fail(`not WebAssembly: ${error.message.split('\n')[0]}`),
);
if (root?.metaType?.tag !== 'component') fail(`not a component (${root?.metaType?.tag})`);
const wit = await componentWit(bytes);
const imports = [...wit.matchAll(/^\s*import ([\w:.\/@-]+);$/gm)].map(([, name]) => name);
const karman = imports
  .filter((i) => i.startsWith('karman:runnable/'))
  .map((i) => i.match(/^karman:runnable\/([\w-]+)@0\.1\.0$/)?.[1] ?? fail(`odd import ${i}`));
const expected = wanted.split(',');
const same = karman.length === expected.length && expected.every((i) => karman.includes(i));
if (!same) {
  fail(`imports karman:runnable/{${karman.sort()}}, expected {${expected.sort()}}\n${wit}`);
}
const disabled = imports.filter((i) =>
  /^wasi:(http|filesystem|sockets)\/|^wasi:cli\/(stdout|stdin)@/.test(i),
);
if (disabled.length > 0) fail(`imports WASI interfaces of disabled features: ${disabled}`);
if (!/^\s*export run: func\(input: list<u8>\) -> result<list<u8>, run-error>;$/m.test(wit)) {
  fail(`exports no run function of the runnable world\n${wit}`);
}
const size = (bytes.length / 2 ** 20).toFixed(1);
const wasi = imports.length - karman.length;
console.log(`test-package: ${file}: a component of ${size} MiB importing ${karman.sort()} and ${wasi} WASI interfaces`);
EOF
}

echo "test-package: work directory $WORK"

# 1. The tarball.
pack_json="$(cd "$SDK_DIR" && npm pack --json --pack-destination "$WORK" "${NPM_FLAGS[@]}")"
TARBALL="$(node -e 'console.log(JSON.parse(process.argv[1])[0].filename)' "$pack_json")"
[ -f "$WORK/$TARBALL" ] || fail "npm pack wrote no $WORK/$TARBALL"
# shellcheck disable=SC2016 # the $ and backquotes are JavaScript's
node -e '
  const files = JSON.parse(process.argv[1])[0].files.map((f) => f.path);
  const need = ["package.json", "README.md", "build.mjs", "jco-preopen.mjs", "index.d.ts",
    "src/index.js", "types/runnable.d.ts", "wit/runnable.wit", "wit/deps/http.wit",
    "wit/deps/io.wit"];
  const missing = need.filter((f) => !files.includes(f));
  const stray = files.filter((f) => /^(node_modules|scripts)\/|^package-lock\.json$/.test(f));
  if (missing.length || stray.length) {
    console.error(`test-package: FAIL: the tarball lacks [${missing}] or holds [${stray}]`);
    process.exit(1);
  }' "$pack_json"
step "npm pack: $TARBALL"

# 2. A project that imports @karman/sdk for its types only.
mkdir "$WORK/types-only"
cd "$WORK/types-only"
echo '{ "name": "types-only", "private": true, "type": "module" }' >package.json
npm install --save-dev "../$TARBALL" "${NPM_FLAGS[@]}"
installed="$(npm ls --all --parseable | sed "s|^$PWD/\?||" | grep -v '^$' || true)"
[ "$installed" = "node_modules/@karman/sdk" ] ||
  fail "installing only the tarball brought more than @karman/sdk:"$'\n'"$installed"
echo "export const run = () => 'hi';" >app.js
if npx --no-install karman-js-build app.js -o build/app.wasm 2>missing.err; then
  fail "karman-js-build succeeded without the build tools"
fi
wanted_advice="npm install --save-dev $BUILD_TOOLS"
grep -qF "$wanted_advice" missing.err ||
  fail "karman-js-build without the build tools did not say \`$wanted_advice\`:"$'\n'"$(cat missing.err)"
step "types-only project: only @karman/sdk installed; karman-js-build asks for the build tools"

# 3. A project as `karman new --lang js` writes it (the SDK from the tarball, not the registry).
mkdir "$WORK/app"
cd "$WORK/app"
cat >package.json <<EOF
{
  "name": "greet",
  "private": true,
  "type": "module",
  "main": "app.js",
  "scripts": { "build": "karman-js-build app.js -o build/app.wasm" },
  "devDependencies": {
    "@karman/sdk": "file:../$TARBALL",
    "@bytecodealliance/componentize-js": "$COMPONENTIZE_JS",
    "@bytecodealliance/preview2-shim": "$PREVIEW2_SHIM",
    "esbuild": "$ESBUILD"
  }
}
EOF
cat >app.js <<'EOF'
import { RunError, log, req, resp, runnable } from '@karman/sdk';

export const run = runnable((input) => {
  if (input.length > 1024) throw new RunError(413, 'the input is too large');
  const name = req.urlParam('name') ?? 'world';
  log.info(`greeting ${name}`);
  resp.setHeader('content-type', 'text/plain; charset=utf-8');
  resp.setStatus(201);
  return `Hello, ${name}!`;
});
EOF
npm install "${NPM_FLAGS[@]}"
step "app project: npm install ($BUILD_TOOLS)"

npx --no-install karman-js-build app.js -o build/app.wasm
step "npx karman-js-build app.js -o build/app.wasm"

# 4. Nothing in the project points back into the repository.
[ ! -L node_modules/@karman/sdk ] || fail "node_modules/@karman/sdk is a link, not an install"
if grep -rlF "$REPO_DIR" package.json package-lock.json node_modules/@karman/sdk; then
  fail "the files above name the repository $REPO_DIR"
fi
step "no project file names $REPO_DIR"

# 5. The jco route, with the WIT `karman wit --out wit` writes (the package's copy). jco's
#    JavaScript API checks both components.
npm install --save-dev "@bytecodealliance/jco@$JCO" "${NPM_FLAGS[@]}"
step "npm install --save-dev @bytecodealliance/jco@$JCO"
# componentize-js imports preview2-shim without declaring it: without the project's own
# devDependency, adding jco prunes the hoisted copy and karman-js-build stops working.
node --input-type=module -e "await import('@bytecodealliance/componentize-js')" ||
  fail "with jco added, componentize-js no longer loads"
# runnable() logs a failure through `log`; `types` comes with the run-error.
check_component build/app.wasm req,resp,log,types
# The bindings are tuned (see tuneBindings in build.mjs): their debug logging is gone from this
# build (the count of removed calls the build leaves in the snapshot is at least 1, and the text
# of the logging's first argument is not there, where the snapshot stores the bindings' text
# uncompressed), their string arguments are lowered in one pass, their data view reads one
# getter and `run` is awaited only for a promise (each count at least 1), and the built-in
# classes were resolved before the snapshot (the string RESOLVE_BUILTINS leaves in it, with
# the number of globals read). The jco route below has the logging and none of these strings,
# which shows that each search finds what it looks for when it is there.
DEBUG_LOG='[Instruction::CallWasm] enter'
RESOLVED_BUILTINS='karman-js-build: [0-9]+ globals resolved before the snapshot'
tuned() { # <what the build says, with N for the count>
  local said
  said=$(grep -aoE "karman-js-build: ${1/N/[0-9]+}" build/app.wasm | head -1 | grep -oE '[0-9]+') ||
    fail "build/app.wasm does not say it $1"
  [ "$said" -ge 1 ] || fail "karman-js-build $1 with N = 0 in build/app.wasm's bindings"
}
tuned 'removed N debug log calls'
tuned 'lowered N string arguments in one pass'
tuned 'tuned N data view'
tuned 'awaited N run only for a promise'
! grep -qF "$DEBUG_LOG" build/app.wasm || fail "build/app.wasm still logs its calls into the host"
grep -qaE "$RESOLVED_BUILTINS" build/app.wasm ||
  fail "build/app.wasm does not resolve the built-in classes before its snapshot"
step "checked build/app.wasm"

cp -r node_modules/@karman/sdk/wit wit
npx --no-install esbuild app.js --bundle --format=esm --platform=browser \
  '--external:karman:*' --outfile=build/app.bundle.js --log-level=warning
step "npx esbuild app.js --bundle … --outfile=build/app.bundle.js"

# Without the preload, jco 1.35 cannot read the WIT (see jco-preopen.mjs).
if npx --no-install jco componentize build/app.bundle.js --wit wit \
  --world-name karman:runnable/runnable --disable stdio http fetch-event \
  --out build/app-jco-plain.wasm >jco-plain.log 2>&1; then
  echo "test-package: note: jco $JCO now reads the WIT without @karman/sdk/jco-preopen"
elif ! grep -q 'os error 44' jco-plain.log; then
  fail "jco componentize without the preload failed otherwise than expected:"$'\n'"$(cat jco-plain.log)"
fi
step "jco componentize without the preload: $(grep -o 'os error 44' jco-plain.log || echo 'built')"

NODE_OPTIONS="--import @karman/sdk/jco-preopen" npx --no-install jco componentize \
  build/app.bundle.js --wit wit --world-name karman:runnable/runnable \
  --disable stdio http fetch-event --out build/app-jco.wasm
step "NODE_OPTIONS='--import @karman/sdk/jco-preopen' npx jco componentize …"
# jco does not narrow the world: the component imports every interface the package's
# `world runnable` imports, plus `types` for the run-error.
world_imports=$(sed -n '/^world runnable {/,/^}/s/^ *import \([a-z-]*\);$/\1/p' wit/runnable.wit | paste -sd,)
[ -n "$world_imports" ] || fail "no imports found in the package's wit/runnable.wit world"
check_component build/app-jco.wasm "$world_imports,types"
grep -qF "$DEBUG_LOG" build/app-jco.wasm || fail "build/app-jco.wasm has no debug logging to find"
! grep -qaF "karman-js-build: " build/app-jco.wasm ||
  fail "build/app-jco.wasm, built by jco alone, has karman-js-build's code"
step "checked build/app-jco.wasm"

echo "test-package: ok in $((SECONDS - STARTED)) s${KEEP_DIR:+ (the projects are in $WORK)}"
