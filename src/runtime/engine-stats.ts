/** A running engine's counters, for tests, benchmarks and its closing log line. */
export interface EngineStats {
  /** Records fetched and not yet through the pipeline. */
  inFlight: number;
  /** The most that were ever in flight at once. */
  peakInFlight: number;
  maxInFlight: number;
  /** Times the source had to wait for room (fetching stopped). */
  fetchBlocked: number;
  /** Times processing waited for a full sink. */
  sinkWaits: number;
  processedRecords: number;
  watermark: number;
  routed: Record<string, number>;
}
