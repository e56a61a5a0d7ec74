import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './services.ts';

/**
 * The secured endpoints that scripts/services.sh starts next to the plain ones (a throwaway CA,
 * Kafka SASL/TLS listeners, a Redis with ACL users, ClickHouse users with passwords and HTTPS),
 * read from the manifest it writes: $TRIBUTARY_SECURE_SERVICES_JSON, else
 * ${TRIBUTARY_SERVICES_DIR:-<repo>/.services}/secure/services.json. Tests that use them fail
 * (never skip) when it is missing.
 *
 * Passwords stay out of this object's enumerable fields: `password()` reads the file when
 * called, so an assertion that prints an endpoint or a user never prints a secret.
 */
export interface SecureUser {
  readonly name: string;
  readonly passwordFile: string;
  password(): string;
}

export interface SecureTls {
  readonly caCertFile: string;
  /** Paths of the client certificate (CN=tributary) and its key, and of the servers' key. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  readonly serverKeyFile: string;
  /** PEM text of the CA and of the client certificate (CN=tributary); its key is read on call. */
  readonly ca: string;
  readonly clientCert: string;
  clientKey(): string;
}

export interface SecureServices {
  readonly manifestPath: string;
  readonly tls: SecureTls;
  readonly kafka: {
    /** host:port of the SASL_PLAINTEXT, SASL_SSL and SSL (mutual TLS) listeners. */
    readonly saslPlaintext: string;
    readonly saslSsl: string;
    readonly ssl: string;
    readonly mechanisms: readonly string[];
    readonly tributary: SecureUser;
    readonly intruder: SecureUser;
  };
  readonly redis: { readonly url: string; readonly tlsUrl: string; readonly readerKeyPrefix: string; readonly tributary: SecureUser; readonly reader: SecureUser };
  readonly clickhouse: { readonly url: string; readonly httpsUrl: string; readonly analyticsDatabase: string; readonly tributary: SecureUser; readonly analyst: SecureUser };
}

type Json = Record<string, unknown>;

export function secureManifestPath(): string {
  const explicit = process.env.TRIBUTARY_SECURE_SERVICES_JSON;
  if (explicit) return explicit;
  return path.join(process.env.TRIBUTARY_SERVICES_DIR || path.join(REPO_ROOT, '.services'), 'secure', 'services.json');
}

/** Reads the manifest; throws a message naming the file and the command that creates it. */
export function secureServices(): SecureServices {
  const manifestPath = secureManifestPath();
  if (!existsSync(manifestPath)) {
    throw new Error(`the secured services are not started: ${manifestPath} does not exist. Run the tests with \`npm test\`, or start them with \`bash scripts/services.sh start\` (same TRIBUTARY_SERVICES_DIR, TRIBUTARY_SECURE_SERVICES unset or 1)`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Json;
  if (manifest.version !== 1) throw new Error(`${manifestPath}: unknown manifest version ${String(manifest.version)} (expected 1)`);
  const field = (at: string): unknown => at.split('.').reduce<unknown>((value, key) => (value as Json | undefined)?.[key], manifest);
  const text = (at: string): string => {
    const value = field(at);
    if (typeof value !== 'string' || value === '') throw new Error(`${manifestPath}: "${at}" is missing; restart the services (bash scripts/services.sh stop && bash scripts/services.sh start)`);
    return value;
  };
  const file = (at: string): string => {
    const filePath = text(at);
    if (!existsSync(filePath)) throw new Error(`${manifestPath}: ${at} names ${filePath}, which does not exist; restart the services`);
    return filePath;
  };
  const user = (service: string, name: string): SecureUser => {
    const passwordFile = file(`${service}.users.${name}.passwordFile`);
    return { name, passwordFile, password: () => readFileSync(passwordFile, 'utf8').trim() };
  };
  return {
    manifestPath,
    tls: {
      caCertFile: file('tls.caCert'),
      clientCertFile: file('tls.clientCert'),
      clientKeyFile: file('tls.clientKey'),
      serverKeyFile: file('tls.serverKey'),
      ca: readFileSync(file('tls.caCert'), 'utf8'),
      clientCert: readFileSync(file('tls.clientCert'), 'utf8'),
      clientKey: () => readFileSync(file('tls.clientKey'), 'utf8'),
    },
    kafka: {
      saslPlaintext: text('kafka.saslPlaintext'),
      saslSsl: text('kafka.saslSsl'),
      ssl: text('kafka.ssl'),
      mechanisms: field('kafka.mechanisms') as string[],
      tributary: user('kafka', 'tributary'),
      intruder: user('kafka', 'intruder'),
    },
    redis: { url: text('redis.url'), tlsUrl: text('redis.tlsUrl'), readerKeyPrefix: text('redis.readerKeyPrefix'), tributary: user('redis', 'tributary'), reader: user('redis', 'reader') },
    clickhouse: { url: text('clickhouse.url'), httpsUrl: text('clickhouse.httpsUrl'), analyticsDatabase: text('clickhouse.analyticsDatabase'), tributary: user('clickhouse', 'tributary'), analyst: user('clickhouse', 'analyst') },
  };
}
