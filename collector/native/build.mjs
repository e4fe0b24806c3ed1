#!/usr/bin/env node
/**
 * Builds collector/native/udp_batch.c into build/udp_batch.node (the batched UDP receiver
 * of the collector's receive thread; see the C file for why).
 *
 *   node collector/native/build.mjs [--required] [--quiet]
 *
 * No node-gyp: the module uses only Node-API, so it compiles with the system C compiler
 * against the headers of the npm package node-api-headers, and Node resolves the napi_*
 * symbols when it loads the module. Runs from `pnpm install` (the root postinstall) and
 * from the setup scripts. Rebuilds only when the source is newer than the module.
 *
 * Without a C compiler it says so and exits 0 (the collector then receives with
 * node:dgram, COLLECTOR_RECEIVER=auto); with --required it exits 1 instead (CI, setup).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(here, 'udp_batch.c');
const outDir = path.join(here, 'build');
const output = path.join(outDir, 'udp_batch.node');
const required = process.argv.includes('--required');
const quiet = process.argv.includes('--quiet');

function say(line) {
  if (!quiet) console.log(`native receiver: ${line}`);
}

function fail(line) {
  const text = `native receiver: ${line}`;
  if (required) {
    console.error(text);
    process.exit(1);
  }
  console.warn(`${text}\n  the collector will receive with node:dgram instead (slower); install a C compiler (apt-get install gcc libc6-dev) and run: node collector/native/build.mjs`);
  process.exit(0);
}

if (process.platform !== 'linux') fail(`not built: recvmmsg is Linux-only (this is ${process.platform})`);

if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs && statSync(output).mtimeMs >= statSync(fileURLToPath(import.meta.url)).mtimeMs) {
  say(`up to date (${path.relative(process.cwd(), output)})`);
  process.exit(0);
}

let includeDir;
try {
  includeDir = createRequire(path.join(here, '..', 'package.json'))('node-api-headers').include_dir;
} catch (e) {
  fail(`not built: the npm package node-api-headers is missing (run pnpm install first): ${e.message}`);
}

const compiler = process.env.CC || 'cc';
mkdirSync(outDir, { recursive: true });
const partial = `${output}.${process.pid}.tmp`;
try {
  execFileSync(compiler, ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-fvisibility=hidden', '-I', includeDir, '-o', partial, source], { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (e) {
  fail(`not built: ${compiler} failed (${e.code === 'ENOENT' ? 'no C compiler found' : e.message.split('\n')[0]})`);
}
// Rename into place: a collector starting meanwhile never loads a half-written module.
renameSync(partial, output);
say(`built ${path.relative(process.cwd(), output)}`);
