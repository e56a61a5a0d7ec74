import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../core/errors.ts';

/** Bounds of one analyst query, on both the endpoint and `tributary query` without an engine. */
export interface QueryLimits {
  /** max_result_rows (result_overflow_mode=throw): a larger result is an error, never a silent cut. */
  maxRows: number;
  /** max_result_bytes (uncompressed, as ClickHouse counts it), so a few wide rows cannot fill memory either. */
  maxResultBytes: number;
  /** max_execution_time, rounded up to whole seconds (ClickHouse's unit); the endpoint also stops waiting a second later. */
  timeoutMs: number;
  /** max_memory_usage of one query: past it the query fails, the engine goes on. */
  maxMemoryBytes: number;
  /** max_threads of one query, so analysts cannot take every core from the engine. */
  maxThreads: number;
}

/** An HS256 JWT issuer for the SQL endpoint: tokens carry `sub` and `role` (analyst or admin). */
export interface SqlJwtConfig {
  secret: string;
  /** Checked against `aud` when set. */
  audience?: string;
  /** Checked against `iss` when set. */
  issuer?: string;
}

/** Who may ask: any of these set means every request needs a bearer credential. */
export interface SqlCredentials {
  /** TRIBUTARY_SQL_TOKEN: a static token with the analyst role. */
  analystToken?: string;
  /** TRIBUTARY_SQL_ADMIN_TOKEN: a static token with the admin role. */
  adminToken?: string;
  jwt?: SqlJwtConfig;
}

/** The ClickHouse server user analyst queries run as (never the engine's own user). */
export interface AnalystUser {
  user: string;
  password: string;
}

export interface SqlEndpointConfig {
  /** TRIBUTARY_SQL=off turns POST /sql off. */
  enabled: boolean;
  /** The analyst token (also guards GET /state). */
  token: string | undefined;
  credentials: SqlCredentials;
  limits: QueryLimits;
  /** Queries running at once, more are answered 429; undefined: the default of the target (see defaultMaxConcurrent). */
  maxConcurrent: number | undefined;
  /** CLICKHOUSE_ANALYST_USER with its password; required to query a ClickHouse server. */
  analystUser: AnalystUser | undefined;
}

export const DEFAULT_LIMITS: QueryLimits = { maxRows: 100_000, maxResultBytes: 64 * 1024 * 1024, timeoutMs: 30_000, maxMemoryBytes: 128 * 1024 * 1024, maxThreads: 2 };
/**
 * Queries running at once by default: 4 against a server (it bounds its own memory), 1 on
 * embedded chDB, where every analyst query runs inside the engine's process: one at a time
 * keeps the engine's memory growth within one query's limit (measured: the hostile corpus
 * peaked at +500 MB with 4 and abandoned queries overlapping).
 */
export function defaultMaxConcurrent(target: { url?: string }): number {
  return target.url !== undefined ? 4 : 1;
}
/** Shorter tokens are guessable; the endpoint refuses to start with one. */
export const MIN_TOKEN_LENGTH = 16;
/** HS256 keys shorter than the hash are weak (RFC 7518 3.2). */
export const MIN_JWT_SECRET_LENGTH = 32;
/** Longest SQL text accepted (bytes of UTF-8). */
export const MAX_SQL_BYTES = 64 * 1024;

/**
 * The SQL endpoint's settings from the environment (README, "For analysts"): TRIBUTARY_SQL,
 * TRIBUTARY_SQL_TOKEN, TRIBUTARY_SQL_ADMIN_TOKEN, TRIBUTARY_SQL_JWT_SECRET (+ _AUDIENCE,
 * _ISSUER), TRIBUTARY_SQL_MAX_ROWS, TRIBUTARY_SQL_TIMEOUT_MS, TRIBUTARY_SQL_MAX_MEMORY_MB,
 * TRIBUTARY_SQL_MAX_THREADS, TRIBUTARY_SQL_MAX_CONCURRENT, CLICKHOUSE_ANALYST_USER and
 * CLICKHOUSE_ANALYST_PASSWORD or CLICKHOUSE_ANALYST_PASSWORD_FILE.
 */
export function loadSqlEndpointConfig(env: NodeJS.ProcessEnv = process.env): SqlEndpointConfig {
  const switchText = present(env, 'TRIBUTARY_SQL')?.toLowerCase();
  if (switchText !== undefined && switchText !== 'on' && switchText !== 'off') {
    throw new ConfigError('TRIBUTARY_SQL', `${JSON.stringify(env.TRIBUTARY_SQL)} is neither on nor off`, 'TRIBUTARY_SQL=off turns POST /sql off; leave it unset (or on) to serve it');
  }
  const analystToken = present(env, 'TRIBUTARY_SQL_TOKEN');
  if (analystToken !== undefined) checkToken(analystToken, 'TRIBUTARY_SQL_TOKEN');
  const adminToken = present(env, 'TRIBUTARY_SQL_ADMIN_TOKEN');
  if (adminToken !== undefined) checkToken(adminToken, 'TRIBUTARY_SQL_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken === analystToken) {
    throw new ConfigError('TRIBUTARY_SQL_ADMIN_TOKEN', 'is the same as TRIBUTARY_SQL_TOKEN, so every analyst would be an admin', 'use two different random values');
  }
  const credentials: SqlCredentials = {};
  if (analystToken !== undefined) credentials.analystToken = analystToken;
  if (adminToken !== undefined) credentials.adminToken = adminToken;
  const jwt = jwtConfig(env);
  if (jwt !== undefined) credentials.jwt = jwt;
  return {
    enabled: switchText !== 'off',
    token: analystToken,
    credentials,
    limits: {
      maxRows: positiveInteger(env, 'TRIBUTARY_SQL_MAX_ROWS', DEFAULT_LIMITS.maxRows),
      maxResultBytes: DEFAULT_LIMITS.maxResultBytes,
      timeoutMs: positiveInteger(env, 'TRIBUTARY_SQL_TIMEOUT_MS', DEFAULT_LIMITS.timeoutMs),
      maxMemoryBytes: positiveInteger(env, 'TRIBUTARY_SQL_MAX_MEMORY_MB', DEFAULT_LIMITS.maxMemoryBytes / 1024 / 1024) * 1024 * 1024,
      maxThreads: positiveInteger(env, 'TRIBUTARY_SQL_MAX_THREADS', DEFAULT_LIMITS.maxThreads),
    },
    maxConcurrent: env.TRIBUTARY_SQL_MAX_CONCURRENT?.trim() ? positiveInteger(env, 'TRIBUTARY_SQL_MAX_CONCURRENT', 1) : undefined,
    analystUser: analystUser(env),
  };
}

/** Whether any credential is configured (then every request must present one). */
export function hasCredentials(credentials: SqlCredentials): boolean {
  return credentials.analystToken !== undefined || credentials.adminToken !== undefined || credentials.jwt !== undefined;
}

export function checkToken(token: string, field: string): void {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(field, `the token is ${/\s/.test(token) ? 'not one word' : `shorter than ${MIN_TOKEN_LENGTH} characters`}`, `use a random value, e.g. ${field}=$(openssl rand -hex 24)`);
  }
}

/** Checks limits passed in code (tests, embedders) like those from the environment. */
export function checkLimits(limits: QueryLimits): QueryLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigError(`sql limits.${name}`, `${value} is not a positive whole number`, 'use e.g. { maxRows: 100000, timeoutMs: 30000 }');
  }
  return limits;
}

function jwtConfig(env: NodeJS.ProcessEnv): SqlJwtConfig | undefined {
  const secret = present(env, 'TRIBUTARY_SQL_JWT_SECRET');
  const audience = present(env, 'TRIBUTARY_SQL_JWT_AUDIENCE');
  const issuer = present(env, 'TRIBUTARY_SQL_JWT_ISSUER');
  if (secret === undefined) {
    const orphan = audience !== undefined ? 'TRIBUTARY_SQL_JWT_AUDIENCE' : issuer !== undefined ? 'TRIBUTARY_SQL_JWT_ISSUER' : undefined;
    if (orphan !== undefined) throw new ConfigError(orphan, 'is set but TRIBUTARY_SQL_JWT_SECRET is not, so no token could be checked against it', 'set TRIBUTARY_SQL_JWT_SECRET=$(openssl rand -hex 32), or unset it');
    return undefined;
  }
  // The value is never shown: it is a secret.
  if (secret.length < MIN_JWT_SECRET_LENGTH) {
    throw new ConfigError('TRIBUTARY_SQL_JWT_SECRET', `the secret is shorter than ${MIN_JWT_SECRET_LENGTH} characters`, 'use TRIBUTARY_SQL_JWT_SECRET=$(openssl rand -hex 32)');
  }
  return { secret, ...(audience === undefined ? {} : { audience }), ...(issuer === undefined ? {} : { issuer }) };
}

function analystUser(env: NodeJS.ProcessEnv): AnalystUser | undefined {
  const user = present(env, 'CLICKHOUSE_ANALYST_USER');
  const inline = present(env, 'CLICKHOUSE_ANALYST_PASSWORD');
  const file = present(env, 'CLICKHOUSE_ANALYST_PASSWORD_FILE');
  if (user === undefined) {
    if (inline !== undefined || file !== undefined) {
      throw new ConfigError('CLICKHOUSE_ANALYST_USER', 'is not set but an analyst password is', 'set CLICKHOUSE_ANALYST_USER to the read-only ClickHouse user analyst queries run as');
    }
    return undefined;
  }
  if (!/^[A-Za-z0-9_.@-]{1,128}$/.test(user)) throw new ConfigError('CLICKHOUSE_ANALYST_USER', `${JSON.stringify(user)} is not a user name`, 'use the name of the read-only user, e.g. analyst');
  if (user === 'default') {
    throw new ConfigError('CLICKHOUSE_ANALYST_USER', 'is "default", the server\'s all-powerful user', 'create a dedicated read-only user (README "For analysts") and name it here');
  }
  if (inline !== undefined && file !== undefined) {
    throw new ConfigError('CLICKHOUSE_ANALYST_PASSWORD_FILE', 'is set together with CLICKHOUSE_ANALYST_PASSWORD', 'set one of them (the file is better: it keeps the password out of the environment)');
  }
  if (file === undefined) return { user, password: inline ?? '' };
  let password: string;
  try {
    password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError('CLICKHOUSE_ANALYST_PASSWORD_FILE', `cannot read ${file} (${errorMessage(error).split(':')[0]})`, 'point it at a file that holds the analyst password and that this process may read');
  }
  return { user, password };
}

function present(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new ConfigError(name, `${JSON.stringify(env[name])} is not a positive whole number`, `e.g. ${name}=${fallback}`);
  }
  return Number(text);
}
