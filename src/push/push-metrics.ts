import type { Metrics } from '../observability/metrics.ts';

/**
 * Counters of one channel. They count in plain numbers on the hot path (a prom-client inc hashes
 * its labels every call) and reach the registry on `PushMetrics.commit()`, after each operation.
 */
export interface ChannelCounters {
  delivered(frames: number, bytes: number): void;
  conflated(): void;
  dropped(reason: 'disconnect' | 'backpressure', frames: number): void;
}

class PendingCounts implements ChannelCounters {
  frames = 0;
  bytes = 0;
  replaced = 0;
  droppedOnDisconnect = 0;
  droppedOnBackpressure = 0;

  constructor(private readonly markDirty: (counts: PendingCounts) => void) {}

  delivered(frames: number, bytes: number): void {
    this.frames += frames;
    this.bytes += bytes;
    this.markDirty(this);
  }

  conflated(): void {
    this.replaced += 1;
    this.markDirty(this);
  }

  dropped(reason: 'disconnect' | 'backpressure', frames: number): void {
    if (reason === 'disconnect') this.droppedOnDisconnect += frames;
    else this.droppedOnBackpressure += frames;
    this.markDirty(this);
  }
}

/** The push server's view of the metrics; every method is a no-op without a registry. */
export class PushMetrics {
  private readonly byChannel = new Map<string, PendingCounts>();
  private readonly channelOf = new Map<PendingCounts, string>();
  private readonly dirty = new Set<PendingCounts>();
  private readonly markDirty = (counts: PendingCounts) => this.dirty.add(counts);

  constructor(private readonly metrics: Metrics | undefined) {}

  channel(name: string): ChannelCounters {
    let counters = this.byChannel.get(name);
    if (counters === undefined) {
      counters = new PendingCounts(this.markDirty);
      this.byChannel.set(name, counters);
      this.channelOf.set(counters, name);
    }
    return counters;
  }

  /** Moves what the channel counters counted into the registry. */
  commit(): void {
    if (this.dirty.size === 0) return;
    for (const counts of this.dirty) {
      const channel = this.channelOf.get(counts)!;
      if (this.metrics !== undefined) {
        if (counts.frames > 0) this.metrics.wsDelivered.inc({ channel }, counts.frames);
        if (counts.bytes > 0) this.metrics.wsSentBytes.inc({ channel }, counts.bytes);
        if (counts.replaced > 0) this.metrics.wsConflated.inc({ channel }, counts.replaced);
        if (counts.droppedOnDisconnect > 0) this.metrics.wsDropped.inc({ channel, reason: 'disconnect' }, counts.droppedOnDisconnect);
        if (counts.droppedOnBackpressure > 0) this.metrics.wsDropped.inc({ channel, reason: 'backpressure' }, counts.droppedOnBackpressure);
      }
      counts.frames = counts.bytes = counts.replaced = counts.droppedOnDisconnect = counts.droppedOnBackpressure = 0;
    }
    this.dirty.clear();
  }

  published(channel: string, items: number): void {
    this.metrics?.wsMessages.inc({ channel }, items);
  }

  connected(): void {
    this.metrics?.wsClients.inc();
  }

  disconnected(reason: string): void {
    this.metrics?.wsClients.dec();
    this.metrics?.wsDisconnects.inc({ reason });
  }

  rejectedUpgrade(reason: string): void {
    this.metrics?.wsRejectedUpgrades.inc({ reason });
  }

  protocolError(code: string): void {
    this.metrics?.wsProtocolErrors.inc({ code });
  }

  buffers(slowClients: number, bytes: { replay: number; snapshot: number; pending: number; socket: number }): void {
    if (this.metrics === undefined) return;
    this.metrics.wsSlowClients.set(slowClients);
    for (const [buffer, value] of Object.entries(bytes)) this.metrics.wsBufferBytes.set({ buffer }, value);
  }
}
