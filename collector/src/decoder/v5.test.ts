import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf, dstAddrString, nextHopString, packetsOf, scaledBytesOf, scaledPacketsOf, srcAddrString } from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { collectRows, concatBytes, v1Message, v5Message, v7Message, type V5Record } from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 2055;
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

function rec(over: Partial<V5Record> = {}): V5Record {
  return { src: '10.0.0.1', dst: '10.0.0.2', packets: 1, bytes: 100, first: 1000, last: 2000, ...over };
}

describe('NetFlow v5', () => {
  it('decodes every field of a record, with absolute times from sysUptime', () => {
    const { decoder, rows, stats } = setup();
    const msg = v5Message(
      { sysUptime: 100_000, unixSecs: SECS, unixNsecs: 123_456_789, flowSequence: 0, engineType: 1, engineId: 2 },
      [
        {
          src: '10.0.0.1', dst: '192.0.2.77', nextHop: '10.255.0.1', input: 3, output: 7, packets: 10, bytes: 15_000,
          first: 40_000, last: 99_000, srcPort: 12345, dstPort: 443, tcpFlags: 0x1b, protocol: 6, tos: 0x10,
          srcAs: 64500, dstAs: 15169, srcMask: 24, dstMask: 16,
        },
      ],
    );
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(1);
    const b = rows();
    expect(b.length).toBe(1);
    expect(b.version[0]).toBe(5);
    expect(b.exporterId[0]).toBe(0);
    expect(b.observationDomain[0]).toBe((1 << 8) | 2);
    expect(b.ipVersion[0]).toBe(4);
    expect(srcAddrString(b, 0)).toBe('10.0.0.1');
    expect(dstAddrString(b, 0)).toBe('192.0.2.77');
    expect(nextHopString(b, 0)).toBe('10.255.0.1');
    expect(b.inputIf[0]).toBe(3);
    expect(b.outputIf[0]).toBe(7);
    expect(packetsOf(b, 0)).toBe(10n);
    expect(bytesOf(b, 0)).toBe(15_000n);
    expect(b.srcPort[0]).toBe(12345);
    expect(b.dstPort[0]).toBe(443);
    expect(b.tcpFlags[0]).toBe(0x1b);
    expect(b.protocol[0]).toBe(6);
    expect(b.tos[0]).toBe(0x10);
    expect(b.icmpTypeCode[0]).toBe(0);
    expect(b.srcAs[0]).toBe(64500);
    expect(b.dstAs[0]).toBe(15169);
    expect(b.srcMask[0]).toBe(24);
    expect(b.dstMask[0]).toBe(16);
    expect(b.direction[0]).toBe(255);
    expect(b.samplingRate[0]).toBe(1);
    expect(b.samplerId[0]).toBe(0);
    expect(b.flags[0]).toBe(0);
    // Export time = unix_secs + floor(unix_nsecs / 1e6) ms.
    expect(b.exportTime[0]).toBe(T0 + 123);
    expect(b.start[0]).toBe(T0 + 123 - 60_000);
    expect(b.end[0]).toBe(T0 + 123 - 1_000);
    expect(stats()).toMatchObject({ exporter: `${EXP}:${PORT}`, messages: 1, records: 1, errors: {} });
    expect(decoder.exporter(0)).toEqual({ id: 0, address: EXP, port: PORT, key: `${EXP}:${PORT}` });
  });

  it('puts the ICMP type and code (carried in the destination port) in icmpTypeCode', () => {
    const { decoder, rows } = setup();
    decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0 }, [rec({ protocol: 1, dstPort: 0x0303 })]), EXP, PORT, T0);
    expect(rows().icmpTypeCode[0]).toBe(0x0303);
  });

  it('masks the two sampling-mode bits off the interval: 0x4000|1000 is rate 1000', () => {
    const { decoder, rows } = setup();
    decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0, samplingInterval: 0x4000 | 1000 }, [rec({ bytes: 1500, packets: 3 })]), EXP, PORT, T0);
    const b = rows();
    expect(b.samplingRate[0]).toBe(1000);
    expect(bytesOf(b, 0)).toBe(1500n); // raw counter kept
    expect(scaledBytesOf(b, 0)).toBe(1_500_000n);
    expect(scaledPacketsOf(b, 0)).toBe(3000n);
    expect(b.flags[0]).toBe(0);
  });

  it.each([
    ['no sampling', 0, 1],
    ['mode bits without an interval', 0xc000, 1],
    ['mode 2, interval 16383', 0x8000 | 0x3fff, 16383],
    ['interval without mode bits', 64, 64],
  ])('sampling_interval with %s (raw %i) gives rate %i', (_name, raw, rate) => {
    const { decoder, rows } = setup();
    decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0, samplingInterval: raw }, [rec()]), EXP, PORT, T0);
    expect(rows().samplingRate[0]).toBe(rate);
  });

  it('a configured override wins over the header interval and sets RateOverride', () => {
    const { decoder, rows } = setup({ samplingOverrides: { [EXP]: 50 } });
    decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0, samplingInterval: 0x4000 | 1000 }, [rec({ bytes: 10 })]), EXP, PORT, T0);
    const b = rows();
    expect(b.samplingRate[0]).toBe(50);
    expect(b.flags[0]).toBe(FlowFlag.RateOverride);
    expect(scaledBytesOf(b, 0)).toBe(500n);
  });

  it('handles the 32-bit sysUptime wrap and records stamped just after the header', () => {
    const { decoder, rows } = setup();
    // The router's uptime wrapped 1 s ago; the flow started 4096 ms before the wrap
    // and its last packet is stamped 500 ms after the header's uptime.
    decoder.decode(v5Message({ sysUptime: 1000, unixSecs: SECS, flowSequence: 0 }, [rec({ first: 0xfffff000, last: 1500 })]), EXP, PORT, T0);
    const b = rows();
    expect(b.start[0]).toBe(T0 - 5096);
    expect(b.end[0]).toBe(T0 + 500);
  });

  it('counts lost records from flow_sequence (records, not messages)', () => {
    const { decoder, stats } = setup();
    const m = (seq: number, n: number, up: number) => v5Message({ sysUptime: up, unixSecs: SECS, flowSequence: seq }, Array.from({ length: n }, () => rec()));
    decoder.decode(m(0, 2, 10_000), EXP, PORT, T0);
    decoder.decode(m(2, 3, 11_000), EXP, PORT, T0 + 1000);
    decoder.decode(m(10, 1, 12_000), EXP, PORT, T0 + 2000); // 5..9 lost
    decoder.decode(m(11, 2, 13_000), EXP, PORT, T0 + 3000);
    expect(stats()).toMatchObject({ records: 8, sequenceLost: 5, sequenceOutOfOrder: 0, restarts: 0 });
  });

  it('counts a late message as out of order without counting a loss for it afterwards', () => {
    const { decoder, stats } = setup();
    const m = (seq: number, n: number, up: number) => v5Message({ sysUptime: up, unixSecs: SECS, flowSequence: seq }, Array.from({ length: n }, () => rec()));
    decoder.decode(m(0, 2, 10_000), EXP, PORT, T0);
    decoder.decode(m(5, 1, 12_000), EXP, PORT, T0); // 2..4 missing so far
    decoder.decode(m(2, 3, 11_000), EXP, PORT, T0); // they arrive late
    decoder.decode(m(6, 1, 13_000), EXP, PORT, T0);
    expect(stats()).toMatchObject({ records: 7, sequenceLost: 3, sequenceOutOfOrder: 1, restarts: 0 });
  });

  it('a lost message of 30 records from a busy router is counted as 30 lost records', () => {
    // Full v5 messages carry 30 records. Losing one makes the next sequence number jump
    // by exactly the current message's record count: that is a loss, not softflowd-style
    // numbering (which v5 exporters do not use), and later messages must not be misjudged.
    const { decoder, stats } = setup();
    const m = (seq: number, n: number, up: number) => v5Message({ sysUptime: up, unixSecs: SECS, flowSequence: seq }, Array.from({ length: n }, () => rec()));
    decoder.decode(m(0, 30, 10_000), EXP, PORT, T0);
    decoder.decode(m(30, 30, 11_000), EXP, PORT, T0);
    // m(60, 30) is lost
    decoder.decode(m(90, 30, 13_000), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 30, sequenceOutOfOrder: 0 });
    decoder.decode(m(120, 10, 14_000), EXP, PORT, T0);
    decoder.decode(m(130, 30, 15_000), EXP, PORT, T0);
    decoder.decode(m(160, 5, 16_000), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 30, sequenceOutOfOrder: 0 });
  });

  it('detects a restart by a sequence reset (uptime still rising) and counts no loss for it', () => {
    const { decoder, stats } = setup();
    decoder.decode(v5Message({ sysUptime: 10_000, unixSecs: SECS, flowSequence: 5_000_000 }, [rec()]), EXP, PORT, T0);
    decoder.decode(v5Message({ sysUptime: 20_000, unixSecs: SECS + 10, flowSequence: 0 }, [rec(), rec()]), EXP, PORT, T0 + 10_000);
    decoder.decode(v5Message({ sysUptime: 30_000, unixSecs: SECS + 20, flowSequence: 2 }, [rec()]), EXP, PORT, T0 + 20_000);
    expect(stats()).toMatchObject({ restarts: 1, sequenceLost: 0, sequenceOutOfOrder: 0, records: 4 });
  });

  it('detects a restart by sysUptime going back while the sequence does not continue', () => {
    const { decoder, stats } = setup();
    decoder.decode(v5Message({ sysUptime: 86_400_000, unixSecs: SECS, flowSequence: 500 }, [rec()]), EXP, PORT, T0);
    decoder.decode(v5Message({ sysUptime: 30_000, unixSecs: SECS + 60, flowSequence: 3 }, [rec()]), EXP, PORT, T0 + 60_000);
    expect(stats()).toMatchObject({ restarts: 1, sequenceLost: 0, sequenceOutOfOrder: 0 });
  });

  it('is not a restart when sysUptime steps back but the sequence continues', () => {
    const { decoder, stats } = setup();
    decoder.decode(v5Message({ sysUptime: 86_400_000, unixSecs: SECS, flowSequence: 500 }, [rec()]), EXP, PORT, T0);
    decoder.decode(v5Message({ sysUptime: 30_000, unixSecs: SECS + 60, flowSequence: 501 }, [rec()]), EXP, PORT, T0 + 60_000);
    expect(stats()).toMatchObject({ restarts: 0, sequenceLost: 0, sequenceOutOfOrder: 0 });
  });

  it('counts malformed headers by reason and decodes what fits', () => {
    const { decoder, stats, rows } = setup();
    const good = v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0 }, [rec({ bytes: 1 }), rec({ bytes: 2 })]);
    expect(decoder.decode(good.subarray(0, 20), EXP, PORT, T0)).toBe(0); // shorter than the header
    expect(decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 2 }, []), EXP, PORT, T0)).toBe(0); // count 0
    // Header says 3 records, 2 are present: the 2 are decoded.
    expect(decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 2, count: 3 }, [rec({ bytes: 3 }), rec({ bytes: 4 })]), EXP, PORT, T0)).toBe(2);
    // Header says 31 (more than v5 allows) and only 1 is present.
    expect(decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 4, count: 31 }, [rec({ bytes: 5 })]), EXP, PORT, T0)).toBe(1);
    const b = rows();
    expect(Array.from({ length: b.length }, (_, i) => bytesOf(b, i))).toEqual([3n, 4n, 5n]);
    expect(stats().errors).toEqual({ 'short-message': 1, 'v5-bad-count': 2, 'v5-truncated': 2 });
    expect(decoder.lastInternalError).toBeNull();
  });

  it('counts bytes after the last record as trailing bytes', () => {
    const { decoder, stats } = setup();
    const msg = concatBytes(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0 }, [rec()]), new Uint8Array(10));
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ trailingBytes: 10, errors: {} });
  });

  it('hands records over in batches without losing any', () => {
    const { decoder, rows, sizes } = setup({ batchSize: 2 });
    const records = Array.from({ length: 5 }, (_, k) => rec({ bytes: 100 + k }));
    expect(decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0 }, records), EXP, PORT, T0)).toBe(5);
    expect(sizes).toEqual([2, 2]);
    const b = rows();
    expect(sizes).toEqual([2, 2, 1]);
    expect(Array.from({ length: b.length }, (_, i) => bytesOf(b, i))).toEqual([100n, 101n, 102n, 103n, 104n]);
  });

  it('is not part of the template snapshot', () => {
    const { decoder } = setup();
    decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0 }, [rec()]), EXP, PORT, T0);
    expect(decoder.exportState(T0).exporters).toEqual([]);
  });
});

describe('NetFlow v1 and v7', () => {
  it('decodes v1 records (no sequence, AS or masks)', () => {
    const { decoder, rows, stats } = setup();
    const msg = v1Message({ sysUptime: 10_000, unixSecs: SECS }, [
      rec({ src: '10.9.9.9', dst: '10.8.8.8', bytes: 4242, packets: 7, first: 4000, last: 9000, protocol: 17, tos: 4, tcpFlags: 0, srcPort: 53, dstPort: 5353, input: 1, output: 2 }),
    ]);
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(1);
    const b = rows();
    expect(b.version[0]).toBe(1);
    expect(srcAddrString(b, 0)).toBe('10.9.9.9');
    expect(dstAddrString(b, 0)).toBe('10.8.8.8');
    expect(bytesOf(b, 0)).toBe(4242n);
    expect(packetsOf(b, 0)).toBe(7n);
    expect(b.protocol[0]).toBe(17);
    expect(b.tos[0]).toBe(4);
    expect(b.srcPort[0]).toBe(53);
    expect(b.dstPort[0]).toBe(5353);
    expect(b.inputIf[0]).toBe(1);
    expect(b.outputIf[0]).toBe(2);
    expect(b.srcAs[0]).toBe(0);
    expect(b.start[0]).toBe(T0 - 6000);
    expect(b.end[0]).toBe(T0 - 1000);
    expect(stats()).toMatchObject({ records: 1, sequenceLost: 0, errors: {} });
  });

  it('decodes v7 records (52 bytes) with AS numbers and masks', () => {
    const { decoder, rows, stats } = setup();
    const msg = v7Message({ sysUptime: 10_000, unixSecs: SECS, flowSequence: 0 }, [
      rec({ bytes: 1, srcAs: 100, dstAs: 200, srcMask: 8, dstMask: 30, tcpFlags: 0x02, protocol: 6, tos: 1 }),
      rec({ bytes: 2 }),
    ]);
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(2);
    decoder.decode(v7Message({ sysUptime: 11_000, unixSecs: SECS, flowSequence: 5 }, [rec()]), EXP, PORT, T0);
    const b = rows();
    expect(b.version[0]).toBe(7);
    expect(bytesOf(b, 0)).toBe(1n);
    expect(bytesOf(b, 1)).toBe(2n);
    expect([b.srcAs[0], b.dstAs[0], b.srcMask[0], b.dstMask[0], b.tcpFlags[0], b.protocol[0], b.tos[0]]).toEqual([100, 200, 8, 30, 2, 6, 1]);
    expect(b.samplingRate[0]).toBe(1);
    expect(stats()).toMatchObject({ records: 3, sequenceLost: 3, errors: {} });
  });
});
