import type { WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { errorMessage as describeError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { PROTOCOL_ERRORS, ackMessage, errorMessage, parseClientMessage } from './protocol.ts';

/** Bounds the topic-tree memory one connection can claim. A dashboard needs one or two channels. */
export const MAX_CHANNELS_PER_CLIENT = 64;

/** Nothing per connection yet; subscriptions live in uWS's topic tree. */
export type ClientState = Record<string, never>;

export interface ChannelSocketsOptions {
  logger: Logger;
  metrics?: Metrics;
  maxPayloadLength: number;
  idleTimeoutSeconds: number;
  maxBackpressureBytes: number;
}

/**
 * The /ws endpoint: clients subscribe to channels, which are uWS topics, so `app.publish` fans a
 * message out in C++ without a JS loop over sockets. Keeps the open sockets to close them on shutdown.
 */
export class ChannelSockets {
  private readonly open = new Set<WebSocket<ClientState>>();
  private readonly options: ChannelSocketsOptions;

  constructor(options: ChannelSocketsOptions) {
    this.options = options;
  }

  behavior(): WebSocketBehavior<ClientState> {
    const { logger, metrics, maxPayloadLength, idleTimeoutSeconds, maxBackpressureBytes } = this.options;
    return {
      maxPayloadLength, // a longer frame closes the connection (uWS)
      idleTimeout: idleTimeoutSeconds,
      sendPingsAutomatically: true, // idle dashboards stay connected; dead peers time out
      maxBackpressure: maxBackpressureBytes,
      // A client this far behind would otherwise be skipped silently (gaps it cannot see). Closing it
      // makes the dashboard reconnect and start fresh. The typings say number; uWS reads it as a flag.
      closeOnBackpressureLimit: 1,
      open: (ws) => {
        this.open.add(ws);
        metrics?.wsClients.inc();
      },
      message: (ws, message, isBinary) => {
        // uWS reports a throw here as an uncaught exception, which would end the process: contain it.
        try {
          this.handleMessage(ws, message, isBinary);
        } catch (error) {
          logger.warn({ err: describeError(error) }, 'push: failed to handle a client message');
        }
      },
      close: (ws) => {
        this.open.delete(ws);
        metrics?.wsClients.dec();
      },
    };
  }

  /** Ends every client with 1001 (going away), so browsers reconnect to the next server instance. */
  endAll(): void {
    for (const ws of [...this.open]) ws.end(1001, 'server shutting down');
  }

  private handleMessage(ws: WebSocket<ClientState>, message: ArrayBuffer, isBinary: boolean): void {
    if (isBinary) {
      ws.send(errorMessage(PROTOCOL_ERRORS.binary));
      return;
    }
    // The ArrayBuffer is only valid during this callback; toString copies it out.
    const parsed = parseClientMessage(Buffer.from(message).toString('utf8'));
    if (!parsed.ok) {
      ws.send(errorMessage(parsed.error));
      return;
    }
    const { request } = parsed;
    if (request.type === 'subscribe') {
      if (!ws.isSubscribed(request.channel) && ws.getTopics().length >= MAX_CHANNELS_PER_CLIENT) {
        ws.send(errorMessage(PROTOCOL_ERRORS.tooManyChannels));
        return;
      }
      ws.subscribe(request.channel);
    } else {
      ws.unsubscribe(request.channel);
    }
    ws.send(ackMessage(request));
  }
}
