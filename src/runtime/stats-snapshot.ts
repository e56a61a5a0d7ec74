/**
 * What the engine publishes on the `tributary.stats` WebSocket channel once a second, for the
 * dashboard: rates over the last interval, cumulative counts, backpressure and the topology's
 * operators and sinks. Plain JSON; the dashboard's bundle imports only this type.
 */
export interface StatsSnapshot {
  /** Epoch ms when it was taken. */
  time: number;
  topology: string;
  source: string;
  /** Records fetched per second over the last interval. */
  recordsPerSecond: number;
  processedRecords: number;
  inFlight: number;
  maxInFlight: number;
  /** 'ok', or what holds the engine back now: the in-flight buffer is full, or a sink is. */
  backpressure: 'ok' | 'fetch-blocked' | 'sink-full';
  /** Epoch ms (null before the first record). */
  watermark: number | null;
  /** Wall clock minus watermark, ms. */
  watermarkLagMs: number | null;
  /**
   * Event-time lag: event time to sink acknowledgement over the last interval, ms (null: no rows
   * acknowledged). Includes how far behind the source is (a replay, a catch-up), so it says how
   * fresh results are, not how fast the engine is.
   */
  latencyMs: { p50: number | null; p99: number | null };
  /**
   * Processing latency: a row's source batch reaching the engine to its delivery on a WebSocket
   * channel (every sink when the topology has none), over the last interval, ms.
   */
  processingLatencyMs: { p50: number | null; p99: number | null };
  /**
   * The close path (tributary_stage_latency_seconds): from the batch that closed windows arriving
   * to 'closed', 'joined', 'scored', then each sink's acknowledgement (stage = the sink's name).
   */
  stageLatencyMs: Array<{ stage: string; p50: number | null; p99: number | null }>;
  deadLetters: number;
  lateRecords: number;
  /** Records deleted from a partition's log before they were read (tributary_records_lost_total). */
  recordsLost: number;
  /** Models that scored rows, as 'name@version'. */
  models: string[];
  operators: OperatorStats[];
  sinks: SinkStats[];
  /** Per rule of the topology's data contract (empty without one), in declaration order. */
  contractViolations: ContractRuleStats[];
  /** Served models' drift and outcome metrics (absent for topologies without served models). */
  quality?: ModelQualityStats[];
}

export interface ContractRuleStats {
  rule: string;
  /** Records that broke the rule per second over the last interval. */
  perSecond: number;
  /** Since the engine started. */
  total: number;
}

/** A served model's drift per closed event-time bucket and its outcome metrics per day (README "Model quality"). */
export interface ModelQualityStats {
  model: string;
  live: string | null;
  /** Whether the live version has a baseline, so its drift is watched. */
  driftWatched: boolean;
  /** PSI above it is significant drift (0.2). */
  driftThreshold: number;
  /** The latest closed buckets, oldest first; psi and ks are null when a histogram was empty. */
  drift: Array<{ version: string; bucketStart: number; bucketEnd: number; rows: number; features: Array<{ name: string; psi: number | null; ks: number | null }> }>;
  /** Newest day first. */
  outcomes: Array<{ version: string; day: string; rows: number; positives: number; auc: number | null; logLoss: number; ece: number; precisionAtK: number; k: number }>;
}

export interface OperatorStats {
  name: string;
  /** 'window', 'score', 'step' */
  kind: string;
  /** Records into the step per second over the last interval (null: the step does not count them). */
  recordsPerSecond: number | null;
  /** Stateful steps: open windows now. */
  openWindows?: number;
}

export interface SinkStats {
  name: string;
  /** The pipeline output it writes ('raw', 'late', 'deadLetter' for the built-in ones). */
  output: string;
  rowsPerSecond: number;
  full: boolean;
}

/** The channel the engine publishes StatsSnapshot on. */
export const STATS_CHANNEL = 'tributary.stats';
/** What the stats channel keeps for resuming clients: a minute of snapshots (one a second). */
export const STATS_REPLAY_ITEMS = 60;
