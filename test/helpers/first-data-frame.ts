import WebSocket from 'ws';

/**
 * The first data frame a real WebSocket client receives on `channel` of the server at `port`,
 * connecting again every `retryMs` until the server listens. Rejects after `timeoutMs` with
 * `output()` (the server process's output so far) in the message.
 */
export function firstDataFrame(port: number, channel: string, options: { timeoutMs: number; output: () => string; retryMs?: number }): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`no data frame on ${channel} within ${options.timeoutMs} ms; output:\n${options.output()}`)), options.timeoutMs);
    const connect = () => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      socket.on('error', () => setTimeout(connect, options.retryMs ?? 250));
      socket.on('open', () => socket.send(JSON.stringify({ type: 'subscribe', channel })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as Record<string, unknown>;
        if (message.type === 'data') {
          clearTimeout(deadline);
          socket.close();
          resolve(message);
        }
      });
    };
    connect();
  });
}
