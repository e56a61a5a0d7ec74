import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The engine's Prometheus metrics. One instance per engine, each with its own registry, so tests
 * and several topologies in one process never share counters.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly recordsIn = new Counter({ name: 'tributary_records_in_total', help: 'Records read from the source', labelNames: ['topology'], registers: [this.registry] });
  readonly recordsDecoded = new Counter({ name: 'tributary_records_decoded_total', help: 'Records decoded successfully', labelNames: ['topology'], registers: [this.registry] });
  readonly deadLetters = new Counter({ name: 'tributary_dead_letters_total', help: 'Records sent to the dead-letter destination', labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly lateRecords = new Counter({ name: 'tributary_late_records_total', help: 'Records that arrived after their windows closed', labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly windowsClosed = new Counter({ name: 'tributary_windows_closed_total', help: 'Windows closed and emitted', labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly sinkRows = new Counter({ name: 'tributary_sink_rows_total', help: 'Rows acknowledged by sinks', labelNames: ['topology', 'sink'], registers: [this.registry] });
  readonly sinkErrors = new Counter({ name: 'tributary_sink_errors_total', help: 'Failed sink writes (retried)', labelNames: ['topology', 'sink'], registers: [this.registry] });
  readonly sinkFlushSeconds = new Histogram({ name: 'tributary_sink_flush_seconds', help: 'Sink flush latency', labelNames: ['topology', 'sink'], buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });
  readonly scoredRows = new Counter({ name: 'tributary_scored_rows_total', help: 'Rows scored by a model', labelNames: ['topology', 'model'], registers: [this.registry] });
  readonly scoringSeconds = new Histogram({ name: 'tributary_scoring_seconds', help: 'Model inference latency per micro-batch', labelNames: ['topology', 'model'], buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5], registers: [this.registry] });
  readonly scoringCircuitState = new Gauge({ name: 'tributary_scoring_circuit_state', help: "A score step's circuit breaker: 0 closed, 1 half-open (one probe micro-batch), 2 open (the model is not called)", labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly scoringCircuitOpens = new Counter({ name: 'tributary_scoring_circuit_opens_total', help: "Times a score step's circuit breaker opened (failures, latency budget, or a failed probe)", labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly scoringFallbackRows = new Counter({ name: 'tributary_scoring_fallback_rows_total', help: 'Rows the model did not score that the fallback answered (reason: circuit-open or model-error)', labelNames: ['topology', 'step', 'reason'], registers: [this.registry] });
  readonly inFlightRecords = new Gauge({ name: 'tributary_in_flight_records', help: 'Records fetched and not yet processed', labelNames: ['topology'], registers: [this.registry] });
  readonly fetchBlocked = new Counter({ name: 'tributary_fetch_blocked_total', help: 'Times fetching stopped because the in-flight buffer was full', labelNames: ['topology'], registers: [this.registry] });
  readonly watermark = new Gauge({ name: 'tributary_watermark_ms', help: 'Topology event-time watermark (epoch ms)', labelNames: ['topology'], registers: [this.registry] });
  readonly idlePartitions = new Gauge({ name: 'tributary_idle_partitions', help: 'Assigned partitions excluded from the watermark as idle', labelNames: ['topology'], registers: [this.registry] });
  readonly openWindows = new Gauge({ name: 'tributary_open_windows', help: 'Open windows (key x window) held by a stateful step; bounded by TRIBUTARY_MAX_OPEN_WINDOWS', labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly checkpoints = new Counter({ name: 'tributary_checkpoints_total', help: 'Checkpoints of window state and offsets saved', labelNames: ['topology'], registers: [this.registry] });
  readonly checkpointBytes = new Gauge({ name: 'tributary_checkpoint_bytes', help: 'Size of the last saved checkpoint', labelNames: ['topology'], registers: [this.registry] });
  readonly checkpointSeconds = new Histogram({ name: 'tributary_checkpoint_seconds', help: 'Time to snapshot window state (blocking) and to save a checkpoint', labelNames: ['topology', 'phase'], buckets: [0.0005, 0.002, 0.01, 0.05, 0.1, 0.25, 1, 5], registers: [this.registry] });
  readonly committedOffset = new Gauge({ name: 'tributary_committed_offset', help: 'Last committed offset per partition', labelNames: ['topology', 'topic', 'partition'], registers: [this.registry] });
  // Hot state (online-state sinks): degraded while the store (Redis) fails; `store` is the sink's name.
  readonly stateDegraded = new Gauge({ name: 'tributary_state_degraded', help: '1 while an online-state sink cannot write to its store (lookups are stale), else 0', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateDegradedSeconds = new Counter({ name: 'tributary_state_degraded_seconds_total', help: 'Time an online-state sink spent degraded', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateWriteFailures = new Counter({ name: 'tributary_state_write_failures_total', help: 'Failed writes of an online-state sink (retried with backoff)', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateConflatedUpdates = new Counter({ name: 'tributary_state_conflated_updates_total', help: 'Updates replaced by a newer value for the same key before they were written', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateDroppedUpdates = new Counter({ name: 'tributary_state_dropped_updates_total', help: 'Pending updates dropped (oldest first) beyond the bound of pending keys, or not written at shutdown', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly statePendingKeys = new Gauge({ name: 'tributary_state_pending_keys', help: 'Keys whose latest value an online-state sink has not written yet', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly wsClients = new Gauge({ name: 'tributary_websocket_clients', help: 'Connected WebSocket clients', registers: [this.registry] });
  readonly wsMessages = new Counter({ name: 'tributary_websocket_messages_total', help: 'Messages published to WebSocket channels', labelNames: ['channel'], registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
