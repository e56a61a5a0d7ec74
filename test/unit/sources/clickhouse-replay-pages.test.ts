import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { replayPages, type PageRequest } from '../../../src/sources/clickhouse-replay/replay-pages.ts';

interface Row {
  time: number;
  id: number;
}

/** What the server answers: rows of [from, to) by time then id, LIMIT offset, limit. */
function table(rows: Row[]) {
  const sorted = [...rows].sort((a, b) => a.time - b.time || a.id - b.id);
  const requests: PageRequest[] = [];
  const read = async (request: PageRequest) => {
    requests.push(request);
    return sorted.filter((r) => r.time >= request.from && r.time < request.to).slice(request.offset, request.offset + request.limit);
  };
  return { sorted, requests, read };
}

async function replay(rows: Row[], options: { from: number; to: number; pageSize: number; total?: number }) {
  const server = table(rows);
  const pages: Row[][] = [];
  for await (const page of replayPages(server.read, (row) => row.time, options)) pages.push(page);
  const inRange = server.sorted.filter((r) => r.time >= options.from && r.time < options.to);
  return { pages, read: pages.flat(), inRange, requests: server.requests };
}

test('every row of [from, to) once, in time order, pages of at most pageSize, equal times included', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ time: fc.integer({ min: 0, max: 200 }), id: fc.nat() }), { maxLength: 300 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 1, max: 250 }),
      fc.boolean(),
      async (rows, pageSize, from, length, knownTotal) => {
        const to = from + length;
        const unique = rows.map((r, id) => ({ ...r, id }));
        const total = knownTotal ? unique.filter((r) => r.time >= from && r.time < to).length : undefined;
        const { pages, read, inRange, requests } = await replay(unique, { from, to, pageSize, total });
        // The order among equal times is the server's (time, then the tiebreak): here the id.
        assert.deepEqual(read, inRange);
        assert.ok(pages.every((page) => page.length > 0 && page.length <= pageSize));
        assert.ok(requests.every((r) => r.from >= from && r.to <= to && r.limit === pageSize));
      },
    ),
    { numRuns: 300 },
  );
});

test('identical rows (no unique tiebreak) are neither lost nor doubled', async () => {
  const rows = Array.from({ length: 50 }, (_, i) => ({ time: 10 + (i % 3), id: 0 }));
  const { read } = await replay(rows, { from: 0, to: 100, pageSize: 7 });
  assert.equal(read.length, 50);
  assert.deepEqual(read.map((r) => r.time), [...Array(17).fill(10), ...Array(17).fill(11), ...Array(16).fill(12)]);
});

test('a millisecond holding several pages is read on its own with offsets', async () => {
  const rows = [{ time: 4, id: 0 }, ...Array.from({ length: 25 }, (_, i) => ({ time: 5, id: i + 1 })), { time: 6, id: 99 }];
  const { read, requests } = await replay(rows, { from: 0, to: 10, pageSize: 10, total: 27 });
  assert.deepEqual(read.map((r) => r.id), [0, ...Array.from({ length: 25 }, (_, i) => i + 1), 99]);
  assert.ok(requests.some((r) => r.from === 5 && r.to === 6 && r.offset === 10), JSON.stringify(requests));
});

test('slices follow the density: about a page per query, sparse stretches skipped quickly', async () => {
  // 10,000 rows one per ms, then a gap of 10^9 ms, then 10,000 more.
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ time: i < 10_000 ? i : 1e9 + i, id: i }));
  const { read, requests } = await replay(rows, { from: 0, to: 2e9, pageSize: 1_000, total: 20_000 });
  assert.equal(read.length, 20_000);
  assert.ok(requests.length < 120, `${requests.length} queries for 20 pages`);
});

test('an empty range asks once or a few times and yields nothing', async () => {
  const { pages, requests } = await replay([], { from: 0, to: 1_000_000, pageSize: 100, total: 0 });
  assert.equal(pages.length, 0);
  assert.ok(requests.length <= 2);
});
