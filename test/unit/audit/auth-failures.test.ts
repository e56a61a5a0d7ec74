import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent, AuditTrail } from '../../../src/audit/audit-trail.ts';
import { AuthFailureAudit } from '../../../src/audit/auth-failures.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';

/** A trail that keeps what it is given, in memory. */
function memoryTrail(): AuditTrail & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: async (event) => void events.push(event), close: async () => {} };
}

test('a flood from one address is recorded as a few entries and one summary with the counts', async () => {
  const trail = memoryTrail();
  const metrics = new Metrics();
  const audit = new AuthFailureAudit({ trail, action: 'ws.auth', logger: silentLogger, metrics, perAddress: 3 });
  for (let i = 0; i < 1_000; i++) audit.failed({ remoteAddress: '10.1.1.1', reason: i % 2 === 0 ? 'bad_signature' : 'expired', target: '/ws' });
  audit.failed({ remoteAddress: '10.2.2.2', reason: 'token_missing', target: '/ws' });
  await audit.close();
  assert.deepEqual(trail.events.slice(0, 4), [
    { action: 'ws.auth', principal: 'anonymous', target: '/ws', outcome: 'refused', reason: 'bad_signature', details: { remoteAddress: '10.1.1.1' } },
    { action: 'ws.auth', principal: 'anonymous', target: '/ws', outcome: 'refused', reason: 'expired', details: { remoteAddress: '10.1.1.1' } },
    { action: 'ws.auth', principal: 'anonymous', target: '/ws', outcome: 'refused', reason: 'bad_signature', details: { remoteAddress: '10.1.1.1' } },
    { action: 'ws.auth', principal: 'anonymous', target: '/ws', outcome: 'refused', reason: 'token_missing', details: { remoteAddress: '10.2.2.2' } },
  ]);
  assert.deepEqual(trail.events.slice(4), [
    {
      action: 'ws.auth',
      principal: 'anonymous',
      outcome: 'refused',
      reason: '997 more failures within 60000 ms (not recorded one by one)',
      details: { remoteAddress: '10.1.1.1', suppressed: 997, reasons: { bad_signature: 498, expired: 499 }, windowMs: 60_000 },
    },
  ]);
  const [counted] = (await metrics.auditSuppressed.get()).values;
  assert.equal(counted?.value, 997);
});

test('beyond the tracked addresses, failures of new addresses are summed under "*"', async () => {
  const trail = memoryTrail();
  const audit = new AuthFailureAudit({ trail, action: 'ws.auth', logger: silentLogger, perAddress: 1, maxAddresses: 2 });
  for (let i = 0; i < 10; i++) audit.failed({ remoteAddress: `10.0.0.${i}`, reason: 'malformed' });
  await audit.close();
  assert.deepEqual(trail.events.map((event) => event.details?.remoteAddress), ['10.0.0.0', '10.0.0.1', '*']);
  assert.deepEqual(trail.events[2]!.details, { remoteAddress: '*', suppressed: 8, reasons: { malformed: 8 }, windowMs: 60_000 });
});
