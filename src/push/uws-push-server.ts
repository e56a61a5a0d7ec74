import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { ConfigError, TributaryError, errorMessage as describeError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { AccessGate } from './access-gate.ts';
import { ChannelHub, type PushStats } from './channel-hub.ts';
import { ChannelSockets } from './channel-sockets.ts';
import { dashboardHtml } from './dashboard-page.ts';
import { itemJson } from './frames.ts';
import { registerHttpRoutes } from './http-routes.ts';
import { nativeUws } from './native-uws.ts';
import { PushMetrics } from './push-metrics.ts';
import { type PushServerOptions, resolvePushSettings } from './push-options.ts';
import { CHANNEL_NAME_PATTERN, isValidChannel } from './protocol.ts';
import type { PushServer } from '../sinks/push-port.ts';
import { AuthFailureAudit } from '../audit/auth-failures.ts';

export type { PushServerOptions } from './push-options.ts';
export type { PushStats } from './channel-hub.ts';

export type RunningPushServer = PushServer & {
  readonly url: string;
  /** Sequence-number epoch of this instance (changes on restart). */
  readonly epoch: string;
  /** What the server holds for WebSocket delivery right now (the memory bound's terms). */
  stats(): PushStats;
};

/** uWS 20.30 has App.close() (ends every socket) at runtime but not in its typings. */
type ClosableApp = TemplatedApp & { close?: () => void };

/** How often timeouts (slow clients, token expiry) are checked; heartbeats go out on their own interval. */
const TICK_MS = 250;

/**
 * Starts the push server: WebSocket channels on /ws and the dashboard, /metrics and /healthz over
 * HTTP on the same port. Resolves once listening.
 */
export async function startPushServer(options: PushServerOptions): Promise<RunningPushServer> {
  const uWS = nativeUws();
  const settings = resolvePushSettings(options);
  const logger = options.logger.child({ component: 'push', topology: options.topology });
  const metrics = new PushMetrics(options.metrics);
  const gate = new AccessGate(options.auth ?? {});
  // Refused tokens are audited per endpoint, a few per address and window, then summarized.
  const wsFailures = options.audit && new AuthFailureAudit({ trail: options.audit, action: 'ws.auth', logger, metrics: options.metrics });
  const metricsFailures = options.audit && new AuthFailureAudit({ trail: options.audit, action: 'metrics.auth', logger, metrics: options.metrics });

  const page = await dashboardHtml(options.topology);
  const app: ClosableApp = uWS.App();
  const hub = new ChannelHub(app, settings, metrics);
  const sockets = new ChannelSockets({ logger, metrics, settings, gate, hub, onAuthFailure: wsFailures && ((failure) => wsFailures.failed(failure)) });
  app.ws('/ws', sockets.behavior());
  registerHttpRoutes(app, {
    dashboardHtml: page,
    logger,
    metrics: options.metrics,
    extraRoutes: options.extraRoutes,
    metricsToken: options.metricsToken,
    onAuthFailure: metricsFailures && ((failure) => metricsFailures.failed(failure)),
  });

  const listenSocket = await listen(app, settings.host, options.port, settings.listenRetryMs);
  if (listenSocket === false) {
    app.close?.();
    throw new ConfigError(
      'port',
      `the push server cannot listen on port ${options.port} of ${settings.host} (already in use, or not a local address)`,
      `give the push server a free port (option \`port\`; 0 picks one), or stop the process holding port ${options.port}; ` +
        'right after a previous instance closed with clients connected the port stays reserved for up to 60 s, so retry (option `listenRetryMs`)',
    );
  }
  // The typings give listen sockets and sockets distinct types; uSockets accepts either here.
  const port = uWS.us_socket_local_port(listenSocket as Parameters<typeof uWS.us_socket_local_port>[0]);
  const url = `http://${urlHost(settings.host)}:${port}`;
  logger.info({ url, auth: gate.authEnabled, origins: options.auth?.origins ?? 'any' }, 'push server listening');
  if (!gate.authEnabled) {
    logger.warn('WebSocket authentication is off (no secret; set TRIBUTARY_WS_SECRET): any client may subscribe to any channel. Use this in development only.');
  }

  const ticker = setInterval(() => {
    try {
      hub.tick(Date.now());
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'push: periodic work failed');
    }
  }, TICK_MS);
  ticker.unref();

  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    epoch: hub.epoch,
    publish(channel, items, keys) {
      if (!isValidChannel(channel)) {
        throw new ConfigError('channel', `"${channel}" is not a valid push channel name`, `use a name matching ${CHANNEL_NAME_PATTERN}`);
      }
      // Late results during shutdown have nowhere to go; publishing on a closed app is undefined in uWS.
      if (closing !== undefined || items.length === 0) return;
      if (keys !== undefined && keys.length !== items.length) throw new TributaryError(`push channel "${channel}": ${keys.length} keys for ${items.length} items`, { code: 'PUSH_KEYS' });
      // Serialise the whole batch first so an unserialisable item publishes nothing rather than half.
      const json = items.map((item, index) => serialise(channel, item, index));
      hub.publish(channel, json, items, keys);
      metrics.published(channel, items.length);
    },
    stats: () => hub.stats(),
    close() {
      closing ??= shutDown(uWS.us_listen_socket_close, listenSocket, sockets, app, logger, ticker).then(async () => {
        await Promise.all([wsFailures?.close(), metricsFailures?.close()]);
      });
      return closing;
    },
  };
}

async function shutDown(
  closeListenSocket: (socket: us_listen_socket) => void,
  listenSocket: us_listen_socket,
  sockets: ChannelSockets,
  app: ClosableApp,
  logger: Logger,
  ticker: NodeJS.Timeout,
): Promise<void> {
  clearInterval(ticker);
  closeListenSocket(listenSocket);
  sockets.endAll();
  // Also closes idle keep-alive HTTP connections, which would otherwise keep the process alive.
  app.close?.();
  // uSockets frees closed sockets at the end of a loop iteration; until then the port stays bound
  // (a restart on the same port would fail). Resolve only once it is released.
  await new Promise((resolve) => setTimeout(resolve, 0));
  logger.info('push server closed');
}

async function listen(app: TemplatedApp, host: string, port: number, retryMs: number): Promise<us_listen_socket | false> {
  const deadline = Date.now() + retryMs;
  for (;;) {
    const socket = await new Promise<us_listen_socket | false>((resolve) => app.listen(host, port, resolve));
    if (socket !== false || Date.now() >= deadline) return socket;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function serialise(channel: string, item: unknown, index: number): string {
  try {
    return itemJson(item);
  } catch (error) {
    throw new TributaryError(`push channel "${channel}": item ${index} cannot be sent as JSON: ${describeError(error)}`, {
      code: 'PUSH_SERIALISE',
      cause: error,
    });
  }
}

/** A URL a local client can use: wildcard binds are reached on loopback; IPv6 needs brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
