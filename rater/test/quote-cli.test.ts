import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runQuote, type QuoteIo } from '../src/cli/quote-command.js';
import type { RatingResult } from '../src/rating/rate-period.js';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
const example = (name: string) => `${examples}${name}`;

/** Runs the command against real example files plus any in-memory files, capturing its output. */
async function quote(args: string[], inMemoryFiles: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: QuoteIo = {
    readTextFile: async (path) => inMemoryFiles[path] ?? readFile(path, 'utf8'),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  };
  const exitCode = await runQuote(args, io);
  return { exitCode, stdout, stderr };
}

describe('quote CLI', () => {
  it('prices the metered example: 10 GB included, night and local free, per started MB beyond', async () => {
    const { exitCode, stdout, stderr } = await quote(['--tariff', example('metered.tariff.json'), '--usage', example('usage.json'), '--period', '2026-03']);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout) as RatingResult;
    const internet = result.lines.find((line) => line.id === 's0/usage/internet');
    // 24 590 000 123 bytes of day traffic → 24 591 started MB; 10 000 included; 10 000 × 0.015 + 4 591 × 0.010.
    expect(internet).toMatchObject({ quantity: '14591', amount: '195.91', usage: { measuredUnits: '24591', includedUnits: '10000' } });
    expect(internet?.tiers?.map((tier) => [tier.units, tier.unitPrice, tier.amount])).toEqual([
      ['10000', '0.015', '150.00'],
      ['4591', '0.01', '45.91'],
    ]);
    expect(result.totals).toEqual({ net: '413.26', tax: '82.65', gross: '495.91' });
  });

  it('quotes a partial period with --start/--end and a promo code', async () => {
    const { exitCode, stdout } = await quote([
      '--tariff', example('metered.tariff.json'),
      '--usage', example('usage.json'),
      '--period', '2026-03',
      '--start', '2026-03-10',
      '--end', '2026-03-20T00:00',
      '--promo', 'SPRING26',
    ]);
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout) as RatingResult;
    // 10 of 31 days: fee 300 × 10/31 = 96.77 (300 − round(300 × 21/31 = 203.225…)); half off: −48.39.
    // Day traffic on the 15th: 4 490 MB; allowance 10 000 × 10/31 = 3 225.8… rounded up to 3 226 MB; 1 264 MB × 0.015 = 18.96.
    // Minimum 300 prorated to 96.77; 96.77 − 48.39 + 18.96 = 67.34, so the top-up is 29.43.
    expect(result.lines.filter((line) => line.chargeId !== 'local' && line.chargeId !== 'night').map((line) => [line.id, line.amount])).toEqual([
      ['s0/recurring/internet', '96.77'],
      ['s0/usage/internet', '18.96'],
      ['s0/discount/spring', '-48.39'],
      ['s0/minimum-charge', '29.43'],
    ]);
    expect(result.lines.find((line) => line.id === 's0/usage/internet')?.usage).toMatchObject({ measuredUnits: '4490', includedUnits: '3226', billableUnits: '1264' });
    expect(result.totals.gross).toBe('96.77');
    expect(result.segments[0]).toMatchObject({ start: '2026-03-10T00:00:00.000+03:00', end: '2026-03-20T00:00:00.000+03:00' });
  });

  it('takes a subscription file with a plan change and a catalogue of tariff versions', async () => {
    const { exitCode, stdout } = await quote([
      '--tariff', example('plans.tariffs.json'),
      '--usage', example('usage.json'),
      '--period', '2026-03',
      '--subscription', example('plan-change.subscription.json'),
    ]);
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout) as RatingResult;
    expect(result.lines.filter((line) => line.kind === 'recurring').map((line) => [line.tariff.id, line.amount])).toEqual([
      ['basic', '45.16'],
      ['premium', '109.68'],
    ]);
  });

  it('reports schema errors with their paths and exits non-zero', async () => {
    const badTariff = JSON.stringify({ id: 'x', version: 1, name: 'X', recurringFees: [{ id: 'fee', name: 'Fee', price: 500 }] });
    const { exitCode, stdout, stderr } = await quote(['--tariff', 'bad.json', '--usage', example('usage.json'), '--period', '2026-03'], { 'bad.json': badTariff });
    expect(exitCode).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('quote: --tariff bad.json is invalid:');
    expect(stderr).toContain('recurringFees[0].price: must be a decimal string');
  });

  it.each([
    [['--usage', 'u.json', '--period', '2026-03'], /required option '--tariff <file>' not specified/],
    [['--tariff', 't.json', '--usage', 'u.json', '--period', 'March'], /--period must be "YYYY-MM"/],
    [['--tariff', 't.json', '--usage', 'u.json', '--period', '2026-03', '--tz', 'Mars/Olympus'], /--tz "Mars\/Olympus" is not an IANA time zone/],
    [['--tariff', 'missing.json', '--usage', 'u.json', '--period', '2026-03'], /cannot read --tariff file missing.json/],
    [['--tariff', 'broken.json', '--usage', 'u.json', '--period', '2026-03'], /--tariff file broken.json is not valid JSON/],
    [['--tariff', 't.json', '--usage', 'u.json', '--period', '2026-03', '--start', '2026-03-20', '--end', '2026-03-10'], /--end must be after --start/],
    [['--tariff', 'two.json', '--usage', 'u.json', '--period', '2026-03'], /--tariff holds 2 tariffs; pass --subscription/],
  ])('fails clearly for %j', async (args, message) => {
    const files = {
      't.json': JSON.stringify({ id: 't', version: 1, name: 'T' }),
      'two.json': JSON.stringify([{ id: 't', version: 1, name: 'T' }, { id: 't', version: 2, name: 'T2' }]),
      'u.json': '[]',
      'broken.json': '{ "id": ',
    };
    const { exitCode, stderr } = await quote(args, files);
    expect(exitCode).not.toBe(0);
    expect(stderr).toMatch(message);
  });
});

describe('quote entry point', () => {
  const raterRoot = fileURLToPath(new URL('..', import.meta.url));
  const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
  const run = promisify(execFile);

  it('runs under tsx, prints JSON and exits 0', async () => {
    const { stdout } = await run(tsx, ['src/cli/quote.ts', '--tariff', 'examples/home-internet.tariff.json', '--usage', 'examples/usage.json', '--period', '2026-03'], { cwd: raterRoot });
    expect((JSON.parse(stdout) as RatingResult).totals).toEqual({ net: '666.67', tax: '133.33', gross: '800.00' });
  });

  it('exits non-zero with the message on stderr for bad input', async () => {
    await expect(run(tsx, ['src/cli/quote.ts', '--tariff', 'examples/usage.json', '--usage', 'examples/usage.json', '--period', '2026-03'], { cwd: raterRoot })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('quote: --tariff examples/usage.json is invalid:'),
    });
  });
});
