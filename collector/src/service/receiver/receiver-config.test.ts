/** COLLECTOR_RECEIVE_THREAD and COLLECTOR_RING_BYTES: defaults, accepted values, messages. */
import { describe, expect, it } from 'vitest';
import { loadCollectorConfig } from '../config.js';

describe('receive thread configuration', () => {
  it('is on by default, with a 64 MiB ring', () => {
    const c = loadCollectorConfig({});
    expect(c.COLLECTOR_RECEIVE_THREAD).toBe(true);
    expect(c.COLLECTOR_RING_BYTES).toBe(64 * 1024 * 1024);
  });

  it('takes a boolean and a size in bytes (digits, or KiB/MiB/GiB)', () => {
    const c = loadCollectorConfig({ COLLECTOR_RECEIVE_THREAD: 'false', COLLECTOR_RING_BYTES: '256MiB' });
    expect(c.COLLECTOR_RECEIVE_THREAD).toBe(false);
    expect(c.COLLECTOR_RING_BYTES).toBe(256 * 1024 * 1024);
    expect(loadCollectorConfig({ COLLECTOR_RING_BYTES: '1048576' }).COLLECTOR_RING_BYTES).toBe(1 << 20);
    expect(loadCollectorConfig({ COLLECTOR_RING_BYTES: '1GiB' }).COLLECTOR_RING_BYTES).toBe(1 << 30);
  });

  it('names the variable and the accepted range when a value is wrong', () => {
    expect(() => loadCollectorConfig({ COLLECTOR_RING_BYTES: '1000' })).toThrow(
      'COLLECTOR_RING_BYTES="1000": expected a size in bytes from 1048576 (1 MiB) to 1073741824 (1 GiB), digits with an optional KiB/MiB/GiB suffix',
    );
    expect(() => loadCollectorConfig({ COLLECTOR_RING_BYTES: '2GiB' })).toThrow(/COLLECTOR_RING_BYTES="2GiB"/);
    expect(() => loadCollectorConfig({ COLLECTOR_RING_BYTES: '64MB' })).toThrow(/COLLECTOR_RING_BYTES="64MB"/);
    expect(() => loadCollectorConfig({ COLLECTOR_RECEIVE_THREAD: 'maybe' })).toThrow('COLLECTOR_RECEIVE_THREAD="maybe": expected true or false');
  });
});
