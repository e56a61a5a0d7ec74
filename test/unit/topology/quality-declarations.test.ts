import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject, type Observable } from 'rxjs';
import { buildOutputs, defineTopology, type AnyTopology } from '../../../src/topology/define-topology.ts';
import { freshnessTargets } from '../../../src/topology/freshness.ts';
import { defineContract } from '../../../src/contracts/define-contract.ts';
import { range } from '../../../src/contracts/rules.ts';
import { clickhouseQuarantine } from '../../../src/sinks/clickhouse/quarantine-table.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import type { Batch } from '../../../src/core/batch.ts';
import type { SourceSpec } from '../../../src/sources/source.ts';

interface Event {
  n: number;
}

const source: SourceSpec<Event> = { description: 'test source', outOfOrdernessMs: 0, eventTime: (e) => e.n, create: () => ({}) as never };
const pipeline = (events: Observable<Batch<Event>>) => ({ features: events });
const contract = defineContract<Event>({ name: 'event', rules: { 'n-range': range('n', { min: 0 }) } });

function topology(extra: Partial<AnyTopology>): AnyTopology {
  return { name: 'quality', source, pipeline, sinks: { features: [] }, ...extra };
}

function configError(field: string, part: string) {
  return (error: unknown) => error instanceof ConfigError && error.field === field && error.message.includes(part);
}

test('freshness SLOs: a duration or maxAge with an objective (default 0.99)', () => {
  assert.deepEqual(freshnessTargets({ features: '2m', predictions: { maxAge: 90_000, objective: 0.999 } }), new Map([
    ['features', { maxAgeMs: 120_000, objective: 0.99 }],
    ['predictions', { maxAgeMs: 90_000, objective: 0.999 }],
  ]));
  assert.deepEqual(freshnessTargets(undefined), new Map());
});

test('bad freshness declarations fail at definition, naming the output', () => {
  assert.throws(() => defineTopology(topology({ freshness: { features: 'soon' } })), configError('freshness.features', '"soon" is not a duration'));
  assert.throws(() => defineTopology(topology({ freshness: { features: 0 } })), configError('freshness.features', 'is 0'));
  assert.throws(() => defineTopology(topology({ freshness: { features: { maxAge: '1m', objective: 1 } } })), configError('freshness.features.objective', '1 is not between 0 and 1'));
});

test('a freshness SLO for an output the pipeline does not return fails when the pipeline is built', () => {
  const declared = defineTopology(topology({ freshness: { featurez: '2m' } }));
  assert.throws(() => buildOutputs(declared, new Subject<Batch<Event>>()), configError('freshness.featurez', 'no output named "featurez"'));
  assert.doesNotThrow(() => buildOutputs(defineTopology(topology({ freshness: { raw: '1m', features: '2m' } })), new Subject<Batch<Event>>()));
});

test('a quarantine needs a contract, and a contract must come from defineContract', () => {
  assert.throws(() => defineTopology(topology({ quarantine: clickhouseQuarantine('q') })), configError('quarantine', 'no contract'));
  assert.throws(() => defineTopology(topology({ contract: { name: 'event', rules: {} } as never })), configError('contract', 'is not a data contract'));
  assert.doesNotThrow(() => defineTopology(topology({ contract, quarantine: clickhouseQuarantine('q') })));
});
