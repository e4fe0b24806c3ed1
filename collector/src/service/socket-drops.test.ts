import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dropsInTables, procLocalAddress, socketBufferDrops } from './socket-drops.js';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops';

describe('kernel socket drops', () => {
  it('writes local addresses the way /proc/net/udp and udp6 print them', () => {
    expect(procLocalAddress({ host: '127.0.0.1', port: 2055 })).toBe('0100007F:0807');
    expect(procLocalAddress({ host: '0.0.0.0', port: 4739 })).toBe('00000000:1283');
    expect(procLocalAddress({ host: '::1', port: 2055 })).toBe('00000000000000000000000001000000:0807');
    expect(procLocalAddress({ host: '2001:db8::1', port: 1 })).toBe('B80D0120000000000000000001000000:0001');
  });

  it('sums the drops column of our sockets only', () => {
    const udp = [
      HEADER,
      '  101: 0100007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1001 2 0000000000000000 17',
      '  102: 0200007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1002 2 0000000000000000 99',
      '  103: 00000000:1283 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1003 2 0000000000000000 5',
    ].join('\n');
    const udp6 = [HEADER, '  104: 00000000000000000000000001000000:0807 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1004 2 0000000000000000 3'].join('\n');
    const ours = [
      { host: '127.0.0.1', port: 2055 },
      { host: '0.0.0.0', port: 4739 },
      { host: '::1', port: 2055 },
    ];
    expect(dropsInTables([udp, udp6], ours)).toBe(17 + 5 + 3);
    expect(dropsInTables([udp], [{ host: '127.0.0.3', port: 2055 }])).toBe(0);
  });

  it.skipIf(!existsSync('/proc/net/udp'))('finds a bound socket in the real /proc/net/udp', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const bound = { host: '127.0.0.1', port: socket.address().port };
      expect(readFileSync('/proc/net/udp', 'utf8')).toContain(procLocalAddress(bound));
      expect(socketBufferDrops([bound])).toBe(0);
    } finally {
      socket.close();
    }
  });
});
