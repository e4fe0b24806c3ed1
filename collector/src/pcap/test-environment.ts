/**
 * What the pcap tests can use on this machine: external tools (tshark, softflowd) and the
 * shared conformance captures. Tests that need one skip, saying why, when it is missing.
 * Used only by the *.test.ts files beside it.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of an executable, or null. Looks in PATH and then the sbin directories,
 * which a non-root PATH often lacks although softflowd installs there.
 */
export function findExecutable(name: string): string | null {
  const directories = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const directory of directories) {
    if (directory === '') continue;
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return null;
}

/**
 * The shared data folder: $FLOWBILL_SHARED_DIR, else `shared/` beside the repository
 * checkout (where CI puts its copy), else /work/shared. Null when none exists.
 */
export function findSharedDirectory(): string | null {
  const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
  const candidates = [process.env.FLOWBILL_SHARED_DIR, resolve(repositoryRoot, '../shared'), '/work/shared'];
  for (const candidate of candidates) {
    if (candidate && existsSync(join(candidate, 'conformance'))) return candidate;
  }
  return null;
}

/** Print once why a group of tests is skipped, so a green run does not hide missing coverage. */
export function announceSkip(what: string, why: string): string {
  const message = `skipped: ${what} (${why})`;
  console.warn(`[pcap tests] ${message}`);
  return ` [${message}]`;
}
