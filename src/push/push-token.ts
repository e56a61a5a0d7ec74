import { SignJWT, errors, jwtVerify } from 'jose';

/**
 * Access tokens for the WebSocket endpoint: JWTs signed with HMAC-SHA256 (HS256) and a shared
 * secret (TRIBUTARY_WS_SECRET), made and checked with `jose`. Only HS256 is accepted, so a token
 * cannot pick another algorithm ("none").
 *
 * Claims: `channels` (names, `prefix*` or `*`), `exp` (required, seconds since the epoch), optional
 * `nbf`, `iat` and `sub` (logged); `aud` and `iss` are required to match where the server is
 * configured with an audience or issuer (TRIBUTARY_WS_AUDIENCE, TRIBUTARY_WS_ISSUER), and a token
 * with an `aud` claim is refused where none is configured (RFC 7519: reject an audience you are not in).
 */
export interface PushTokenClaims {
  channels: string[];
  exp: number;
  sub?: string;
}

export type TokenRejection = 'malformed' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'invalid_claims' | 'audience' | 'issuer';

/** What a token must name besides its signature, when set. */
export interface ExpectedClaims {
  audience?: string;
  issuer?: string;
}

export type TokenCheck = { ok: true; claims: PushTokenClaims } | { ok: false; reason: TokenRejection };

/** A channel permission: a channel name, a name prefix ending in `*`, or `*` for every channel. */
export const CHANNEL_PERMISSION_PATTERN = /^(\*|[A-Za-z0-9_.:-]{1,64}\*?)$/;

/** Tokens are read from the URL; anything longer is not one of ours. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * The compact form signers write: three segments of unpadded base64url. jose decodes leniently on
 * Node 20 (atob skips whitespace and "=", and ignores the spare bits of the last character), so
 * without this check one signature has many spellings that all verify.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function isCanonicalCompact(token: string): boolean {
  return COMPACT_JWS.test(token) && token.split('.').every((segment) => Buffer.from(segment, 'base64url').toString('base64url') === segment);
}

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** Signs a token for `channels`, valid for `expiresInSeconds` from `now` (epoch ms). */
export async function signPushToken(
  secret: string,
  grant: { channels: string[]; expiresInSeconds: number; subject?: string; audience?: string; issuer?: string },
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  const jwt = new SignJWT({ channels: grant.channels }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(iat).setExpirationTime(iat + grant.expiresInSeconds);
  if (grant.subject !== undefined) jwt.setSubject(grant.subject);
  if (grant.audience !== undefined) jwt.setAudience(grant.audience);
  if (grant.issuer !== undefined) jwt.setIssuer(grant.issuer);
  return jwt.sign(keyOf(secret));
}

/**
 * Checks the encoding (the canonical compact form only: jose would accept respellings of one
 * signature), signature, algorithm, time claims, audience and issuer, and the shape of
 * `channels`. Never rejects.
 */
export async function verifyPushToken(token: string, secret: string, now = Date.now(), expected: ExpectedClaims = {}): Promise<TokenCheck> {
  if (token.length > MAX_TOKEN_LENGTH || !isCanonicalCompact(token)) return { ok: false, reason: 'malformed' };
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), { algorithms: ['HS256'], requiredClaims: ['exp'], currentDate: new Date(now), audience: expected.audience, issuer: expected.issuer });
    const { channels, exp, sub, aud } = payload as { channels?: unknown; exp: number; sub?: string; aud?: unknown };
    const foreignAudience = expected.audience === undefined && aud !== undefined;
    if (foreignAudience || !Array.isArray(channels) || channels.length > 256 || !channels.every((c) => typeof c === 'string' && CHANNEL_PERMISSION_PATTERN.test(c))) {
      return { ok: false, reason: 'invalid_claims' };
    }
    return { ok: true, claims: sub === undefined ? { channels, exp } : { channels, exp, sub } };
  } catch (error) {
    return { ok: false, reason: rejectionOf(error) };
  }
}

function rejectionOf(error: unknown): TokenRejection {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not_yet_valid';
    if (error.claim === 'aud') return 'audience';
    if (error.claim === 'iss') return 'issuer';
    return 'invalid_claims';
  }
  return 'malformed';
}
