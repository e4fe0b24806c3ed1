/** Test helpers for the UDP listeners (used by udp-listener.test.ts and receiver/*.test.ts). */
import dgram from 'node:dgram';

/** Send one datagram from a fresh socket; resolves once the kernel took it. */
export function send(type: 'udp4' | 'udp6', host: string, port: number, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(type);
    s.send(payload, port, host, (err) => {
      s.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Poll `check` every 10 ms until it holds or `ms` passed (the caller asserts afterwards). */
export async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}
