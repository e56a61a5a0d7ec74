import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from '../scoring/circuit-breaker.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

/** tributary_scoring_circuit_state's values. */
export const CIRCUIT_GAUGE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * A score step's circuit breaker, reporting its state changes to the step's metrics and log
 * (both known only once the step runs in an engine, hence the getters).
 */
export function scoreBreaker(step: string, options: CircuitBreakerOptions, hasFallback: boolean, reportTo: () => { metrics: Metrics; labels: { topology: string; step: string } } | undefined, logger: () => Logger | undefined): CircuitBreaker {
  return new CircuitBreaker(options, {
    field: `${step}.breaker`,
    onStateChange: ({ state, previous, failures, coolDownMs }) => {
      const report = reportTo();
      report?.metrics.scoringCircuitState.set(report.labels, CIRCUIT_GAUGE[state]);
      if (state === 'open') report?.metrics.scoringCircuitOpens.inc(report.labels);
      if (state === 'open') logger()?.warn({ step, previous, failures, coolDownMs }, `scoring circuit open: the model is not called for ${coolDownMs} ms; rows go to the ${hasFallback ? 'fallback' : 'dead letters'}`);
      else logger()?.info({ step, previous }, state === 'closed' ? 'scoring circuit closed: the model scores again' : 'scoring circuit half-open: probing the model');
    },
  });
}
