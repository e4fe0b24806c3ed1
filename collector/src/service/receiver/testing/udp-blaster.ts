/**
 * Test fixture (threaded-udp-listener.test.ts): a worker_threads UDP sender, so datagrams
 * keep arriving while the test's main thread is blocked. Once go (flags[0]) becomes 1, sends
 * `count` datagrams of `size` bytes (bytes 0-3: sequence number, big-endian) from one socket
 * to host:port at `rate` datagrams/s (paced every millisecond, as a router's export timer
 * would), then sets flags[1] = 1 and posts { type: 'done', sent, errors }.
 */
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';

export interface UdpBlasterData {
  host: string;
  port: number;
  count: number;
  size: number;
  rate: number;
  /** Int32[0]: 1 = start sending (set by the test). Int32[1]: 1 = all sent (set here). */
  flags: SharedArrayBuffer;
}

if (parentPort !== null && (workerData as UdpBlasterData | null)?.flags instanceof SharedArrayBuffer) {
  const data = workerData as UdpBlasterData;
  const main = parentPort;
  const flags = new Int32Array(data.flags);
  const socket = dgram.createSocket(data.host.includes(':') ? 'udp6' : 'udp4');
  let errors = 0;
  socket.on('error', () => errors++);
  socket.connect(data.port, data.host, () => {
    main.postMessage({ type: 'ready' });
    Atomics.wait(flags, 0, 0);
    const started = performance.now();
    let sent = 0;
    let completed = 0;
    const onSent = (err: Error | null) => {
      if (err) errors++;
      if (++completed === data.count) {
        Atomics.store(flags, 1, 1);
        main.postMessage({ type: 'done', sent: data.count - errors, errors });
        socket.close();
      }
    };
    const tick = () => {
      const due = Math.min(data.count, Math.floor(((performance.now() - started) * data.rate) / 1000));
      for (; sent < due; sent++) {
        const buf = Buffer.alloc(data.size);
        buf.writeUInt32BE(sent, 0);
        socket.send(buf, onSent);
      }
      if (sent < data.count) setTimeout(tick, 1);
    };
    tick();
  });
}
