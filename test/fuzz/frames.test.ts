import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFramesFuzz } from '../../scripts/fuzz/frames-target.ts';
import { FUZZ_SEEDS } from './seeds.ts';

/*
 * The short version of `npm run fuzz` for WebSocket frames: hostile frames from real `ws` clients to
 * the real uWS push server (its own process, auth on, a channel publishing). Every frame must get a
 * documented answer, the server must throw nothing, free every session, serve a fresh client after.
 */

const FRAMES = 1_000;
const ERROR_CODES = ['binary_frame', 'malformed_json', 'not_an_object', 'unknown_type', 'invalid_channel', 'invalid_filter', 'invalid_resume', 'too_many_channels', 'forbidden'];

for (const seed of FUZZ_SEEDS) {
  test(`WebSocket: ${FRAMES.toLocaleString('en-US')} hostile frames are each answered as documented; the server lives on (seed ${seed})`, async () => {
    const result = await runFramesFuzz({ frames: FRAMES, seed, concurrency: 4 });
    assert.deepEqual(result.failures, []);
    assert.equal(result.crashes, 0);
    assert.ok(result.cases >= FRAMES, `${result.cases} frames`);
    const details = result.details as { aliveAfter: boolean; serverStatsAfter: Record<string, number>; serverCounters: Record<string, Record<string, number>>; uncaughtInServer: number };
    assert.equal(details.aliveAfter, true);
    assert.equal(details.uncaughtInServer, 0);
    // Every client is gone, and nothing is left queued for them.
    assert.deepEqual([details.serverStatsAfter.clients, details.serverStatsAfter.pendingFrames, details.serverStatsAfter.pendingBytes], [0, 0, 0]);

    // What the clients received agrees with what the server counted, code by code.
    const serverErrors = details.serverCounters.tributary_websocket_protocol_errors_total!;
    for (const code of ERROR_CODES) assert.equal(serverErrors[code] ?? 0, result.outcomes[`error:${code}`] ?? 0, code);
    assert.equal(serverErrors.rate_limited, result.outcomes['flood: error:rate_limited']);
    // Floods were closed for their rate, oversized and non-UTF-8 frames dropped, each counted by its reason.
    const disconnects = details.serverCounters.tributary_websocket_disconnects_total!;
    assert.equal(disconnects.rate_limited, result.outcomes['flood: error:rate_limited']);
    assert.ok(disconnects.too_big! > 0 && disconnects.invalid_utf8! > 0, JSON.stringify(disconnects));
    assert.ok(result.outcomes['close:1006']! >= disconnects.too_big! + disconnects.invalid_utf8!);
    // The mix reaches acks and most error codes (a few rarely come up in a thousand frames).
    for (const outcome of ['subscribed', 'unsubscribed', 'error:binary_frame', 'error:malformed_json', 'error:invalid_channel', 'error:invalid_filter', 'error:too_many_channels']) {
      assert.ok((result.outcomes[outcome] ?? 0) > 0, `no "${outcome}" in ${JSON.stringify(result.outcomes)}`);
    }
  });
}
