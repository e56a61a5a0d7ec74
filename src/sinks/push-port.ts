/**
 * Live results to dashboards. Implemented with uWebSockets.js (push/uws-push-server.ts); the
 * protocol (subscribe with filters, snapshot, resume by sequence number, heartbeats) is described
 * in docs/websocket-protocol.md and typed in push/wire-types.ts.
 */
export interface PushServer {
  readonly port: number;
  /**
   * Publishes each item as one data frame on the channel, numbered by the channel's sequence.
   * `keys[i]` is item i's key (filters by key, snapshot of the latest item per key, conflation for
   * slow clients); items without a key are never conflated and are not in snapshots. `view`
   * 'admin': the items of the channel's admin view (see declareAdminView).
   */
  publish(channel: string, items: readonly unknown[], keys?: readonly (string | undefined)[], view?: 'public' | 'admin'): void;
  /**
   * Declares that `channel` has an admin view (published with view 'admin', data protection):
   * admins subscribing to it get that view, everyone else the public one. Without it, or before
   * it, every client gets the public view.
   */
  declareAdminView?(channel: string): void;
  close(): Promise<void>;
}
