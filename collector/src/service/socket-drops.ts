/**
 * Datagrams the kernel dropped at the collector's own UDP sockets because their receive
 * buffer was full: the loss no user-space counter can see (the datagram never reached us),
 * and the first thing an operator must watch (raise net.core.rmem_max, add collectors).
 * Linux reports it per socket in the last column ("drops") of /proc/net/udp and
 * /proc/net/udp6; a socket is found by its local address and port, which are unique for
 * the sockets we bound (no SO_REUSEPORT). Elsewhere, or if the files cannot be read: null.
 */
import { readFileSync } from 'node:fs';
import { parseIpAddress } from '@flowbill/shared/ip/index';
import type { BoundSocket } from './udp-listener.js';

/** `/proc/net/udp`-style local address of a bound socket: hex words as the kernel prints them. */
export function procLocalAddress(socket: Pick<BoundSocket, 'host' | 'port'>): string {
  const address = parseIpAddress(socket.host);
  const port = socket.port.toString(16).toUpperCase().padStart(4, '0');
  // The kernel prints each 32-bit word of the address in host order (little-endian on
  // every platform Node runs Linux on): 127.0.0.1 -> 0100007F.
  const bytes = address.version === 4 ? [(address.value >>> 24) & 255, (address.value >>> 16) & 255, (address.value >>> 8) & 255, address.value & 255] : [...address.bytes];
  let hex = '';
  for (let word = 0; word < bytes.length; word += 4) {
    for (let k = 3; k >= 0; k--) hex += bytes[word + k].toString(16).toUpperCase().padStart(2, '0');
  }
  return `${hex}:${port}`;
}

/** Sum of the "drops" column over the lines of `tables` whose local address is one of `sockets`. */
export function dropsInTables(tables: readonly string[], sockets: readonly Pick<BoundSocket, 'host' | 'port'>[]): number {
  const wanted = new Set(sockets.map(procLocalAddress));
  let drops = 0;
  for (const table of tables) {
    for (const line of table.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 13 || !wanted.has(fields[1])) continue;
      const n = Number(fields[fields.length - 1]);
      if (Number.isSafeInteger(n)) drops += n;
    }
  }
  return drops;
}

/** Kernel drops of `sockets` now, or null where /proc/net/udp cannot be read (not Linux). */
export function socketBufferDrops(sockets: readonly Pick<BoundSocket, 'host' | 'port'>[]): number | null {
  const tables: string[] = [];
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    try {
      tables.push(readFileSync(file, 'utf8'));
    } catch {
      // udp6 is missing on a kernel without IPv6; udp missing means not Linux.
    }
  }
  return tables.length === 0 ? null : dropsInTables(tables, sockets);
}
