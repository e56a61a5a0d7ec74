import { type ExpectedClaims, type TokenRejection, verifyPushToken } from './push-token.ts';

/** What one connection may do, decided once at the upgrade. */
export interface AccessGrant {
  canSubscribe(channel: string): boolean;
  /** Epoch ms after which the connection is closed (4001); undefined when auth is off. */
  readonly expiresAt: number | undefined;
  readonly subject: string | undefined;
}

export interface AccessOptions {
  /** HS256 secret for tokens; unset turns authentication off (development). */
  secret?: string;
  /** Allowed browser origins (e.g. https://dash.example.com); unset allows any. */
  origins?: string[];
  /** The `aud` every token must name (TRIBUTARY_WS_AUDIENCE); unset: not checked. */
  audience?: string;
  /** The `iss` every token must name (TRIBUTARY_WS_ISSUER); unset: not checked. */
  issuer?: string;
}

export type RejectionReason = 'origin' | 'token_missing' | TokenRejection;

export type AdmitResult =
  | { ok: true; grant: AccessGrant }
  | { ok: false; status: '401 Unauthorized' | '403 Forbidden'; reason: RejectionReason; message: string };

/** Every channel, no expiry: the grant when authentication is off. */
export const OPEN_GRANT: AccessGrant = { canSubscribe: () => true, expiresAt: undefined, subject: undefined };

const TOKEN_MESSAGES: Record<RejectionReason, string> = {
  origin: 'origin not allowed',
  token_missing: 'missing token: connect to /ws?token=<token>',
  malformed: 'malformed token',
  bad_signature: 'invalid token signature',
  expired: 'token expired',
  not_yet_valid: 'token not valid yet',
  invalid_claims: 'token claims invalid: expected channels (array) and exp (seconds)',
  audience: 'token audience (aud) not accepted',
  issuer: 'token issuer (iss) not accepted',
};

/**
 * Decides WebSocket upgrades: the Origin header against the allowlist (browsers always send it;
 * a request without one is not from a browser page, so it is not a cross-site risk and only the token
 * counts), then the token from `?token=` (browsers cannot set headers on a WebSocket).
 */
export class AccessGate {
  private readonly secret: string | undefined;
  private readonly origins: ReadonlySet<string> | undefined;
  private readonly expected: ExpectedClaims;

  constructor(options: AccessOptions) {
    this.secret = options.secret;
    this.expected = { audience: options.audience, issuer: options.issuer };
    this.origins = options.origins === undefined ? undefined : new Set(options.origins.map((origin) => origin.toLowerCase()));
  }

  get authEnabled(): boolean {
    return this.secret !== undefined;
  }

  /**
   * `origin` and `token` as uWS gives them: '' when absent. Synchronous unless a token must be
   * verified, so upgrades without authentication never wait.
   */
  admit(origin: string, token: string, now = Date.now()): AdmitResult | Promise<AdmitResult> {
    if (origin !== '' && this.origins !== undefined && !this.origins.has(origin.toLowerCase())) return reject('403 Forbidden', 'origin');
    if (this.secret === undefined) return { ok: true, grant: OPEN_GRANT };
    if (token === '') return reject('401 Unauthorized', 'token_missing');
    return this.verify(this.secret, token, now);
  }

  private async verify(secret: string, token: string, now: number): Promise<AdmitResult> {
    const checked = await verifyPushToken(token, secret, now, this.expected);
    if (!checked.ok) return reject('401 Unauthorized', checked.reason);
    const { channels, exp, sub } = checked.claims;
    return { ok: true, grant: { canSubscribe: channelMatcher(channels), expiresAt: exp * 1000, subject: sub } };
  }
}

/** Exact names, `prefix*` patterns and `*`, compiled once per connection. */
export function channelMatcher(patterns: readonly string[]): (channel: string) => boolean {
  if (patterns.includes('*')) return () => true;
  const exact = new Set(patterns.filter((pattern) => !pattern.endsWith('*')));
  const prefixes = patterns.filter((pattern) => pattern.endsWith('*')).map((pattern) => pattern.slice(0, -1));
  return (channel) => exact.has(channel) || prefixes.some((prefix) => channel.startsWith(prefix));
}

function reject(status: '401 Unauthorized' | '403 Forbidden', reason: RejectionReason): AdmitResult {
  return { ok: false, status, reason, message: TOKEN_MESSAGES[reason] };
}
