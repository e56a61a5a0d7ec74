/**
 * Live results to dashboards. Implemented with uWebSockets.js (push/uws-push-server.ts).
 * Protocol: the client sends {"type":"subscribe","channel":"fraud"}; the server sends
 * {"type":"data","channel":"fraud","data":{...}} for each published item.
 */
export interface PushServer {
  readonly port: number;
  /** Publishes each item as one data message on the channel. */
  publish(channel: string, items: readonly unknown[]): void;
  close(): Promise<void>;
}
