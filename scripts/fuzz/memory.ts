import { getHeapStatistics } from 'node:v8';
import { type MemoryFigures, toMiB } from './outcomes.ts';

/**
 * Peak heap and RSS of this process, sampled by the caller (every so many cases in a synchronous
 * loop, where a timer would never fire) or on a timer (`every`) in an event-driven process.
 */
export class MemoryPeak {
  readonly rssStart: number;
  peakRss: number;
  peakHeap: number;
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    const now = process.memoryUsage();
    this.rssStart = now.rss;
    this.peakRss = now.rss;
    this.peakHeap = now.heapUsed;
  }

  sample(): void {
    const now = process.memoryUsage();
    if (now.rss > this.peakRss) this.peakRss = now.rss;
    if (now.heapUsed > this.peakHeap) this.peakHeap = now.heapUsed;
  }

  every(ms: number): this {
    this.timer = setInterval(() => this.sample(), ms);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  figures(): MemoryFigures {
    this.sample();
    return {
      heapPeakMiB: toMiB(this.peakHeap),
      rssStartMiB: toMiB(this.rssStart),
      rssPeakMiB: toMiB(this.peakRss),
      rssEndMiB: toMiB(process.memoryUsage().rss),
      heapLimitMiB: toMiB(getHeapStatistics().heap_size_limit),
    };
  }
}
