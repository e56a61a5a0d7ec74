import { userInfo } from 'node:os';
import { loadConfig, type EngineConfig } from '../topology/config.ts';
import { noAudit, type AuditTrail } from '../audit/audit-trail.ts';
import { clickhouseConfigError, type ClickHouseVariables } from '../clickhouse/server-security.ts';
import { clickhouseTarget } from '../topology/connection-config.ts';
import { runAnalystQuery, type AnalystQueryTrace } from '../analytics/analyst-query.ts';
import { loadSqlEndpointConfig, MAX_SQL_BYTES } from '../analytics/sql-config.ts';
import { SQL_ERROR_STATUS, SqlQueryError, type SqlErrorCode } from '../analytics/sql-errors.ts';
import { answerDeadlineMs, type ResultFormat } from '../analytics/result-format.ts';
import { parseJsonResult, renderJsonRows, renderTable } from '../analytics/result-output.ts';

export const OUTPUT_FORMATS = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface QueryCommandOptions {
  format: OutputFormat;
  /** The engine's base URL; default http://HOST:PORT from the environment. */
  url?: string;
  /** Default TRIBUTARY_SQL_TOKEN. */
  token?: string;
  /** Where a query read directly (no engine) is recorded; default none. */
  audit?: AuditTrail;
  /** The text is a DP query (JSON), sent to POST /sql?dp=1: the engine holds the budget ledger. */
  dp?: boolean;
  /** Ask for POST /sql?detokenize=1 (admin token: --token or TRIBUTARY_SQL_ADMIN_TOKEN): tokens come back in clear. */
  detokenize?: boolean;
}

/** Network failures meaning nobody listens there: then the data is read directly. */
const NO_ENGINE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EADDRNOTAVAIL', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * `tributary query "SQL"`: asks the running engine's SQL endpoint (POST /sql), since embedded
 * chDB lets one process at a time open its directory. When no engine answers there, it reads
 * the data itself: CLICKHOUSE_URL when set (as CLICKHOUSE_ANALYST_USER), else the chDB directory
 * CLICKHOUSE_DATA_DIR, through the same parser, allowlist and limits as the endpoint, with the
 * admin role (whoever can open the directory or holds the analyst user's password reads every
 * table of the database anyway). Prints the result to stdout.
 */
export async function queryCommand(sqlText: string, options: QueryCommandOptions): Promise<void> {
  const config = loadConfig();
  const sqlConfig = loadSqlEndpointConfig();
  if (Buffer.byteLength(sqlText, 'utf8') > MAX_SQL_BYTES) throw new SqlQueryError('TOO_LARGE', `the SQL text is longer than ${MAX_SQL_BYTES} bytes`);
  const wire: ResultFormat = options.format === 'csv' ? 'CSVWithNames' : 'JSON';
  const url = (options.url ?? engineUrl(config)).replace(/\/+$/, '');
  const dp = options.dp === true;
  const detokenize = options.detokenize === true;
  const asJson = dp || detokenize;
  const token = options.token ?? (detokenize ? sqlConfig.credentials.adminToken : undefined) ?? sqlConfig.token;
  let text = await askEngine(url, sqlText, asJson ? 'JSON' : wire, token, dp ? 'dp' : detokenize ? 'detokenize' : undefined);
  if (text === undefined && dp) {
    // Read directly, the budget would be whoever runs the command's to reset: only the engine answers DP queries.
    throw new SqlQueryError('UNAVAILABLE', `no engine answers at ${url}: DP queries need a running engine (it keeps the privacy budget ledger)`);
  }
  if (text === undefined && detokenize) throw new SqlQueryError('UNAVAILABLE', `no engine answers at ${url}: detokenizing needs a running engine (it holds the keyring)`);
  if (detokenize) reportDetokenized(text!);
  if (asJson && options.format === 'csv') text = renderCsv(parseJsonResult(text!));
  if (text === undefined) {
    const where = config.clickhouseUrl !== undefined ? `ClickHouse at ${redact(config.clickhouseUrl)}` : `the embedded data in ${config.clickhouseDataDir}`;
    process.stderr.write(`tributary query: no engine answers at ${url}; reading ${where} directly\n`);
    text = await queryDirectly(config, sqlConfig, sqlText, wire, options.audit ?? noAudit);
  }
  process.stdout.write(options.format === 'csv' ? text : options.format === 'json' ? renderJsonRows(parseJsonResult(text)) : renderTable(parseJsonResult(text)));
}

const ANALYST_USER_VARIABLES: ClickHouseVariables = { user: 'CLICKHOUSE_ANALYST_USER', password: 'CLICKHOUSE_ANALYST_PASSWORD' };

/** The query run in this process, audited as the OS user with the admin role. */
async function queryDirectly(config: EngineConfig, sqlConfig: ReturnType<typeof loadSqlEndpointConfig>, sql: string, format: ResultFormat, audit: AuditTrail): Promise<string> {
  const limits = sqlConfig.limits;
  const principal = `cli:${userInfo().username}`;
  const trace: AnalystQueryTrace = {};
  const target = { ...clickhouseTarget(config), ...(sqlConfig.analystUser === undefined ? {} : { analyst: sqlConfig.analystUser }) };
  const details = (rows?: number) => ({ query: trace.canonical ?? sql.slice(0, 4096), rows, format, remote: 'local' });
  try {
    const answer = await runAnalystQuery(target, sql, { role: 'admin', format, limits, analystTables: [], signal: AbortSignal.timeout(answerDeadlineMs(limits)) }, trace);
    await audit.record({ action: 'sql.query', principal, role: 'admin', outcome: 'ok', details: details(answer.rows) });
    return answer.text;
  } catch (thrown) {
    // Refused credentials or certificates: name the setting to fix, as the engine does.
    const analyst = sqlConfig.analystUser;
    const cause = thrown instanceof Error && thrown.cause !== undefined ? thrown.cause : thrown;
    const error = (target.url !== undefined && clickhouseConfigError(cause, target.url, { ...target.security, username: analyst?.user }, ANALYST_USER_VARIABLES)) || thrown;
    const refused = error instanceof SqlQueryError && SQL_ERROR_STATUS[error.sqlCode] < 500 && error.sqlCode !== 'ROW_LIMIT';
    await audit.record({ action: 'sql.query', principal, role: 'admin', outcome: refused ? 'refused' : 'failed', reason: error instanceof Error ? error.message : String(error), details: details() }).catch(() => {});
    throw error;
  }
}

/** The result text, or undefined when no engine (with an SQL endpoint) answers at `url`. */
async function askEngine(url: string, sql: string, format: ResultFormat, token: string | undefined, mode?: 'dp' | 'detokenize'): Promise<string | undefined> {
  let response: Response;
  try {
    response = await fetch(`${url}/sql?format=${format}${mode === undefined ? '' : `&${mode}=1`}`, {
      method: 'POST',
      body: sql,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) },
    });
  } catch (error) {
    if (networkCodes(error).some((code) => NO_ENGINE.has(code))) return undefined;
    throw new SqlQueryError('UNAVAILABLE', `the engine at ${url} did not answer: ${describe(error)}`, { cause: error });
  }
  const body = await response.text();
  if (response.ok) return body;
  // An engine without the SQL endpoint (or another program on the port): read the data directly.
  if (response.status === 404) return undefined;
  throw engineError(url, response.status, body);
}

function engineError(url: string, status: number, body: string): SqlQueryError {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; code?: unknown };
    if (typeof parsed.error === 'string' && typeof parsed.code === 'string' && parsed.code in SQL_ERROR_STATUS) {
      return new SqlQueryError(parsed.code as SqlErrorCode, parsed.error);
    }
  } catch {
    // not the endpoint's JSON: described below
  }
  return new SqlQueryError('UNAVAILABLE', `${url}/sql answered ${status}: ${body.slice(0, 200)}`);
}

/** What the engine could not detokenize, on stderr (the counts are the answer's `detokenize` field). */
function reportDetokenized(text: string): void {
  const counts = (JSON.parse(text) as { detokenize?: { opened: number; erased: number; unreadable: number } }).detokenize;
  if (counts === undefined) return;
  const left = counts.erased + counts.unreadable;
  process.stderr.write(`tributary query: ${counts.opened} token(s) detokenized${left > 0 ? `; ${counts.erased} of erased subjects and ${counts.unreadable} unreadable left as tokens` : ''}\n`);
}

/** A DP answer (JSON rows) as CSV with a header line. */
function renderCsv(result: ReturnType<typeof parseJsonResult>): string {
  const names = result.meta.map((column) => column.name);
  const cell = (value: unknown) => (value === undefined || value === null ? '' : typeof value === 'number' ? String(value) : `"${String(value).replace(/"/g, '""')}"`);
  return [names.join(','), ...result.data.map((row) => names.map((name) => cell(row[name])).join(','))].join('\n') + '\n';
}

/** The engine's address as configured (PORT, HOST), reachable from this machine. */
export function engineUrl(config: Pick<EngineConfig, 'host' | 'port'>): string {
  const host = config.host === '0.0.0.0' || config.host === '' ? '127.0.0.1' : config.host === '::' ? '[::1]' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** fetch wraps socket errors (and, with several addresses, an AggregateError of them) in `cause`. */
function networkCodes(error: unknown): string[] {
  const cause = (error as { cause?: { code?: unknown; errors?: Array<{ code?: unknown }> } }).cause;
  if (cause === undefined) return [];
  return [cause.code, ...(cause.errors ?? []).map((e) => e.code)].filter((code): code is string => typeof code === 'string');
}

function describe(error: unknown): string {
  const codes = networkCodes(error);
  return codes.length > 0 ? codes.join(', ') : error instanceof Error ? error.message : String(error);
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
