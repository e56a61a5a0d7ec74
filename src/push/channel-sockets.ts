import type { HttpRequest, HttpResponse, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js';
import { errorMessage as describeError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { AccessGate, AdmitResult } from './access-gate.ts';
import type { ChannelHub } from './channel-hub.ts';
import { errorFrame } from './frames.ts';
import type { PushMetrics } from './push-metrics.ts';
import { MAX_CHANNELS_PER_CLIENT, type PushSettings } from './push-options.ts';
import { PROTOCOL_ERRORS, type ProtocolError, parseClientMessage } from './protocol.ts';
import type { ClientSession, SocketData } from './session.ts';
import { CLOSE_CODES } from '../client/wire-types.ts';
import type { AuthFailure } from '../audit/auth-failures.ts';
import { remoteAddressOf } from './bearer-token.ts';

export { MAX_CHANNELS_PER_CLIENT };

export interface ChannelSocketsOptions {
  logger: Logger;
  metrics: PushMetrics;
  settings: PushSettings;
  gate: AccessGate;
  hub: ChannelHub;
  /** Told of each upgrade refused for its token or origin (the audit trail). */
  onAuthFailure?: (failure: AuthFailure) => void;
}

interface UpgradeHeaders {
  key: string;
  protocol: string;
  extensions: string;
  origin: string;
  address: string;
}

/**
 * The /ws endpoint in uWS terms: the upgrade (Origin and token), then per socket open, message,
 * drain and close. Handlers never throw into uWS (it would report an uncaught exception).
 */
export class ChannelSockets {
  /** Open connections per client address, bounded by settings.maxConnectionsPerIp. */
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly options: ChannelSocketsOptions) {}

  behavior(): WebSocketBehavior<SocketData> {
    const { metrics, settings, hub } = this.options;
    return {
      maxPayloadLength: settings.maxPayloadLength, // a longer frame closes the connection (uWS, 1006)
      idleTimeout: settings.idleTimeoutSeconds,
      sendPingsAutomatically: true, // idle dashboards stay connected; dead peers time out
      // The hard limit; the slow-client policy (delivery.ts) keeps buffers well below it. Past it uWS
      // would skip frames silently, so it closes instead. The typings say number; uWS reads a flag.
      maxBackpressure: settings.maxBackpressureBytes,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) =>
        this.guard('upgrade', () => this.upgrade(res, req, context), () => res.writeStatus('500 Internal Server Error').end('upgrade failed')),
      open: (ws) =>
        this.guard('open', () => {
          const data = ws.getUserData();
          data.session = hub.open(ws, data.grant);
          metrics.connected();
        }),
      message: (ws, message, isBinary) =>
        this.guard('message', () => {
          const session = ws.getUserData().session;
          if (session !== undefined) this.handleMessage(session, message, isBinary);
        }),
      drain: (ws) =>
        this.guard('drain', () => {
          const session = ws.getUserData().session;
          if (session !== undefined) hub.delivery.flush(session);
        }),
      close: (ws, code, message) =>
        this.guard('close', () => {
          this.released(ws.getUserData().address);
          const session = ws.getUserData().session;
          if (session === undefined) return;
          session.closed = true;
          hub.detach(session);
          const reason = session.closeReason ?? closeReasonOf(code, Buffer.from(message).toString('utf8'));
          metrics.disconnected(reason);
          if (session.closeReason !== undefined && reason !== 'shutdown') this.options.logger.info({ reason, subject: session.grant.subject }, 'push: closed a client');
        }),
    };
  }

  /**
   * Runs a uWS handler: uWS reports a throw as an uncaught exception, which would end the process,
   * so contain it; then finish the operation (close condemned sockets, commit counters).
   */
  private guard(handler: string, run: () => void, recover?: () => void): void {
    try {
      run();
    } catch (error) {
      this.options.logger.warn({ err: describeError(error), handler }, 'push: a WebSocket handler failed');
      try {
        recover?.();
      } catch {
        // the response is gone already
      }
    }
    this.options.hub.finish();
  }

  /** Ends every client with 1001 (going away), so browsers reconnect to the next server instance. */
  endAll(): void {
    for (const session of [...this.options.hub.sessions]) {
      if (session.closed) continue;
      session.closeReason = 'shutdown';
      session.ws.end(CLOSE_CODES.goingAway, 'server shutting down');
    }
  }

  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    // The request object is only valid in this call: read everything before any await.
    const headers: UpgradeHeaders = {
      key: req.getHeader('sec-websocket-key'),
      protocol: req.getHeader('sec-websocket-protocol'),
      extensions: req.getHeader('sec-websocket-extensions'),
      origin: req.getHeader('origin'),
      address: remoteAddressOf(res),
    };
    // Before the token is checked: a flood from one address costs no signature checks.
    if (this.atLimit(headers.address)) return this.refuseOverLimit(res);
    const verdict = this.options.gate.admit(headers.origin, req.getQuery('token') ?? '');
    if (!(verdict instanceof Promise)) {
      this.answerUpgrade(res, verdict, headers, context);
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    verdict.then(
      (result) => {
        if (!aborted) res.cork(() => this.answerUpgrade(res, result, headers, context));
      },
      (error: unknown) => {
        this.options.logger.warn({ err: describeError(error) }, 'push: token check failed');
        if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end('token check failed'));
      },
    );
  }

  private answerUpgrade(res: HttpResponse, verdict: AdmitResult, headers: UpgradeHeaders, context: us_socket_context_t): void {
    if (!verdict.ok) {
      this.options.metrics.rejectedUpgrade(verdict.reason);
      this.options.onAuthFailure?.({ remoteAddress: headers.address, reason: verdict.reason, target: '/ws', details: headers.origin === '' ? undefined : { origin: headers.origin } });
      res.writeStatus(verdict.status).writeHeader('Content-Type', 'text/plain; charset=utf-8').end(verdict.message);
      return;
    }
    // Again: upgrades from one address may have waited for their token checks together.
    if (this.atLimit(headers.address)) return this.refuseOverLimit(res);
    this.perAddress.set(headers.address, (this.perAddress.get(headers.address) ?? 0) + 1);
    res.upgrade<SocketData>({ grant: verdict.grant, address: headers.address }, headers.key, headers.protocol, headers.extensions, context);
  }

  private atLimit(address: string): boolean {
    return (this.perAddress.get(address) ?? 0) >= this.options.settings.maxConnectionsPerIp;
  }

  private refuseOverLimit(res: HttpResponse): void {
    this.options.metrics.rejectedUpgrade('ip_limit');
    res.writeStatus('429 Too Many Requests').writeHeader('Content-Type', 'text/plain; charset=utf-8').writeHeader('Retry-After', '10').end(`too many connections from this address (at most ${this.options.settings.maxConnectionsPerIp})`);
  }

  private released(address: string | undefined): void {
    if (address === undefined) return;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }

  private handleMessage(session: ClientSession, message: ArrayBuffer, isBinary: boolean): void {
    const { hub, settings } = this.options;
    if (!session.live) return;
    if (!session.bucket.take(Date.now())) {
      // One error frame per episode (answering each would amplify a flood), then close if it goes on.
      if (session.bucket.refused === 1) this.sendError(session, { code: 'rate_limited', error: PROTOCOL_ERRORS.rate_limited });
      if (session.bucket.refused > settings.messageBurst) hub.delivery.condemn(session, 'rate_limited');
      return;
    }
    if (isBinary) return this.sendError(session, { code: 'binary_frame', error: PROTOCOL_ERRORS.binary_frame });
    // The ArrayBuffer is only valid during this callback; toString copies it out.
    const parsed = parseClientMessage(Buffer.from(message).toString('utf8'));
    if (!parsed.ok) return this.sendError(session, parsed);
    const { request } = parsed;
    if (request.type === 'unsubscribe') return hub.unsubscribe(session, request.channel);
    if (!session.grant.canSubscribe(request.channel)) {
      return this.sendError(session, { code: 'forbidden', error: PROTOCOL_ERRORS.forbidden, channel: request.channel });
    }
    if (!session.subscriptions.has(request.channel) && session.subscriptions.size >= settings.maxChannelsPerClient) {
      return this.sendError(session, { code: 'too_many_channels', error: PROTOCOL_ERRORS.too_many_channels, channel: request.channel });
    }
    hub.subscribe(session, request);
  }

  private sendError(session: ClientSession, error: ProtocolError): void {
    this.options.metrics.protocolError(error.code);
    this.options.hub.delivery.sendControl(session, errorFrame({ code: error.code, error: error.error, channel: error.channel }));
  }
}

/** Closes the server did not decide: the client's own close, or uWS dropping the socket (1006). */
function closeReasonOf(code: number, message: string): string {
  if (code !== 1006) return 'client';
  if (message.startsWith('Received too big message')) return 'too_big';
  if (message.startsWith('Received invalid UTF-8')) return 'invalid_utf8';
  if (message.startsWith('WebSocket timed out')) return 'idle_timeout';
  return 'abnormal';
}
