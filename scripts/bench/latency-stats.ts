/** Percentiles of raw samples and of Prometheus histograms scraped from /metrics (bench-latency.ts). */

/** Cumulative counts by upper bound (seconds; Infinity for +Inf). */
export type Buckets = Map<number, number>;

/** The p-th percentile (nearest rank) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `name`'s _bucket series in Prometheus text, summed per group (`groupOf(labels)`). */
export function parseHistogram(text: string, name: string, groupOf: (labels: Record<string, string>) => string): Map<string, Buckets> {
  const groups = new Map<string, Buckets>();
  const pattern = new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const match of text.matchAll(pattern)) {
    const labels: Record<string, string> = {};
    for (const pair of match[1]!.matchAll(/(\w+)="([^"]*)"/g)) labels[pair[1]!] = pair[2]!;
    const group = groupOf(labels);
    let buckets = groups.get(group);
    if (buckets === undefined) groups.set(group, (buckets = new Map()));
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
  }
  return groups;
}

/** Quantiles in ms of the increase from `before` to `after`, interpolated within buckets (histogram_quantile). */
export function histogramQuantiles(after: Buckets, before: Buckets | undefined, quantiles: number[]): { count: number; values: Array<number | null> } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => after.get(le)! - (before?.get(le) ?? 0));
  const total = counts.at(-1) ?? 0;
  const values = quantiles.map((q) => {
    if (total <= 0) return null;
    const rank = q * total;
    for (let i = 0; i < bounds.length; i++) {
      if (counts[i]! < rank) continue;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      if (!Number.isFinite(bounds[i]!)) return lower * 1000;
      const below = i === 0 ? 0 : counts[i - 1]!;
      const inBucket = counts[i]! - below;
      return (lower + (bounds[i]! - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
    }
    return null;
  });
  return { count: total, values };
}

/** What the engine process spent, from prom-client's default metrics in its /metrics text. */
export interface ProcessSample {
  /** process_cpu_seconds_total (user + system). */
  cpuSeconds: number;
  /** nodejs_gc_duration_seconds_sum by kind (minor, major, incremental, weakcb). */
  gcSeconds: Map<string, number>;
  /** process_resident_memory_bytes. */
  rssBytes: number;
  /** tributary_sink_wait_seconds_total; undefined on an engine without it. */
  sinkWaitSeconds?: number;
}

/** Reads one ProcessSample from Prometheus text; absent series read as 0. */
export function parseProcessSample(text: string): ProcessSample {
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const gcSeconds = new Map<string, number>();
  for (const match of text.matchAll(/^nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm)) gcSeconds.set(match[1]!, Number(match[2]));
  const sinkWait = /^tributary_sink_wait_seconds_total\{[^}]*\} (\S+)$/m.exec(text);
  return { cpuSeconds: value('process_cpu_seconds_total'), gcSeconds, rssBytes: value('process_resident_memory_bytes'), sinkWaitSeconds: sinkWait === null ? undefined : Number(sinkWait[1]) };
}

/** The engine's CPU and GC pauses between two samples, per minute, as one line of text. */
export function processLine(before: ProcessSample, after: ProcessSample, minutes: number, events: number): string {
  const cpu = after.cpuSeconds - before.cpuSeconds;
  const gc = [...after.gcSeconds].map(([kind, seconds]) => `${kind} ${(((seconds - (before.gcSeconds.get(kind) ?? 0)) * 1000) / minutes).toFixed(0)}`);
  return `Engine over the measured minutes: CPU ${(cpu / minutes).toFixed(1)} s a minute (${((cpu * 1e6) / events).toFixed(1)} us per payment); GC pauses, ms a minute: ${gc.join(', ') || 'none reported'}; ${after.sinkWaitSeconds === undefined ? '' : `waiting for full sinks ${(((after.sinkWaitSeconds - (before.sinkWaitSeconds ?? 0)) * 1000) / minutes).toFixed(0)} ms a minute; `}RSS at the end ${(after.rssBytes / 2 ** 20).toFixed(0)} MiB.`;
}
