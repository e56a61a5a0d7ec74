import { connect } from 'node:net';
import { WebSocket } from 'ws';

/** Percent-encodes every byte of the UTF-8 text except unreserved characters, so any token fits a URL. */
export function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Tries a WebSocket upgrade with `token`: 'accepted' when the socket opens (it is closed at once),
 * else how it was refused ('HTTP 401: malformed token', 'HTTP 431', 'connection error: ECONNRESET').
 */
export function tryUpgrade(wsBase: string, token: string, timeoutMs = 10_000): Promise<string> {
  const socket = new WebSocket(`${wsBase}?token=${percentEncode(token)}`);
  return new Promise((resolve) => {
    const done = (outcome: string) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      socket.terminate();
      done('no answer');
    }, timeoutMs);
    socket.once('open', () => {
      socket.close();
      done('accepted');
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => done(`HTTP ${response.statusCode}${body === '' ? '' : `: ${body.slice(0, 120)}`}`));
      response.on('error', () => done(`HTTP ${response.statusCode}`));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => done(`connection error: ${error.code ?? error.message}`));
  });
}

/**
 * POSTs to the SQL endpoint over a raw socket with this exact Authorization value (an HTTP client
 * would refuse some of them), body "x" (a request that gets past the token check is never run:
 * the fuzz server's ClickHouse is unreachable, so it is answered 503 UNAVAILABLE). Resolves with the status and the endpoint's error code
 * ('HTTP 401 UNAUTHORIZED'; no code when uWS itself answered), or an error text. uWS answers a
 * request with a NUL byte in a header not at all (it waits for the rest until its own timeout): 'no answer'.
 */
export function postSql(port: number, authorization: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('no answer'), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => done(`connection error: ${error.code ?? error.message}`));
    const finish = () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      const code = /"code":"([A-Z_]+)"/.exec(head)?.[1];
      done(status === undefined ? (head === '' ? 'connection closed' : `unparsed answer: ${head.slice(0, 60)}`) : `HTTP ${status}${code === undefined ? '' : ` ${code}`}`);
    };
    socket.on('end', finish);
    socket.on('close', finish);
    socket.write(Buffer.concat([Buffer.from(`POST /sql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: `), Buffer.from(authorization, 'utf8'), Buffer.from('\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx')]));
  });
}
