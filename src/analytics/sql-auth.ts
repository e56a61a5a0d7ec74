import { hasCredentials, type SqlCredentials } from './sql-config.ts';
import { isLoopbackAddress, isLoopbackHost, sameOrigin, sameSecret, type SqlRequestFacts } from './sql-access.ts';
import { verifySqlToken, type SqlRole } from './sql-jwt.ts';
import { SqlQueryError } from './sql-errors.ts';

/** Who asks, and with which role (README "For analysts", roles). */
export interface SqlPrincipal {
  /** A JWT's `sub`, 'analyst-token' or 'admin-token' for the static tokens, 'loopback' without any. */
  name: string;
  role: SqlRole;
}

/**
 * The SQL endpoint's access rule:
 *
 * - A browser's cross-origin request (an Origin that is not the Host) is refused either way.
 * - With a credential configured (TRIBUTARY_SQL_TOKEN: analyst, TRIBUTARY_SQL_ADMIN_TOKEN:
 *   admin, TRIBUTARY_SQL_JWT_SECRET: HS256 JWTs whose `role` claim says which), every request
 *   needs `Authorization: Bearer <credential>`, from loopback too; anything else is 401.
 * - Without any, only loopback clients asking for a loopback Host (no DNS rebinding) are
 *   answered, as the analyst 'loopback'; others get 403. The engine refuses to bind a
 *   non-loopback HOST without a credential (sql-exposure.ts).
 *
 * Resolves with the principal; rejects with SqlQueryError UNAUTHORIZED or FORBIDDEN.
 */
export async function authenticateSqlRequest(facts: SqlRequestFacts, credentials: SqlCredentials): Promise<SqlPrincipal> {
  if (facts.origin !== '' && !sameOrigin(facts.origin, facts.host)) {
    throw new SqlQueryError('FORBIDDEN', `cross-origin requests are not answered (Origin ${facts.origin})`);
  }
  if (hasCredentials(credentials)) return bearerPrincipal(facts.authorization, credentials);
  if (!isLoopbackAddress(facts.remoteAddress)) {
    throw new SqlQueryError('FORBIDDEN', 'without TRIBUTARY_SQL_TOKEN the SQL endpoint answers loopback clients only: set a token on the engine and send it as a bearer token');
  }
  if (!isLoopbackHost(facts.host)) {
    throw new SqlQueryError('FORBIDDEN', `without TRIBUTARY_SQL_TOKEN the SQL endpoint answers requests to localhost only (Host ${facts.host || 'missing'})`);
  }
  return { name: 'loopback', role: 'analyst' };
}

async function bearerPrincipal(authorization: string, credentials: SqlCredentials): Promise<SqlPrincipal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (match === null) throw new SqlQueryError('UNAUTHORIZED', 'send a token as "Authorization: Bearer <token>"');
  const given = match[1]!;
  // Both static tokens are compared, whichever matches, so timing tells nothing about which exists.
  const admin = credentials.adminToken !== undefined && sameSecret(given, credentials.adminToken);
  const analyst = credentials.analystToken !== undefined && sameSecret(given, credentials.analystToken);
  if (admin) return { name: 'admin-token', role: 'admin' };
  if (analyst) return { name: 'analyst-token', role: 'analyst' };
  if (credentials.jwt !== undefined && given.split('.').length === 3) {
    const check = await verifySqlToken(given, credentials.jwt);
    if (check.ok) return { name: check.subject, role: check.role };
    throw new SqlQueryError('UNAUTHORIZED', check.reason);
  }
  throw new SqlQueryError('UNAUTHORIZED', 'the token is not valid');
}
