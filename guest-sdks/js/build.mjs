#!/usr/bin/env node
/**
 * karman-js-build: builds a Karman Runnable (a component of the `karman:runnable/runnable`
 * world) from a JavaScript module.
 *
 *     node build.mjs <entry.js> -o <out.wasm> [--wit <dir>] [--world <name>]
 *
 * 1. esbuild bundles the entry and what it imports (`@karman/sdk` resolves to this SDK) into
 *    one ES module, since componentize-js takes a single source file; the interfaces of the
 *    world (`karman:*`, and a team's `acme:pricing/calc@0.1.0` in a world of its own) stay
 *    imports.
 * 2. The world is narrowed to the interfaces the bundle imports, so the component imports only
 *    the capabilities it calls, as a Rust Runnable does (Karman warns about an imported
 *    capability the Directive does not grant).
 * 3. componentize-js (StarlingMonkey) builds the component without its stdio and HTTP
 *    features (see `DISABLED_FEATURES`): `console.log` writes nowhere and there is no `fetch`;
 *    clocks and randomness come from the host. The bindings it generates are tuned on the
 *    way (see `tuneBindings`): without their debug logging, with cheaper string lowering and
 *    `run` awaited only for a promise, and with the engine's built-in classes made before the
 *    snapshot rather than in every fresh instance.
 *
 * `--world` builds a world other than `karman:runnable/runnable`, declared in the root package
 * of `--wit` (a project's own world, e.g. one that includes `karman:runnable/runnable` and
 * imports a team's interface; `karman build` passes it for a project with a `wit/` folder);
 * step 2 then narrows the `karman:runnable` package found in the root's `deps/`.
 *
 * The WIT defaults to the package's own `wit/` (a copy of the repository's `wit/`, the files
 * `karman wit --out DIR` writes). The build tools, componentize-js, esbuild and the
 * preview2-shim componentize-js imports without declaring it, are optional peer dependencies:
 * a project that builds Runnables installs them beside `@karman/sdk`
 * (`npm install --save-dev`, the versions in `peerDependencies`); in a Karman checkout,
 * `scripts/ensure-deps.sh` installs them as package-lock.json pins them.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const SDK_DIR = dirname(fileURLToPath(import.meta.url));
const DEFAULT_WIT = join(SDK_DIR, 'wit');
const WORLD = 'runnable';
const USAGE = `usage: karman-js-build <entry.js> -o <out.wasm> [--wit <dir>] [--world <name>]

Builds a Karman Runnable from a JavaScript module.
  -o, --out <file>   the component to write (its directory is created)
  --wit <dir>        the WIT package karman:runnable: runnable.wit and deps/, as
                     \`karman wit --out DIR\` writes it (default: ${DEFAULT_WIT})
  --world <name>     a world of the root package of --wit to build instead of
                     karman:runnable/runnable (with karman:runnable in its deps/)`;

/**
 * The WASI features componentize-js 0.23 leaves out: a Runnable has no stdio, and reaches HTTP
 * through the `http` capability. Clocks and random stay: the host provides them (as to a Rust
 * guest), so `Date.now()`, `Math.random()` and `crypto.randomUUID()` differ per run.
 */
const DISABLED_FEATURES = ['stdio', 'http', 'fetch-event'];

class BuildError extends Error {}

async function main() {
  const { entry, out, wit, world } = parseCommandLine();
  const started = performance.now();
  const [esbuild, { componentize }] = await Promise.all([
    dependency('esbuild'),
    dependency('@bytecodealliance/componentize-js'),
  ]);
  await preopenRoot();

  const work = await mkdtemp(join(tmpdir(), 'karman-js-build-'));
  try {
    const { source, imports } = await bundle(esbuild, entry);
    const sourcePath = join(work, 'runnable.js');
    await writeFile(sourcePath, source);
    const witPath = join(work, 'wit');
    const version = await narrowWorld(wit, witPath, imports);

    let component;
    try {
      ({ component } = await withTunedBindings(() =>
        componentize({
          sourcePath,
          witPath,
          worldName: world ?? `karman:runnable/${WORLD}`,
          disableFeatures: DISABLED_FEATURES,
        }),
      ));
    } catch (error) {
      throw new BuildError(`componentize-js failed: ${error.message}`);
    }

    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, component);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const names = [...imports].map((i) => i.slice('karman:runnable/'.length, -version.length - 1));
    const shown = relative(process.cwd(), out);
    console.log(
      `${shown.startsWith('..') ? out : shown}: ${mebibytes(component.length)} in ${seconds} s` +
        ` (imports: ${names.join(', ') || 'none'})`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function parseCommandLine() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        wit: { type: 'string', default: DEFAULT_WIT },
        world: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new BuildError(`${error.message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1 || !values.out) throw new BuildError(USAGE);
  const entry = resolve(positionals[0]);
  const wit = resolve(values.wit);
  if (!existsSync(entry)) throw new BuildError(`${entry}: no such file`);
  if (values.world === undefined && !existsSync(join(wit, 'runnable.wit'))) {
    throw new BuildError(
      `${wit}/runnable.wit not found: pass --wit <dir>, a folder with runnable.wit and deps/ ` +
        '(`karman wit --out <dir>` writes one)',
    );
  }
  return { entry, out: resolve(values.out), wit, world: values.world };
}

/**
 * Imports a build tool (a peer dependency of the SDK); when it is missing, names the command
 * that installs the build tools: `npm install --save-dev` in a project, `ensure-deps.sh` in a
 * Karman checkout.
 */
async function dependency(name) {
  try {
    return await import(name);
  } catch (error) {
    // componentize-js imports preview2-shim without declaring it: a missing shim shows here too.
    const missing =
      error.code === 'ERR_MODULE_NOT_FOUND' && error.message.match(/package '([^']+)'/)?.[1];
    if (!missing || !(missing in peerDependencies())) throw error;
    throw new BuildError(`${missing} is not installed: ${installAdvice()}`);
  }
}

/** The build tools and their pinned versions: the SDK's (optional) peer dependencies. */
function peerDependencies() {
  return JSON.parse(readFileSync(join(SDK_DIR, 'package.json'), 'utf8')).peerDependencies;
}

function installAdvice() {
  const tools = Object.entries(peerDependencies()).map(([name, version]) => `${name}@${version}`);
  const install = `npm install --save-dev ${tools.join(' ')}`;
  if (SDK_DIR.split(sep).includes('node_modules')) {
    return `the build needs ${tools.join(', ')}; in your project run\n  ${install}`;
  }
  return (
    `run ${join(SDK_DIR, 'scripts/ensure-deps.sh')} ` +
    `(it installs the build tools in ${SDK_DIR}), or \`${install}\` in your project`
  );
}

/**
 * componentize-js reads the WIT through a WASI component run by the preview2-shim it imports;
 * the shim must preopen "/" (0.25 does by default, 0.26+ preopens nothing and the read fails
 * with "os error 44"). Preopen it on the shim instance componentize-js itself resolves.
 */
async function preopenRoot() {
  const require = createRequire(import.meta.resolve('@bytecodealliance/componentize-js'));
  const shim = require.resolve('@bytecodealliance/preview2-shim/filesystem');
  const { _getPreopens, _addPreopen } = await import(pathToFileURL(shim));
  if (_getPreopens().length === 0) _addPreopen('/', '/');
}

/**
 * Runs `build` with the bindings componentize-js 0.23 generates (jco's) tuned before they are
 * snapshotted: componentize-js writes them to `initializer.js`, and `fs/promises.writeFile` is
 * wrapped for the time of the build (this process does nothing else). See `tuneBindings`.
 */
async function withTunedBindings(build) {
  const fs = createRequire(import.meta.url)('node:fs/promises');
  const { writeFile: original } = fs;
  fs.writeFile = (path, data, ...rest) =>
    original(
      path,
      String(path).endsWith('initializer.js') && typeof data === 'string'
        ? tuneBindings(data)
        : data,
      ...rest,
    );
  syncBuiltinESMExports();
  try {
    return await build();
  } finally {
    fs.writeFile = original;
    syncBuiltinESMExports();
  }
}

/**
 * The bindings, with changes that make a Runnable cheaper to run (StarlingMonkey interprets
 * them: every statement of a call into the host costs):
 *
 * - Without their debug logging. They log every call into the host and back:
 *   `_debugLog('[Instruction::CallWasm] enter', { funcName, paramCount, … })`. `_debugLog`
 *   returns at once unless `process.env.JCO_DEBUG` is set, which it never is inside a
 *   component, but StarlingMonkey interprets its arguments first: two object literals per
 *   call, about a quarter of what a call costs (bench/js-tuning.sh debug-logs). The log of an
 *   error path, whose arguments are of another shape, stays.
 * - String arguments lowered in one pass (`LOWER_UTF8`), `dataView` reading one getter
 *   (`DATA_VIEW`), and `run`'s output awaited only when it is a promise (`AWAIT_RUN`); see
 *   there (bench/js-tuning.sh calls).
 * - Followed by `RESOLVE_BUILTINS`, which runs when the bindings are evaluated, before the
 *   snapshot (see there).
 *
 * With bindings of another shape a change finds nothing to change and its count in the
 * statement the build leaves in the snapshot (`tunedCounts`) says 0, which test-package.sh
 * refuses.
 */
function tuneBindings(source) {
  const removed = source.match(DEBUG_LOG_CALL)?.length ?? 0;
  const lowered = source.match(STRING_LOWERING)?.length ?? 0;
  const views = source.includes(DATA_VIEW.generated) ? 1 : 0;
  const awaits = source.match(AWAIT_RUN)?.length ?? 0;
  return (
    source
      .replaceAll(DEBUG_LOG_CALL, '')
      .replaceAll(
        STRING_LOWERING,
        (_, arg, indent, ptr, len) =>
          `var ${ptr} = _karmanLowerUtf8(${arg});\n${indent}var ${len} = _karmanLoweredLen;`,
      )
      .replace(DATA_VIEW.generated, DATA_VIEW.tuned)
      .replaceAll(AWAIT_RUN, awaitOnlyPromises) +
    (lowered > 0 ? LOWER_UTF8 : '') +
    tunedCounts({ removed, lowered, views, awaits }) +
    RESOLVE_BUILTINS
  );
}

/**
 * Statements that leave, in the bindings' global, properties whose names say how many of each
 * change were made: test-package.sh finds them in the snapshot, which shows the changes
 * happened even where the bindings' text is stored compressed (so that the absence of the
 * logging's text alone would prove nothing).
 */
function tunedCounts({ removed, lowered, views, awaits }) {
  return [
    `removed ${removed} debug log calls`,
    `lowered ${lowered} string arguments in one pass`,
    `tuned ${views} data view`,
    `awaited ${awaits} run only for a promise`,
  ]
    .map((what) => `\nglobalThis['karman-js-build: ${what}'] = true;`)
    .join('') + '\n';
}

/** A statement `_debugLog('…');` or `_debugLog('…', { flat object literal });`. */
const DEBUG_LOG_CALL = /^[ \t]*_debugLog\('[^'\n]*'(?:, \{[^{}]*\})?\);\n/gm;

/**
 * How the bindings lower a string argument: `_utf8AllocateAndEncode` counts the string's UTF-8
 * bytes character by character in JavaScript, allocates them, encodes into them, and returns
 * an object of three fields, of which the call uses two.
 */
const STRING_LOWERING =
  /var encodeRes = _utf8AllocateAndEncode\((\w+), \$realloc, \$memory\);\n(\s*)var (ptr\d+)= encodeRes\.ptr;\n\s*var (len\d+) = encodeRes\.len;/g;

/**
 * The lowering that replaces it: a string of up to 1,024 UTF-16 units is encoded once into an
 * allocation of three bytes per unit (the most one takes in UTF-8; a surrogate pair, two units,
 * takes four), and the call passes the length written. The allocation lives as long as the
 * exact one would (componentize-js frees the allocations of a call into the Runnable when it
 * returns), and the host reads only the bytes written. A longer string, and a value that is not
 * a string (to fail as before), go the generated way, so no allocation is more than 3 KiB
 * larger than needed. A lone surrogate is written as U+FFFD, in three bytes, as before. About
 * 1.6 µs less per string argument (bench/js-tuning.sh calls).
 */
const LOWER_UTF8 = `
let _karmanLoweredLen = 0;
function _karmanLowerUtf8(s) {
  if (typeof s !== 'string' || s.length > 1024) {
    const { ptr, len } = _utf8AllocateAndEncode(s, $realloc, $memory);
    _karmanLoweredLen = len;
    return ptr;
  }
  if (s.length === 0) {
    _karmanLoweredLen = 0;
    return 1;
  }
  const capacity = s.length * 3;
  const ptr = $realloc(0, 0, 1, capacity);
  const out = new Uint8Array($memory.buffer, ptr, capacity);
  _karmanLoweredLen = TEXT_ENCODER_UTF8.encodeInto(s, out).written;
  return ptr;
}
`;

/**
 * The view of the Runnable's memory every lifting and lowering goes through: the generated
 * one reads two getters per use (the view's buffer and the memory's); the tuned one keeps the
 * buffer it made the view of, and makes a new view only when the memory gives another buffer
 * (after it grew).
 */
const DATA_VIEW = {
  generated:
    'const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);',
  tuned: [
    'let dvBuffer = dv.buffer;',
    'const dataView = (mem) => {',
    '  const buffer = mem.buffer;',
    '  return buffer === dvBuffer ? dv : (dv = new DataView((dvBuffer = buffer)));',
    '};',
  ].join('\n'),
};

/**
 * `export_run` awaits what `run` returns. componentize-js needs the export to return a promise
 * (it is an async function and stays one), but an `await` of a value that is not a promise
 * still defers the rest of the call to a later turn of the job queue. The SDK's `runnable`
 * returns the output itself when the handler does, so the tuned call awaits only a thenable.
 */
const AWAIT_RUN = /const (hostRet\d+) = await run\((result\d+)\);/g;
function awaitOnlyPromises(_, ret, input) {
  return [
    `let ${ret} = run(${input});`,
    `if (${ret} !== null && typeof ${ret} === 'object' && typeof ${ret}.then === 'function') {`,
    `  ${ret} = await ${ret};`,
    `}`,
  ].join(' ');
}

/**
 * SpiderMonkey makes a global's built-in classes (`Promise`, `Uint8Array`, `Map`, …, with
 * their prototypes and methods) the first time a script names them. A Runnable runs in two
 * globals, the bindings' (which lift every call's arguments into a `Uint8Array` and wrap `run`
 * in an async function) and the bundle's (`contentGlobal`), and the snapshot componentize-js
 * takes had made only what the top level of each used. So every fresh instance made the rest
 * again: a quarter of a fresh JavaScript instance's time was
 * `js::GlobalObject::resolveConstructor`. Reading every property of both globals, and calling
 * an async function once (its intrinsics are no global's property), makes them all before the
 * snapshot; a fresh instance finds them there. Nothing of a request is involved: this runs
 * once, at build time, and before the Runnable's module is evaluated (componentize-js runs
 * the bindings first), so it reads only the engine's own globals: a getter the module defines
 * on `globalThis` is not called (checked by hand, 2026-12-04: a module counting the reads of
 * its own getter answered `reads=0`). It leaves a property in the bindings' global, which the
 * Runnable's code does not see, whose name says how many properties were read:
 * test-package.sh finds that name in the snapshot (the script's own text may be stored
 * compressed there).
 */
const RESOLVE_BUILTINS = `
{
  const globals = typeof contentGlobal === 'object' ? [globalThis, contentGlobal] : [globalThis];
  let read = 0;
  for (const global of globals) {
    for (const name of Object.getOwnPropertyNames(global)) {
      try {
        void global[name];
        read += 1;
      } catch {}
    }
  }
  (async () => {})();
  // A property name is stored as one string (a value built with \${} may stay in pieces).
  globalThis[\`karman-js-build: \${read} globals resolved before the snapshot\`] = true;
}
`;

/**
 * WIT interfaces (`namespace:package/interface`, with a version) are not files: the component
 * imports them, so they stay imports of the bundle.
 */
const witInterfaces = {
  name: 'wit-interfaces',
  setup(build) {
    build.onResolve({ filter: /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*\// }, ({ path }) => ({
      path,
      external: true,
    }));
  },
};

/** Bundles `entry` into one ES module; returns it and the `karman:*` modules it imports. */
async function bundle(esbuild, entry) {
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      plugins: [witInterfaces],
      alias: { '@karman/sdk': join(SDK_DIR, 'src/index.js') },
      outfile: 'runnable.js',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
  } catch (error) {
    const messages = await esbuild.formatMessages(error.errors ?? [], { kind: 'error' });
    throw new BuildError(`cannot bundle ${entry}:\n${messages.join('') || error.message}`);
  }
  const [output] = Object.values(result.metafile.outputs);
  const imports = new Set(
    output.imports.filter((i) => i.external && i.path.startsWith('karman:')).map((i) => i.path),
  );
  return { source: result.outputFiles[0].text, imports };
}

/**
 * Copies the WIT root `wit` to `dest` with the `runnable` world importing only the
 * interfaces in `imports` (each `karman:runnable/<name>@<version>`); returns the version. The
 * karman:runnable package is the root's `runnable.wit`, or, under a world of the project's own,
 * `deps/karman-runnable/runnable.wit`.
 */
async function narrowWorld(wit, dest, imports) {
  await cp(wit, dest, { recursive: true, dereference: true });
  const file = [join(dest, 'runnable.wit'), join(dest, 'deps/karman-runnable/runnable.wit')].find(
    (path) => existsSync(path) && /^package karman:runnable@/m.test(readFileSync(path, 'utf8')),
  );
  if (file === undefined) {
    if (imports.size > 0) {
      throw new BuildError(`${wit}: no karman:runnable package for the imports ${[...imports]}`);
    }
    return undefined;
  }
  const text = await readFile(file, 'utf8');
  const version = text.match(/^package karman:runnable@([^;\s]+);/m)?.[1];
  const world = text.match(new RegExp(`^world ${WORLD} \\{\\n[\\s\\S]*?^\\}`, 'm'));
  if (!version || !world) {
    throw new BuildError(`${file}: no package karman:runnable or world ${WORLD}`);
  }
  const declared = new Set(
    [...world[0].matchAll(/^\s*import ([\w-]+);$/gm)].map(([, name]) => name),
  );
  const wanted = new Set();
  for (const specifier of imports) {
    const [, name, at] = specifier.match(/^karman:runnable\/([\w-]+)(@.*)?$/) ?? [];
    if (at !== `@${version}`) {
      throw new BuildError(
        `import '${specifier}': import karman interfaces with their version, ` +
          `e.g. 'karman:runnable/${name ?? 'req'}@${version}'`,
      );
    }
    if (name !== 'types' && !declared.has(name)) {
      throw new BuildError(`import '${specifier}': the ${WORLD} world has no such import`);
    }
    wanted.add(name);
  }
  const narrowed = world[0].replace(/^\s*import ([\w-]+);\n/gm, (line, name) =>
    wanted.has(name) ? line : '',
  );
  await writeFile(file, text.replace(world[0], narrowed));
  return version;
}

function mebibytes(bytes) {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

main().catch((error) => {
  console.error(`karman-js-build: ${error instanceof BuildError ? error.message : error.stack}`);
  process.exit(1);
});
