import { ConfigError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { AccessOptions } from './access-gate.ts';
import type { ExtraRoutes } from './http-routes.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

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
  /**
   * Hard bound of one client's socket buffer (uWS maxBackpressure); past it uWS drops the connection
   * (1006). The slow-client policy acts well before it. Default 1 MiB.
   */
  maxBackpressureBytes?: number;
  /**
   * Keep retrying a busy port for this long (ms) before failing; default 0 (fail at once). A restart
   * needs about 60 s: uWS does not set SO_REUSEADDR, so the previous instance's TIME_WAIT connections
   * keep the port unbindable for that long after it closed with clients connected.
   */
  listenRetryMs?: number;
  extraRoutes?: ExtraRoutes;
  /** Tokens and Origin allowlist; without a secret, authentication is off (a warning is logged). */
  auth?: AccessOptions;
  /** A heartbeat frame per subscribed channel this often. Default 10,000 ms. */
  heartbeatIntervalMs?: number;
  /** Per channel: items kept for clients resuming by sequence number. Default 10,000 items, 8 MiB. */
  replay?: { items?: number; bytes?: number };
  /**
   * The replay bounds of named channels, in place of `replay`'s: a channel whose every item is a
   * complete state (the engine's stats, one a second) needs only the last few for a reconnect.
   */
  replayByChannel?: Record<string, { items?: number; bytes?: number }>;
  /** Per channel: latest item per key sent on subscribe. Default 10,000 keys, 8 MiB; 0 keys turns it off. */
  snapshot?: { keys?: number; bytes?: number };
  slowClient?: {
    /** Socket buffer above which a client counts as behind and its items are conflated. Default min(256 KiB, maxBackpressureBytes / 4). */
    softBufferBytes?: number;
    /** Pending (conflated) frames of one client, in bytes; past it: close 4008. Default 16 MiB. */
    maxPendingBytes?: number;
    /** Pending frames of all clients together; past it the client with most is closed (4008). Default 128 MiB. */
    maxTotalPendingBytes?: number;
    /** A client behind for longer than this is closed (4008). Default 10,000 ms. */
    maxBehindMs?: number;
  };
  /** Messages a client may send: `burst` at once, `messagesPerSecond` sustained. Default 20/s, burst 100. */
  rateLimit?: { messagesPerSecond?: number; burst?: number };
  /** WebSocket connections one client address may hold at once; more upgrades get 429. Default 50. */
  maxConnectionsPerIp?: number;
  /** Bearer token GET /metrics requires; unset: /metrics is open. /healthz and /readyz stay open. */
  metricsToken?: string;
  /** Where refused WebSocket upgrades and /metrics requests are recorded (throttled per address). */
  audit?: AuditTrail;
}

/** Every limit, resolved and checked. */
export interface PushSettings {
  host: string;
  listenRetryMs: number;
  maxPayloadLength: number;
  idleTimeoutSeconds: number;
  maxBackpressureBytes: number;
  heartbeatIntervalMs: number;
  replayItems: number;
  replayBytes: number;
  /** replayByChannel, each bound given or the default one. */
  replayByChannel: ReadonlyMap<string, { replayItems: number; replayBytes: number }>;
  snapshotKeys: number;
  snapshotBytes: number;
  softBufferBytes: number;
  maxPendingBytes: number;
  maxTotalPendingBytes: number;
  maxBehindMs: number;
  messagesPerSecond: number;
  messageBurst: number;
  maxChannelsPerClient: number;
  maxConnectionsPerIp: number;
}

/** Bounds the subscriptions (and topic-tree memory) one connection can claim. A dashboard needs one or two. */
export const MAX_CHANNELS_PER_CLIENT = 64;

export function resolvePushSettings(options: PushServerOptions): PushSettings {
  const { port, host = '0.0.0.0', maxPayloadLength = 16 * KiB, idleTimeoutSeconds = 120, maxBackpressureBytes = MiB, listenRetryMs = 0 } = options;
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
  const slow = options.slowClient ?? {};
  const replayItems = integer('replay.items', options.replay?.items ?? 10_000, 1, 'a number of items, at least 1 (default 10000)');
  const replayBytes = integer('replay.bytes', options.replay?.bytes ?? 8 * MiB, 1024, 'bytes, at least 1024 (default 8 MiB)');
  const settings: PushSettings = {
    host,
    listenRetryMs,
    maxPayloadLength,
    idleTimeoutSeconds,
    maxBackpressureBytes,
    heartbeatIntervalMs: integer('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 10_000, 100, 'milliseconds, at least 100 (default 10000)'),
    replayItems,
    replayBytes,
    // A bound a channel does not name is the default one.
    replayByChannel: new Map(
      Object.entries(options.replayByChannel ?? {}).map(([channel, bounds]) => [
        channel,
        {
          replayItems: integer(`replayByChannel.${channel}.items`, bounds.items ?? replayItems, 1, 'a number of items, at least 1'),
          replayBytes: integer(`replayByChannel.${channel}.bytes`, bounds.bytes ?? replayBytes, 1024, 'bytes, at least 1024'),
        },
      ]),
    ),
    snapshotKeys: integer('snapshot.keys', options.snapshot?.keys ?? 10_000, 0, 'a number of keys, 0 to turn snapshots off (default 10000)'),
    snapshotBytes: integer('snapshot.bytes', options.snapshot?.bytes ?? 8 * MiB, 1024, 'bytes, at least 1024 (default 8 MiB)'),
    softBufferBytes: integer('slowClient.softBufferBytes', slow.softBufferBytes ?? Math.min(256 * KiB, Math.floor(maxBackpressureBytes / 4)), 256, 'bytes, at least 256 and below maxBackpressureBytes / 2'),
    maxPendingBytes: integer('slowClient.maxPendingBytes', slow.maxPendingBytes ?? 16 * MiB, 1024, 'bytes, at least the replay and snapshot byte bounds (default 16 MiB)'),
    maxTotalPendingBytes: integer('slowClient.maxTotalPendingBytes', slow.maxTotalPendingBytes ?? 128 * MiB, 1024, 'bytes, at least maxPendingBytes (default 128 MiB)'),
    maxBehindMs: integer('slowClient.maxBehindMs', slow.maxBehindMs ?? 10_000, 100, 'milliseconds, at least 100 (default 10000)'),
    messagesPerSecond: positive('rateLimit.messagesPerSecond', options.rateLimit?.messagesPerSecond ?? 20),
    messageBurst: integer('rateLimit.burst', options.rateLimit?.burst ?? 100, 1, 'a number of messages, at least 1 (default 100)'),
    maxChannelsPerClient: MAX_CHANNELS_PER_CLIENT,
    maxConnectionsPerIp: integer('maxConnectionsPerIp', options.maxConnectionsPerIp ?? 50, 1, 'a number of connections, at least 1 (default 50)'),
  };
  // The soft limit is checked every softBufferBytes / 2 of published bytes; this keeps the buffer under uWS's hard limit.
  if (settings.softBufferBytes * 2 > maxBackpressureBytes) {
    throw new ConfigError('slowClient.softBufferBytes', `${settings.softBufferBytes} is more than half of maxBackpressureBytes (${maxBackpressureBytes})`, 'lower softBufferBytes or raise maxBackpressureBytes');
  }
  // A new subscriber's catch-up (a whole snapshot or replay) sits in its pending queue: it must fit.
  if (settings.maxPendingBytes < Math.max(settings.replayBytes, settings.snapshotBytes, ...[...settings.replayByChannel.values()].map((bounds) => bounds.replayBytes))) {
    throw new ConfigError('slowClient.maxPendingBytes', `${settings.maxPendingBytes} is below the replay or snapshot byte bound`, 'raise maxPendingBytes to at least the largest of replay.bytes, snapshot.bytes and every replayByChannel bytes');
  }
  if (settings.maxTotalPendingBytes < settings.maxPendingBytes) {
    throw new ConfigError('slowClient.maxTotalPendingBytes', `${settings.maxTotalPendingBytes} is below maxPendingBytes (${settings.maxPendingBytes})`, 'raise maxTotalPendingBytes');
  }
  return settings;
}

function integer(field: string, value: number, min: number, fix: string): number {
  if (!Number.isInteger(value) || value < min) throw new ConfigError(field, `${value} is not supported`, `use ${fix}`);
  return value;
}

function positive(field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(field, `${value} is not a positive number`, 'use a positive number of messages per second (default 20)');
  return value;
}
