import { WebSocket, type RawData } from 'ws';
import type { Frame } from './frame-cases.ts';

/** Frames that answer a client message; the rest (data, heartbeat, gap, synced) are stream traffic. */
const ANSWERS = new Set(['error', 'subscribed', 'unsubscribed']);
const STREAM = new Set(['data', 'heartbeat', 'gap', 'synced']);

/**
 * A real `ws` client that sends hostile frames and reads back what answers each: the next error,
 * subscribed or unsubscribed frame (skipping stream traffic), or the close, as an outcome string
 * ('error:invalid_filter', 'subscribed', 'close:1006', 'no answer', 'unexpected: ...').
 */
export class FuzzSocket {
  /** Frames sent on this connection (the rate limit's burst bounds how many a connection may send). */
  sent = 0;
  closeCode: number | undefined;
  /** Why the `ws` client failed the connection, when it did. */
  error: string | undefined;
  /** Frames received, of any type. */
  received = 0;
  /** Every data frame's payload seen, for checks that a published item arrived. */
  readonly data: unknown[] = [];
  private readonly answers: string[] = [];
  private wake: (() => void) | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (raw: RawData, isBinary: boolean) => this.receive(raw, isBinary));
    socket.once('close', (code) => {
      this.closeCode = code;
      this.notify();
    });
    // The close follows; the error says why when the client itself gave up (e.g. an invalid frame from the server).
    socket.on('error', (error) => {
      this.error ??= error.message;
    });
  }

  static open(url: string): Promise<FuzzSocket> {
    const socket = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new FuzzSocket(socket)));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  get open(): boolean {
    return this.closeCode === undefined && this.socket.readyState === WebSocket.OPEN;
  }

  send(frame: Frame): void {
    this.sent += 1;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(frame.data, { binary: frame.binary });
  }

  /**
   * The next answer, the close, or 'no answer' after `timeoutMs` (long: the server answers in
   * milliseconds, but a loaded 2-core machine can stall a process for seconds).
   */
  async nextAnswer(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.answers.shift();
      if (answer !== undefined) return answer;
      if (this.closeCode !== undefined) return this.error === undefined ? `close:${this.closeCode}` : `close:${this.closeCode} (client error: ${this.error})`;
      const left = deadline - Date.now();
      if (left <= 0) return 'no answer';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits for a data frame whose payload passes `match`. */
  async awaitData(match: (data: unknown) => boolean, timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.data.some(match)) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  }

  close(): Promise<void> {
    if (this.closeCode !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }

  /**
   * Whether `outcome` says the server dropped this connection right after the upgrade, before it
   * read the first frame: uWS 20.30 can close a WebSocket upgraded asynchronously (the token check
   * is async) inside res.cork() (uNetworking/uWebSockets#1928, fixed upstream by #1929). The frame
   * was never read, so it has to be sent again on a new connection.
   */
  droppedAtConnect(outcome: string): boolean {
    return outcome === 'close:1006' && this.sent === 1 && this.received === 0;
  }

  private receive(raw: RawData, isBinary: boolean): void {
    this.received += 1;
    let frame: { type?: unknown; code?: unknown; data?: unknown };
    try {
      frame = JSON.parse(raw.toString()) as typeof frame;
    } catch {
      this.answers.push(`unexpected: a frame that is not JSON${isBinary ? ' (binary)' : ''}`);
      this.notify();
      return;
    }
    const type = String(frame.type);
    if (type === 'data') this.data.push(frame.data);
    if (STREAM.has(type)) return;
    this.answers.push(!ANSWERS.has(type) ? `unexpected: a frame of type ${type}` : type === 'error' ? `error:${String(frame.code)}` : type);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
