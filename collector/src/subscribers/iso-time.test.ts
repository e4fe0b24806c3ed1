import { describe, expect, it } from 'vitest';
import { parseIsoInstant } from './iso-time.js';

describe('parseIsoInstant', () => {
  it('reads UTC offsets in the forms operators and psql write', () => {
    const instant = Date.parse('2025-02-28T21:00:00Z');
    for (const text of ['2025-03-01T00:00:00+03:00', '2025-03-01T00:00+0300', '2025-03-01 00:00:00+03', '2025-02-28T21:00:00.000Z', '2025-02-28T20:30:00-00:30']) {
      expect(parseIsoInstant(text).getTime(), text).toBe(instant);
    }
    expect(parseIsoInstant('2025-03-01T10:00:00.5Z').getTime()).toBe(Date.parse('2025-03-01T10:00:00.500Z'));
  });

  it('refuses times without an offset, finer than a millisecond, or that do not exist', () => {
    expect(() => parseIsoInstant('2025-03-01T00:00:00')).toThrow(/add a UTC offset/);
    expect(() => parseIsoInstant('2025-03-01')).toThrow(/add a UTC offset/);
    expect(() => parseIsoInstant('2025-03-01T00:00:00.0001Z')).toThrow(/at most millisecond precision/);
    expect(() => parseIsoInstant('2025-02-29T00:00:00Z')).toThrow(/no such date/);
    expect(() => parseIsoInstant('2025-03-01T24:00:00Z')).toThrow(/no such date or time/);
    expect(() => parseIsoInstant('2025-03-01T00:00:00+25:00')).toThrow(/bad UTC offset/);
    expect(() => parseIsoInstant('1969-12-31T23:59:59Z')).toThrow(/before 1970/);
    expect(parseIsoInstant('2024-02-29T00:00:00Z').toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });
});
