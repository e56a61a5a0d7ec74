import { TributaryClient } from '../client/tributary-client.ts';

/**
 * The dashboard's connection to the engine's /ws endpoint, through the typed client: it
 * reconnects with backoff and resumes each channel from the last sequence number it saw, so a
 * reconnect neither loses items the server still holds nor delivers any twice. Reports its state
 * for the status badge.
 */
export type FeedState = 'connecting' | 'live' | 'down';

export class LiveFeed {
  private client: TributaryClient | null = null;
  private readonly channels: Array<{ channel: string; handler: (data: unknown) => void; snapshot: boolean }> = [];

  constructor(
    private readonly url: string,
    private readonly onState: (state: FeedState, detail: string) => void,
  ) {}

  /** `snapshot`: start with the latest item per key (the stats channel has one key). */
  subscribe(channel: string, handler: (data: unknown) => void, snapshot = false): void {
    this.channels.push({ channel, handler, snapshot });
  }

  /** Opens the connection once; later calls keep it (the client reconnects by itself). */
  connect(): void {
    if (this.client !== null) return;
    this.onState('connecting', 'connecting…');
    const token = new URLSearchParams(location.search).get('token') ?? undefined;
    const client = new TributaryClient({ url: this.url, token });
    this.client = client;
    client.on('open', () => this.onState('live', 'live'));
    client.on('close', ({ willReconnect }) => this.onState('down', willReconnect ? 'disconnected; reconnecting…' : 'disconnected'));
    client.on('error', (message) => this.onState('live', `server: ${message.error}`));
    for (const { channel, handler, snapshot } of this.channels) client.subscribe(channel, { snapshot }).on('data', (data) => handler(data));
  }
}
