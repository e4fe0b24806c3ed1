/** A single IPv4 or IPv6 address, tagged by version, for code that handles both. */
import { InvalidIpError } from './invalid-ip-error.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';
import { formatIpv6, parseIpv6 } from './ipv6.js';

export type IpAddress =
  | { readonly version: 4; /** uint32 */ readonly value: number }
  | { readonly version: 6; /** 16 bytes, network order */ readonly bytes: Uint8Array };

/** Parse IPv4 dotted-quad or IPv6 text; the presence of ':' decides which. */
export function parseIpAddress(text: string): IpAddress {
  if (typeof text !== 'string') throw new InvalidIpError(String(text), `invalid IP address ${String(text)}: expected a string`);
  return text.includes(':') ? { version: 6, bytes: parseIpv6(text) } : { version: 4, value: parseIpv4(text) };
}

export function formatIpAddress(address: IpAddress): string {
  return address.version === 4 ? formatIpv4(address.value) : formatIpv6(address.bytes);
}
