import { randomBytes } from 'node:crypto';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { AccessGrant } from './access-gate.ts';
import { itemOfFrame, type LogEntry } from './channel-log.ts';
import { ChannelState } from './channel-state.ts';
import { Delivery, SYNCED_SLOT } from './delivery.ts';
import { matchesFilter, testsFields } from './filter.ts';
import { gapFrame, heartbeatFrame, subscribedFrame, syncedFrame, unsubscribedFrame } from './frames.ts';
import type { PushMetrics } from './push-metrics.ts';
import type { PushSettings } from './push-options.ts';
import type { ParsedRequest } from './protocol.ts';
import { ClientSession, type SocketData, Subscription } from './session.ts';
import { TokenBucket } from './token-bucket.ts';

/**
 * Every session joins this topic, which nobody publishes to: uWS frees a socket's topic subscriber
 * (and with it frames still queued for it) when it leaves its last topic, which would lose frames
 * when a slow client leaves a channel topic.
 */
const KEEPALIVE_TOPIC = '$session';

export interface PushStats {
  clients: number;
  slowClients: number;
  channels: number;
  pendingFrames: number;
  pendingBytes: number;
  /** Sum of every client's uWS send buffer (getBufferedAmount). */
  socketBufferedBytes: number;
  replayBytes: number;
  snapshotBytes: number;
}

type SubscribeRequest = Extract<ParsedRequest, { type: 'subscribe' }>;

/** Which view of a channel: what every client gets, or (governed channels) what admins get. */
export type ChannelView = 'public' | 'admin';

/** Channels and sessions: publishing, subscribing with catch-up, heartbeats and timeouts. */
export class ChannelHub {
  /** Names this server instance's sequence numbers; a resume with another epoch is a gap. */
  readonly epoch = randomBytes(8).toString('hex');
  readonly sessions = new Set<ClientSession>();
  readonly delivery: Delivery;
  /** By topic: a governed channel has two, its public view and its admin view. */
  private readonly channels = new Map<string, ChannelState>();
  /** Channels whose admin view is published separately (their frames differ by role). */
  private readonly adminViews = new Set<string>();
  private nextHeartbeat: number;

  constructor(
    private readonly app: TemplatedApp,
    private readonly settings: PushSettings,
    private readonly metrics: PushMetrics,
  ) {
    this.delivery = new Delivery(settings, metrics, this.sessions, (session) => this.detach(session));
    this.nextHeartbeat = Date.now() + settings.heartbeatIntervalMs;
  }

  open(ws: WebSocket<SocketData>, grant: AccessGrant): ClientSession {
    const session = new ClientSession(ws, grant, new TokenBucket(this.settings.messagesPerSecond, this.settings.messageBurst, Date.now()));
    ws.subscribe(KEEPALIVE_TOPIC);
    this.sessions.add(session);
    return session;
  }

  /** Ends what an operation left: condemned sockets are closed, counters reach the registry. */
  finish(): void {
    this.delivery.reap();
    this.metrics.commit();
  }

  /** Forgets a session (closed by either side). Idempotent; never touches a closed socket. */
  detach(session: ClientSession): void {
    if (!this.sessions.delete(session)) return;
    for (const sub of session.subscriptions.values()) this.removeSubscription(sub, false, 'disconnect');
    session.subscriptions.clear();
  }

  /**
   * Publishes items already serialised (`json[i]` for `items[i]`): numbers them, remembers them,
   * fans them out through the uWS topic to clients that keep up and from JS to the others.
   */
  publish(name: string, json: readonly string[], items: readonly unknown[], keys: readonly (string | undefined)[] | undefined, view: ChannelView = 'public'): void {
    if (view === 'admin') this.adminViews.add(name);
    const channel = this.channel(name, view);
    const entries = new Array<LogEntry>(json.length);
    for (let i = 0; i < json.length; i++) entries[i] = channel.append(json[i]!, keys?.[i]);
    // Taken before the topic phase: subscribers demoted during it get the rest of this batch below.
    const direct = channel.directSubscribers.size > 0 ? [...channel.directSubscribers] : [];
    if (channel.topicSubscribers.size > 0) this.publishToTopic(channel, entries);
    if (channel.batchTopicSubscribers.size > 0) this.publishBatchesToTopic(channel, entries);
    for (const sub of direct) {
      if (!sub.session.live) continue;
      sub.session.ws.cork(() => {
        if (sub.batch) this.delivery.deliverBatch(sub, sub.filter === undefined ? entries : entries.filter((entry, i) => matchesFilter(sub.filter!, entry.key, items[i])));
        else for (let i = 0; i < entries.length; i++) if (sub.filter === undefined || matchesFilter(sub.filter, entries[i]!.key, items[i])) this.delivery.deliver(sub, entries[i]!);
      });
    }
    this.finish();
  }

  /** From now on, admins subscribing to `name` get its admin view (published with view 'admin'). */
  declareAdminView(name: string): void {
    this.adminViews.add(name);
  }

  subscribe(session: ClientSession, request: SubscribeRequest): void {
    const existing = session.subscriptions.get(request.channel);
    if (existing !== undefined) this.removeSubscription(existing, true, undefined);
    // The grant's role picks the view; deny by default: only an admin token gets the admin one.
    const view: ChannelView = session.grant.role === 'admin' && this.adminViews.has(request.channel) ? 'admin' : 'public';
    const channel = this.channel(request.channel, view);
    const sub = new Subscription(session, channel, request.filter, request.batch);
    session.subscriptions.set(channel.name, sub);
    channel.directSubscribers.add(sub);
    const head = channel.seq;
    this.delivery.sendControl(session, subscribedFrame(channel.name, head, this.epoch, this.settings.heartbeatIntervalMs));

    const { entries, replay } = this.catchUp(session, channel, request);
    // Entries hold frames only: a filter on fields reads each item back from its frame.
    const readsFields = sub.filter !== undefined && testsFields(sub.filter);
    for (const entry of entries) {
      if (sub.filter === undefined || matchesFilter(sub.filter, entry.key, readsFields ? itemOfFrame(entry) : undefined)) this.delivery.enqueue(sub, entry, !replay);
    }
    const synced = syncedFrame(channel.name, head);
    this.delivery.enqueue(sub, { seq: head, key: undefined, frame: synced, bytes: Buffer.byteLength(synced) }, false, SYNCED_SLOT);
    this.delivery.flush(session);
    this.finish();
  }

  unsubscribe(session: ClientSession, name: string): void {
    const sub = session.subscriptions.get(name);
    if (sub !== undefined) {
      session.subscriptions.delete(name);
      this.removeSubscription(sub, true, undefined);
      // Its pending frames may have been all that held the client behind.
      if (session.pendingFrames === 0 && !session.congested) session.behindSince = undefined;
    }
    this.delivery.sendControl(session, unsubscribedFrame(name));
  }

  /** Timer work (every few hundred ms): expired tokens, clients behind too long, heartbeats, gauges. */
  tick(now: number): void {
    const { maxBehindMs, softBufferBytes } = this.settings;
    for (const session of this.sessions) {
      if (!session.live) continue;
      if (session.grant.expiresAt !== undefined && now >= session.grant.expiresAt) this.delivery.condemn(session, 'token_expired');
      else if (session.behindSince !== undefined && now - session.behindSince > maxBehindMs) this.delivery.condemn(session, 'slow_consumer');
      else if ((session.congested || session.pendingFrames > 0) && session.ws.getBufferedAmount() <= softBufferBytes) {
        session.ws.cork(() => this.delivery.flush(session)); // in case no drain event comes
      }
    }
    this.finish();
    if (now >= this.nextHeartbeat) {
      this.nextHeartbeat = now + this.settings.heartbeatIntervalMs;
      this.heartbeat(now);
    }
    const stats = this.stats();
    this.metrics.buffers(stats.slowClients, { replay: stats.replayBytes, snapshot: stats.snapshotBytes, pending: stats.pendingBytes, socket: stats.socketBufferedBytes });
  }

  stats(): PushStats {
    let slowClients = 0;
    let socketBufferedBytes = 0;
    for (const session of this.sessions) {
      if (session.behindSince !== undefined) slowClients += 1;
      if (!session.closed) socketBufferedBytes += session.ws.getBufferedAmount();
    }
    let replayBytes = 0;
    let snapshotBytes = 0;
    for (const channel of this.channels.values()) {
      replayBytes += channel.replay.bytes;
      snapshotBytes += channel.latest.bytes;
    }
    const { totalPendingFrames: pendingFrames, totalPendingBytes: pendingBytes } = this.delivery;
    return { clients: this.sessions.size, slowClients, channels: this.channels.size, pendingFrames, pendingBytes, socketBufferedBytes, replayBytes, snapshotBytes };
  }

  /** Frames for a subscriber's start: a replay after `resumeFrom`, else (or after a gap) the snapshot. */
  private catchUp(session: ClientSession, channel: ChannelState, request: SubscribeRequest): { entries: Iterable<LogEntry>; replay: boolean } {
    const { resumeFrom } = request;
    if (resumeFrom !== undefined) {
      const oldest = channel.oldestReplayable();
      const otherServer = (request.epoch !== undefined && request.epoch !== this.epoch) || resumeFrom > channel.seq;
      if (!otherServer && resumeFrom + 1 >= oldest) return { entries: channel.replay.after(resumeFrom), replay: true };
      this.delivery.sendControl(session, gapFrame(channel.name, resumeFrom, oldest, channel.seq, otherServer ? 'epoch' : 'evicted'));
    }
    return { entries: request.snapshot ? [...channel.latest.values()] : [], replay: false };
  }

  private publishToTopic(channel: ChannelState, entries: readonly LogEntry[]): void {
    const counters = this.metrics.channel(channel.name);
    const checkEvery = this.settings.softBufferBytes / 2;
    let sinceCheck = 0;
    let frames = 0;
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const subscribers = channel.topicSubscribers.size;
      if (subscribers === 0) break;
      this.app.publish(channel.topic, entry.frame, false, false);
      frames += subscribers;
      bytes += subscribers * entry.bytes;
      sinceCheck += entry.bytes;
      if (sinceCheck < checkEvery && i < entries.length - 1) continue;
      sinceCheck = 0;
      // Demoted now: the rest of the batch waits in their pending queues.
      for (const sub of this.delivery.checkTopicSubscribers(channel.topicSubscribers)) for (let j = i + 1; j < entries.length; j++) this.delivery.enqueue(sub, entries[j]!, true);
    }
    counters.delivered(frames, bytes);
  }

  /** The batch topic's share of a publish: frames of at most batchFrameBytes, each followed by a check of the soft limit. */
  private publishBatchesToTopic(channel: ChannelState, entries: readonly LogEntry[]): void {
    const members = channel.batchTopicSubscribers;
    let items = 0;
    let bytes = 0;
    for (let from = 0; from < entries.length && members.size > 0; ) {
      const to = this.delivery.batchEnd(channel, entries, from);
      const { frame, bytes: frameBytes } = channel.frameOf(entries, from, to);
      this.app.publish(channel.batchTopic, frame, false, false);
      items += members.size * (to - from);
      bytes += members.size * frameBytes;
      from = to;
      for (const sub of this.delivery.checkTopicSubscribers(members)) for (let j = from; j < entries.length; j++) this.delivery.enqueue(sub, entries[j]!, true);
    }
    this.metrics.channel(channel.name).delivered(items, bytes);
  }

  private heartbeat(now: number): void {
    for (const channel of this.channels.values()) {
      if (channel.subscriberCount === 0) continue;
      const frame = heartbeatFrame(channel.name, channel.seq, now);
      if (channel.topicSubscribers.size > 0) this.app.publish(channel.topic, frame, false, false);
      if (channel.batchTopicSubscribers.size > 0) this.app.publish(channel.batchTopic, frame, false, false);
      for (const sub of channel.directSubscribers) {
        // A client behind gets no heartbeat: its seq would claim items it has not received.
        if (sub.session.live && !sub.session.congested && sub.pending.size === 0) this.delivery.sendControl(sub.session, frame);
      }
    }
  }

  private channel(name: string, view: ChannelView = 'public'): ChannelState {
    const topic = view === 'admin' ? `${name}#admin` : name;
    let channel = this.channels.get(topic);
    if (channel === undefined) {
      const { replayItems, replayBytes } = this.settings.replayByChannel.get(name) ?? this.settings;
      const { snapshotKeys, snapshotBytes } = this.settings;
      channel = new ChannelState(name, { replayItems, replayBytes, snapshotKeys, snapshotBytes }, topic);
      this.channels.set(topic, channel);
    }
    return channel;
  }

  /** `socketOpen` false after a close: uWS has already dropped the socket's topics. */
  private removeSubscription(sub: Subscription, socketOpen: boolean, dropReason: 'disconnect' | undefined): void {
    const { channel, session } = sub;
    if (sub.onTopic && socketOpen) session.ws.unsubscribe(channel.topicOf(sub).topic);
    channel.topicSubscribers.delete(sub);
    channel.batchTopicSubscribers.delete(sub);
    channel.directSubscribers.delete(sub);
    sub.onTopic = false;
    const frames = this.delivery.discardPending(sub);
    if (dropReason !== undefined && frames > 0) this.metrics.channel(channel.name).dropped(dropReason, frames);
    if (channel.isDisposable()) this.channels.delete(channel.topic);
  }
}
