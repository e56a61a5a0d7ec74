import { errors, jwtVerify } from 'jose';
import type { SqlJwtConfig } from './sql-config.ts';

export type SqlRole = 'analyst' | 'admin';
export const SQL_ROLES: readonly SqlRole[] = ['analyst', 'admin'];

export type SqlTokenCheck = { ok: true; subject: string; role: SqlRole } | { ok: false; reason: string };

/** Bearer values longer than this are not tokens of ours. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * Checks a SQL endpoint JWT: HS256 only (a token cannot pick "none" or another algorithm),
 * signed with TRIBUTARY_SQL_JWT_SECRET, `exp` required, `aud` and `iss` checked when configured,
 * and the claims `sub` (the principal, for logs and the audit trail) and `role` (analyst or
 * admin). Never rejects; the reason is safe to show (it names no secret).
 */
export async function verifySqlToken(token: string, config: SqlJwtConfig, now = Date.now()): Promise<SqlTokenCheck> {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'the token is too long' };
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(config.secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(now),
      ...(config.audience === undefined ? {} : { audience: config.audience }),
      ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    });
    const { sub, role } = payload as { sub?: unknown; role?: unknown };
    if (typeof sub !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(sub)) return { ok: false, reason: 'the token has no usable subject (sub)' };
    if (!SQL_ROLES.includes(role as SqlRole)) return { ok: false, reason: 'the token has no role claim of analyst or admin' };
    return { ok: true, subject: sub, role: role as SqlRole };
  } catch (error) {
    return { ok: false, reason: rejection(error) };
  }
}

function rejection(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is not signed with HS256';
  return 'the token is not a valid JWT';
}
