/**
 * Start a worker thread whose entry is a TypeScript module, the same way whether the process
 * runs as `node --import tsx ...` (the services) or under vitest (which transforms TS
 * itself, but a Worker is a fresh isolate with neither).
 *
 * Why not `execArgv: ['--import', 'tsx']`: on Node 20 (checked on 20.20) a worker does not
 * apply the hooks that `--import` registers to its own entry module, inherited or passed
 * explicitly: "Unknown file extension .ts". What works is registering tsx in the worker
 * (tsx/esm/api `register()`, which uses module.register in that thread) and only then
 * importing the entry: a two-line ESM bootstrap, given as a data: URL so there is no extra
 * file. A `.js` entry (a build of these sources) is started directly.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

let tsxApi: string | undefined;

/** File URL of tsx's ESM API (`tsx/esm/api`, import condition), resolved from this package. */
export function tsxEsmApiUrl(): string {
  if (tsxApi !== undefined) return tsxApi;
  // Through tsx's package.json "exports", found with require.resolve from this file: the same
  // answer under node and under vitest, without relying on import.meta.resolve.
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('tsx/package.json');
  } catch {
    throw new Error('tsx is needed to run the receive thread from TypeScript sources (it is a dev dependency of the workspace); install it or set COLLECTOR_RECEIVE_THREAD=false');
  }
  const exportsMap = (JSON.parse(readFileSync(packageJson, 'utf8')) as { exports?: Record<string, unknown> }).exports ?? {};
  const entry = exportsMap['./esm/api'] as { import?: { default?: string } | string } | undefined;
  const target = typeof entry?.import === 'string' ? entry.import : entry?.import?.default;
  if (typeof target !== 'string') throw new Error(`${packageJson} has no "./esm/api" import export; is tsx 4 installed?`);
  tsxApi = pathToFileURL(path.resolve(path.dirname(packageJson), target)).href;
  return tsxApi;
}

/** `new Worker(entry, options)`, registering tsx in the worker first when `entry` is a .ts file. */
export function startWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const bootstrap = `import { register } from ${JSON.stringify(tsxEsmApiUrl())};\nregister();\nawait import(${JSON.stringify(entry.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), options);
}
