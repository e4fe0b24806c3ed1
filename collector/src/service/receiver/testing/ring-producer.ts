/**
 * Test fixture (datagram-ring.test.ts): a worker_threads producer that writes `count`
 * deterministic records into a DatagramRing, so the test can check the ring across real
 * threads. Record i: payload of payloadLength(i, maxPayload) bytes, byte j = payloadByte(i, j),
 * port i & 0xffff, family 4 or 6 by parity, address bytes from i, receivedAt = i.
 * `retry`: when the ring is full, wait and write again (no loss); otherwise count a drop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DatagramRing } from '../datagram-ring.js';

export interface RingProducerData {
  ring: SharedArrayBuffer;
  count: number;
  maxPayload: number;
  retry: boolean;
}

export function payloadLength(i: number, maxPayload: number): number {
  return (Math.imul(i ^ (i >>> 7), 2246822519) >>> 0) % (maxPayload + 1);
}

export function payloadByte(i: number, j: number): number {
  return (Math.imul(i, 31) + Math.imul(j, 7) + (j >>> 3)) & 255;
}

export function addressOf(i: number, out: Uint8Array): Uint8Array {
  for (let k = 0; k < 16; k++) out[k] = ((i >>> ((k & 3) * 8)) & 255) ^ k;
  return out;
}

if (parentPort !== null && (workerData as RingProducerData | null)?.ring instanceof SharedArrayBuffer) {
  const data = workerData as RingProducerData;
  const ring = new DatagramRing(data.ring);
  const payload = new Uint8Array(data.maxPayload);
  const address = new Uint8Array(16);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let drops = 0;
  let fullWaits = 0;
  for (let i = 0; i < data.count; i++) {
    const length = payloadLength(i, data.maxPayload);
    for (let j = 0; j < length; j++) payload[j] = payloadByte(i, j);
    addressOf(i, address);
    const view = payload.subarray(0, length);
    while (!ring.tryWrite(view, i & 0xffff, i % 2 === 0 ? 4 : 6, address, i)) {
      if (!data.retry) {
        drops++;
        break;
      }
      fullWaits++;
      if (fullWaits % 64 === 0) Atomics.wait(pause, 0, 0, 0.05);
    }
  }
  parentPort.postMessage({ drops, fullWaits });
}
