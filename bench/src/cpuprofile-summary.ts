/**
 * Summarise a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self
 * time, and their share of the profile.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/src/decode-bench.ts --only v9 --no-baseline
 *   npx tsx bench/src/cpuprofile-summary.ts /tmp/prof/CPU.*.cpuprofile [--top 15] [--under run@decode-bench]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { Command, InvalidArgumentError } from 'commander';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const program = new Command()
  .name('cpuprofile-summary')
  .argument('<files...>', '.cpuprofile files')
  .option('--top <n>', 'functions to list', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
    return n;
  }, 15)
  .option('--under <function>', 'only samples with this function (name or name@file) on the stack, e.g. run@decode-bench (the timed loop)')
  .parse();

const { top, under } = program.opts<{ top: number; under?: string }>();

for (const file of program.args) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const [underName, underFile] = (under ?? '').split('@');
  const isUnder = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)?.callFrame;
      if (f && f.functionName === underName && (!underFile || f.url.includes(underFile))) return true;
    }
    return false;
  };
  const self = new Map<string, number>();
  let total = 0;
  for (let k = 0; k < p.samples.length; k++) {
    const n = byId.get(p.samples[k]);
    if (!n || (under !== undefined && !isUnder(n.id))) continue;
    const dt = p.timeDeltas[k] ?? 0;
    const f = n.callFrame;
    const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  process.stdout.write(`${basename(file)}: ${(total / 1000).toFixed(0)} ms sampled${under ? ` under ${under}()` : ''}\n`);
  for (const [key, us] of rows) process.stdout.write(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}\n`);
}
