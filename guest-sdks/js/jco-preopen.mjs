/**
 * Lets the jco CLI read WIT files: preload it into the `jco` process,
 *
 *     NODE_OPTIONS="--import @karman/sdk/jco-preopen" npx jco componentize app.js --wit wit …
 *
 * jco 1.35 reads the WIT through WASI components run on preview2-shim 0.26, which preopens no
 * directory, so `jco componentize --wit <dir>` fails with "failed to get path metadata: No such
 * file or directory (os error 44)" whatever the path. This module preopens "/" on each shim
 * instance that jco and the componentize-js it runs resolve, before jco starts.
 *
 * It acts only on the main thread of a process whose main script belongs to
 * @bytecodealliance/jco (NODE_OPTIONS also reaches npm's own process and every worker thread,
 * which it leaves alone), and only on a shim with no preopen.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const JCO = '@bytecodealliance/jco';
/** The packages of jco that read files through their own preview2-shim. */
const SHIM_USERS = [
  JCO,
  '@bytecodealliance/jco-transpile',
  '@bytecodealliance/componentize-js',
  '@bytecodealliance/componentize-js-0-19-3',
];

// NODE_OPTIONS preloads this into every worker thread too, where loading the shims again makes
// a build several times slower: the preopens matter on the main thread only.
const jcoDir =
  isMainThread && process.argv[1] && enclosingPackage(realpathSync(process.argv[1]), JCO);
if (jcoDir) {
  for (const name of SHIM_USERS) {
    const dir = name === JCO ? jcoDir : installedPackage(jcoDir, name);
    if (dir) await preopenRoot(dir);
  }
}

/** The directory of package `name` that holds `file`, if any. */
function enclosingPackage(file, name) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === name) return dir;
      } catch {
        // not a package manifest we can read: keep going up
      }
    }
  }
  return undefined;
}

/** Where Node finds package `name` from `fromDir` (as `node_modules` lookup does). */
function installedPackage(fromDir, name) {
  for (let dir = fromDir; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  return undefined;
}

/** Preopens "/" on the preview2-shim that the package in `dir` imports, if it has none. */
async function preopenRoot(dir) {
  let shim;
  try {
    shim = createRequire(join(dir, 'package.json')).resolve(
      '@bytecodealliance/preview2-shim/filesystem',
    );
  } catch {
    return; // this package resolves no shim: nothing to preopen
  }
  const { _getPreopens, _addPreopen } = await import(pathToFileURL(shim));
  if (_getPreopens && _addPreopen && _getPreopens().length === 0) _addPreopen('/', '/');
}
