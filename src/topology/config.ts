import { z } from 'zod';
import path from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { tracingFromEnv, type TracingConfig } from '../observability/tracing/tracing-config.ts';
import { redactUrlPasswords } from '../observability/redact.ts';
import { loadConnectionSecurity, type ConnectionSecurity } from './connection-config.ts';
import { loadGovernanceConfig, type GovernanceConfig } from './governance-config.ts';
import { KAFKA_CLIENT_KINDS, type KafkaClientKind } from '../kafka/create-kafka-client.ts';
import { defaultMaxInFlightRecords, loadMemoryBudget, type MemoryBudget } from '../core/memory-budget.ts';

export type { GovernanceConfig } from './governance-config.ts';
import type { AuditConfig } from '../audit/open-audit-log.ts';

/**
 * Everything the engine reads from the environment, validated once at startup. The credentials
 * and TLS of Kafka, Redis and ClickHouse are in ConnectionSecurity (topology/connection-config.ts).
 */
export interface EngineConfig extends ConnectionSecurity {
  /** Kafka bootstrap servers; unset means the embedded demo source. */
  kafkaBrokers?: string[];
  /** TRIBUTARY_KAFKA_CLIENT: the library behind the Kafka port (default kafkajs). */
  kafkaClient?: KafkaClientKind;
  /** ClickHouse over HTTP; unset means embedded chDB in clickhouseDataDir. */
  clickhouseUrl?: string;
  clickhouseDataDir: string;
  /** Redis for hot state; unset means in memory. */
  redisUrl?: string;
  port: number;
  host: string;
  groupId?: string;
  maxInFlightRecords: number;
  /** TRIBUTARY_MEMORY_MB and what follows from it (in-flight bytes, Kafka fetch sizes); absent: the default budget. */
  memory?: MemoryBudget;
  commitIntervalMs: number;
  schemasDir: string;
  /** Where open window state lives: 'memory' (lost on restart; offsets wait for windows to close) or 'redis' (checkpointed). */
  windowState: 'memory' | 'redis';
  checkpointIntervalMs: number;
  /** Most open windows one stateful step may hold before the engine stops with a clear error. */
  maxOpenWindows: number;
  /** SIGTERM/SIGINT: how long draining, flushing and committing may take before the process gives up (exit code 3). */
  shutdownTimeoutMs: number;
  /** Where served models' registered files live (TRIBUTARY_MODEL_DIR); default the package's models/. */
  modelDirectory?: string;
  /** How often served models read the registry (TRIBUTARY_MODEL_POLL_MS); default each model's own (2 s). */
  modelPollIntervalMs?: number;
  /** WebSocket settings from TRIBUTARY_WS_*; present only when one is set (the push server has the defaults). */
  websocket?: WebSocketConfig;
  /** Data protection's key store and master key (TRIBUTARY_KEY_STORE*, TRIBUTARY_GOVERNANCE_MASTER_KEY); absent: the defaults. */
  governance?: GovernanceConfig;
  /** TRIBUTARY_ON_OFFSET_GAP: overrides every Kafka source's onOffsetGap (an operator accepting a gap). */
  onOffsetGap?: 'fail' | 'earliest' | 'latest';
  /** OpenTelemetry traces over OTLP, from OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT; absent: off (no SDK loaded). */
  tracing?: TracingConfig;
  /** The audit trail: TRIBUTARY_AUDIT_LOG (file) and TRIBUTARY_AUDIT_TABLE (ClickHouse copy, or off). */
  audit: AuditConfig;
  /** Bearer token GET /metrics requires (TRIBUTARY_METRICS_TOKEN); unset: /metrics is open. */
  metricsToken?: string;
}

/** What TRIBUTARY_WS_* set; each field is a startPushServer option of the same name. */
export interface WebSocketConfig {
  auth?: { secret?: string; origins?: string[]; audience?: string; issuer?: string };
  heartbeatIntervalMs?: number;
  replay?: { items: number };
  snapshot?: { keys: number };
  rateLimit?: { messagesPerSecond: number };
  slowClient?: { maxBehindMs: number };
  maxConnectionsPerIp?: number;
}

const FIELDS = {
  KAFKA_BROKERS: 'comma-separated host:port list, e.g. KAFKA_BROKERS=127.0.0.1:9092 (unset it to run the embedded demo)',
  TRIBUTARY_KAFKA_CLIENT: "'kafkajs' (default) or 'platformatic' (@platformatic/kafka, under evaluation; plain connections only)",
  CLICKHOUSE_URL: 'an http(s) URL such as http://127.0.0.1:8123 (unset it to use embedded chDB)',
  REDIS_URL: 'a redis:// URL such as redis://127.0.0.1:6379 (unset it to keep state in memory)',
  PORT: 'a port number between 0 and 65535, e.g. PORT=8080',
  TRIBUTARY_MAX_IN_FLIGHT: 'a positive number of records, e.g. TRIBUTARY_MAX_IN_FLIGHT=50000',
  TRIBUTARY_COMMIT_INTERVAL_MS: 'a positive number of milliseconds, e.g. 1000',
  TRIBUTARY_WINDOW_STATE: "'memory' (default) or 'redis' (checkpointed, survives restarts; needs REDIS_URL and a Kafka source)",
  TRIBUTARY_CHECKPOINT_INTERVAL_MS: 'a positive number of milliseconds, e.g. 5000',
  TRIBUTARY_MAX_OPEN_WINDOWS: 'a positive number of windows, e.g. TRIBUTARY_MAX_OPEN_WINDOWS=5000000',
  TRIBUTARY_SHUTDOWN_TIMEOUT_MS: 'a positive number of milliseconds, e.g. 30000',
  TRIBUTARY_MODEL_POLL_MS: 'milliseconds between reads of the model registry, at least 50, e.g. 2000',
  TRIBUTARY_ON_OFFSET_GAP: "'fail', 'earliest' or 'latest': what a Kafka source does when records it had not read were deleted (unset: the topology's onOffsetGap)",
  TRIBUTARY_WS_SECRET: 'a random secret of at least 32 characters, e.g. TRIBUTARY_WS_SECRET=$(openssl rand -hex 32) (unset it to turn WebSocket authentication off)',
  TRIBUTARY_WS_ORIGINS: 'comma-separated origins allowed to open WebSockets, e.g. TRIBUTARY_WS_ORIGINS=https://dash.example.com,http://localhost:8080 (unset: any origin)',
  TRIBUTARY_WS_HEARTBEAT_MS: 'milliseconds between WebSocket heartbeats, at least 100, e.g. 10000',
  TRIBUTARY_WS_REPLAY_ITEMS: 'items per channel kept for resuming clients, at least 1, e.g. 10000',
  TRIBUTARY_WS_SNAPSHOT_KEYS: 'keys per channel in the subscribe snapshot, 0 to turn it off, e.g. 10000',
  TRIBUTARY_WS_MESSAGES_PER_SECOND: 'messages per second one WebSocket client may send, at least 1, e.g. 20',
  TRIBUTARY_WS_SLOW_CLIENT_MS: 'milliseconds a WebSocket client may stay behind before it is disconnected, at least 100, e.g. 10000',
  TRIBUTARY_WS_AUDIENCE: 'the audience (aud claim) WebSocket tokens must name, one word, e.g. TRIBUTARY_WS_AUDIENCE=tributary-dashboard (unset: aud is not checked)',
  TRIBUTARY_WS_ISSUER: 'the issuer (iss claim) WebSocket tokens must name, one word, e.g. TRIBUTARY_WS_ISSUER=https://auth.example.com (unset: iss is not checked)',
  TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP: 'WebSocket connections one client address may hold at once, at least 1, e.g. 50 (behind a reverse proxy every client has its address: raise it there)',
  TRIBUTARY_METRICS_TOKEN: 'a random token of at least 16 characters without spaces, e.g. TRIBUTARY_METRICS_TOKEN=$(openssl rand -hex 24); Prometheus sends it as a bearer token (unset: /metrics is open)',
  TRIBUTARY_AUDIT_LOG: 'the audit log file, e.g. TRIBUTARY_AUDIT_LOG=/var/lib/tributary/audit.jsonl (default data/audit/audit.jsonl)',
  TRIBUTARY_AUDIT_TABLE: "a ClickHouse table name for the audit log's copy (letters, digits, _; optionally database.table), or off (default audit_log)",
} as const;

/** Settings whose values are never shown in an error message. */
const SECRET_FIELDS = new Set(['TRIBUTARY_WS_SECRET', 'TRIBUTARY_METRICS_TOKEN']);
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const ONE_WORD = /^\S{1,256}$/;

const hostPort = /^[A-Za-z0-9.\-_[\]:]+:(\d{1,5})$/;
const validBroker = (broker: string) => {
  const port = hostPort.exec(broker)?.[1];
  return port !== undefined && Number(port) >= 1 && Number(port) <= 65535;
};

const schema = z.object({
  KAFKA_BROKERS: z
    .string()
    .trim()
    .transform((text) => text.split(',').map((broker) => broker.trim()).filter(Boolean))
    .refine((brokers) => brokers.length > 0 && brokers.every(validBroker), 'expected host:port entries with ports 1-65535')
    .optional(),
  TRIBUTARY_KAFKA_CLIENT: z.enum(KAFKA_CLIENT_KINDS).optional(),
  CLICKHOUSE_URL: z.url({ protocol: /^https?$/ }).optional(),
  CLICKHOUSE_DATA_DIR: z.string().default('data/chdb'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  PORT: z.string().trim().regex(/^\d{1,5}$/, 'expected a decimal port number').transform(Number).pipe(z.number().max(65535)).default(8080),
  HOST: z.string().default('127.0.0.1'),
  TRIBUTARY_GROUP_ID: z.string().min(1).optional(),
  TRIBUTARY_MAX_IN_FLIGHT: z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().positive()).optional(),
  TRIBUTARY_COMMIT_INTERVAL_MS: z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().positive()).default(1_000),
  TRIBUTARY_SCHEMAS_DIR: z.string().default('schemas'),
  TRIBUTARY_WINDOW_STATE: z.enum(['memory', 'redis']).default('memory'),
  TRIBUTARY_CHECKPOINT_INTERVAL_MS: z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().positive()).default(5_000),
  TRIBUTARY_MAX_OPEN_WINDOWS: z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().positive()).default(5_000_000),
  TRIBUTARY_SHUTDOWN_TIMEOUT_MS: z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().positive()).default(30_000),
  TRIBUTARY_MODEL_DIR: z.string().optional(),
  TRIBUTARY_MODEL_POLL_MS: wholeNumber(50).optional(),
  TRIBUTARY_ON_OFFSET_GAP: z.enum(['fail', 'earliest', 'latest']).optional(),
  TRIBUTARY_WS_SECRET: z.string().min(32, 'expected at least 32 characters').optional(),
  TRIBUTARY_WS_ORIGINS: z
    .string()
    .transform((text) => text.split(',').map((origin) => origin.trim()).filter(Boolean))
    .refine((origins) => origins.length > 0 && origins.every(isOrigin), 'expected scheme://host[:port] entries without a path')
    .optional(),
  TRIBUTARY_WS_HEARTBEAT_MS: wholeNumber(100).optional(),
  TRIBUTARY_WS_REPLAY_ITEMS: wholeNumber(1).optional(),
  TRIBUTARY_WS_SNAPSHOT_KEYS: wholeNumber(0).optional(),
  TRIBUTARY_WS_MESSAGES_PER_SECOND: wholeNumber(1).optional(),
  TRIBUTARY_WS_SLOW_CLIENT_MS: wholeNumber(100).optional(),
  TRIBUTARY_WS_AUDIENCE: z.string().regex(ONE_WORD, 'expected one word of at most 256 characters').optional(),
  TRIBUTARY_WS_ISSUER: z.string().regex(ONE_WORD, 'expected one word of at most 256 characters').optional(),
  TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP: wholeNumber(1).optional(),
  TRIBUTARY_METRICS_TOKEN: z.string().min(16, 'expected at least 16 characters').regex(/^\S+$/, 'expected one word without spaces').optional(),
  TRIBUTARY_AUDIT_LOG: z.string().refine((file) => !/[\\/]$/.test(file), 'expected a file, not a directory').default('data/audit/audit.jsonl'),
  TRIBUTARY_AUDIT_TABLE: z.string().trim().refine((table) => table === 'off' || TABLE_NAME.test(table), "expected a table name or 'off'").default('audit_log'),
});

function wholeNumber(min: number) {
  return z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().min(min));
}

function isOrigin(text: string): boolean {
  try {
    return new URL(text).origin === text.toLowerCase();
  } catch {
    return false;
  }
}

/** The TRIBUTARY_WS_* settings that are set, or undefined when none is. */
function websocketConfig(values: z.infer<typeof schema>): WebSocketConfig | undefined {
  const config: WebSocketConfig = {};
  if (values.TRIBUTARY_WS_SECRET !== undefined || values.TRIBUTARY_WS_ORIGINS !== undefined || values.TRIBUTARY_WS_AUDIENCE !== undefined || values.TRIBUTARY_WS_ISSUER !== undefined) {
    config.auth = {};
    if (values.TRIBUTARY_WS_SECRET !== undefined) config.auth.secret = values.TRIBUTARY_WS_SECRET;
    if (values.TRIBUTARY_WS_ORIGINS !== undefined) config.auth.origins = values.TRIBUTARY_WS_ORIGINS;
    if (values.TRIBUTARY_WS_AUDIENCE !== undefined) config.auth.audience = values.TRIBUTARY_WS_AUDIENCE;
    if (values.TRIBUTARY_WS_ISSUER !== undefined) config.auth.issuer = values.TRIBUTARY_WS_ISSUER;
  }
  if (values.TRIBUTARY_WS_HEARTBEAT_MS !== undefined) config.heartbeatIntervalMs = values.TRIBUTARY_WS_HEARTBEAT_MS;
  if (values.TRIBUTARY_WS_REPLAY_ITEMS !== undefined) config.replay = { items: values.TRIBUTARY_WS_REPLAY_ITEMS };
  if (values.TRIBUTARY_WS_SNAPSHOT_KEYS !== undefined) config.snapshot = { keys: values.TRIBUTARY_WS_SNAPSHOT_KEYS };
  if (values.TRIBUTARY_WS_MESSAGES_PER_SECOND !== undefined) config.rateLimit = { messagesPerSecond: values.TRIBUTARY_WS_MESSAGES_PER_SECOND };
  if (values.TRIBUTARY_WS_SLOW_CLIENT_MS !== undefined) config.slowClient = { maxBehindMs: values.TRIBUTARY_WS_SLOW_CLIENT_MS };
  if (values.TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP !== undefined) config.maxConnectionsPerIp = values.TRIBUTARY_WS_MAX_CONNECTIONS_PER_IP;
  return Object.keys(config).length === 0 ? undefined : config;
}

/** The settings with nothing set: embedded demo source, chDB in ./data/chdb, state in memory, 127.0.0.1:8080. */
export function defaultConfig(): EngineConfig {
  return loadConfig({});
}

/** Reads and validates the environment; the error names the variable and how to fix it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'environment');
    const given = present[field];
    const fix = FIELDS[field as keyof typeof FIELDS] ?? 'see README "Configuration"';
    // Secrets never appear in the message (it is logged).
    const shown = SECRET_FIELDS.has(field) ? 'the value' : JSON.stringify(redactUrlPasswords(String(given)));
    throw new ConfigError(field, `${shown} is invalid (${issue.message})`, fix);
  }
  const values = parsed.data;
  if (values.TRIBUTARY_WINDOW_STATE === 'redis' && !values.REDIS_URL) {
    throw new ConfigError('TRIBUTARY_WINDOW_STATE', 'durable window state "redis" needs a Redis server, but REDIS_URL is not set', 'set REDIS_URL=redis://127.0.0.1:6379, or unset TRIBUTARY_WINDOW_STATE to keep windows in memory');
  }
  for (const claim of ['TRIBUTARY_WS_AUDIENCE', 'TRIBUTARY_WS_ISSUER'] as const) {
    if (values[claim] !== undefined && values.TRIBUTARY_WS_SECRET === undefined) {
      throw new ConfigError(claim, 'tokens are checked only when TRIBUTARY_WS_SECRET is set, and it is not', `set TRIBUTARY_WS_SECRET to turn WebSocket authentication on, or unset ${claim}`);
    }
  }
  const websocket = websocketConfig(values);
  const security = loadConnectionSecurity(present, { redisUrl: values.REDIS_URL, clickhouseUrl: values.CLICKHOUSE_URL });
  if (values.TRIBUTARY_KAFKA_CLIENT === 'platformatic' && security.kafkaSecurity !== undefined) {
    throw new ConfigError('TRIBUTARY_KAFKA_CLIENT', `the platformatic Kafka client does not support KAFKA_SECURITY_PROTOCOL=${security.kafkaSecurity.protocol}`, 'unset TRIBUTARY_KAFKA_CLIENT (kafkajs supports TLS and SASL), or unset KAFKA_SECURITY_PROTOCOL');
  }
  const governance = loadGovernanceConfig(present, values.REDIS_URL);
  const tracing = tracingFromEnv(env);
  if (tracing !== undefined && 'invalid' in tracing) throw new ConfigError(tracing.invalid, `${JSON.stringify(env[tracing.invalid] ?? '')} is invalid`, tracing.fix);
  return {
    kafkaBrokers: values.KAFKA_BROKERS,
    ...(values.TRIBUTARY_KAFKA_CLIENT === undefined ? {} : { kafkaClient: values.TRIBUTARY_KAFKA_CLIENT }),
    clickhouseUrl: values.CLICKHOUSE_URL,
    clickhouseDataDir: path.resolve(values.CLICKHOUSE_DATA_DIR),
    redisUrl: values.REDIS_URL,
    port: values.PORT,
    host: values.HOST,
    groupId: values.TRIBUTARY_GROUP_ID,
    maxInFlightRecords: values.TRIBUTARY_MAX_IN_FLIGHT ?? defaultMaxInFlightRecords(present),
    memory: loadMemoryBudget(present),
    commitIntervalMs: values.TRIBUTARY_COMMIT_INTERVAL_MS,
    schemasDir: path.resolve(values.TRIBUTARY_SCHEMAS_DIR),
    windowState: values.TRIBUTARY_WINDOW_STATE,
    checkpointIntervalMs: values.TRIBUTARY_CHECKPOINT_INTERVAL_MS,
    maxOpenWindows: values.TRIBUTARY_MAX_OPEN_WINDOWS,
    shutdownTimeoutMs: values.TRIBUTARY_SHUTDOWN_TIMEOUT_MS,
    ...(values.TRIBUTARY_MODEL_DIR === undefined ? {} : { modelDirectory: path.resolve(values.TRIBUTARY_MODEL_DIR) }),
    ...(values.TRIBUTARY_MODEL_POLL_MS === undefined ? {} : { modelPollIntervalMs: values.TRIBUTARY_MODEL_POLL_MS }),
    ...security,
    governance,
    ...(values.TRIBUTARY_ON_OFFSET_GAP === undefined ? {} : { onOffsetGap: values.TRIBUTARY_ON_OFFSET_GAP }),
    ...(tracing === undefined ? {} : { tracing }),
    // Only when set, so configurations without WebSocket settings stay as they were.
    ...(websocket === undefined ? {} : { websocket }),
    audit: { file: path.resolve(values.TRIBUTARY_AUDIT_LOG), table: values.TRIBUTARY_AUDIT_TABLE === 'off' ? null : values.TRIBUTARY_AUDIT_TABLE },
    ...(values.TRIBUTARY_METRICS_TOKEN === undefined ? {} : { metricsToken: values.TRIBUTARY_METRICS_TOKEN }),
  };
}
