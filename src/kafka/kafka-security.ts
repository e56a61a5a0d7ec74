import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { ConfigError } from '../core/errors.ts';
import { causeChain, tlsConfigError, type TlsSettings } from '../core/tls-settings.ts';

/** Kafka's own names (security.protocol). */
export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type KafkaSecurityProtocol = (typeof KAFKA_SECURITY_PROTOCOLS)[number];

/** Kafka's own names (sasl.mechanism) of the mechanisms kafkajs implements with a password. */
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/**
 * How every Kafka client of the engine authenticates and encrypts (KAFKA_SECURITY_PROTOCOL and
 * the KAFKA_SASL_* and KAFKA_SSL_* settings). Absent: PLAINTEXT.
 */
export interface KafkaSecurity {
  protocol: KafkaSecurityProtocol;
  /** SASL_PLAINTEXT and SASL_SSL only. */
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
  /** SSL and SASL_SSL only; without `ca` the server is checked against Node's public CAs. */
  tls?: TlsSettings;
}

export const usesTls = (security: KafkaSecurity | undefined): boolean => security?.protocol === 'SSL' || security?.protocol === 'SASL_SSL';
const usesSasl = (security: KafkaSecurity | undefined): boolean => security?.protocol === 'SASL_PLAINTEXT' || security?.protocol === 'SASL_SSL';

/** Node's TLS options for the settings (host names are checked: rejectUnauthorized is never turned off). */
export function tlsOptions(settings: TlsSettings | undefined): ConnectionOptions {
  const options: ConnectionOptions = {};
  if (settings?.ca !== undefined) options.ca = [settings.ca];
  if (settings?.cert !== undefined) options.cert = settings.cert;
  if (settings?.key !== undefined) options.key = settings.key;
  if (settings?.passphrase !== undefined) options.passphrase = settings.passphrase;
  return options;
}

/** The `ssl` and `sasl` options of kafkajs for the settings. */
export function kafkajsSecurity(security: KafkaSecurity | undefined): { ssl?: ConnectionOptions; sasl?: SASLOptions } {
  const options: ReturnType<typeof kafkajsSecurity> = {};
  if (usesTls(security)) options.ssl = tlsOptions(security!.tls);
  if (usesSasl(security)) {
    const sasl = security!.sasl;
    if (!sasl) throw new ConfigError('KAFKA_SASL_USERNAME', `security protocol ${security!.protocol} needs SASL credentials`, 'set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE');
    options.sasl = { mechanism: sasl.mechanism.toLowerCase(), username: sasl.username, password: sasl.password } as SASLOptions;
  }
  return options;
}

export const KAFKA_TLS_VARIABLES = { service: 'the Kafka broker', host: 'KAFKA_BROKERS', ca: 'KAFKA_SSL_CA_FILE', cert: 'KAFKA_SSL_CERT_FILE', protocol: 'KAFKA_SECURITY_PROTOCOL' };

/**
 * A failure that connecting again cannot fix, as a ConfigError naming the setting: credentials
 * or a mechanism the broker refuses (kafkajs does not retry these), or a TLS failure. Undefined
 * for everything else (an unreachable broker keeps its bounded retries).
 */
export function kafkaConfigError(error: unknown, security: KafkaSecurity | undefined): ConfigError | undefined {
  for (const cause of causeChain(error)) {
    const name = (cause as { name?: unknown }).name;
    const type = (cause as { type?: unknown }).type;
    const message = cause instanceof Error ? cause.message : '';
    const mechanism = security?.sasl?.mechanism ?? 'the configured mechanism';
    if (type === 'UNSUPPORTED_SASL_MECHANISM' || (name === 'KafkaJSSASLAuthenticationError' && /mechanism is not supported/i.test(message))) {
      return new ConfigError('KAFKA_SASL_MECHANISM', `the broker does not enable SASL mechanism ${mechanism}`, `set KAFKA_SASL_MECHANISM to one the listener enables (sasl.enabled.mechanisms): ${KAFKA_SASL_MECHANISMS.join(', ')}`);
    }
    if (name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED') {
      const user = security?.sasl?.username === undefined ? 'the user' : `user "${security.sasl.username}"`;
      return new ConfigError('KAFKA_SASL_PASSWORD', `the broker rejected the credentials of ${user} with ${mechanism}`, `check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE), and that the user has ${mechanism} credentials on the cluster (kafka-configs.sh --alter --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users --entity-name <user>)`);
    }
    if (type === 'CLUSTER_AUTHORIZATION_FAILED' || type === 'TOPIC_AUTHORIZATION_FAILED' || type === 'GROUP_AUTHORIZATION_FAILED') {
      const user = security?.sasl?.username ?? 'this client';
      return new ConfigError('KAFKA_SASL_USERNAME', `the broker denies ${user} an operation it needs (${String(type)})`, `grant ${user} the ACLs it needs (read/describe on the topics and the consumer group, write on dead-letter topics), or use a user that has them`);
    }
  }
  return usesTls(security) ? tlsConfigError(error, KAFKA_TLS_VARIABLES) : undefined;
}

/** Runs a connect, turning failures that are configuration (see kafkaConfigError) into ConfigErrors. */
export async function withSecurityErrors<T>(operation: Promise<T>, security: KafkaSecurity | undefined): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw kafkaConfigError(error, security) ?? error;
  }
}
