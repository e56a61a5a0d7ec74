import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineUrl } from '../../../src/cli/query-command.ts';

test("the engine's URL from HOST and PORT, reachable from this machine", () => {
  assert.equal(engineUrl({ host: '127.0.0.1', port: 8080 }), 'http://127.0.0.1:8080');
  assert.equal(engineUrl({ host: '0.0.0.0', port: 9000 }), 'http://127.0.0.1:9000');
  assert.equal(engineUrl({ host: '::', port: 8080 }), 'http://[::1]:8080');
  assert.equal(engineUrl({ host: 'fd00::2', port: 8080 }), 'http://[fd00::2]:8080');
  assert.equal(engineUrl({ host: 'engine.internal', port: 80 }), 'http://engine.internal:80');
});
