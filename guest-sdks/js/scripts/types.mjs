#!/usr/bin/env node
/**
 * Regenerates `types/`: TypeScript declarations of the raw `karman:runnable/*@0.1.0` modules
 * (what componentize-js binds), from the WIT package: by default the package's `wit/`, the
 * copy of the repository's `wit/`. Run after changing (and copying) `wit/`:
 *
 *     npm run types [-- <wit-dir>]
 *
 * `jco types` cannot do it: the preview2-shim its bindgen runs on (0.26+) preopens no
 * directory and the WIT read fails with "os error 44", so this calls the jco-transpile API on
 * a shim given a preopen of "/".
 */
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wit = resolve(process.argv[2] ?? join(SDK_DIR, 'wit'));
const outDir = join(SDK_DIR, 'types/');

const fromJco = createRequire(import.meta.resolve('@bytecodealliance/jco'));
const transpilePath = fromJco.resolve('@bytecodealliance/jco-transpile');
const shim = createRequire(transpilePath).resolve('@bytecodealliance/preview2-shim/filesystem');
const { _setPreopens } = await import(pathToFileURL(shim));
_setPreopens({ '/': '/' });

const { generateGuestTypes, writeFiles } = await import(pathToFileURL(transpilePath));
const files = await generateGuestTypes(wit, { worldName: 'karman:runnable/runnable', outDir });
await rm(outDir, { recursive: true, force: true });
await writeFiles(files, false);
console.log(`wrote ${Object.keys(files).length} files to ${outDir}`);
