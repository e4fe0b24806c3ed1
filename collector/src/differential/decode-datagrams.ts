/**
 * Run FlowDecoder over a list of export datagrams and keep every record as a plain object,
 * tagged with the datagram (frame) it was decoded from. Used only by the tests in this folder.
 */
import {
  bytesOf,
  dstAddrString,
  FlowDecoder,
  FlowFlag,
  packetsOf,
  srcAddrString,
  type ExporterStats,
  type FlowBatch,
} from '../decoder/index.js';

export interface ExportDatagram {
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly payload: Uint8Array;
  /** Receive time given to the decoder, ms since the epoch. */
  readonly receivedAtMs: number;
}

export interface DecodedFlow {
  /** 1-based index of the datagram whose decode() call emitted the record. */
  readonly frame: number;
  /** Exporter key, "address:port" or "[v6]:port". */
  readonly exporter: string;
  readonly version: number;
  readonly observationDomain: number;
  /** '' when the record carried no addresses. */
  readonly srcAddress: string;
  readonly dstAddress: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly protocol: number;
  readonly icmpTypeCode: number;
  readonly bytes: bigint;
  readonly packets: bigint;
  readonly samplingRate: number;
  readonly samplerId: number;
  readonly flags: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly exportMs: number;
}

export interface DecodeResult {
  readonly flows: DecodedFlow[];
  readonly stats: ExporterStats[];
  /** The decoder's last caught internal exception, null if none. */
  readonly internalError: unknown;
}

/** Decode datagrams in order with one FlowDecoder, flushing after each so records map to frames. */
export function decodeDatagrams(datagrams: readonly ExportDatagram[]): DecodeResult {
  const flows: DecodedFlow[] = [];
  let frame = 0;
  let decoder: FlowDecoder | null = null;
  const onBatch = (batch: FlowBatch): void => {
    for (let i = 0; i < batch.length; i++) {
      const hasAddresses = batch.ipVersion[i] !== 0;
      flows.push({
        frame,
        exporter: decoder!.exporter(batch.exporterId[i]).key,
        version: batch.version[i],
        observationDomain: batch.observationDomain[i],
        srcAddress: hasAddresses ? srcAddrString(batch, i) : '',
        dstAddress: hasAddresses ? dstAddrString(batch, i) : '',
        srcPort: batch.srcPort[i],
        dstPort: batch.dstPort[i],
        protocol: batch.protocol[i],
        icmpTypeCode: batch.icmpTypeCode[i],
        bytes: bytesOf(batch, i),
        packets: packetsOf(batch, i),
        samplingRate: batch.samplingRate[i],
        samplerId: batch.samplerId[i],
        flags: batch.flags[i],
        startMs: batch.start[i],
        endMs: batch.end[i],
        exportMs: batch.exportTime[i],
      });
    }
  };
  decoder = new FlowDecoder({ onBatch });
  for (const datagram of datagrams) {
    frame += 1;
    decoder.decode(datagram.payload, datagram.srcAddress, datagram.srcPort, datagram.receivedAtMs);
    decoder.flush();
  }
  return { flows, stats: decoder.stats(), internalError: decoder.lastInternalError };
}

export function isFromPending(flow: DecodedFlow): boolean {
  return (flow.flags & FlowFlag.FromPending) !== 0;
}

/** Exporter key the decoder uses for an address and port. */
export function exporterKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
