import type { DataMessage, GapMessage, SubscribeRequest, SubscriptionFilter, SyncedMessage } from './wire-types.ts';
import { TypedEmitter } from './typed-emitter.ts';

export interface SubscribeOptions {
  filter?: SubscriptionFilter;
  /** Latest item per key first (default true). */
  snapshot?: boolean;
}

export type SubscriptionEvents<T> = {
  /** One item: `data` is the item, `message` the whole frame (seq, key). */
  data: (data: T, message: DataMessage<T>) => void;
  /** The catch-up (snapshot or replay) is complete; live items follow. */
  synced: (message: SyncedMessage) => void;
  /** Resuming was impossible (items were missed); a snapshot follows unless `snapshot: false`. */
  gap: (message: GapMessage) => void;
};

/**
 * One channel of a TributaryClient. Remembers the last sequence number it saw, so a reconnect
 * resumes where it left off, and drops frames it has already seen.
 */
export class ChannelSubscription<T = unknown> extends TypedEmitter<SubscriptionEvents<T>> {
  /** Sequence number of the last item seen (or skipped by the filter); undefined before any. */
  lastSeq: number | undefined;
  /** The server instance that numbered `lastSeq`. */
  epoch: string | undefined;

  constructor(
    readonly channel: string,
    readonly options: SubscribeOptions,
    private readonly detach: (subscription: ChannelSubscription<T>) => void,
  ) {
    super();
  }

  unsubscribe(): void {
    this.detach(this);
  }

  /** The subscribe message for (re)connecting: resumes from `lastSeq` when there is one. */
  request(): SubscribeRequest {
    // This client unpacks batch frames into items, so it always takes them (fewer frames in a burst).
    const request: SubscribeRequest = { type: 'subscribe', channel: this.channel, batch: true };
    if (this.options.filter !== undefined) request.filter = this.options.filter;
    if (this.options.snapshot !== undefined) request.snapshot = this.options.snapshot;
    if (this.lastSeq !== undefined) {
      request.resumeFrom = this.lastSeq;
      if (this.epoch !== undefined) request.epoch = this.epoch;
    }
    return request;
  }

  /** @internal The client routes this channel's frames here; false for a frame already seen. */
  handleData(message: DataMessage<T>): boolean {
    if (this.lastSeq !== undefined && message.seq <= this.lastSeq) return false; // overlap after a resume
    this.lastSeq = message.seq;
    this.emit('data', message.data, message);
    return true;
  }

  /** @internal Everything up to `seq` that matches the filter has been received. */
  handleCaughtUp(seq: number): void {
    if (this.lastSeq === undefined || seq > this.lastSeq) this.lastSeq = seq;
  }

  /** @internal */
  handleSynced(message: SyncedMessage): void {
    this.handleCaughtUp(message.seq);
    this.emit('synced', message);
  }

  /** @internal The numbering we held is void: accept whatever the snapshot sends. */
  handleGap(message: GapMessage): void {
    this.lastSeq = undefined;
    this.emit('gap', message);
  }
}
