import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject, type Observable } from 'rxjs';
import { buildOutputs, defineTopology, type AnyTopology, type PipelineOutputs } from '../../../src/topology/define-topology.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import type { Batch } from '../../../src/core/batch.ts';
import type { SourceSpec } from '../../../src/sources/source.ts';
import type { SinkSpec } from '../../../src/sinks/sink.ts';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { filter } from '../../../src/operators/filter.ts';

interface Event {
  n: number;
}

const source: SourceSpec<Event> = {
  description: 'test source',
  outOfOrdernessMs: 0,
  eventTime: (e) => e.n,
  create: () => {
    throw new Error('not started in these tests');
  },
};

const sink: SinkSpec<StreamRecord<unknown>> = {
  description: 'test sink',
  create: () => {
    throw new Error('not created in these tests');
  },
};

const pipeline = (events: Observable<Batch<Event>>) => ({ big: events.pipe(filter((e) => e.n > 10)), all: events });

function valid(): AnyTopology {
  return { name: 'card-fraud_v2', source, pipeline, sinks: { raw: [sink], big: [sink], all: [] } };
}

function rejects(definition: unknown, field: string, messagePart: string): void {
  assert.throws(
    () => defineTopology(definition as AnyTopology),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.field, field);
      assert.equal(error.retriable, false);
      assert.ok(error.message.includes(messagePart), error.message);
      assert.ok(error.message.includes('Fix: '), error.message);
      return true;
    },
  );
}

test('a valid declaration is returned unchanged', () => {
  const definition = valid();
  assert.equal(defineTopology(definition), definition);
});

test('topology names: lowercase letter first, then letters, digits, - and _, at most 63 characters', () => {
  for (const name of ['a', 'card-fraud', 'x_1-2', 'a'.repeat(63)]) defineTopology({ ...valid(), name });
  for (const name of ['', 'Card', '1card', '-card', 'card fraud', 'card.fraud', 'a'.repeat(64), 'café']) {
    rejects({ ...valid(), name }, 'name', `"${name}" is not a valid topology name`);
  }
  rejects({ ...valid(), name: undefined }, 'name', '"undefined" is not a valid topology name');
  rejects({ ...valid(), name: 42 }, 'name', '"42" is not a valid topology name');
});

test('a source with a create function is required', () => {
  rejects({ ...valid(), source: undefined }, 'source', 'no source is declared');
  rejects({ ...valid(), source: { description: 'x' } }, 'source', 'no source is declared');
});

test('the pipeline must be a function', () => {
  rejects({ ...valid(), pipeline: undefined }, 'pipeline', 'pipeline must be a function');
  rejects({ ...valid(), pipeline: { big: null } }, 'pipeline', 'pipeline must be a function');
});

test('sinks must be an object of arrays', () => {
  rejects({ ...valid(), sinks: undefined }, 'sinks', 'no sinks are declared');
  rejects({ ...valid(), sinks: 'clickhouse' }, 'sinks', 'no sinks are declared');
  rejects({ ...valid(), sinks: { big: sink } }, 'sinks.big', 'must be an array of sinks');
  defineTopology({ ...valid(), sinks: {} });
});

test('buildOutputs calls the pipeline with the input stream and returns its outputs', () => {
  const input = new Subject<Batch<Event>>();
  let received: unknown;
  const topology = defineTopology({
    ...valid(),
    pipeline: (events: Observable<Batch<Event>>) => {
      received = events;
      return { all: events };
    },
    sinks: { all: [sink] },
  });
  const outputs = buildOutputs(topology, input);
  assert.equal(received, input);
  assert.deepEqual(Object.keys(outputs), ['all']);
  assert.equal(outputs.all, input);
});

test('buildOutputs accepts a raw sink the pipeline does not return', () => {
  const outputs = buildOutputs(defineTopology({ ...valid(), sinks: { raw: [sink], big: [sink] } }), new Subject<Batch<Event>>());
  assert.deepEqual(Object.keys(outputs).sort(), ['all', 'big']);
});

test('buildOutputs rejects a sinks entry naming no pipeline output, listing the outputs', () => {
  const topology = defineTopology({ ...valid(), sinks: { big: [sink], predictions: [sink] } });
  assert.throws(
    () => buildOutputs(topology, new Subject<Batch<Event>>()),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, 'sinks.predictions');
      assert.ok(error.message.includes('the pipeline returns no output named "predictions" (it returns: big, all)'), error.message);
      return true;
    },
  );
});

test('buildOutputs says "nothing" when the pipeline returns no outputs', () => {
  const topology = defineTopology({ ...valid(), pipeline: (): PipelineOutputs => ({}), sinks: { features: [sink] } as never });
  assert.throws(() => buildOutputs(topology, new Subject<Batch<Event>>()), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.field, 'sinks.features');
    assert.ok(error.message.includes('(it returns: nothing)'), error.message);
    return true;
  });
});

test('buildOutputs rejects a pipeline that returns no object', () => {
  for (const returned of [undefined, null, 'stream', 3]) {
    const topology = defineTopology({ ...valid(), pipeline: (() => returned) as unknown as AnyTopology['pipeline'], sinks: {} });
    assert.throws(() => buildOutputs(topology, new Subject<Batch<Event>>()), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, 'pipeline');
      assert.ok(error.message.includes('the pipeline did not return an object of named streams'));
      return true;
    });
  }
});
