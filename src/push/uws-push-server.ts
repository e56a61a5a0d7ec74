import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { ConfigError, TributaryError, errorMessage as describeError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { ChannelSockets } from './channel-sockets.ts';
import { dashboardHtml } from './dashboard-page.ts';
import { type ExtraRoutes, registerHttpRoutes } from './http-routes.ts';
import { nativeUws } from './native-uws.ts';
import { CHANNEL_NAME_PATTERN, dataMessage, isValidChannel } from './protocol.ts';
import type { PushServer } from './push-server.ts';

export interface PushServerOptions {
  /** TCP port; 0 picks a free one (read it back from `port`). */
  port: number;
  /** Interface to bind; default '0.0.0.0' (all IPv4 interfaces). */
  host?: string;
  logger: Logger;
  metrics?: Metrics;
  /** Shown on the dashboard and in logs. */
  topology?: string;
  /** Largest client frame accepted; a longer one closes the connection. Default 16 KiB. */
  maxPayloadLength?: number;
  /** Seconds without traffic before a connection is closed; 0 or at least 8. Default 120. */
  idleTimeoutSeconds?: number;
  /** Bytes queued for one client before it is disconnected as too slow. Default 1 MiB. */
  maxBackpressureBytes?: number;
  /**
   * Keep retrying a busy port for this long (ms) before failing; default 0 (fail at once). A restart
   * needs about 60 s: uWS does not set SO_REUSEADDR, so the previous instance's TIME_WAIT connections
   * keep the port unbindable for that long after it closed with clients connected.
   */
  listenRetryMs?: number;
  extraRoutes?: ExtraRoutes;
}

export type RunningPushServer = PushServer & { readonly url: string };

/** uWS 20.30 has App.close() (ends every socket) at runtime but not in its typings. */
type ClosableApp = TemplatedApp & { close?: () => void };

/**
 * Starts the push server: WebSocket channels on /ws and the dashboard, /metrics and /healthz over
 * HTTP on the same port. Resolves once listening.
 */
export async function startPushServer(options: PushServerOptions): Promise<RunningPushServer> {
  const uWS = nativeUws();
  const settings = validate(options);
  const logger = options.logger.child({ component: 'push', topology: options.topology });
  const sockets = new ChannelSockets({ logger, metrics: options.metrics, ...settings.limits });

  const app: ClosableApp = uWS.App();
  app.ws('/ws', sockets.behavior());
  registerHttpRoutes(app, {
    dashboardHtml: dashboardHtml(options.topology),
    logger,
    metrics: options.metrics,
    extraRoutes: options.extraRoutes,
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
  logger.info({ url }, 'push server listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    publish(channel, items) {
      if (!isValidChannel(channel)) {
        throw new ConfigError('channel', `"${channel}" is not a valid push channel name`, `use a name matching ${CHANNEL_NAME_PATTERN}`);
      }
      // Late results during shutdown have nowhere to go; publishing on a closed app is undefined in uWS.
      if (closing !== undefined || items.length === 0) return;
      // Nobody watching: skip the JSON work entirely (the count still records what was published).
      if (app.numSubscribers(channel) > 0) {
        // Serialise the whole batch first so an unserialisable item publishes nothing rather than half.
        const messages = items.map((item, index) => serialise(channel, item, index));
        for (const message of messages) app.publish(channel, message, false, false);
      }
      options.metrics?.wsMessages.inc({ channel }, items.length);
    },
    close() {
      closing ??= shutDown(uWS.us_listen_socket_close, listenSocket, sockets, app, logger);
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
): Promise<void> {
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
    return dataMessage(channel, item);
  } catch (error) {
    throw new TributaryError(`push channel "${channel}": item ${index} cannot be sent as JSON: ${describeError(error)}`, {
      code: 'PUSH_SERIALISE',
      cause: error,
    });
  }
}

function validate(options: PushServerOptions) {
  const { port, host = '0.0.0.0', maxPayloadLength = 16 * 1024, idleTimeoutSeconds = 120, maxBackpressureBytes = 1024 * 1024, listenRetryMs = 0 } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('port', `${port} is not a TCP port`, 'use an integer from 1 to 65535, or 0 to pick a free port');
  }
  if (!Number.isInteger(maxPayloadLength) || maxPayloadLength < 64) {
    throw new ConfigError('maxPayloadLength', `${maxPayloadLength} is too small`, 'use at least 64 bytes (default 16384)');
  }
  // uWS aborts the whole process (std::terminate) on an idleTimeout from 1 to 7: reject it here.
  if (!Number.isInteger(idleTimeoutSeconds) || (idleTimeoutSeconds !== 0 && idleTimeoutSeconds < 8)) {
    throw new ConfigError('idleTimeoutSeconds', `${idleTimeoutSeconds} is not supported`, 'use 0 (never) or an integer of at least 8 (default 120)');
  }
  if (!Number.isInteger(maxBackpressureBytes) || maxBackpressureBytes < 1024) {
    throw new ConfigError('maxBackpressureBytes', `${maxBackpressureBytes} is too small`, 'use at least 1024 bytes (default 1048576)');
  }
  if (!Number.isFinite(listenRetryMs) || listenRetryMs < 0) {
    throw new ConfigError('listenRetryMs', `${listenRetryMs} is not a duration`, 'use 0 (fail at once) or a number of milliseconds');
  }
  return { host, listenRetryMs, limits: { maxPayloadLength, idleTimeoutSeconds, maxBackpressureBytes } };
}

/** A URL a local client can use: wildcard binds are reached on loopback; IPv6 needs brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
