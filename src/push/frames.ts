/**
 * The frames the server sends, as JSON text. Data frames are built once per published item and
 * the same string goes to every client (and into the replay buffer), so nothing is serialised
 * per client.
 */
import type { ProtocolError } from './protocol.ts';
import { PROTOCOL_VERSION } from '../client/wire-types.ts';

/** `{"type":"data","channel":"fraud","seq":` for one channel; the rest is appended per item. */
export function dataFramePrefix(channel: string): string {
  return `{"type":"data","channel":${JSON.stringify(channel)},"seq":`;
}

/**
 * One data frame: {"type":"data","channel":"fraud","seq":17,"key":"card-1","data":{...}}. `json`
 * is the item already serialised. undefined keys are left out.
 */
export function dataFrame(prefix: string, seq: number, key: string | undefined, json: string): string {
  return key === undefined ? `${prefix}${seq},"data":${json}}` : `${prefix}${seq},"key":${JSON.stringify(key)},"data":${json}}`;
}

/** `{"type":"batch","channel":"fraud","items":[` for one channel; data frames and `]}` follow. */
export function batchFramePrefix(channel: string): string {
  return `{"type":"batch","channel":${JSON.stringify(channel)},"items":[`;
}

/**
 * One batch frame holding `entries[from, to)`'s data frames, the strings already built for
 * single sends: nothing is serialised again.
 */
export function batchFrame(prefix: string, entries: readonly { frame: string }[], from: number, to: number): string {
  let frame = prefix;
  for (let i = from; i < to; i++) frame += i === from ? entries[i]!.frame : `,${entries[i]!.frame}`;
  return `${frame}]}`;
}

/** UTF-8 length of a batch frame of `count` data frames of `itemBytes` in all, after a prefix of `prefixBytes`: commas and `]}` added, nothing scanned. */
export function batchFrameBytes(prefixBytes: number, count: number, itemBytes: number): number {
  return prefixBytes + itemBytes + (count - 1) + 2;
}

/** JSON for an item; undefined (and functions) become null so `data` is always present. Throws what JSON.stringify throws. */
export function itemJson(item: unknown): string {
  return JSON.stringify(item) ?? 'null';
}

export function subscribedFrame(channel: string, seq: number, epoch: string, heartbeatMs: number): string {
  return JSON.stringify({ type: 'subscribed', channel, seq, epoch, heartbeatMs, protocol: PROTOCOL_VERSION });
}

export function unsubscribedFrame(channel: string): string {
  return JSON.stringify({ type: 'unsubscribed', channel });
}

export function gapFrame(channel: string, resumeFrom: number, oldest: number, seq: number, reason: 'evicted' | 'epoch'): string {
  return JSON.stringify({ type: 'gap', channel, resumeFrom, oldest, seq, reason });
}

export function syncedFrame(channel: string, seq: number): string {
  return JSON.stringify({ type: 'synced', channel, seq });
}

export function heartbeatFrame(channel: string, seq: number, time: number): string {
  return JSON.stringify({ type: 'heartbeat', channel, seq, time });
}

export function errorFrame(error: ProtocolError): string {
  return JSON.stringify({ type: 'error', code: error.code, error: error.error, ...(error.channel === undefined ? {} : { channel: error.channel }) });
}
