/**
 * The WebSocket protocol's messages as TypeScript types, shared by the server (src/push/) and the
 * client (src/client/). Types and constants only: safe to bundle for browsers.
 * docs/websocket-protocol.md describes every message with an example.
 */

/** Protocol revision; sent in `subscribed` so clients can check what they talk to. 2 added `batch`. */
export const PROTOCOL_VERSION = 2;

/** Which items of a channel a subscription receives. Every given condition must hold. */
export interface SubscriptionFilter {
  /** Only items with one of these keys. */
  keys?: string[];
  /** Numeric fields of the item that must be at least the given value, e.g. {"probability": 0.7}. */
  min?: Record<string, number>;
  /** Fields of the item that must equal the given value exactly, e.g. {"source": "model"}. */
  equals?: Record<string, string | number | boolean | null>;
}

export interface SubscribeRequest {
  type: 'subscribe';
  channel: string;
  filter?: SubscriptionFilter;
  /** Send the latest item per key first (default true). Ignored when resuming works. */
  snapshot?: boolean;
  /** Last sequence number seen on this channel: the server replays what came after it. */
  resumeFrom?: number;
  /** The `epoch` of the server that numbered `resumeFrom`; another epoch means a restart (a gap). */
  epoch?: string;
  /**
   * Items published together may arrive as one `batch` frame instead of one `data` frame each
   * (default false). A burst of thousands of items then costs a few frames to send and parse.
   */
  batch?: boolean;
}

export interface UnsubscribeRequest {
  type: 'unsubscribe';
  channel: string;
}

export type ClientMessage = SubscribeRequest | UnsubscribeRequest;

export interface SubscribedMessage {
  type: 'subscribed';
  channel: string;
  /** The channel's latest sequence number at the time of subscribing. */
  seq: number;
  /** Identifies this server instance's numbering; changes on restart. */
  epoch: string;
  heartbeatMs: number;
  protocol: number;
}

export interface UnsubscribedMessage {
  type: 'unsubscribed';
  channel: string;
}

export interface DataMessage<T = unknown> {
  type: 'data';
  channel: string;
  /** Per channel, increasing by one per published item (gaps only where a filter or conflation skipped items). */
  seq: number;
  /** Present when the channel's sink gives items a key. */
  key?: string;
  data: T;
}

/**
 * Several `data` messages of one channel in one frame, in sequence order, each exactly as it
 * would have been sent alone. Only to subscriptions that asked for `batch`.
 */
export interface BatchMessage<T = unknown> {
  type: 'batch';
  channel: string;
  items: DataMessage<T>[];
}

export interface GapMessage {
  type: 'gap';
  channel: string;
  /** What the client asked to resume from. */
  resumeFrom: number;
  /** Oldest sequence number the server can still replay (seq + 1 when it holds none). */
  oldest: number;
  /** The channel's latest sequence number. */
  seq: number;
  /** 'evicted': older than the replay buffer; 'epoch': numbered by another server instance. */
  reason: 'evicted' | 'epoch';
}

export interface SyncedMessage {
  type: 'synced';
  channel: string;
  /** Everything up to this sequence number (snapshot or replay) has been sent; live items follow. */
  seq: number;
}

export interface HeartbeatMessage {
  type: 'heartbeat';
  channel: string;
  seq: number;
  /** Server wall-clock time, epoch milliseconds. */
  time: number;
}

/** Machine-readable error codes; the connection stays open after each. */
export type ErrorCode =
  | 'binary_frame'
  | 'malformed_json'
  | 'not_an_object'
  | 'unknown_type'
  | 'invalid_channel'
  | 'invalid_filter'
  | 'invalid_resume'
  | 'too_many_channels'
  | 'forbidden'
  | 'rate_limited';

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  error: string;
  channel?: string;
}

export type ServerMessage =
  | SubscribedMessage
  | UnsubscribedMessage
  | DataMessage
  | BatchMessage
  | GapMessage
  | SyncedMessage
  | HeartbeatMessage
  | ErrorMessage;

/** Close codes the server uses (4000-4999 are the application range of RFC 6455). */
export const CLOSE_CODES = {
  /** Server shutting down: reconnect (to the next instance). */
  goingAway: 1001,
  /** The token's `exp` passed while connected: reconnect with a fresh token. */
  tokenExpired: 4001,
  /** The client stayed behind too long or its send buffer overflowed: it was too slow to read. */
  slowConsumer: 4008,
  /** The client kept sending over the message rate limit after an error frame. */
  rateLimited: 4029,
} as const;
