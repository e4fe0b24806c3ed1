import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf, dstAddrString, ipv4ToString, ipv6ToString, nextHopString, srcAddrString } from './batch.js';
import { FlowDecoder } from './decoder.js';
import { REVERSE_PEN } from './fields.js';
import { collectRows, ipfixMessage, ipv6Bytes, v5Message, type FieldSpec, type FieldValue } from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 4739;
const SECS = 1_700_000_000;
const T0 = SECS * 1000;

const F: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 8 }, { id: 152, length: 8 }];
const BI: FieldSpec[] = [...F, { id: 1, length: 8, pen: REVERSE_PEN }];

function message(fields: FieldSpec[], records: FieldValue[][], sequence = 0) {
  return ipfixMessage({ exportTime: SECS, sequence, observationDomain: 1 }, [
    { kind: 'template', templates: [{ id: 256, fields }] },
    { kind: 'data', templateId: 256, fields, records },
  ]);
}

/** Each onBatch call as a list of "bytes[r]" strings (r = reverse row), read while the batch is valid. */
function batchLog(batchSize: number) {
  const calls: string[][] = [];
  let last: FlowBatch | null = null;
  let sameObject = true;
  const decoder = new FlowDecoder({
    batchSize,
    onBatch: (b) => {
      if (last !== null && last !== b) sameObject = false;
      last = b;
      calls.push(Array.from({ length: b.length }, (_, i) => `${bytesOf(b, i)}${b.flags[i] & FlowFlag.Reverse ? 'r' : ''}`));
    },
  });
  return { decoder, calls, sameObject: () => sameObject };
}

describe('batch handoff', () => {
  it('hands many records over in several batches of batchSize, and the rest on flush(), losing none', () => {
    const { decoder, calls, sameObject } = batchLog(2);
    const records = Array.from({ length: 7 }, (_, k): FieldValue[] => ['10.0.0.1', '10.0.0.2', BigInt(k + 1), BigInt(T0)]);
    expect(decoder.decode(message(F, records), EXP, PORT, T0)).toBe(7);
    expect(calls).toEqual([['1', '2'], ['3', '4'], ['5', '6']]);
    decoder.flush();
    expect(calls).toEqual([['1', '2'], ['3', '4'], ['5', '6'], ['7']]);
    decoder.flush(); // nothing left: no empty batch
    expect(calls.length).toBe(4);
    expect(sameObject()).toBe(true); // the batch is reused
  });

  it('keeps every record across messages, exporters, versions and the pending buffer', () => {
    const all = new FlowBatch(1000);
    const sizes: number[] = [];
    const decoder = new FlowDecoder({ batchSize: 3, onBatch: collectRows(all, sizes) });
    let expected = 0;
    for (let m = 0; m < 10; m++) {
      const records = Array.from({ length: m + 1 }, (_, k): FieldValue[] => ['10.0.0.1', '10.0.0.2', BigInt(m * 100 + k), BigInt(T0)]);
      expected += records.length;
      decoder.decode(message(F, records, m * 10), EXP, PORT + (m % 2), T0);
      decoder.decode(v5Message({ sysUptime: 1, unixSecs: SECS, flowSequence: m }, [{ src: '10.0.0.9', dst: '10.0.0.8', packets: 1, bytes: m, first: 0, last: 0 }]), EXP, 2055, T0);
      expected += 1;
    }
    // Data before its template, released later.
    decoder.decode(ipfixMessage({ exportTime: SECS, sequence: 0, observationDomain: 9 }, [{ kind: 'data', templateId: 256, fields: F, records: [['10.0.0.1', '10.0.0.2', 5555n, BigInt(T0)]] }]), EXP, PORT, T0);
    decoder.decode(ipfixMessage({ exportTime: SECS, sequence: 0, observationDomain: 9 }, [{ kind: 'template', templates: [{ id: 256, fields: F }] }]), EXP, PORT, T0);
    expected += 1;
    decoder.flush();
    expect(all.length).toBe(expected);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(expected);
    expect(sizes.slice(0, -1).every((s) => s === 3)).toBe(true);
    expect(decoder.stats().reduce((n, s) => n + s.records, 0)).toBe(expected);
    expect(bytesOf(all, all.length - 1)).toBe(5555n);
  });

  it('a biflow at the batch boundary keeps both rows in the same batch', () => {
    const { decoder, calls } = batchLog(2);
    const rec = (b: bigint, rb: bigint): FieldValue[] => ['10.0.0.1', '10.0.0.2', b, BigInt(T0), rb];
    expect(decoder.decode(message(BI, [rec(1n, 0n), rec(2n, 20n), rec(3n, 0n), rec(4n, 40n), rec(5n, 50n)]), EXP, PORT, T0)).toBe(8);
    decoder.flush();
    expect(calls).toEqual([['1'], ['2', '20r'], ['3'], ['4', '40r'], ['5', '50r']]);
  });

  it('a biflow that does not fit in the rest of a batch starts the next one', () => {
    const { decoder, calls } = batchLog(3);
    const rec = (b: bigint, rb: bigint): FieldValue[] => ['10.0.0.1', '10.0.0.2', b, BigInt(T0), rb];
    decoder.decode(message(BI, [rec(1n, 10n), rec(2n, 20n), rec(3n, 0n), rec(4n, 0n), rec(5n, 50n)]), EXP, PORT, T0);
    decoder.flush();
    // Each record of a biflow template reserves two rows, whether or not it has a reverse direction.
    expect(calls).toEqual([['1', '10r'], ['2', '20r'], ['3', '4'], ['5', '50r']]);
    expect(calls.flat()).toEqual(['1', '10r', '2', '20r', '3', '4', '5', '50r']);
  });

  it('the reverse row is a full copy of its forward row with the direction swapped', () => {
    const seen: { fwd: string; rev: string }[] = [];
    const decoder = new FlowDecoder({
      batchSize: 2,
      onBatch: (b) => {
        for (let i = 0; i + 1 < b.length; i++) {
          if (b.flags[i + 1] & FlowFlag.Reverse) {
            seen.push({
              fwd: `${srcAddrString(b, i)}>${dstAddrString(b, i)} ${b.exportTime[i]} ${b.start[i]} ${b.samplingRate[i]} ${b.observationDomain[i]}`,
              rev: `${srcAddrString(b, i + 1)}>${dstAddrString(b, i + 1)} ${b.exportTime[i + 1]} ${b.start[i + 1]} ${b.samplingRate[i + 1]} ${b.observationDomain[i + 1]}`,
            });
          }
        }
      },
      samplingOverrides: { [EXP]: 4 },
    });
    decoder.decode(message(BI, [['10.0.0.1', '10.0.0.2', 1n, BigInt(T0 - 7), 0n], ['10.0.0.3', '10.0.0.4', 2n, BigInt(T0 - 9), 3n]]), EXP, PORT, T0);
    decoder.flush();
    expect(seen).toEqual([{ fwd: `10.0.0.3>10.0.0.4 ${T0} ${T0 - 9} 4 1`, rev: `10.0.0.4>10.0.0.3 ${T0} ${T0 - 9} 4 1` }]);
  });

  it('uses at least 2 rows per batch, so a biflow always fits', () => {
    const { decoder, calls } = batchLog(1);
    decoder.decode(message(BI, [['10.0.0.1', '10.0.0.2', 1n, BigInt(T0), 2n]]), EXP, PORT, T0);
    decoder.flush();
    expect(calls).toEqual([['1', '2r']]);
  });
});

describe('FlowBatch', () => {
  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new FlowBatch(0)).toThrow(RangeError);
    expect(() => new FlowBatch(2.5)).toThrow(RangeError);
    expect(new FlowBatch(3).capacity).toBe(3);
  });

  it('claim() zero-fills a row (direction 255, rate 1) and full/reset work', () => {
    const b = new FlowBatch(2);
    const i = b.claim();
    b.bytesLo[i] = 5;
    b.flags[i] = 3;
    b.srcAddr6[5] = 9;
    b.reset();
    const j = b.claim();
    expect(j).toBe(0);
    expect([b.bytesLo[j], b.flags[j], b.srcAddr6[5], b.direction[j], b.samplingRate[j]]).toEqual([0, 0, 0, 255, 1]);
    expect(b.full).toBe(false);
    b.claim();
    expect(b.full).toBe(true);
  });

  it('copyRowFrom() copies every column', () => {
    const a = new FlowBatch(1);
    const i = a.claim();
    a.srcAddr6.set(ipv6Bytes('2001:db8::1'), 0);
    a.ipVersion[i] = 6;
    a.bytesHi[i] = 1;
    a.bytesLo[i] = 2;
    a.start[i] = 1.5;
    a.postNatDstPort[i] = 443;
    a.flags[i] = FlowFlag.Reverse;
    const b = new FlowBatch(4);
    b.claim();
    const k = b.copyRowFrom(a, 0);
    expect(k).toBe(1);
    expect([srcAddrString(b, k), bytesOf(b, k), b.start[k], b.postNatDstPort[k], b.flags[k], b.direction[k]]).toEqual(['2001:db8::1', 2n ** 32n + 2n, 1.5, 443, 1, 255]);
  });

  it('formats addresses (RFC 5952 for IPv6)', () => {
    expect(ipv4ToString(0xc0000201)).toBe('192.0.2.1');
    expect(ipv4ToString(0xffffffff)).toBe('255.255.255.255');
    const v6 = (t: string) => ipv6ToString(ipv6Bytes(t));
    expect(v6('2001:db8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(v6('::')).toBe('::');
    expect(v6('::1')).toBe('::1');
    expect(v6('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(v6('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first of equal runs
    expect(v6('2001:db8:1:1:1:1:0:1')).toBe('2001:db8:1:1:1:1:0:1'); // a single zero stays
    expect(v6('::ffff:c000:201')).toBe('::ffff:192.0.2.1');
    const b = new FlowBatch(1);
    b.claim();
    expect(nextHopString(b, 0)).toBe('');
  });
});
