/**
 * Runs test/jobs/fixtures/worker-process.ts as a separate Node process (through tsx),
 * so a test can SIGKILL a worker in the middle of a job exactly as a crash would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './job-stack.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));
/** The repository root, where tsx is installed. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface ChildWorker {
  readonly pid: number;
  /** stderr so far (shown when the child misbehaves). */
  output(): string;
  /** Resolves once the child paused part-way through a job (see worker-process.ts). */
  waitPaused(timeoutMs?: number): Promise<void>;
  /** SIGKILL, and wait for the process to be gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful) and wait for the exit. */
  stop(): Promise<void>;
}

export interface SignalDir {
  readonly path: string;
  /** Let every paused child go on. */
  release(): void;
  remove(): void;
}

export function createSignalDir(): SignalDir {
  const dir = mkdtempSync(path.join(tmpdir(), 'flowbill-jobs-'));
  return {
    path: dir,
    release: () => writeFileSync(path.join(dir, 'release'), ''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function spawnWorker(env: Record<string, string>, signalDir: SignalDir): Promise<ChildWorker> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, ...env, SIGNAL_DIR: signalDir.path },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the worker process');
  const marker = (name: string) => path.join(signalDir.path, `${name}-${pid}`);
  const waitFor = async (name: string, timeoutMs: number): Promise<void> => {
    await eventually(() => {
      if (exited) throw new Error(`worker ${pid} exited before ${name}: ${stderr}`);
      return existsSync(marker(name));
    }, `worker ${pid} ${name}`, timeoutMs);
  };
  await waitFor('ready', 30_000);
  return {
    pid,
    output: () => stderr,
    waitPaused: (timeoutMs = 15_000) => waitFor('paused', timeoutMs),
    async kill9() {
      child.kill('SIGKILL');
      await exit;
    },
    async stop() {
      child.kill('SIGTERM');
      await exit;
    },
  };
}
