import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a service that counts what crosses it: connections, and
 * HTTP requests (request lines sent by the client; plain HTTP only). TLS passes through
 * untouched, so certificates are still checked against 127.0.0.1. The evidence that a refused
 * login was tried once and not retried.
 */
export interface CountingProxy {
  /** host:port of the proxy. */
  readonly address: string;
  readonly port: number;
  connections(): number;
  httpRequests(): number;
  close(): Promise<void>;
}

const REQUEST_LINE = /(?:^|\r\n)(?:GET|POST|PUT|HEAD) \S+ HTTP\/1\.[01]\r\n/g;

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const separator = target.lastIndexOf(':');
  const host = target.slice(0, separator);
  const port = Number(target.slice(separator + 1));
  let connections = 0;
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect({ host, port });
    sockets.add(client).add(upstream);
    // The tail of what the client sent before, so a request line split across chunks counts once.
    let carry = '';
    const count = (text: string) => text.match(REQUEST_LINE)?.length ?? 0;
    client.on('data', (chunk: Buffer) => {
      const text = carry + chunk.toString('latin1');
      requests += count(text) - count(carry);
      carry = text.slice(-4_096);
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${proxyPort}`,
    port: proxyPort,
    connections: () => connections,
    httpRequests: () => requests,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
