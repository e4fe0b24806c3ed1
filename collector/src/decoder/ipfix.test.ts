import { describe, expect, it } from 'vitest';
import {
  FlowBatch,
  FlowFlag,
  bytesNumber,
  bytesOf,
  dstAddrString,
  packetsNumber,
  packetsOf,
  scaledBytesOf,
  scaledPacketsOf,
  srcAddrString,
} from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { REVERSE_PEN, VARLEN } from './fields.js';
import {
  collectRows,
  ipfixMessage,
  ipfixWithExtraBytes,
  TYPICAL_IPFIX_IPV4_FIELDS,
  type FieldSpec,
  type FieldValue,
} from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 4739;
const SECS = 1_700_000_000;
const T0 = SECS * 1000;

function setup(options: Partial<DecoderOptions> = {}) {
  const all = new FlowBatch(4096);
  const sizes: number[] = [];
  const decoder = new FlowDecoder({ ...options, onBatch: collectRows(all, sizes) });
  const rows = () => {
    decoder.flush();
    return all;
  };
  const stats = () => decoder.stats()[0];
  return { decoder, all, sizes, rows, stats };
}

/** One message: template set then data set. */
function templateAndData(fields: FieldSpec[], records: FieldValue[][], sequence = 0, templateId = 256): Uint8Array {
  return ipfixMessage({ exportTime: SECS, sequence, observationDomain: 1 }, [
    { kind: 'template', templates: [{ id: templateId, fields }] },
    { kind: 'data', templateId, fields, records },
  ]);
}

const bytesList = (b: FlowBatch) => Array.from({ length: b.length }, (_, i) => bytesOf(b, i));
const R = REVERSE_PEN;

describe('IPFIX', () => {
  it('decodes a typical template with absolute millisecond times', () => {
    const { decoder, rows, stats } = setup();
    // TYPICAL_IPFIX_IPV4_FIELDS: 8 12 15 7 11 4 5 6 10 14 1 2 16 17 9 13 152 153
    const record: FieldValue[] = ['10.1.1.1', '10.2.2.2', '10.3.3.3', 1234, 443, 17, 0x2e, 0, 21, 22, 123_456n, 321n, 65001, 65002, 25, 23, BigInt(T0 - 30_000), BigInt(T0 - 1_234)];
    expect(decoder.decode(templateAndData(TYPICAL_IPFIX_IPV4_FIELDS, [record]), EXP, PORT, T0 + 50)).toBe(1);
    const b = rows();
    expect(b.version[0]).toBe(10);
    expect(b.observationDomain[0]).toBe(1);
    expect(srcAddrString(b, 0)).toBe('10.1.1.1');
    expect(dstAddrString(b, 0)).toBe('10.2.2.2');
    expect([b.srcPort[0], b.dstPort[0], b.protocol[0], b.tos[0], b.tcpFlags[0]]).toEqual([1234, 443, 17, 0x2e, 0]);
    expect([b.inputIf[0], b.outputIf[0], b.srcAs[0], b.dstAs[0], b.srcMask[0], b.dstMask[0]]).toEqual([21, 22, 65001, 65002, 25, 23]);
    expect(bytesOf(b, 0)).toBe(123_456n);
    expect(packetsOf(b, 0)).toBe(321n);
    expect(b.start[0]).toBe(T0 - 30_000);
    expect(b.end[0]).toBe(T0 - 1_234);
    expect(b.exportTime[0]).toBe(T0);
    expect(b.flags[0]).toBe(0);
    expect(stats()).toMatchObject({ messages: 1, records: 1, templates: 1, errors: {}, trailingBytes: 0 });
  });

  it('keeps 64-bit counters above 2^53 exact', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 8 }, { id: 2, length: 8 }];
    const { decoder, rows } = setup({ samplingOverrides: { [EXP]: 3 } });
    const big = 2n ** 60n + 7n;
    const pk = 2n ** 53n + 1n;
    decoder.decode(templateAndData(fields, [['10.0.0.1', big, pk], ['10.0.0.2', 2n ** 64n - 1n, 0n]]), EXP, PORT, T0);
    const b = rows();
    expect(bytesOf(b, 0)).toBe(big);
    expect(packetsOf(b, 0)).toBe(pk);
    expect(b.bytesHi[0]).toBe(2 ** 28);
    expect(b.bytesLo[0]).toBe(7);
    expect(scaledBytesOf(b, 0)).toBe(big * 3n);
    expect(scaledPacketsOf(b, 0)).toBe(pk * 3n);
    expect(bytesOf(b, 1)).toBe(18446744073709551615n);
    // The number helpers are exact below 2^53 only; the bigint ones are what billing uses.
    expect(packetsNumber(b, 1)).toBe(0);
  });

  it('reads counters of 4 and 6 bytes', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 6 }, { id: 2, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(templateAndData(fields, [['10.0.0.1', 2n ** 40n + 5n, 0xfffffffe]]), EXP, PORT, T0);
    const b = rows();
    expect(bytesOf(b, 0)).toBe(2n ** 40n + 5n);
    expect(bytesNumber(b, 0)).toBe(2 ** 40 + 5);
    expect(packetsOf(b, 0)).toBe(4294967294n);
  });

  it('prefers delta counters over totals, and uses totals or post counters when alone', () => {
    const { decoder, rows } = setup();
    const both: FieldSpec[] = [{ id: 85, length: 8 }, { id: 1, length: 8 }, { id: 86, length: 8 }, { id: 2, length: 8 }];
    decoder.decode(templateAndData(both, [[999n, 10n, 888n, 1n]], 0, 256), EXP, PORT, T0);
    const totals: FieldSpec[] = [{ id: 85, length: 8 }, { id: 86, length: 8 }];
    decoder.decode(templateAndData(totals, [[20n, 2n]], 1, 257), EXP, PORT, T0);
    const post: FieldSpec[] = [{ id: 23, length: 8 }, { id: 24, length: 8 }];
    decoder.decode(templateAndData(post, [[30n, 3n]], 2, 258), EXP, PORT, T0);
    const b = rows();
    expect(bytesList(b)).toEqual([10n, 20n, 30n]);
    expect(Array.from({ length: b.length }, (_, i) => packetsOf(b, i))).toEqual([1n, 2n, 3n]);
    expect(b.flags[0] & FlowFlag.NoCounters).toBe(0);
  });

  it('flags records without counters (NAT events) and keeps post-NAT addresses and ports', () => {
    const fields: FieldSpec[] = [
      { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 },
      { id: 225, length: 4 }, { id: 226, length: 4 }, { id: 227, length: 2 }, { id: 228, length: 2 }, { id: 230, length: 1 },
      { id: 152, length: 8 },
    ];
    const { decoder, rows } = setup();
    decoder.decode(templateAndData(fields, [['100.64.0.5', '8.8.8.8', 40000, 53, '203.0.113.9', '8.8.8.8', 1025, 53, 1, BigInt(T0 - 5)]]), EXP, PORT, T0);
    const b = rows();
    expect(b.flags[0]).toBe(FlowFlag.NoCounters);
    expect(bytesOf(b, 0)).toBe(0n);
    expect(b.postNatSrcAddr4[0]).toBe(0xcb007109);
    expect(b.postNatDstAddr4[0]).toBe(0x08080808);
    expect(b.postNatSrcPort[0]).toBe(1025);
    expect(b.postNatDstPort[0]).toBe(53);
    expect(b.start[0]).toBe(T0 - 5);
    expect(b.end[0]).toBe(T0 - 5);
  });

  it('reads ICMP type/code from 32, or from 176 and 177', () => {
    const { decoder, rows } = setup();
    const a: FieldSpec[] = [{ id: 8, length: 4 }, { id: 4, length: 1 }, { id: 32, length: 2 }, { id: 1, length: 4 }];
    decoder.decode(templateAndData(a, [['10.0.0.1', 1, 0x0b00, 1]], 0, 256), EXP, PORT, T0);
    const c: FieldSpec[] = [{ id: 8, length: 4 }, { id: 4, length: 1 }, { id: 176, length: 1 }, { id: 177, length: 1 }, { id: 1, length: 4 }];
    decoder.decode(templateAndData(c, [['10.0.0.1', 1, 3, 13, 1]], 1, 257), EXP, PORT, T0);
    const b = rows();
    expect(b.icmpTypeCode[0]).toBe(0x0b00);
    expect(b.icmpTypeCode[1]).toBe(0x030d);
  });

  it('takes the IPv4 columns when a template has both address families and the IPv4 ones are set', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 27, length: 16 }, { id: 28, length: 16 }, { id: 1, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(templateAndData(fields, [['10.0.0.1', '10.0.0.2', '::', '::', 1], ['0.0.0.0', '0.0.0.0', '2001:db8::5', '2001:db8::6', 2]]), EXP, PORT, T0);
    const b = rows();
    expect(b.ipVersion[0]).toBe(4);
    expect(srcAddrString(b, 0)).toBe('10.0.0.1');
    expect(b.ipVersion[1]).toBe(6);
    expect(srcAddrString(b, 1)).toBe('2001:db8::5');
    expect(dstAddrString(b, 1)).toBe('2001:db8::6');
  });

  describe('RFC 5103 biflows', () => {
    const fields: FieldSpec[] = [
      { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 10, length: 4 }, { id: 14, length: 4 },
      { id: 9, length: 1 }, { id: 13, length: 1 }, { id: 16, length: 4 }, { id: 17, length: 4 },
      { id: 1, length: 8 }, { id: 2, length: 8 }, { id: 1, length: 8, pen: R }, { id: 2, length: 8, pen: R }, { id: 6, length: 1, pen: R },
      { id: 4, length: 1 }, { id: 152, length: 8 }, { id: 153, length: 8 },
    ];
    const record = (rb: bigint, rp: bigint): FieldValue[] => ['10.0.0.1', '10.0.0.2', 1111, 80, 5, 6, 24, 16, 100, 200, 1000n, 10n, rb, rp, 0x12, 6, BigInt(T0 - 9000), BigInt(T0 - 1000)];

    it('gives a second record for the reverse direction, addresses, ports, interfaces, masks and AS swapped', () => {
      const { decoder, rows, stats } = setup();
      expect(decoder.decode(templateAndData(fields, [record(2000n, 20n)]), EXP, PORT, T0)).toBe(2);
      const b = rows();
      expect(b.length).toBe(2);
      expect(b.flags[0]).toBe(0);
      expect(b.flags[1]).toBe(FlowFlag.Reverse);
      expect([srcAddrString(b, 0), dstAddrString(b, 0), b.srcPort[0], b.dstPort[0], b.inputIf[0], b.outputIf[0]]).toEqual(['10.0.0.1', '10.0.0.2', 1111, 80, 5, 6]);
      expect([srcAddrString(b, 1), dstAddrString(b, 1), b.srcPort[1], b.dstPort[1], b.inputIf[1], b.outputIf[1]]).toEqual(['10.0.0.2', '10.0.0.1', 80, 1111, 6, 5]);
      expect([b.srcMask[1], b.dstMask[1], b.srcAs[1], b.dstAs[1]]).toEqual([16, 24, 200, 100]);
      expect([bytesOf(b, 0), packetsOf(b, 0), bytesOf(b, 1), packetsOf(b, 1)]).toEqual([1000n, 10n, 2000n, 20n]);
      expect([b.protocol[1], b.start[1], b.end[1], b.samplingRate[1]]).toEqual([6, T0 - 9000, T0 - 1000, 1]);
      expect(stats()).toMatchObject({ records: 2, errors: {} });
    });

    it('gives no reverse record when the reverse counters are zero', () => {
      const { decoder, rows } = setup();
      expect(decoder.decode(templateAndData(fields, [record(0n, 0n), record(1n, 0n)]), EXP, PORT, T0)).toBe(3);
      const b = rows();
      expect(Array.from(b.flags.subarray(0, 3))).toEqual([0, 0, FlowFlag.Reverse]);
      expect(bytesList(b)).toEqual([1000n, 1000n, 1n]);
    });

    it('swaps IPv6 addresses in the reverse record', () => {
      const v6: FieldSpec[] = [{ id: 27, length: 16 }, { id: 28, length: 16 }, { id: 1, length: 4 }, { id: 1, length: 4, pen: R }];
      const { decoder, rows } = setup();
      decoder.decode(templateAndData(v6, [['2001:db8::a', '2001:db8::b', 5, 6]]), EXP, PORT, T0);
      const b = rows();
      expect([srcAddrString(b, 0), dstAddrString(b, 0), srcAddrString(b, 1), dstAddrString(b, 1)]).toEqual(['2001:db8::a', '2001:db8::b', '2001:db8::b', '2001:db8::a']);
      expect(bytesList(b)).toEqual([5n, 6n]);
      expect(b.ipVersion[1]).toBe(6);
    });

    it('treats NSEL initiator/responder counters as a biflow', () => {
      const nsel: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 231, length: 8 }, { id: 232, length: 8 }, { id: 298, length: 8 }, { id: 299, length: 8 }];
      const { decoder, rows } = setup();
      decoder.decode(templateAndData(nsel, [['10.0.0.1', '10.0.0.2', 100n, 200n, 1n, 2n]]), EXP, PORT, T0);
      const b = rows();
      expect(bytesList(b)).toEqual([100n, 200n]);
      expect([packetsOf(b, 0), packetsOf(b, 1)]).toEqual([1n, 2n]);
      expect(b.flags[1] & FlowFlag.Reverse).toBe(FlowFlag.Reverse);
      expect(srcAddrString(b, 1)).toBe('10.0.0.2');
    });
  });

  it('decodes variable-length fields in the short and the 3-byte length forms', () => {
    const fields: FieldSpec[] = [
      { id: 8, length: 4 }, { id: 82, length: VARLEN }, { id: 1, length: 8 }, { id: 83, length: VARLEN }, { id: 2, length: 4 }, { id: 12, length: 4 },
    ];
    const { decoder, rows, stats } = setup();
    const long = new Uint8Array(300).fill(0x41);
    const records: FieldValue[][] = [
      ['10.0.0.1', new TextEncoder().encode('eth0'), 1000n, long, 5, '10.0.0.2'],
      ['10.0.0.3', new Uint8Array(0), 2000n, new Uint8Array(254).fill(1), 6, '10.0.0.4'],
      ['10.0.0.5', new Uint8Array(255).fill(2), 3000n, new Uint8Array(1), 7, '10.0.0.6'],
    ];
    const msg = templateAndData(fields, records);
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(3);
    const b = rows();
    expect(bytesList(b)).toEqual([1000n, 2000n, 3000n]);
    expect(Array.from({ length: 3 }, (_, i) => packetsOf(b, i))).toEqual([5n, 6n, 7n]);
    expect(Array.from({ length: 3 }, (_, i) => `${srcAddrString(b, i)}>${dstAddrString(b, i)}`)).toEqual(['10.0.0.1>10.0.0.2', '10.0.0.3>10.0.0.4', '10.0.0.5>10.0.0.6']);
    expect(stats()).toMatchObject({ records: 3, errors: {} });
  });

  it('skips enterprise-specific fields by their length, even ones that reuse IANA ids', () => {
    const fields: FieldSpec[] = [
      { id: 8, length: 4 },
      { id: 1, length: 8, pen: 9 }, // Cisco element numbered 1: not octetDeltaCount
      { id: 100, length: 3, pen: 2636 },
      { id: 5, length: VARLEN, pen: 12356 },
      { id: 1, length: 4 },
      { id: 12, length: 4 },
      { id: 2, length: 2, pen: 35632 },
    ];
    const { decoder, rows, stats } = setup();
    decoder.decode(templateAndData(fields, [['10.0.0.1', 999_999_999n, 7, new Uint8Array(20).fill(0xff), 1234, '10.0.0.2', 77]]), EXP, PORT, T0);
    const b = rows();
    expect(bytesOf(b, 0)).toBe(1234n);
    expect(packetsOf(b, 0)).toBe(0n);
    expect(dstAddrString(b, 0)).toBe('10.0.0.2');
    expect(stats()).toMatchObject({ records: 1, errors: {} });
  });

  it('ignores set padding', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 4, length: 1 }];
    const { decoder, rows, stats } = setup();
    const msg = ipfixMessage({ exportTime: SECS, sequence: 0, observationDomain: 1 }, [
      { kind: 'template', templates: [{ id: 256, fields }], padding: 2 },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.1', 1, 6], ['10.0.0.2', 2, 6]], padding: 2 },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.3', 3, 6]], padding: 3 },
    ]);
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(3);
    expect(bytesList(rows())).toEqual([1n, 2n, 3n]);
    expect(stats()).toMatchObject({ records: 3, trailingBytes: 0, errors: {} });
  });

  it('counts bytes after the message length, and a short tail inside it, as trailing bytes', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }];
    const { decoder, stats } = setup();
    const base = templateAndData(fields, [['10.0.0.1', 1]]);
    expect(decoder.decode(ipfixWithExtraBytes(base, new Uint8Array([1, 2, 3, 4, 5]), false), EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ records: 1, trailingBytes: 5, errors: {} });
    const tail = ipfixMessage({ exportTime: SECS, sequence: 1, observationDomain: 1 }, [{ kind: 'data', templateId: 256, fields, records: [['10.0.0.2', 2]] }]);
    expect(decoder.decode(ipfixWithExtraBytes(tail, new Uint8Array(3), true), EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ records: 2, trailingBytes: 8, errors: {} });
  });
});
