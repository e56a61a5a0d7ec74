import cliProgress from 'cli-progress';
import type { ReplayProgress } from '../sources/clickhouse-replay/replay-source.ts';

/** Reports how far a backfill got: a bar on a terminal, a line every few seconds elsewhere. */
export interface BackfillProgress {
  start(total: number): void;
  update(progress: ReplayProgress): void;
  stop(): void;
}

export interface ProgressOptions {
  /** false: no bar and no lines (--no-progress). */
  enabled: boolean;
  stream?: NodeJS.WriteStream;
  /** Between lines when the stream is no terminal (logs, CI). Default 5 s. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * On a terminal, a cli-progress bar on stderr (stdout keeps the summary and the logs); elsewhere
 * a plain line every `intervalMs`, so logs of CI runs show that the backfill moves, without
 * carriage returns.
 */
export function backfillProgress(options: ProgressOptions): BackfillProgress {
  const stream = options.stream ?? process.stderr;
  if (!options.enabled) return { start() {}, update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: 'backfill {bar} {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted}', hideCursor: true, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    const now = options.now ?? Date.now;
    let started = 0;
    return {
      start(total) {
        started = now();
        bar.start(total, 0, { rate: 0 });
      },
      update({ read }) {
        bar.update(read, { rate: rate(read, now() - started) });
      },
      stop: () => bar.stop(),
    };
  }
  return progressLines(stream, options.intervalMs ?? 5_000, options.now ?? Date.now);
}

function progressLines(stream: NodeJS.WritableStream, intervalMs: number, now: () => number): BackfillProgress {
  let started = 0;
  let lastLine = 0;
  let total = 0;
  return {
    start(rows) {
      started = lastLine = now();
      total = rows;
      stream.write(`backfill: ${total} events to replay\n`);
    },
    update({ read }) {
      const time = now();
      if (time - lastLine < intervalMs) return;
      lastLine = time;
      const percent = total > 0 ? Math.floor((read / total) * 100) : 100;
      stream.write(`backfill: ${read} of ${total} events (${percent}%), ${rate(read, time - started)} events/s\n`);
    },
    stop() {},
  };
}

function rate(events: number, ms: number): number {
  return ms > 0 ? Math.round((events * 1000) / ms) : 0;
}
