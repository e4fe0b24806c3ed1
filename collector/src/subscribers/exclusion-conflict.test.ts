import { describe, expect, it } from 'vitest';
import { assignmentConflictFrom, isAssignmentExclusionViolation, parseExclusionDetail } from './exclusion-conflict.js';

describe('exclusion violation messages', () => {
  it('reads both keys whatever the column order, canonicalising prefixes and times', () => {
    const detail =
      'Key (family(prefix::inet), prefix, valid, subscriber_id)=(6, 2001:db8:0:0:1::/80, ["2025-03-01 10:30:00+00",), bob) ' +
      'conflicts with existing key (family(prefix::inet), prefix, valid, subscriber_id)=(6, 2001:db8::/32, ["2025-03-01 13:00:00+03","2025-04-01 00:00:00.5+00"), alice).';
    expect(parseExclusionDetail(detail)).toEqual({
      attempted: { subscriberId: 'bob', prefix: '2001:db8:0:0:1::/80', valid: '[2025-03-01T10:30:00.000Z, open)' },
      existing: { subscriberId: 'alice', prefix: '2001:db8::/32', valid: '[2025-03-01T10:00:00.000Z, 2025-04-01T00:00:00.500Z)' },
    });
    const plain = 'Key (subscriber_id, prefix, valid)=(b, 10.0.0.5, ["2024-01-01 00:00:00+00",)) conflicts with existing key (subscriber_id, prefix, valid)=(a, 10.0.0.0/24, ["2024-01-01 00:00:00+00",)).';
    expect(parseExclusionDetail(plain)?.attempted.prefix).toBe('10.0.0.5/32');
  });

  it('falls back to the raw detail when the server withholds the keys', () => {
    const error = Object.assign(new Error('conflicting key value violates exclusion constraint'), {
      code: '23P01',
      constraint: 'ip_assignments_no_shared_address',
      detail: 'Key conflicts with existing key.',
    });
    expect(isAssignmentExclusionViolation(error)).toBe(true);
    expect(assignmentConflictFrom(error).message).toBe('the assignment overlaps an existing one (ip_assignments_no_shared_address): Key conflicts with existing key.');
    expect(isAssignmentExclusionViolation({ ...error, constraint: 'other_table_excl' })).toBe(false);
  });
});
