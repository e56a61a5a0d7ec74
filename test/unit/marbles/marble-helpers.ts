/**
 * Helpers for marble tests of the window operators (rxjs/testing TestScheduler).
 *
 * Two clocks, kept apart on purpose:
 * - Virtual time (the marble diagram) is *frame time*: each letter is one input Batch, i.e. one
 *   source fetch, and the dashes only space them out for reading. Window operators have no
 *   timers, so virtual time never closes a window by itself.
 * - Event time lives inside the frames: each record has its own eventTime, and each frame
 *   carries the watermark after it. Windows open, close, revise and reject late records
 *   purely on those numbers.
 *
 * A frame is written `frame(wm, 'a@12=4', 'b@3')`: the watermark after the batch, then its
 * records as `key@eventTime=value` (value defaults to 1). Output batches are summarised as
 * `{ wm, rows: ['a@10-20:n=2:s=3:r0', ...], late: ['a@5'] }`: one row per emitted window
 * (key@windowStart-windowEnd, count, sum, and the revision where the operator has one) and
 * the late side output that the operator added while processing that frame.
 */
import assert from 'node:assert/strict';
import { map, type Observable, type OperatorFunction } from 'rxjs';
import { TestScheduler, type RunHelpers } from 'rxjs/testing';
import type { Batch, StreamRecord } from '../../../src/core/batch.ts';
import { count, sum } from '../../../src/operators/windows/aggregations.ts';
import type { WindowResult } from '../../../src/operators/windows/aggregate.ts';

/** The payload of every test record. */
export interface Ev {
  v: number;
}

/** One marble frame: the records of one source batch and the watermark after it. */
export interface Frame {
  wm: number;
  records: string[];
}

/** `frame(15, 'a@4=2', 'b@3')`: watermark 15 after records a@4 (value 2) and b@3 (value 1). */
export function frame(wm: number, ...records: string[]): Frame {
  return { wm, records };
}

/** A compact, comparable view of one output batch. */
export interface Summary {
  wm: number;
  rows: string[];
  late: string[];
}

/** `summary(15, ['a@0-10:n=2:s=3:r0'], ['a@4'])`; rows and late default to none. */
export function summary(wm: number, rows: string[] = [], late: string[] = []): Summary {
  return { wm, rows, late };
}

function parseRecord(text: string): StreamRecord<Ev> {
  const match = /^([A-Za-z0-9_-]+)@(-?\d+)(?:=(-?\d+(?:\.\d+)?))?$/.exec(text);
  if (match === null) throw new Error(`bad record "${text}": write key@eventTime or key@eventTime=value`);
  return { value: { v: match[3] === undefined ? 1 : Number(match[3]) }, key: match[1]!, eventTime: Number(match[2]), topic: 'marbles', partition: 0, offset: '0' };
}

/** A fresh Batch per emitted frame (operators append to side.late, so batches are never shared). */
export function toBatch(f: Frame): Batch<Ev> {
  return { records: f.records.map(parseRecord), watermark: f.wm, acks: [], side: { late: [], deadLetters: [] } };
}

/** The aggregations every marble test uses: n = count, s = sum of v. */
export function nAndS() {
  return { n: count<Ev>(), s: sum((e: Ev) => e.v) };
}

type Row = WindowResult & { n: number; s: number; revision?: number };

/** `a@10-20:n=2:s=3:r0` (the `:rN` part only for rows that carry a revision). */
export function formatRow(row: Row): string {
  const revision = row.revision === undefined ? '' : `:r${row.revision}`;
  return `${row.key}@${row.windowStart}-${row.windowEnd}:n=${row.n}:s=${row.s}${revision}`;
}

/** Maps each output batch to its Summary; `late` is read from side.late after the frame. */
export function summarize<R extends Row>(): OperatorFunction<Batch<R>, Summary> {
  return map((batch) => ({
    wm: batch.watermark,
    rows: batch.records.map((r) => formatRow(r.value)),
    late: batch.side.late.map((l) => `${l.key}@${l.eventTime}`),
  }));
}

/**
 * Runs `body` under a fresh TestScheduler in run mode (each marble character is one virtual
 * frame; spaces are ignored), comparing with node's strict deep equality.
 */
export function marbles(body: (helpers: RunHelpers) => void): void {
  const scheduler = new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
  scheduler.run(body);
}

/** The input stream of Batches for `diagram` over the frames named in `frames`. */
export function batches(helpers: RunHelpers, diagram: string, frames: Record<string, Frame>, error?: unknown): Observable<Batch<Ev>> {
  return helpers.cold(diagram, frames, error).pipe(map(toBatch));
}
