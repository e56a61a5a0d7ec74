import type { LogEntry } from './channel-log.ts';
import type { ChannelState } from './channel-state.ts';
import type { PushMetrics } from './push-metrics.ts';
import type { PushSettings } from './push-options.ts';
import type { ClientSession, ServerCloseReason, Subscription } from './session.ts';
import { CLOSE_CODES } from '../client/wire-types.ts';

/** uWS WebSocket.send results: 0 buffered (backpressure), 1 written, 2 dropped (past the hard limit). */
const SEND_BACKPRESSURE = 0;
const SEND_DROPPED = 2;

/** The pending-queue slot of a catch-up's closing `synced` frame (keys are 'k…', replayed items '#…'). */
export const SYNCED_SLOT = 'synced';

const NONE: readonly Subscription[] = [];

const CLOSE: Record<Exclude<ServerCloseReason, 'shutdown'>, [code: number, text: string]> = {
  slow_consumer: [CLOSE_CODES.slowConsumer, 'too slow: send buffer limit'],
  rate_limited: [CLOSE_CODES.rateLimited, 'message rate limit exceeded'],
  token_expired: [CLOSE_CODES.tokenExpired, 'token expired'],
};

/**
 * The slow-client policy. A client whose socket buffer (uWS getBufferedAmount) passes the soft limit
 * is "congested": it leaves the uWS topics and new items wait in its pending queues, one per key
 * (conflation: a newer item replaces the pending one), flushed when uWS reports `drain`. A client
 * that stays behind too long, or whose pending frames pass their bound, is closed with 4008.
 * Sessions are never ended mid-iteration: `condemn` marks them and `reap` ends them afterwards.
 */
export class Delivery {
  totalPendingBytes = 0;
  totalPendingFrames = 0;
  /**
   * Largest batch frame (one bigger item goes alone): half the soft limit, the bytes published
   * between two checks of it, which keeps every socket under uWS's hard limit.
   */
  readonly batchFrameBytes: number;
  private condemned: ClientSession[] = [];

  constructor(
    private readonly settings: PushSettings,
    private readonly metrics: PushMetrics,
    private readonly sessions: ReadonlySet<ClientSession>,
    /** Called for a condemned session before its socket is ended: forget its subscriptions. */
    private readonly detach: (session: ClientSession) => void,
  ) {
    this.batchFrameBytes = Math.max(1, Math.floor(settings.softBufferBytes / 2));
  }

  /** A control frame (ack, error, gap): sent at once, never queued, so it is never conflated away. */
  sendControl(session: ClientSession, frame: string): void {
    if (session.live) this.write(session, frame);
  }

  /** One item for one subscriber that passed its filter. */
  deliver(sub: Subscription, entry: LogEntry): void {
    const session = sub.session;
    if (!session.live) return;
    if (session.congested || sub.pending.size > 0) {
      this.enqueue(sub, entry, true);
      return;
    }
    this.sendData(session, entry, sub.channel.name);
  }

  /**
   * Items of one publish that passed a batch subscriber's filter: batch frames of at most
   * `batchFrameBytes` while the client keeps up, the pending queue for the rest once it does not.
   */
  deliverBatch(sub: Subscription, entries: readonly LogEntry[]): void {
    const session = sub.session;
    let from = 0;
    while (from < entries.length && session.live) {
      if (session.congested || sub.pending.size > 0) {
        for (; from < entries.length; from++) this.enqueue(sub, entries[from]!, true);
        return;
      }
      const to = this.batchEnd(sub.channel, entries, from);
      this.sendBatch(session, sub.channel, entries, from, to);
      from = to;
    }
  }

  /** Where the batch frame of `channel` starting at `from` ends: at least one entry, at most batchFrameBytes in all. */
  batchEnd(channel: ChannelState, entries: readonly LogEntry[], from: number): number {
    let to = from + 1;
    let itemBytes = entries[from]!.bytes;
    while (to < entries.length && channel.batchBytes(to - from + 1, itemBytes + entries[to]!.bytes) <= this.batchFrameBytes) itemBytes += entries[to++]!.bytes;
    return to;
  }

  /** Queues a frame; `conflate` lets it replace a pending frame with the same key. */
  enqueue(sub: Subscription, entry: LogEntry, conflate: boolean, slot = conflate && entry.key !== undefined ? `k${entry.key}` : `#${entry.seq}`): void {
    const session = sub.session;
    if (!session.live) return;
    const previous = sub.pending.get(slot);
    if (previous !== undefined) {
      sub.pending.delete(slot); // re-inserted below, at the end: pending stays in sequence order
      this.unaccount(session, previous);
      this.metrics.channel(sub.channel.name).conflated();
    }
    sub.pending.set(slot, entry);
    session.pendingFrames += 1;
    session.pendingBytes += entry.bytes;
    this.totalPendingFrames += 1;
    this.totalPendingBytes += entry.bytes;
    session.behindSince ??= Date.now();
    if (session.pendingBytes > this.settings.maxPendingBytes) this.condemn(session, 'slow_consumer');
    else if (this.totalPendingBytes > this.settings.maxTotalPendingBytes) this.condemnLargest();
  }

  /**
   * Sends pending frames while the socket buffer stays under the soft limit. Once everything is
   * out, the client keeps up again: unfiltered subscriptions go back to the uWS topic.
   */
  flush(session: ClientSession): void {
    if (!session.live) return;
    const soft = this.settings.softBufferBytes;
    if (session.ws.getBufferedAmount() > soft) {
      this.markCongested(session);
      return;
    }
    for (const sub of session.subscriptions.values()) {
      if (sub.pending.size === 0) continue;
      if (sub.batch) {
        if (!this.flushBatched(session, sub)) return;
        continue;
      }
      for (const [slot, entry] of sub.pending) {
        sub.pending.delete(slot);
        this.unaccount(session, entry);
        if (slot === SYNCED_SLOT) this.write(session, entry.frame);
        else this.sendData(session, entry, sub.channel.name);
        if (!session.live) return;
        if (session.ws.getBufferedAmount() > soft) {
          this.markCongested(session);
          return;
        }
      }
    }
    session.congested = false;
    session.behindSince = undefined;
    for (const sub of session.subscriptions.values()) if (sub.topicEligible && !sub.onTopic) this.promote(sub);
  }

  /** flush() for a batch subscriber: pending items in batch frames, the catch-up's `synced` after them. False once the client is behind again. */
  private flushBatched(session: ClientSession, sub: Subscription): boolean {
    const run: LogEntry[] = [];
    let itemBytes = 0;
    for (const [slot, entry] of sub.pending) {
      const synced = slot === SYNCED_SLOT;
      // The run goes out before `synced`, and before an item that would take it past the bound.
      if (run.length > 0 && (synced || sub.channel.batchBytes(run.length + 1, itemBytes + entry.bytes) > this.batchFrameBytes)) {
        this.sendBatch(session, sub.channel, run, 0, run.length);
        run.length = 0;
        itemBytes = 0;
        if (!this.keepsUp(session)) return false;
      }
      sub.pending.delete(slot);
      this.unaccount(session, entry);
      if (synced) {
        this.write(session, entry.frame);
        if (!this.keepsUp(session)) return false;
      } else {
        itemBytes += entry.bytes;
        run.push(entry);
      }
    }
    if (run.length > 0) this.sendBatch(session, sub.channel, run, 0, run.length);
    return this.keepsUp(session);
  }

  /** After a send: false (and the client marked congested) once its socket buffer is past the soft limit or it is gone. */
  private keepsUp(session: ClientSession): boolean {
    if (!session.live) return false;
    if (session.ws.getBufferedAmount() <= this.settings.softBufferBytes) return true;
    this.markCongested(session);
    return false;
  }

  /** Moves the client's topic subscriptions to JS delivery; new items queue from now on. */
  markCongested(session: ClientSession): void {
    if (session.congested || !session.live) return;
    session.congested = true;
    session.behindSince ??= Date.now();
    for (const sub of session.subscriptions.values()) if (sub.onTopic) this.demote(sub);
  }

  /**
   * After topic publishes: clients of `members` whose buffers passed the soft limit become
   * congested. Returns their subscriptions, now off the topic: the rest of the publish is theirs to queue.
   */
  checkTopicSubscribers(members: ReadonlySet<Subscription>): readonly Subscription[] {
    const soft = this.settings.softBufferBytes;
    let behind: Subscription[] | undefined;
    for (const sub of members) if (sub.session.ws.getBufferedAmount() > soft) (behind ??= []).push(sub);
    if (behind === undefined) return NONE;
    for (const sub of behind) this.markCongested(sub.session);
    return behind;
  }

  promote(sub: Subscription): void {
    const { topic, members } = sub.channel.topicOf(sub);
    sub.session.ws.subscribe(topic);
    sub.onTopic = true;
    sub.channel.directSubscribers.delete(sub);
    members.add(sub);
  }

  demote(sub: Subscription): void {
    // Frames uWS already queued for this socket stay queued (the session's keep-alive topic keeps
    // its subscriber alive) and reach the socket before anything sent directly.
    const { topic, members } = sub.channel.topicOf(sub);
    sub.session.ws.unsubscribe(topic);
    sub.onTopic = false;
    members.delete(sub);
    sub.channel.directSubscribers.add(sub);
  }

  /** Forgets a subscription's pending frames (unsubscribe, disconnect); returns how many data frames there were. */
  discardPending(sub: Subscription): number {
    const frames = sub.pending.size - (sub.pending.has(SYNCED_SLOT) ? 1 : 0);
    for (const entry of sub.pending.values()) this.unaccount(sub.session, entry);
    sub.pending.clear();
    return frames;
  }

  /** Marks a session to be closed with `reason` once the current operation is done (see reap). */
  condemn(session: ClientSession, reason: Exclude<ServerCloseReason, 'shutdown'>): void {
    if (!session.live) return;
    session.closeReason = reason;
    this.condemned.push(session);
    // Its pending frames go now, so the bounds see the memory as free before the socket is ended.
    for (const sub of session.subscriptions.values()) {
      const frames = this.discardPending(sub);
      if (frames > 0) this.metrics.channel(sub.channel.name).dropped('disconnect', frames);
    }
  }

  /** Ends the sockets of condemned sessions. Call after every operation that may condemn. */
  reap(): void {
    if (this.condemned.length === 0) return;
    const condemned = this.condemned;
    this.condemned = [];
    for (const session of condemned) {
      this.detach(session);
      if (session.closed) continue;
      const [code, text] = CLOSE[session.closeReason as Exclude<ServerCloseReason, 'shutdown'>];
      // The close frame queues behind what the socket already holds: a client that resumes reading
      // gets everything sent so far, then the code.
      session.ws.end(code, text);
    }
  }

  /**
   * Sends a frame; false when uWS refused it (the socket is past its hard limit and being closed).
   * A send that left bytes buffered may have taken the client past the soft limit: then it is behind.
   */
  private write(session: ClientSession, frame: string): boolean {
    const status = session.ws.send(frame, false, false);
    if (status === SEND_BACKPRESSURE && session.ws.getBufferedAmount() > this.settings.softBufferBytes) this.markCongested(session);
    return status !== SEND_DROPPED;
  }

  private sendData(session: ClientSession, entry: LogEntry, channel: string): void {
    if (this.write(session, entry.frame)) this.metrics.channel(channel).delivered(1, entry.bytes);
    else this.metrics.channel(channel).dropped('backpressure', 1);
  }

  /** `entries[from, to)` as one batch frame (a lone item as its data frame). */
  private sendBatch(session: ClientSession, channel: ChannelState, entries: readonly LogEntry[], from: number, to: number): void {
    const { frame, bytes } = channel.frameOf(entries, from, to);
    if (this.write(session, frame)) this.metrics.channel(channel.name).delivered(to - from, bytes);
    else this.metrics.channel(channel.name).dropped('backpressure', to - from);
  }


  private unaccount(session: ClientSession, entry: LogEntry): void {
    session.pendingFrames -= 1;
    session.pendingBytes -= entry.bytes;
    this.totalPendingFrames -= 1;
    this.totalPendingBytes -= entry.bytes;
  }

  private condemnLargest(): void {
    let largest: ClientSession | undefined;
    for (const session of this.sessions) {
      if (session.live && (largest === undefined || session.pendingBytes > largest.pendingBytes)) largest = session;
    }
    if (largest !== undefined) this.condemn(largest, 'slow_consumer');
  }
}
