import { describe, expect, it } from 'vitest';
import { parseAssignmentCsv } from './csv-assignments.js';

describe('parseAssignmentCsv', () => {
  it('accepts columns in any order, a BOM, blank optional cells and omitted optional columns', () => {
    const { rows, problems } = parseAssignmentCsv('\uFEFFprefix,valid_from,subscriber_id,name\n2001:DB8:1:100::/56,2025-03-01T00:00:00+03:00,acc-1,  Anna  \n');
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 2, subscriberId: 'acc-1', name: 'Anna', timeZone: null, prefix: '2001:db8:1:100::/56', validFrom: new Date('2025-02-28T21:00:00Z'), validTo: null },
    ]);
  });

  it('numbers lines as an editor does: blank lines count, a quoted field may span lines', () => {
    const csv = 'subscriber_id,name,prefix,valid_from\n\nacc-1,"two\nlines",100.64.0.1,2025-03-01T00:00:00Z\nacc-2,Ok,100.64.0.300,2025-03-01T00:00:00Z\n';
    expect(parseAssignmentCsv(csv).problems).toEqual([
      { line: 3, message: 'name: name must not contain control characters (tabs, newlines)' },
      { line: 5, message: expect.stringContaining('prefix: invalid IPv4 address "100.64.0.300"') },
    ]);
  });

  it('reports an empty file and a header without data plainly', () => {
    expect(parseAssignmentCsv('').problems).toEqual([{ line: 1, message: expect.stringContaining('the file is empty') }]);
    expect(parseAssignmentCsv('subscriber_id,name,prefix,valid_from,valid_from\n').problems).toEqual([{ line: 1, message: expect.stringContaining('repeated column valid_from') }]);
    expect(parseAssignmentCsv('subscriber_id,name,prefix,valid_from\n')).toEqual({ rows: [], problems: [] });
  });
});
