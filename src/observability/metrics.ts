import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BatchHistogram } from './batch-histogram.ts';
import { ScrapedGauge } from './scraped-gauge.ts';

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
  readonly scoringFallbackRows = new Counter({ name: 'tributary_scoring_fallback_rows_total', help: 'Rows the model did not score that the fallback answered (reason: circuit-open, model-error, stale-inputs; candidate-error: a canary or shadow candidate failed and the live model served the rows)', labelNames: ['topology', 'step', 'reason'], registers: [this.registry] });
  readonly inFlightRecords = new Gauge({ name: 'tributary_in_flight_records', help: 'Records fetched and not yet processed', labelNames: ['topology'], registers: [this.registry] });
  readonly sinkWaitSeconds = new Counter({ name: 'tributary_sink_wait_seconds_total', help: 'Seconds processing waited for a full sink to take rows again (backpressure from a slow sink; a growing rate means that sink sets the pace)', labelNames: ['topology'], registers: [this.registry] });
  readonly fetchBlocked = new Counter({ name: 'tributary_fetch_blocked_total', help: 'Times fetching stopped because the in-flight buffer was full', labelNames: ['topology'], registers: [this.registry] });
  readonly watermark = new Gauge({ name: 'tributary_watermark_timestamp_seconds', help: 'Topology event-time watermark (Unix time in seconds)', labelNames: ['topology'], registers: [this.registry] });
  readonly idlePartitions = new Gauge({ name: 'tributary_idle_partitions', help: 'Assigned partitions excluded from the watermark as idle', labelNames: ['topology'], registers: [this.registry] });
  readonly openWindows = new Gauge({ name: 'tributary_open_windows', help: 'Open windows (key x window) held by a stateful step; bounded by TRIBUTARY_MAX_OPEN_WINDOWS', labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly checkpoints = new Counter({ name: 'tributary_checkpoints_total', help: 'Checkpoints of window state and offsets saved', labelNames: ['topology'], registers: [this.registry] });
  readonly checkpointBytes = new Gauge({ name: 'tributary_checkpoint_bytes', help: 'Size of the last saved checkpoint', labelNames: ['topology'], registers: [this.registry] });
  readonly checkpointSeconds = new Histogram({ name: 'tributary_checkpoint_seconds', help: 'Time to snapshot window state (blocking) and to save a checkpoint', labelNames: ['topology', 'phase'], buckets: [0.0005, 0.002, 0.01, 0.05, 0.1, 0.25, 1, 5], registers: [this.registry] });
  readonly committedOffset = new Gauge({ name: 'tributary_committed_offset', help: 'Last committed offset per partition', labelNames: ['topology', 'topic', 'partition'], registers: [this.registry] });
  readonly commitFailures = new Counter({ name: 'tributary_offset_commit_failures_total', help: 'Offset commits the broker refused or did not answer (retried on the next interval)', labelNames: ['topology'], registers: [this.registry] });
  readonly recordsLost = new Counter({ name: 'tributary_records_lost_total', help: "Records removed from a partition's log before they were read (reason below_log_start: retention or deleteRecords; beyond_log_end: the log was truncated; skipped_to_latest: skipped by onOffsetGap 'latest')", labelNames: ['topology', 'topic', 'partition', 'reason'], registers: [this.registry] });
  readonly groupJoins = new Counter({ name: 'tributary_consumer_group_joins_total', help: 'Times the consumer (re)joined its group: more than one means rebalances or reconnects', labelNames: ['topology'], registers: [this.registry] });
  // Pipeline steps and outputs: counted once per batch (steps call countStep, see step-counts.ts).
  readonly stepRecordsIn = new Counter({ name: 'tributary_step_records_in_total', help: 'Records that entered a pipeline step', labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly stepRecordsOut = new Counter({ name: 'tributary_step_records_out_total', help: 'Records a pipeline step emitted', labelNames: ['topology', 'step'], registers: [this.registry] });
  readonly outputRecords = new Counter({ name: 'tributary_output_records_total', help: "Records the pipeline emitted on an output (routed to that output's sinks)", labelNames: ['topology', 'output'], registers: [this.registry] });
  readonly outputFreshness = new ScrapedGauge({ name: 'tributary_output_freshness_seconds', help: 'Seconds from the event time of the newest record emitted on an output to now (feature freshness for feature outputs)', labelNames: ['topology', 'output'], registers: [this.registry] });
  readonly watermarkLag = new ScrapedGauge({ name: 'tributary_watermark_lag_seconds', help: 'Seconds from the topology event-time watermark to now', labelNames: ['topology'], registers: [this.registry] });
  // Kafka partitions, computed when scraped (see consumer-lag.ts).
  readonly consumerLag = new ScrapedGauge({ name: 'tributary_consumer_lag_records', help: "Records between a partition's high watermark and the next offset handed to the pipeline", labelNames: ['topology', 'topic', 'partition'], registers: [this.registry] });
  readonly partitionEndOffset = new ScrapedGauge({ name: 'tributary_partition_end_offset', help: "A partition's high watermark (offset of the next record produced), as last fetched or polled", labelNames: ['topology', 'topic', 'partition'], registers: [this.registry] });
  readonly partitionPaused = new ScrapedGauge({ name: 'tributary_partition_paused', help: '1 while fetching from an assigned partition is held back because the in-flight buffer is full (backpressure), else 0', labelNames: ['topology', 'topic', 'partition'], registers: [this.registry] });
  // Sinks and scoring: sizes, depths, latencies.
  readonly endToEndLatency = new BatchHistogram({ name: 'tributary_end_to_end_latency_seconds', help: 'Seconds from a row\'s event time to its acknowledgement by a sink (ws:<channel>: to its WebSocket send), per row', labelNames: ['topology', 'sink'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800], registers: [this.registry] });
  readonly sinkBatchRows = new Histogram({ name: 'tributary_sink_batch_rows', help: 'Rows per write a sink\'s destination acknowledged', labelNames: ['topology', 'sink'], buckets: [1, 10, 100, 1000, 5000, 10000, 25000, 50000, 100000], registers: [this.registry] });
  readonly sinkBufferedRows = new ScrapedGauge({ name: 'tributary_sink_buffered_rows', help: 'Rows a sink holds (buffered plus being written); the engine waits while a sink is full', labelNames: ['topology', 'sink'], registers: [this.registry] });
  readonly scoringBatchRows = new Histogram({ name: 'tributary_scoring_batch_rows', help: 'Rows per model call (micro-batch)', labelNames: ['topology', 'model'], buckets: [1, 8, 32, 128, 512, 1024, 2048, 4096, 8192], registers: [this.registry] });
  readonly modelInfo = new Gauge({ name: 'tributary_model_info', help: 'The model a score step loaded: 1 for its name and version (the sha256 prefix of the file)', labelNames: ['topology', 'step', 'model', 'version'], registers: [this.registry] });
  // Drift of a served model's inputs and score against its training baseline, per closed event-time bucket (README "Drift").
  readonly driftPsi = new Gauge({ name: 'tributary_drift_psi', help: "Population stability index of a model input (or feature=\"score\") in the last closed event-time bucket, against the live model version's training baseline (above 0.2: significant drift)", labelNames: ['topology', 'model', 'feature'], registers: [this.registry] });
  readonly driftKs = new Gauge({ name: 'tributary_drift_ks', help: "Kolmogorov-Smirnov distance of a model input's (or the score's) binned distribution in the last closed event-time bucket from the training baseline", labelNames: ['topology', 'model', 'feature'], registers: [this.registry] });
  readonly driftBucketRows = new Gauge({ name: 'tributary_drift_bucket_rows', help: 'Rows the live model scored in the last closed drift bucket', labelNames: ['topology', 'model'], registers: [this.registry] });
  readonly driftLateRows = new Counter({ name: 'tributary_drift_late_rows_total', help: 'Scored rows whose drift bucket had already closed (not counted in any bucket)', labelNames: ['topology', 'model'], registers: [this.registry] });
  // Hot state (online-state sinks): degraded while the store (Redis) fails; `store` is the sink's name.
  readonly stateDegraded = new Gauge({ name: 'tributary_state_degraded', help: '1 while an online-state sink cannot write to its store (lookups are stale), else 0', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateDegradedSeconds = new Counter({ name: 'tributary_state_degraded_seconds_total', help: 'Time an online-state sink spent degraded', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateWriteFailures = new Counter({ name: 'tributary_state_write_failures_total', help: 'Failed writes of an online-state sink (retried with backoff)', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateConflatedUpdates = new Counter({ name: 'tributary_state_conflated_updates_total', help: 'Updates replaced by a newer value for the same key before they were written', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly stateDroppedUpdates = new Counter({ name: 'tributary_state_dropped_updates_total', help: 'Pending updates dropped (oldest first) beyond the bound of pending keys, or not written at shutdown', labelNames: ['topology', 'store'], registers: [this.registry] });
  readonly statePendingKeys = new Gauge({ name: 'tributary_state_pending_keys', help: 'Keys whose latest value an online-state sink has not written yet', labelNames: ['topology', 'store'], registers: [this.registry] });
  // Data quality: contracts at ingestion and freshness SLOs per output.
  readonly contractViolations = new Counter({ name: 'tributary_contract_violations_total', help: 'Records that broke a data contract rule (the first one they broke), sent to the dead letters as step contract:<rule> or to the quarantine table', labelNames: ['topology', 'rule'], registers: [this.registry] });
  readonly outputFreshnessSlo = new Gauge({ name: 'tributary_output_freshness_slo_seconds', help: "The topology's freshness SLO for an output: how old (processing time minus event time) a record may be when emitted", labelNames: ['topology', 'output'], registers: [this.registry] });
  readonly outputFreshnessObjective = new Gauge({ name: 'tributary_output_freshness_objective_ratio', help: "Share of an output's records that must be emitted within its freshness SLO (e.g. 0.99); 1 minus it is the error budget", labelNames: ['topology', 'output'], registers: [this.registry] });
  readonly outputStaleRecords = new Counter({ name: 'tributary_output_stale_records_total', help: 'Records emitted on an output when already older than its freshness SLO (SLO burn: their rate over tributary_output_records_total)', labelNames: ['topology', 'output'], registers: [this.registry] });
  readonly wsClients = new Gauge({ name: 'tributary_websocket_clients', help: 'Connected WebSocket clients', registers: [this.registry] });
  readonly wsMessages = new Counter({ name: 'tributary_websocket_messages_total', help: 'Messages published to WebSocket channels', labelNames: ['channel'], registers: [this.registry] });
  // WebSocket delivery (src/push/): fan-out, slow clients, disconnects. Counted per channel where one applies.
  readonly wsDelivered = new Counter({ name: 'tributary_websocket_delivered_messages_total', help: 'Data frames handed to client sockets (one per client per item)', labelNames: ['channel'], registers: [this.registry] });
  readonly wsSentBytes = new Counter({ name: 'tributary_websocket_sent_bytes_total', help: 'Bytes of data frames handed to client sockets', labelNames: ['channel'], registers: [this.registry] });
  readonly wsConflated = new Counter({ name: 'tributary_websocket_conflated_messages_total', help: 'Pending data frames of a slow client replaced by a newer item with the same key', labelNames: ['channel'], registers: [this.registry] });
  readonly wsDropped = new Counter({ name: 'tributary_websocket_dropped_messages_total', help: 'Data frames never delivered (reason: disconnect = pending when the client went away, backpressure = refused by the socket at its hard limit)', labelNames: ['channel', 'reason'], registers: [this.registry] });
  readonly wsDisconnects = new Counter({ name: 'tributary_websocket_disconnects_total', help: 'Closed WebSocket connections by reason (client, slow_consumer, rate_limited, token_expired, shutdown, too_big, invalid_utf8, idle_timeout, abnormal)', labelNames: ['reason'], registers: [this.registry] });
  readonly wsRejectedUpgrades = new Counter({ name: 'tributary_websocket_rejected_upgrades_total', help: 'WebSocket upgrades refused with 401/403/429 (reason: origin, token_missing, malformed, bad_signature, expired, not_yet_valid, invalid_claims, audience, issuer, ip_limit)', labelNames: ['reason'], registers: [this.registry] });
  readonly wsProtocolErrors = new Counter({ name: 'tributary_websocket_protocol_errors_total', help: 'Error frames sent to clients, by error code', labelNames: ['code'], registers: [this.registry] });
  readonly wsSlowClients = new Gauge({ name: 'tributary_websocket_slow_clients', help: 'Clients currently behind (socket buffer over the soft limit, or frames pending)', registers: [this.registry] });
  readonly wsBufferBytes = new Gauge({ name: 'tributary_websocket_buffer_bytes', help: 'Bytes held for WebSocket delivery (buffer: replay, snapshot, pending, socket)', labelNames: ['buffer'], registers: [this.registry] });

  // The audit trail (src/audit/): entries appended to the file, its ClickHouse copy, suppressed repeats.
  readonly auditEntries = new Counter({ name: 'tributary_audit_entries_total', help: 'Entries appended (and fsynced) to the audit log file', registers: [this.registry] });
  readonly auditWriteFailures = new Counter({ name: 'tributary_audit_write_failures_total', help: 'Audit entries that could not be appended to the audit log file', registers: [this.registry] });
  readonly auditTableRows = new Counter({ name: 'tributary_audit_table_rows_total', help: 'Audit entries inserted into the ClickHouse audit table', registers: [this.registry] });
  readonly auditTableFailures = new Counter({ name: 'tributary_audit_table_failures_total', help: 'Failed inserts into the ClickHouse audit table (retried with the next batch; the file has every entry)', registers: [this.registry] });
  readonly auditTableDropped = new Counter({ name: 'tributary_audit_table_dropped_total', help: 'Audit entries never copied to the ClickHouse table (more pending than its bound while ClickHouse failed)', registers: [this.registry] });
  readonly auditSuppressed = new Counter({ name: 'tributary_audit_suppressed_total', help: 'Repeated authentication failures from one address counted in a summary entry instead of one entry each', labelNames: ['action'], registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters, which `promtool check metrics` rejects; the same counts are
      // in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources (by type).
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    }
  }
}
