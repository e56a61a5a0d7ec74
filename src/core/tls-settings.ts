import { ConfigError } from './errors.ts';

/**
 * TLS material for a connection, as PEM text (read from the *_FILE settings at start). The
 * server's certificate is always verified, host name included: there is no switch to turn that off.
 */
export interface TlsSettings {
  /** CA certificate(s) that sign the server's certificate; default Node's bundled public CAs. */
  ca?: string;
  /** Client certificate and key, for servers that require mutual TLS. */
  cert?: string;
  key?: string;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
}

/** The settings a service reads its TLS from, for errors that say which one to fix. */
export interface TlsVariables {
  service: string;
  /** Where the host name comes from (KAFKA_BROKERS, REDIS_URL, CLICKHOUSE_URL). */
  host: string;
  ca: string;
  cert: string;
  /** The setting that chooses TLS (KAFKA_SECURITY_PROTOCOL, the URL's scheme). */
  protocol: string;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const CLIENT_CERTIFICATE = /alert (bad certificate|certificate required|unknown ca|certificate unknown)/i;
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

/** The error and its causes (`cause`, kafkajs' `originalError`), outermost first. */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && chain.length < 8; ) {
    chain.push(current);
    const next = (current as { cause?: unknown; originalError?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
    current = next === current ? undefined : next;
  }
  return chain;
}

/**
 * A TLS failure that a retry cannot fix, as a ConfigError naming the setting to change: an
 * untrusted or expired server certificate, a host name the certificate does not carry, a client
 * certificate the server refuses, a server that does not speak TLS. Undefined for anything else.
 */
export function tlsConfigError(error: unknown, names: TlsVariables): ConfigError | undefined {
  for (const cause of causeChain(error)) {
    const code = String((cause as { code?: unknown }).code ?? '');
    const message = cause instanceof Error ? cause.message : '';
    if (UNTRUSTED.has(code)) {
      return new ConfigError(names.ca, `${names.service}'s certificate is not signed by a trusted CA (${code})`, `set ${names.ca} to the PEM file of the CA that signed the server's certificate`);
    }
    if (EXPIRED.has(code)) {
      return new ConfigError(names.ca, `${names.service}'s certificate is not valid now (${code})`, `renew the server's certificate, or check this machine's clock`);
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new ConfigError(names.host, `${names.service}'s certificate is not issued for the host name used (${message})`, `address the server in ${names.host} by a name or IP address listed in its certificate (subjectAltName); host names are always verified`);
    }
    if (CLIENT_CERTIFICATE.test(message) || /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA)/.test(code)) {
      return new ConfigError(names.cert, `${names.service} refused the TLS client certificate (${code || message})`, `set ${names.cert} (and the matching key) to a client certificate signed by a CA the server trusts`);
    }
    // A reset in the middle of the handshake: the port answers, but not with TLS.
    if (NOT_TLS.has(code) || (code === 'ECONNRESET' && /before secure TLS connection was established/.test(message))) {
      return new ConfigError(names.protocol, `${names.service} does not answer TLS at that address (${code})`, `check ${names.protocol}: use TLS only against a TLS port (or the plain scheme against a plain one)`);
    }
  }
  return undefined;
}
