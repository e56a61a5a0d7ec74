import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { tlsConfigError } from '../core/tls-settings.ts';
import { KAFKA_TLS_VARIABLES, tlsOptions, type KafkaSecurity } from './kafka-security.ts';

/** ApiVersions v0 (key 18): any broker answers it before authentication. */
function apiVersionsRequest(): Buffer {
  const clientId = Buffer.from('tributary-tls-check');
  const body = Buffer.alloc(10 + clientId.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(1, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/**
 * One TLS connection to `broker` that sends ApiVersions and waits for the answer: resolves with a
 * ConfigError when the handshake fails for a reason retrying cannot fix (kafkajs would retry
 * those like a broker that is down), else with undefined (also when the broker is unreachable:
 * kafkajs' bounded retries handle that). With TLS 1.3 a server refuses a client certificate
 * only after the client's handshake is done, hence the request.
 */
export function checkBrokerTls(broker: string, security: KafkaSecurity, timeoutMs: number): Promise<ConfigError | undefined> {
  const separator = broker.lastIndexOf(':');
  const host = broker.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(broker.slice(separator + 1));
  return new Promise((resolve) => {
    let socket: TLSSocket;
    try {
      socket = connect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tlsOptions(security.tls) }, () => socket.write(apiVersionsRequest()));
    } catch (error) {
      // Node builds the TLS context here: a key it cannot read (or decrypt) fails at once.
      resolve(new ConfigError('KAFKA_SSL_KEY_FILE', `the TLS client certificate or key cannot be used (${errorMessage(error)})`, 'set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE to a matching PEM certificate and key (KAFKA_SSL_KEY_PASSWORD_FILE for an encrypted key)'));
      return;
    }
    const finish = (result: ConfigError | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once('data', () => finish(undefined));
    socket.once('error', (error) => finish(tlsConfigError(error, KAFKA_TLS_VARIABLES)));
    socket.once('close', () => finish(undefined));
  });
}
