import type { DataMessage, ErrorMessage, GapMessage, HeartbeatMessage, ServerMessage, SubscribedMessage, SyncedMessage } from './wire-types.ts';
import { type BackoffOptions, backoffDelay } from './backoff.ts';
import { ChannelSubscription, type SubscribeOptions } from './channel-subscription.ts';
import { TypedEmitter } from './typed-emitter.ts';

export { ChannelSubscription, type SubscribeOptions } from './channel-subscription.ts';
export { CLOSE_CODES, type DataMessage, type GapMessage, type SubscriptionFilter } from './wire-types.ts';

/** The part of the WebSocket API the client uses: the browser's, or the `ws` package's in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface TributaryClientOptions {
  /** The endpoint, e.g. ws://127.0.0.1:8080/ws. */
  url: string;
  /** Access token (sent as ?token=), or a function asked before every connect (for fresh tokens). */
  token?: string | (() => string | Promise<string>);
  /** Defaults to the global WebSocket (browsers, Node 22+); in Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect with backoff after every close not asked for by close(); false turns it off. */
  reconnect?: false | BackoffOptions;
  /** Reconnect when nothing arrived for this long. Default 3 heartbeat intervals (30 s before the first ack). */
  silenceTimeoutMs?: number;
}

export type ClientEvents = {
  open: () => void;
  close: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  reconnecting: (info: { attempt: number; delayMs: number }) => void;
  subscribed: (message: SubscribedMessage) => void;
  data: (message: DataMessage) => void;
  synced: (message: SyncedMessage) => void;
  gap: (message: GapMessage) => void;
  heartbeat: (message: HeartbeatMessage) => void;
  /** An error frame from the server (the connection stays open). */
  error: (message: ErrorMessage) => void;
};

const OPEN = 1;

/**
 * A typed client for Tributary's WebSocket protocol (docs/websocket-protocol.md), for browsers and
 * Node. Subscribes with filters, reconnects with backoff and resumes every channel from the last
 * sequence number it saw, so a dropped connection loses nothing the server still holds.
 *
 * @example
 * const client = new TributaryClient({ url: 'ws://127.0.0.1:8080/ws', WebSocket });
 * client.subscribe<Prediction>('fraud', { filter: { min: { probability: 0.7 } } }).on('data', (p) => show(p));
 */
export class TributaryClient extends TypedEmitter<ClientEvents> {
  private readonly subscriptions = new Map<string, ChannelSubscription<unknown>>();
  private readonly WebSocketClass: WebSocketConstructor;
  private socket: WebSocketLike | undefined;
  private attempt = 0;
  private closedByUser = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;
  private silenceTimeoutMs: number;

  constructor(private readonly options: TributaryClientOptions) {
    super();
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) throw new TypeError('no WebSocket implementation: pass one as options.WebSocket (e.g. from the ws package)');
    this.WebSocketClass = WebSocketClass;
    this.silenceTimeoutMs = options.silenceTimeoutMs ?? 30_000;
    void this.connect();
  }

  get connected(): boolean {
    return this.socket?.readyState === OPEN;
  }

  /** Subscribes (or replaces the subscription) to a channel; the server is told now or on connect. */
  subscribe<T = unknown>(channel: string, options: SubscribeOptions = {}): ChannelSubscription<T> {
    this.subscriptions.get(channel)?.unsubscribe();
    const subscription = new ChannelSubscription<T>(channel, options, (sub) => this.detach(sub as unknown as ChannelSubscription<unknown>));
    this.subscriptions.set(channel, subscription as unknown as ChannelSubscription<unknown>);
    if (this.connected) this.socket!.send(JSON.stringify(subscription.request()));
    return subscription;
  }

  /** Closes for good (no reconnect). */
  close(): void {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.silenceTimer);
    this.socket?.close(1000, 'client closed');
  }

  private detach(subscription: ChannelSubscription<unknown>): void {
    if (this.subscriptions.get(subscription.channel) !== subscription) return;
    this.subscriptions.delete(subscription.channel);
    if (this.connected) this.socket!.send(JSON.stringify({ type: 'unsubscribe', channel: subscription.channel }));
  }

  private async connect(): Promise<void> {
    let url = this.options.url;
    let token: string | undefined;
    try {
      token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    } catch {
      if (!this.closedByUser && this.options.reconnect !== false) this.scheduleReconnect(); // the token source is down: retry later
      return;
    }
    if (this.closedByUser) return;
    if (token !== undefined) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    const socket = new this.WebSocketClass(url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.armSilenceTimer();
      for (const subscription of this.subscriptions.values()) socket.send(JSON.stringify(subscription.request()));
      this.emit('open');
    };
    socket.onmessage = (event) => {
      this.armSilenceTimer();
      this.handleFrame(String(event.data));
    };
    socket.onerror = () => {}; // onclose follows and decides
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearTimeout(this.silenceTimer);
      const willReconnect = !this.closedByUser && this.options.reconnect !== false;
      this.emit('close', { code: event.code, reason: event.reason, willReconnect });
      if (willReconnect) this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    const delayMs = backoffDelay(this.attempt, this.options.reconnect === false ? {} : this.options.reconnect);
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  /** A connection that went silent (no data, no heartbeat) is presumed dead: reconnect. */
  private armSilenceTimer(): void {
    clearTimeout(this.silenceTimer);
    const socket = this.socket;
    this.silenceTimer = setTimeout(() => socket?.close(4000, 'silent connection'), this.silenceTimeoutMs);
  }

  private handleFrame(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return; // not ours to crash on
    }
    const subscription = 'channel' in message && message.channel !== undefined ? this.subscriptions.get(message.channel) : undefined;
    switch (message.type) {
      case 'data':
        if (subscription?.handleData(message)) this.emit('data', message);
        break;
      case 'batch':
        // Each item as if it had come alone; a malformed batch is ignored like a malformed frame.
        if (subscription !== undefined && Array.isArray(message.items)) {
          for (const item of message.items) if (subscription.handleData(item)) this.emit('data', item);
        }
        break;
      case 'subscribed':
        if (subscription) subscription.epoch = message.epoch;
        if (this.options.silenceTimeoutMs === undefined) this.silenceTimeoutMs = 3 * message.heartbeatMs;
        this.emit('subscribed', message);
        break;
      case 'synced':
        subscription?.handleSynced(message);
        this.emit('synced', message);
        break;
      case 'gap':
        subscription?.handleGap(message);
        this.emit('gap', message);
        break;
      case 'heartbeat':
        subscription?.handleCaughtUp(message.seq);
        this.emit('heartbeat', message);
        break;
      case 'error':
        this.emit('error', message);
        break;
      default:
        break; // newer server messages: ignore
    }
  }
}
