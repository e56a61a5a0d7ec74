import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTokensFuzz } from '../../scripts/fuzz/tokens-target.ts';
import { FUZZ_SEEDS } from './seeds.ts';

/*
 * The short version of `npm run fuzz` for tokens: mutations of a valid WebSocket token (JWT) at the
 * real upgrade of the push server, and of the SQL endpoint's bearer header. None may be accepted;
 * valid ones interleaved with them must be.
 */

const TOKENS = 500;
/** The 401 bodies of docs/websocket-protocol.md and the rejection reasons the server counts them under. */
const REASON_OF_BODY: Record<string, string> = {
  'missing token: connect to /ws?token=<token>': 'token_missing',
  'malformed token': 'malformed',
  'invalid token signature': 'bad_signature',
  'token expired': 'expired',
  'token not valid yet': 'not_yet_valid',
  'token claims invalid: expected channels (array) and exp (seconds)': 'invalid_claims',
};

for (const seed of FUZZ_SEEDS) {
  test(`tokens: ${TOKENS} mutated WebSocket tokens and ${TOKENS} mutated SQL bearer headers, none accepted; valid ones are (seed ${seed})`, async () => {
    const result = await runTokensFuzz({ tokens: TOKENS, seed });
    assert.deepEqual(result.failures, []);
    assert.equal(result.accepted, 0);
    assert.equal(result.crashes, 0);
    assert.equal(result.cases, 2 * TOKENS);
    const details = result.details as { positiveControls: { run: number; accepted: number }; aliveAfter: boolean; serverCounters: Record<string, Record<string, number>> };
    assert.ok(details.positiveControls.run >= 10);
    assert.equal(details.positiveControls.accepted, details.positiveControls.run);
    assert.equal(details.aliveAfter, true);

    // Each refusal the clients saw is one the server counted, under the reason its body names.
    const seen = new Map<string, number>();
    for (const [outcome, count] of Object.entries(result.outcomes)) {
      const body = /^websocket: HTTP 401: (.*)$/.exec(outcome)?.[1];
      if (body === undefined) continue;
      const reason = REASON_OF_BODY[body];
      assert.ok(reason !== undefined, `undocumented 401 body "${body}"`);
      seen.set(reason, (seen.get(reason) ?? 0) + count);
    }
    assert.deepEqual(Object.fromEntries([...seen].sort()), Object.fromEntries(Object.entries(details.serverCounters.tributary_websocket_rejected_upgrades_total!).sort()));
    for (const reason of ['malformed', 'bad_signature', 'invalid_claims']) assert.ok((seen.get(reason) ?? 0) > 0, `no ${reason}`);
    assert.ok((result.outcomes['sql: HTTP 401 UNAUTHORIZED'] ?? 0) > TOKENS / 2);
  });
}
