import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf } from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { REVERSE_PEN, VARLEN } from './fields.js';
import { SequenceTracker } from './sequence.js';
import { collectRows, ipfixMessage, v9Message, type FieldSpec, type FieldValue, type SetSpec } from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 2055;
const SECS = 1_700_000_000;
const T0 = SECS * 1000;

function setup(options: Partial<DecoderOptions> = {}) {
  const all = new FlowBatch(4096);
  const decoder = new FlowDecoder({ ...options, onBatch: collectRows(all) });
  const rows = () => {
    decoder.flush();
    return all;
  };
  const stats = (k = 0) => decoder.stats()[k];
  return { decoder, all, rows, stats };
}

const FIELDS: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 2, length: 4 }];
const recs = (n: number, bytes = 100): FieldValue[][] => Array.from({ length: n }, (_, k) => ['10.0.0.1', bytes + k, 1]);
const tmpl: SetSpec = { kind: 'template', templates: [{ id: 256, fields: FIELDS }] };
const data = (n: number, bytes = 100): SetSpec => ({ kind: 'data', templateId: 256, fields: FIELDS, records: recs(n, bytes) });

function v9(sequence: number, sets: SetSpec[], sysUptime = 10_000_000 + sequence * 1000, sourceId = 0): Uint8Array {
  return v9Message({ sysUptime, unixSecs: SECS, sequence, sourceId }, sets);
}
function ipfix(sequence: number, sets: SetSpec[], observationDomain = 1): Uint8Array {
  return ipfixMessage({ exportTime: SECS, sequence, observationDomain }, sets);
}

describe('NetFlow v9 sequence numbers (messages)', () => {
  it('counts lost and out-of-order messages', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(1, [tmpl, data(3)]), EXP, PORT, T0);
    decoder.decode(v9(2, [data(3)]), EXP, PORT, T0);
    decoder.decode(v9(4, [data(3)]), EXP, PORT, T0); // 3 missing
    expect(stats()).toMatchObject({ sequenceLost: 1, sequenceOutOfOrder: 0 });
    decoder.decode(v9(3, [data(3)]), EXP, PORT, T0); // ... arrives late
    decoder.decode(v9(5, [data(3)]), EXP, PORT, T0);
    decoder.decode(v9(9, [data(1)]), EXP, PORT, T0); // 6, 7, 8 missing
    expect(stats()).toMatchObject({ records: 16, sequenceLost: 4, sequenceOutOfOrder: 1, restarts: 0 });
  });

  it('counts template-only messages too, and survives the 32-bit wrap', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(0xfffffffe, [tmpl]), EXP, PORT, T0);
    decoder.decode(v9(0xffffffff, [data(1)]), EXP, PORT, T0);
    decoder.decode(v9(0, [tmpl]), EXP, PORT, T0);
    decoder.decode(v9(1, [data(1)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 0, sequenceOutOfOrder: 0, restarts: 0 });
  });

  it('keeps one sequence per source id', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(100, [tmpl, data(1)], 5_000_000, 1), EXP, PORT, T0);
    decoder.decode(v9(7, [tmpl, data(1)], 5_000_000, 2), EXP, PORT, T0);
    decoder.decode(v9(101, [data(1)], 5_001_000, 1), EXP, PORT, T0);
    decoder.decode(v9(8, [data(1)], 5_001_000, 2), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 0, sequenceOutOfOrder: 0, restarts: 0 });
  });
});

describe('IPFIX sequence numbers (records)', () => {
  it('counts lost records and out-of-order messages', () => {
    const { decoder, stats } = setup();
    decoder.decode(ipfix(0, [tmpl, data(2)]), EXP, PORT, T0);
    decoder.decode(ipfix(2, [data(3)]), EXP, PORT, T0);
    // ipfix(5, [data(4)]) is delayed
    decoder.decode(ipfix(9, [data(1)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 4, sequenceOutOfOrder: 0 });
    decoder.decode(ipfix(5, [data(4)]), EXP, PORT, T0);
    decoder.decode(ipfix(10, [data(2)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ records: 12, sequenceLost: 4, sequenceOutOfOrder: 1, restarts: 0 });
  });

  it('counts options records and data records, not template records', () => {
    const { decoder, stats } = setup();
    const scope: FieldSpec[] = [{ id: 302, length: 4 }];
    const opt: FieldSpec[] = [{ id: 305, length: 4 }];
    decoder.decode(ipfix(0, [
      tmpl,
      { kind: 'options-template', templates: [{ id: 300, scopeFields: scope, fields: opt }] },
      { kind: 'data', templateId: 300, fields: [...scope, ...opt], records: [[1, 10]] },
      data(2),
    ]), EXP, PORT, T0);
    decoder.decode(ipfix(3, [tmpl]), EXP, PORT, T0);
    decoder.decode(ipfix(3, [data(1)]), EXP, PORT, T0);
    decoder.decode(ipfix(4, [data(1)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 0, sequenceOutOfOrder: 0 });
  });

  it('survives the 32-bit wrap', () => {
    const { decoder, stats } = setup();
    decoder.decode(ipfix(0xfffffffe, [tmpl, data(3)]), EXP, PORT, T0);
    decoder.decode(ipfix(1, [data(2)]), EXP, PORT, T0);
    decoder.decode(ipfix(3, [data(2)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 0, sequenceOutOfOrder: 0, restarts: 0 });
  });

  it('a message holding data for an unknown template is not judged, nor is the next one', () => {
    const { decoder, stats } = setup();
    decoder.decode(ipfix(0, [data(3)]), EXP, PORT, T0); // its 3 records cannot be counted yet
    decoder.decode(ipfix(3, [tmpl, data(2)]), EXP, PORT, T0);
    decoder.decode(ipfix(5, [data(2)]), EXP, PORT, T0);
    decoder.decode(ipfix(8, [data(2)]), EXP, PORT, T0); // 7 missing
    expect(stats()).toMatchObject({ records: 9, sequenceLost: 1, sequenceOutOfOrder: 0 });
  });

  it('a lost message of as many records as the current one is counted as a loss', () => {
    // A normal exporter with full messages of 4 records loses the one numbered 8.
    // The next sequence number is then ahead by exactly the current record count, which
    // must not be mistaken for softflowd's inclusive numbering.
    const { decoder, stats } = setup();
    decoder.decode(ipfix(0, [tmpl, data(4)]), EXP, PORT, T0);
    decoder.decode(ipfix(4, [data(4)]), EXP, PORT, T0);
    // ipfix(8, [data(4)]) lost
    decoder.decode(ipfix(12, [data(4)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 4, sequenceOutOfOrder: 0 });
    decoder.decode(ipfix(16, [data(2)]), EXP, PORT, T0);
    decoder.decode(ipfix(18, [data(5)]), EXP, PORT, T0);
    decoder.decode(ipfix(23, [data(1)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 4, sequenceOutOfOrder: 0 });
  });

  it('counts forward records only for a biflow template with variable-length fields', () => {
    // Reverse rows are not records on the wire: 1 biflow record advances the sequence by 1.
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 82, length: VARLEN }, { id: 1, length: 4 }, { id: 1, length: 4, pen: REVERSE_PEN }];
    const { decoder, rows, stats } = setup();
    const rec = (b: number): FieldValue[] => ['10.0.0.1', new TextEncoder().encode('ge-0/0/0'), b, b + 1];
    decoder.decode(ipfix(0, [{ kind: 'template', templates: [{ id: 256, fields }] }, { kind: 'data', templateId: 256, fields, records: [rec(10)] }]), EXP, PORT, T0);
    decoder.decode(ipfix(1, [{ kind: 'data', templateId: 256, fields, records: [rec(20), rec(30)] }]), EXP, PORT, T0);
    decoder.decode(ipfix(3, [{ kind: 'data', templateId: 256, fields, records: [rec(40)] }]), EXP, PORT, T0);
    expect(rows().length).toBe(8);
    expect(stats()).toMatchObject({ records: 8, sequenceLost: 0, sequenceOutOfOrder: 0 });
  });
});

describe('softflowd: IPFIX sequence that includes the current message', () => {
  it('detects the offset after a template-only message and then counts only real losses', () => {
    // softflowd sends sequence = records sent so far, this message included.
    const { decoder, stats } = setup();
    decoder.decode(ipfix(0, [tmpl]), EXP, PORT, T0);
    decoder.decode(ipfix(3, [data(3)]), EXP, PORT, T0);
    decoder.decode(ipfix(8, [data(5)]), EXP, PORT, T0);
    decoder.decode(ipfix(10, [data(2)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 0, sequenceOutOfOrder: 0 });
    // ipfix(14, [data(4)]) lost
    decoder.decode(ipfix(20, [data(6)]), EXP, PORT, T0);
    decoder.decode(ipfix(21, [data(1)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ sequenceLost: 4, sequenceOutOfOrder: 0 });
  });

  it('stops reporting losses when the first message carries the template and data together (as softflowd sends it)', () => {
    // softflowd puts its templates in front of the first data records of the same message.
    const { decoder, stats } = setup();
    const counts = [3, 5, 2, 4, 6, 1, 3, 7, 2, 5];
    let seq = 0;
    const afterThird = { sequenceLost: 0, sequenceOutOfOrder: 0 };
    counts.forEach((n, k) => {
      seq += n;
      decoder.decode(ipfix(seq, k === 0 ? [tmpl, data(n)] : [data(n)]), EXP, PORT, T0);
      if (k === 2) Object.assign(afterThird, { sequenceLost: stats().sequenceLost, sequenceOutOfOrder: stats().sequenceOutOfOrder });
    });
    // Whatever the first messages cost before the numbering was recognised, nothing more
    // may be reported once it has been seen repeatedly: no record was lost.
    expect(stats()).toMatchObject(afterThird);
  });
});

describe('exporter restarts', () => {
  it('NetFlow v9: a sequence reset is a restart; it flushes templates, so old-id data waits for the new template', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9(5000, [tmpl, data(1, 100)], 10_000_000), EXP, PORT, T0);
    // Uptime still rises: only the sequence says it restarted.
    expect(decoder.decode(v9(0, [data(1, 200)], 10_005_000), EXP, PORT, T0 + 5000)).toBe(0);
    expect(stats()).toMatchObject({ restarts: 1, missingTemplateSets: 1, records: 1 });
    expect(decoder.decode(v9(1, [tmpl, data(1, 300)], 10_006_000), EXP, PORT, T0 + 6000)).toBe(2);
    const b = rows();
    expect(Array.from({ length: b.length }, (_, i) => bytesOf(b, i))).toEqual([100n, 200n, 300n]);
    // (FIELDS carries no time fields: every record is also TimeFromExport.)
    expect(Array.from(b.flags.subarray(0, 3))).toEqual([FlowFlag.TimeFromExport, FlowFlag.FromPending | FlowFlag.TimeFromExport, FlowFlag.TimeFromExport]);
    expect(stats()).toMatchObject({ restarts: 1, sequenceLost: 0, sequenceOutOfOrder: 0, pendingDecodedSets: 1 });
  });

  it('IPFIX: a sequence reset is a restart and flushes the domain\'s templates', () => {
    const { decoder, stats } = setup();
    decoder.decode(ipfix(500_000, [tmpl, data(2)]), EXP, PORT, T0);
    expect(decoder.decode(ipfix(0, [data(2)]), EXP, PORT, T0)).toBe(0);
    expect(stats()).toMatchObject({ restarts: 1, missingTemplateSets: 1, sequenceLost: 0, sequenceOutOfOrder: 0 });
  });

  it('IPFIX: a restart is detected even right after a message whose data waited for a template', () => {
    const { decoder, stats } = setup();
    decoder.decode(ipfix(500_000, [tmpl, data(2)]), EXP, PORT, T0);
    // Data for a template we have not seen yet (its announcement was lost).
    decoder.decode(ipfix(500_002, [{ kind: 'data', templateId: 999, fields: FIELDS, records: recs(2) }]), EXP, PORT, T0);
    // The exporter reboots: numbering starts again at 0 and template 256 must be re-learnt.
    decoder.decode(ipfix(0, [data(2)]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ restarts: 1, records: 2 });
  });

  it('NetFlow v9: sysUptime going back while the sequence does not continue is a restart', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(100, [tmpl, data(1)], 50_000_000), EXP, PORT, T0);
    expect(decoder.decode(v9(7, [data(1)], 20_000), EXP, PORT, T0)).toBe(0);
    expect(stats()).toMatchObject({ restarts: 1, missingTemplateSets: 1, sequenceLost: 0, sequenceOutOfOrder: 0 });

    const jump = setup();
    jump.decoder.decode(v9(100, [tmpl, data(1)], 50_000_000), EXP, PORT, T0);
    jump.decoder.decode(v9(90_000, [data(1)], 20_000), EXP, PORT, T0);
    expect(jump.stats()).toMatchObject({ restarts: 1, sequenceLost: 0 });
  });

  it('NetFlow v9: sysUptime going back while the sequence continues is not a restart (Huawei)', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(100, [tmpl, data(1)], 50_000_000), EXP, PORT, T0);
    expect(decoder.decode(v9(101, [data(1)], 20_000), EXP, PORT, T0)).toBe(1);
    expect(decoder.decode(v9(102, [data(1)], 21_000), EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ restarts: 0, missingTemplateSets: 0, sequenceLost: 0, sequenceOutOfOrder: 0, records: 3 });
  });

  it('NetFlow v9: the 32-bit sysUptime wrap is not a restart', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(100, [tmpl, data(1)], 0xffff0000), EXP, PORT, T0);
    expect(decoder.decode(v9(103, [data(1)], 5000), EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ restarts: 0, sequenceLost: 2 });
  });

  it('drops (and counts) data held for templates of the previous incarnation', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(5000, [tmpl, data(1)], 50_000_000), EXP, PORT, T0);
    decoder.decode(v9(5001, [{ kind: 'data', templateId: 300, fields: FIELDS, records: recs(1) }], 50_001_000), EXP, PORT, T0);
    expect(decoder.pendingSets()).toBe(1);
    decoder.decode(v9(0, [tmpl], 1000), EXP, PORT, T0);
    expect(decoder.pendingSets()).toBe(0);
    expect(stats()).toMatchObject({ restarts: 1, pendingDroppedSets: 1 });
    // Template 300 of the new incarnation releases nothing old.
    expect(decoder.decode(v9(1, [{ kind: 'template', templates: [{ id: 300, fields: FIELDS }] }], 2000), EXP, PORT, T0)).toBe(0);
  });

  it('a restart of one source id leaves the other source ids alone', () => {
    const { decoder, stats } = setup();
    decoder.decode(v9(5000, [tmpl, data(1)], 50_000_000, 1), EXP, PORT, T0);
    decoder.decode(v9(7000, [tmpl, data(1)], 50_000_000, 2), EXP, PORT, T0);
    decoder.decode(v9(0, [data(1)], 1000, 1), EXP, PORT, T0);
    expect(decoder.decode(v9(7001, [data(1)], 50_001_000, 2), EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ restarts: 1, missingTemplateSets: 1 });
  });
});

describe('SequenceTracker', () => {
  it('messages: reports the gap size and late messages', () => {
    const t = new SequenceTracker('messages');
    expect(t.observe(10, 5)).toEqual({ lost: 0, outOfOrder: false });
    expect(t.observe(13, 5)).toEqual({ lost: 2, outOfOrder: false });
    expect(t.observe(12, 5)).toEqual({ lost: 0, outOfOrder: true });
    expect(t.observe(14, 0)).toEqual({ lost: 0, outOfOrder: false });
  });

  it('records: the 32-bit wrap is continuity', () => {
    const t = new SequenceTracker('records');
    t.observe(0xfffffff0, 0x10);
    expect(t.observe(0, 1)).toEqual({ lost: 0, outOfOrder: false });
  });

  it('detectRestart: uptime wrap, far fall-back, uptime back with or without continuity', () => {
    const t = new SequenceTracker('messages');
    expect(t.detectRestart(100, 0xfffff000)).toBe(false);
    t.observe(100, 0);
    expect(t.detectRestart(101, 1000)).toBe(false); // wrap
    t.observe(101, 0);
    expect(t.detectRestart(102, 500)).toBe(false); // back 500 ms: within tolerance
    t.observe(102, 0);
    expect(t.detectRestart(103, 500_000)).toBe(false);
    t.observe(103, 0);
    expect(t.detectRestart(104, 1000)).toBe(false); // back, but continuing (Huawei)
    t.observe(104, 0);
    expect(t.detectRestart(50, 200_000)).toBe(false); // a little behind, uptime forward: reordering
    expect(t.detectRestart(3, 100)).toBe(true); // uptime back 200 s and 3 does not continue 105
  });
});
