import { Observable, type OperatorFunction } from 'rxjs';
import { releaseAll, retainAll } from '../core/ack.ts';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { ConfigError, errorMessage, ScoringError, TributaryError } from '../core/errors.ts';
import { retry } from '../core/retry.ts';
import type { StepRuntime } from '../core/step-state.ts';
import type { Metrics } from '../observability/metrics.ts';
import { CIRCUIT_GAUGE, scoreBreaker } from './score-breaker.ts';
import { deadLetterUserError } from './guarded.ts';
import { checkSource, fallbackReason, type FallbackReasonKind } from '../scoring/fallback.ts';
import { FreshnessGate } from '../scoring/freshness-gate.ts';
import type { ScoreOptions } from './score-options.ts';
import { MicroBatcher, microBatchLimits, type MicroBatchScores, type SettledBatch } from '../scoring/micro-batcher.ts';
import { checkFeatureNames, type ScoringModel } from '../scoring/scoring-model.ts';
import type { ModelSource } from '../scoring/shared-model.ts';
import { fixedServing } from '../scoring/fixed-serving.ts';
import { isModelServing, type ModelServing, type ScoringObserver, type ServingAssignment, type WatermarkHandle } from '../scoring/model-serving.ts';
import { logCandidateError, scoreWithAssignment, servedScore } from '../scoring/assignment-scoring.ts';
import { scoreParents } from '../observability/tracing/batch-trace.ts';
import type { StageSpan } from '../observability/tracing/pipeline-tracer.ts';

export type { ScoreOptions } from './score-options.ts';

const FALLBACK_KINDS: readonly FallbackReasonKind[] = ['circuit-open', 'model-error', 'stale-inputs'];

/**
 * Scores records with a model, micro-batching rows across input batches: one model call per
 * `maxBatchRows` rows or per `maxDelayMs`, whichever fills first. Each input batch gives one
 * output batch (a burst of more than `burstRows` rows: one per chunk of that many), in input
 * order; its ack tokens are held until that output has been emitted.
 * A record whose feature function throws goes to the dead letters (step `name`); so do the
 * records of a micro-batch that still fails after retries, unless `fallback` answers for them.
 * With `breaker`, a failing or slow model stops being called for a while (ScoreOptions.breaker).
 * Completion waits for pending rows.
 *
 * `model` is an .onnx path (loaded once, closed after the last subscription), a model the
 * caller owns, a factory whose model the operator owns, or served models (servedModel: the
 * registry's live version, hot-swapped on promotion, with canary and shadow candidates).
 *
 * @example windows.pipe(score('models/fraud.onnx', {
 *   features: (w) => [w.n, w.total, w.maxAmount],
 *   output: (w, probability, model) => ({ ...w, probability, model: model.version }),
 * }))
 */
export function score<T, U>(model: ModelSource | ModelServing, options: ScoreOptions<T, U>): OperatorFunction<Batch<T>, Batch<U>> {
  const step = options.name ?? 'score';
  const { maxBatchRows, maxDelayMs, burstRows } = microBatchLimits(step, options);
  const { fallback } = options;
  if (options.maxInputAge !== undefined && fallback === undefined) {
    throw new ConfigError(`${step}.maxInputAge`, 'a freshness gate needs a fallback to answer for stale rows', 'add fallback: (value, reason) => ... (e.g. the batch prediction), or remove maxInputAge');
  }
  const gate = options.maxInputAge === undefined ? undefined : new FreshnessGate(step, options.maxInputAge, options.processingTime);
  // From the options, else from the running engine on the first batch (see `adoptRuntime`).
  let logger = options.logger;
  // Where the step reports: the options' metrics, else the running engine's (first batch).
  let reportTo: { metrics: Metrics; labels: { topology: string; step: string } } | undefined = options.metrics && { metrics: options.metrics.metrics, labels: { topology: options.metrics.topology, step } };
  const adoptRuntime = (runtime: StepRuntime | undefined) => {
    if (runtime === undefined) return;
    logger ??= runtime.logger;
    gate?.adopt(runtime.processingTime);
    if (reportTo === undefined) {
      reportTo = { metrics: runtime.metrics, labels: { topology: runtime.topology, step } };
      if (breaker) reportTo.metrics.scoringCircuitState.set(reportTo.labels, CIRCUIT_GAUGE[breaker.state]);
    }
  };
  const breaker = options.breaker && scoreBreaker(step, options.breaker, fallback !== undefined, () => reportTo, () => logger);
  if (breaker) reportTo?.metrics.scoringCircuitState.set(reportTo.labels, CIRCUIT_GAUGE.closed);
  const serving = isModelServing(model) ? model : fixedServing(model);
  // A model instance's width is known before its (already settled) load promise resolves.
  const passedIn = typeof model === 'object' && !isModelServing(model) ? model : undefined;

  return (source) =>
    new Observable<Batch<U>>((subscriber) => {
      let loaded: ScoringModel | undefined;
      let lastRun: Promise<unknown> = Promise.resolve();
      const stop = new AbortController();
      /** Tracing: the span of each traced batch from its arrival to its scores' emission. */
      let spans: Map<Batch<T>, StageSpan> | null = null;

      const batcher = new MicroBatcher<T>({
        maxBatchRows,
        maxDelayMs,
        sealRows: burstRows,
        features: options.features,
        featureWidth: () => (loaded ?? passedIn)?.featureCount ?? options.featureNames?.length,
        run: (features, rows, width, eventTimes) => {
          const run = scoreMicroBatch(features, rows, width, eventTimes);
          lastRun = run.catch(() => undefined);
          return run;
        },
        emit: emitSettled,
        gate,
      });

      // A model that cannot load (missing file, wrong features) ends the stream: nothing could be scored.
      const ready = serving.subscribe().then((first) => {
        if (options.featureNames) checkFeatureNames(first.live, options.featureNames);
        loaded = first.live;
        reportModel(first);
        return first;
      });
      ready.catch((error: unknown) => {
        batcher.dispose();
        subscriber.error(error);
      });

      async function scoreMicroBatch(features: Float32Array, rows: number, width: number, eventTimes: Float64Array): Promise<MicroBatchScores> {
        // The assignment current now scores the whole micro-batch: a swap takes effect between micro-batches.
        const assignment = serving.current() ?? (await ready);
        serving.hold(assignment);
        try {
          const scores = await scoreWithAssignment(assignment, features, rows, (live) => scoreLive(live, features, rows, width), (error) => {
            logCandidateError(logger, step, assignment, error);
            reportTo?.metrics.scoringFallbackRows.inc({ ...reportTo.labels, reason: 'candidate-error' }, rows);
          });
          // Drift: what the live model saw and said, counted per micro-batch (see drift-monitor.ts).
          observer?.observe(assignment.live, features, rows, width, scores.probabilities, eventTimes);
          return scores;
        } finally {
          serving.release(assignment);
        }
      }

      async function scoreLive(scorer: ScoringModel, features: Float32Array, rows: number, width: number): Promise<Float32Array> {
        if (scorer.featureCount !== undefined && width !== scorer.featureCount) {
          throw new ConfigError(`${step}.features`, `feature vectors have ${width} values but model ${scorer.name}@${scorer.version} takes ${scorer.featureCount}`, 'return one value per model feature');
        }
        const attempts = options.retry?.maxAttempts ?? 3;
        if (breaker === undefined) return scoreWithRetries(scorer, features, rows, attempts);
        // A probe gets one attempt: the circuit learns at once whether the model is back.
        return breaker.execute(async ({ probe }) => {
          const probabilities = await scoreWithRetries(scorer, features, rows, probe ? 1 : attempts);
          // A short answer fails the micro-batch (see MicroBatcher) and so counts against the model.
          if (probabilities.length < rows) throw new ScoringError(`model returned ${probabilities.length} probabilities for ${rows} rows`);
          return probabilities;
        });
      }

      function scoreWithRetries(scorer: ScoringModel, features: Float32Array, rows: number, maxAttempts: number): Promise<Float32Array> {
        return retry(
          async () => {
            const started = performance.now();
            const probabilities = await scorer.score(features, rows);
            recordScoring(scorer, rows, (performance.now() - started) / 1000);
            return probabilities;
          },
          {
            what: `${step}: scoring ${rows} rows with model ${scorer.name}@${scorer.version}`,
            maxAttempts,
            initialDelayMs: options.retry?.initialDelayMs ?? 50,
            maxDelayMs: options.retry?.maxDelayMs ?? 1_000,
            signal: stop.signal,
            onRetry: ({ attempt, delayMs, error }) => logger?.warn({ step, attempt, delayMs, err: errorMessage(error) }, 'scoring failed, retrying'),
          },
        );
      }

      function emitSettled(settled: SettledBatch<T>): void {
        const { batch, rows, probabilities, rowErrors, challenger, tags } = settled;
        if (settled.tag !== undefined) reportModel(settled.tag as ServingAssignment);
        let failed = 0;
        for (const failure of settled.featureFailures) failed += deadLetter(batch, step, failure.record, failure.error);
        const fallbacks: Record<FallbackReasonKind, number> = { 'circuit-open': 0, 'model-error': 0, 'stale-inputs': 0 };
        const records: StreamRecord<U>[] = [];
        for (let i = 0; i < rows.length; i++) {
          const record = rows[i]!;
          const failure = rowErrors?.[i];
          let value: U;
          if (failure === undefined) {
            try {
              const tag = (tags === null ? settled.tag : tags[i]) as ServingAssignment | undefined;
              if (tag?.candidate === undefined) value = options.output(record.value, probabilities[i]!, tag?.live ?? scoredBy());
              else {
                const served = servedScore(tag, record.value, probabilities[i]!, challenger?.[i]);
                value = options.output(record.value, served.probability, served.model, served.challenger);
              }
              if (fallback) checkSource(value, 'model');
            } catch (error) {
              failed += deadLetter(batch, step, record, `output: ${errorMessage(error)}`);
              continue;
            }
          } else {
            const reason = fallbackReason(failure);
            if (reason === undefined || fallback === undefined) {
              failed += deadLetter(batch, step, record, failure.message);
              continue;
            }
            try {
              const row = fallback(record.value, reason);
              if (row === undefined) {
                failed += deadLetter(batch, step, record, reason.message);
                continue;
              }
              checkSource(row, 'fallback');
              value = row as U; // FallbackRow<U> is U & { source }
            } catch (error) {
              failed += deadLetter(batch, step, record, `fallback: ${errorMessage(error)} (scoring: ${reason.message})`);
              continue;
            }
            fallbacks[reason.kind]++;
          }
          records.push({ value, key: record.key, eventTime: record.eventTime, topic: record.topic, partition: record.partition, offset: record.offset });
        }
        // In an engine, dead letters are counted when routed to their sink; only a score step given
        // its own metrics (outside an engine) counts them here.
        if (reportTo) {
          const { metrics, labels } = reportTo;
          if (failed > 0 && options.metrics) metrics.deadLetters.inc(labels, failed);
          for (const reason of FALLBACK_KINDS) if (fallbacks[reason] > 0) metrics.scoringFallbackRows.inc({ ...labels, reason }, fallbacks[reason]);
        }
        // Drift buckets may close behind a watermark once every earlier row is counted: a burst's
        // chunks share its watermark, so only its last chunk advances it.
        if (!settled.moreChunks) watermarks?.advance(batch.watermark);
        const span = spans?.get(batch);
        if (span !== undefined) {
          spans!.delete(batch);
          batch.side.trace!.scored = [span.context]; // the sinks of this output descend from it
          span.end();
        }
        // Never acknowledge what downstream did not receive: those offsets must be read again.
        if (subscriber.closed) return;
        reportTo?.metrics.stepRecordsOut.inc(reportTo.labels, records.length);
        batch.side.timing?.note('scored', records.length);
        subscriber.next({ records, watermark: batch.watermark, acks: batch.acks, side: batch.side });
        releaseAll(batch.acks);
      }

      /** Rows are only settled as scored after `ready` resolved, which set `loaded`. */
      function scoredBy(): ScoringModel {
        if (loaded === undefined) throw new TributaryError(`${step}: model not loaded`, { code: 'SCORING_STATE' });
        return loaded;
      }

      function recordScoring(scorer: ScoringModel, rows: number, seconds: number): void {
        if (!reportTo) return;
        const modelLabels = { topology: reportTo.labels.topology, model: scorer.name };
        reportTo.metrics.scoredRows.inc(modelLabels, rows);
        reportTo.metrics.scoringSeconds.observe(modelLabels, seconds);
        reportTo.metrics.scoringBatchRows.observe(modelLabels, rows);
      }

      /** tributary_model_info: the live model, once known and where to report is known; again after a swap. */
      let reported: ScoringModel | undefined;
      function reportModel(assignment?: ServingAssignment): void {
        const live = assignment?.live ?? loaded;
        if (live === undefined || live === reported || reportTo === undefined) return;
        if (reported) reportTo.metrics.modelInfo.remove({ ...reportTo.labels, model: reported.name, version: reported.version });
        reported = live;
        reportTo.metrics.modelInfo.set({ ...reportTo.labels, model: live.name, version: live.version }, 1);
      }

      let registered = false;
      let observer: ScoringObserver | undefined;
      let watermarks: WatermarkHandle | undefined;
      const subscription = source.subscribe({
        next(batch) {
          if (!registered) {
            registered = true;
            // Attached on the first batch (the engine starts served models before batches flow);
            // an online engine's only: a replay of stored events is not live drift.
            const runtime = batch.side.state?.runtime;
            if (runtime !== undefined && (runtime.origin ?? 'online') === 'online') observer = serving.observer;
            watermarks = observer?.attach(runtime?.watermark);
            // Checkpoints wait for scoring to settle, so no record is between two steps' snapshots.
            batch.side.state?.registerAsync({ whenIdle: () => batcher.whenDrained(), busy: () => batcher.pendingBatches > 0 });
            adoptRuntime(batch.side.state?.runtime);
            reportModel();
          }
          reportTo?.metrics.stepRecordsIn.inc(reportTo.labels, batch.records.length);
          const trace = batch.side.trace;
          if (trace !== undefined && batch.records.length > 0) {
            const parents = scoreParents(trace);
            if (parents.length > 0) (spans ??= new Map()).set(batch, trace.tracer.startSpan(`score ${step}`, parents, { 'tributary.step': step, 'tributary.records': batch.records.length }));
          }
          // Held until this batch's output is emitted; a pass-through batch releases at once.
          retainAll(batch.acks);
          if (batch.records.length <= burstRows || spans?.has(batch)) batcher.add(batch);
          else batcher.addInChunks(batch, burstRows, () => retainAll(batch.acks));
        },
        error: (error: unknown) => void batcher.whenDrained().then(() => subscriber.error(error)),
        complete: () => void batcher.whenDrained().then(() => subscriber.complete()),
      });

      return () => {
        subscription.unsubscribe();
        stop.abort();
        batcher.dispose();
        watermarks?.detach();
        // Close an owned model only after its last run settled: releasing a running session crashes it.
        void lastRun.then(() => serving.unsubscribe());
      };
    });
}

function deadLetter(batch: Batch<unknown>, step: string, record: StreamRecord<unknown>, error: string): 1 {
  deadLetterUserError(batch, step, record, error);
  return 1;
}
