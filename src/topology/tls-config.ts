import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { readFileSetting, readSecret } from '../core/secret-setting.ts';
import type { TlsSettings } from '../core/tls-settings.ts';

type Env = NodeJS.ProcessEnv;

/** The variables of one service's TLS files. */
export interface TlsFileVariables {
  ca: string;
  cert: string;
  key: string;
  /** The key's passphrase (a secret: VAR or VAR_FILE); absent where the service takes none. */
  keyPassword?: string;
}

const isSet = (env: Env, name: string | undefined) => name !== undefined && env[name] !== undefined && env[name] !== '';

/** Whether any of the variables is set. */
export function anyTlsSet(env: Env, names: TlsFileVariables): boolean {
  return [names.ca, names.cert, names.key, names.keyPassword, names.keyPassword && `${names.keyPassword}_FILE`].some((name) => isSet(env, name || undefined));
}

/**
 * Reads and checks the PEM files now, so a wrong path, a key that does not match its
 * certificate or a wrong passphrase fails the start with the variable named. Undefined when none is set.
 */
export function loadTlsFiles(env: Env, names: TlsFileVariables): TlsSettings | undefined {
  const ca = readFileSetting(env, names.ca, 'the PEM certificate of the CA that signed the server certificate');
  const cert = readFileSetting(env, names.cert, 'the PEM client certificate');
  const key = readFileSetting(env, names.key, 'the PEM private key of the client certificate');
  const passphrase = names.keyPassword === undefined ? undefined : readSecret(env, names.keyPassword);
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? names.cert : names.key;
    throw new ConfigError(missing, `mutual TLS needs both ${names.cert} and ${names.key}, and only one is set`, `set ${missing} too, or unset the other to connect without a client certificate`);
  }
  if (passphrase !== undefined && key === undefined) {
    throw new ConfigError(names.keyPassword!, `a key passphrase is set without ${names.key}`, `set ${names.key} to the encrypted key, or unset ${names.keyPassword}`);
  }
  if (ca !== undefined) certificateOf(ca, names.ca);
  if (cert !== undefined && key !== undefined) {
    const certificate = certificateOf(cert, names.cert);
    const privateKey = privateKeyOf(key, passphrase, names);
    if (!certificate.checkPrivateKey(privateKey)) {
      throw new ConfigError(names.key, `the key in ${env[names.key]} does not belong to the certificate in ${env[names.cert]}`, `set ${names.key} to the private key of that certificate`);
    }
  }
  if (ca === undefined && cert === undefined) return undefined;
  return { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert, key }), ...(passphrase === undefined ? {} : { passphrase }) };
}

function certificateOf(pem: string, name: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new ConfigError(name, `the file holds no PEM certificate (${errorMessage(error)})`, `point ${name} at a file that begins with -----BEGIN CERTIFICATE-----`);
  }
}

function privateKeyOf(pem: string, passphrase: string | undefined, names: TlsFileVariables): KeyObject {
  try {
    return createPrivateKey({ key: pem, ...(passphrase === undefined ? {} : { passphrase }) });
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? '');
    // An encrypted key without a passphrase fails as "interrupted or cancelled" (no prompt to ask).
    if (/ENCRYPTED/.test(pem) || /PASSPHRASE|BAD_DECRYPT|INTERRUPTED_OR_CANCELLED/i.test(code)) {
      const variable = names.keyPassword ?? names.key;
      throw new ConfigError(variable, `the key in ${names.key} is encrypted and ${passphrase === undefined ? 'no passphrase is set' : 'the passphrase does not decrypt it'} (${code})`, names.keyPassword ? `set ${names.keyPassword}_FILE to the file holding the key's passphrase` : `use an unencrypted key in ${names.key}`);
    }
    throw new ConfigError(names.key, `the file holds no PEM private key (${code || 'unreadable'})`, `point ${names.key} at a file that begins with -----BEGIN PRIVATE KEY----- (or an encrypted one)`);
  }
}
