import { getHeapStatistics } from 'node:v8';
import { Gauge, type Registry } from 'prom-client';
import { ScrapedGauge } from './scraped-gauge.ts';

/**
 * Memory gauges next to prom-client's process metrics (process_resident_memory_bytes,
 * nodejs_heap_size_used_bytes, nodejs_external_memory_bytes): the budget the engine was given,
 * V8's heap limit (which shows whether bin/tributary.js applied the budget's heap flags), and the
 * encoded bytes waiting in the in-flight buffer. Engines sharing a registry share the first two
 * and report their own in-flight bytes; the returned function removes that reporter.
 */
export function registerMemoryGauges(registry: Registry, options: { topology: string; budgetBytes: number; inFlightBytes: () => number }): () => void {
  if (!registry.getSingleMetric('tributary_memory_budget_bytes')) {
    new Gauge({ name: 'tributary_memory_budget_bytes', help: 'The memory budget of the process (TRIBUTARY_MEMORY_MB)', registers: [registry] }).set(options.budgetBytes);
    new Gauge({
      name: 'tributary_heap_limit_bytes',
      help: "V8's heap limit (old space plus young generation), set from the memory budget by bin/tributary.js",
      registers: [registry],
      collect() {
        this.set(getHeapStatistics().heap_size_limit);
      },
    });
    new ScrapedGauge({ name: 'tributary_in_flight_bytes', help: 'Encoded bytes of the records fetched and not yet processed (bound: TRIBUTARY_MAX_IN_FLIGHT_BYTES)', labelNames: ['topology'], registers: [registry] });
  }
  const inFlight = registry.getSingleMetric('tributary_in_flight_bytes') as ScrapedGauge<'topology'>;
  return inFlight.report((gauge) => gauge.set({ topology: options.topology }, options.inFlightBytes()));
}
