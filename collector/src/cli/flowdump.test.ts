import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ipfixMessage, TYPICAL_IPFIX_IPV4_FIELDS, type FieldValue } from '../decoder/testing/message-builder.js';
import { announceSkip, findSharedDirectory } from '../pcap/test-environment.js';
import { runFlowdump } from './flowdump-command.js';

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await runFlowdump(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'flowdump-test-'));
const record = (bytes: bigint): FieldValue[] => ['10.0.0.1', '192.0.2.7', '0.0.0.0', 40000, 443, 6, 0, 0x18, 1, 2, bytes, 3n, 0, 0, 24, 16, 1_700_000_000_000n, 1_700_000_001_000n];
const template = ipfixMessage({ exportTime: 1_700_000_002, sequence: 0, observationDomain: 7 }, [{ kind: 'template', templates: [{ id: 400, fields: TYPICAL_IPFIX_IPV4_FIELDS }] }]);
const data = ipfixMessage({ exportTime: 1_700_000_002, sequence: 0, observationDomain: 7 }, [
  { kind: 'data', templateId: 400, fields: TYPICAL_IPFIX_IPV4_FIELDS, records: [record(1000n), record(2n ** 60n + 1n)] },
]);
const hex = (m: Uint8Array) => Buffer.from(m).toString('hex');

describe('flowdump', () => {
  it('prints one JSON object per record with the documented fields, exact above 2^53', async () => {
    const file = join(dir, 'two.hex');
    writeFileSync(file, `${hex(template)}\n${hex(data)}\n`);
    const { code, out } = await run([file]);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]);
    for (const key of ['version', 'exporter', 'observationDomain', 'srcAddr', 'dstAddr', 'srcPort', 'dstPort', 'protocol', 'bytes', 'packets', 'samplingRate', 'scaledBytes', 'scaledPackets', 'start', 'end', 'inputIf', 'outputIf']) {
      expect(first, key).toHaveProperty(key);
    }
    expect(first).toMatchObject({ version: 10, observationDomain: 7, srcAddr: '10.0.0.1', dstAddr: '192.0.2.7', srcPort: 40000, dstPort: 443, bytes: 1000, packets: 3, start: '2023-11-14T22:13:20.000Z' });
    // The second record's counter is written as exact digits, not a rounded double.
    expect(lines[1]).toContain(`"bytes":${2n ** 60n + 1n}`);
  });

  it('--summary totals, and template state carried from one file to the next', async () => {
    const a = join(dir, 'template.hex');
    const b = join(dir, 'data.hex');
    writeFileSync(a, hex(template));
    writeFileSync(b, hex(data));
    const { code, out } = await run(['--summary', a, b]);
    expect(code).toBe(0);
    expect(out.trim()).toBe(`{"records":2,"bytes":${1000n + 2n ** 60n + 1n},"packets":6,"scaledBytes":${1000n + 2n ** 60n + 1n},"scaledPackets":6,"errors":{}}`);
  });

  it('names errors on stderr, counts data that never found its template, and still exits 0', async () => {
    const file = join(dir, 'bad.hex');
    writeFileSync(file, `${hex(data)}\nffffffffffff\nzz\n`);
    const { code, out, err } = await run(['--summary', file]);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary.records).toBe(0);
    expect(summary.errors).toEqual({ 'unknown-version': 1, 'hex-invalid-line': 1, 'missing-template': 1 });
    expect(err).toContain('unknown-version');
    expect(err).toContain('never found their template');
  });

  it('--sampling-override scales counters', async () => {
    const file = join(dir, 'both.hex');
    writeFileSync(file, `${hex(template)}\n${hex(data)}\n`);
    const { out } = await run(['--summary', '--sampling-override', '0.0.0.0=100', file]);
    expect(JSON.parse(out).scaledPackets).toBe(600);
  });

  it('--state-out then --state-in decodes data without the template message', async () => {
    const a = join(dir, 'st-template.hex');
    const b = join(dir, 'st-data.hex');
    const state = join(dir, 'state.json');
    writeFileSync(a, hex(template));
    writeFileSync(b, hex(data));
    expect((await run(['--summary', '--state-out', state, a])).code).toBe(0);
    const { out } = await run(['--summary', '--state-in', state, '--template-timeout', '1e9', b]);
    expect(JSON.parse(out).records).toBe(2);
  });

  it('bad arguments and missing files: a message and a non-zero exit', async () => {
    expect((await run(['--sampling-override', 'nonsense', 'x'])).code).toBe(2);
    const missing = await run([join(dir, 'does-not-exist.pcap')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no such file');
  });

  const shared = findSharedDirectory();
  it.skipIf(!shared)(`reads pcap captures: the akvorado NFv5 capture has 29 records${shared ? '' : announceSkip('flowdump on captures', 'shared/ not found')}`, async () => {
    const { code, out } = await run(['--summary', join(shared!, 'conformance/akvorado/nfv5.pcap')]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ records: 29, errors: {} });
  });
});
