import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IE, NTP_UNIX_OFFSET_S, REVERSE_PEN, VARLEN } from './fields.js';

/** The IANA IPFIX information element table kept with the mission documents. */
const IANA_TABLE = '/work/shared/mission/ipfix-information-elements.tsv';
const haveTable = existsSync(IANA_TABLE);
if (!haveTable) console.warn(`fields.test.ts: skipping the IANA name check: ${IANA_TABLE} is not there (the shared mission directory is not mounted)`);

/** id -> name from the table: tab-separated, columns id, name, ...; '#' lines and the header skipped. */
function ianaNames(): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of readFileSync(IANA_TABLE, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [id, name] = line.split('\t');
    if (!/^\d+$/.test(id)) continue; // column header
    // NetFlow v9 rows carry a note after the name: "samplingInterval (NetFlow v9 SAMPLING_INTERVAL)".
    names.set(Number(id), name.trim().split(/\s/)[0]);
  }
  return names;
}

describe.skipIf(!haveTable)('IE ids against the IANA registry', () => {
  const names = haveTable ? ianaNames() : new Map<number, string>();

  it('the table was read', () => {
    expect(names.size).toBeGreaterThan(300);
    expect(names.get(1)).toBe('octetDeltaCount');
  });

  it.each(Object.entries(IE))('%s is IE %i', (name, id) => {
    expect(names.get(id)).toBe(name);
  });
});

describe('field constants', () => {
  it('IE ids are unique', () => {
    const ids = Object.values(IE);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('RFC 5103 reverse PEN, variable-length marker, NTP epoch offset', () => {
    expect(REVERSE_PEN).toBe(29305);
    expect(VARLEN).toBe(65535);
    // 1900-01-01 to 1970-01-01: 70 years, 17 of them leap years.
    expect(NTP_UNIX_OFFSET_S).toBe((70 * 365 + 17) * 86400);
  });
});
