import type { WebSocket } from 'uWebSockets.js';
import type { AccessGrant } from './access-gate.ts';
import type { LogEntry } from './channel-log.ts';
import type { ChannelState } from './channel-state.ts';
import type { CompiledFilter } from './filter.ts';
import type { TokenBucket } from './token-bucket.ts';

/** What uWS keeps per socket: the grant from the upgrade, then the session made on open. */
export interface SocketData {
  grant: AccessGrant;
  /** The client's address, counted against the per-address connection limit until close. */
  address?: string;
  session?: ClientSession;
}

/** One channel subscription of one client. */
export class Subscription {
  /** In uWS's topic for the channel (C++ fan-out) rather than served from JS. */
  onTopic = false;
  /**
   * Frames not yet handed to the socket, oldest first: a catch-up (snapshot or replay) being sent,
   * or what arrived while the client was behind. Keyed items replace their older pending frame
   * (conflation); keyless items and replayed items each get their own slot.
   */
  readonly pending = new Map<string, LogEntry>();

  constructor(
    readonly session: ClientSession,
    readonly channel: ChannelState,
    readonly filter: CompiledFilter | undefined,
    /** Takes batch frames: items published together go out in as few frames as the size bound allows. */
    readonly batch = false,
  ) {}

  /** Only unfiltered subscriptions may use the topic: uWS cannot filter per subscriber. */
  get topicEligible(): boolean {
    return this.filter === undefined;
  }
}

/** Why the server ended a connection; labels tributary_websocket_disconnects_total. */
export type ServerCloseReason = 'slow_consumer' | 'rate_limited' | 'token_expired' | 'shutdown';

/** One WebSocket connection and what the server tracks for it. */
export class ClientSession {
  readonly subscriptions = new Map<string, Subscription>();
  /** Its socket buffer passed the soft limit: new items go to pending queues (conflated per key). */
  congested = false;
  /** Since when it has been congested or had pending frames; undefined while it keeps up. */
  behindSince: number | undefined;
  pendingFrames = 0;
  /** Bytes of the frames in its pending queues (an upper bound: entries may be shared with the channel's buffers). */
  pendingBytes = 0;
  /** Set when the server decided to close it; the socket is ended once the current operation is done. */
  closeReason: ServerCloseReason | undefined;
  /** The socket is gone (closed by either side); never touch `ws` then. */
  closed = false;

  constructor(
    readonly ws: WebSocket<SocketData>,
    readonly grant: AccessGrant,
    readonly bucket: TokenBucket,
  ) {}

  /** Still usable: neither closed nor condemned. */
  get live(): boolean {
    return !this.closed && this.closeReason === undefined;
  }
}
