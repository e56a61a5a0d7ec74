import { ConfigError } from '../core/errors.ts';

/** Bounds of one analyst query, on both the endpoint and `tributary query` without an engine. */
export interface QueryLimits {
  /** max_result_rows (result_overflow_mode=throw): a larger result is an error, never a silent cut. */
  maxRows: number;
  /** max_result_bytes (uncompressed, as ClickHouse counts it), so a few wide rows cannot fill memory either. */
  maxResultBytes: number;
  /** max_execution_time, rounded up to whole seconds (ClickHouse's unit); the endpoint also stops waiting a second later. */
  timeoutMs: number;
}

export interface SqlEndpointConfig {
  /** Bearer token every request must carry; undefined: only loopback clients are answered. */
  token: string | undefined;
  limits: QueryLimits;
  /** Queries running at once; more are answered 429. */
  maxConcurrent: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxRows: 100_000, maxResultBytes: 64 * 1024 * 1024, timeoutMs: 30_000 };
export const DEFAULT_MAX_CONCURRENT = 4;
/** Shorter tokens are guessable; the endpoint refuses to start with one. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * The SQL endpoint's settings from the environment (README, "For analysts"):
 * TRIBUTARY_SQL_TOKEN, TRIBUTARY_SQL_MAX_ROWS, TRIBUTARY_SQL_TIMEOUT_MS, TRIBUTARY_SQL_MAX_CONCURRENT.
 */
export function loadSqlEndpointConfig(env: NodeJS.ProcessEnv = process.env): SqlEndpointConfig {
  const token = env.TRIBUTARY_SQL_TOKEN === undefined || env.TRIBUTARY_SQL_TOKEN === '' ? undefined : env.TRIBUTARY_SQL_TOKEN;
  if (token !== undefined) checkToken(token, 'TRIBUTARY_SQL_TOKEN');
  return {
    token,
    limits: {
      maxRows: positiveInteger(env, 'TRIBUTARY_SQL_MAX_ROWS', DEFAULT_LIMITS.maxRows),
      maxResultBytes: DEFAULT_LIMITS.maxResultBytes,
      timeoutMs: positiveInteger(env, 'TRIBUTARY_SQL_TIMEOUT_MS', DEFAULT_LIMITS.timeoutMs),
    },
    maxConcurrent: positiveInteger(env, 'TRIBUTARY_SQL_MAX_CONCURRENT', DEFAULT_MAX_CONCURRENT),
  };
}

export function checkToken(token: string, field: string): void {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(field, `the token is ${/\s/.test(token) ? 'not one word' : `shorter than ${MIN_TOKEN_LENGTH} characters`}`, 'use a random value, e.g. TRIBUTARY_SQL_TOKEN=$(openssl rand -hex 24)');
  }
}

/** Checks limits passed in code (tests, embedders) like those from the environment. */
export function checkLimits(limits: QueryLimits): QueryLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigError(`sql limits.${name}`, `${value} is not a positive whole number`, 'use e.g. { maxRows: 100000, timeoutMs: 30000 }');
  }
  return limits;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new ConfigError(name, `${JSON.stringify(env[name])} is not a positive whole number`, `e.g. ${name}=${fallback}`);
  }
  return Number(text);
}
