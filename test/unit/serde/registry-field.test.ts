import { test } from 'node:test';
import assert from 'node:assert/strict';
import { incompatibleField } from '../../../src/serde/registry-resolver.ts';

const schema = { fields: [{ name: 'cardId' }, { name: 'windowEnd' }, { name: 'probability' }] };

test('the field an incompatibility names: by name (a new field without default), by index (a changed type), or none', () => {
  // Apicurio's Confluent API answers, verbatim shapes.
  assert.equal(incompatibleField('list of diff types: [riskScore at /fields/3] Causes: riskScore at /fields/3', schema), 'riskScore');
  assert.equal(incompatibleField('[reader type: DOUBLE not compatible with writer type: STRING at /fields/2/type]', schema), 'probability');
  // Confluent's verbose message.
  assert.equal(incompatibleField("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'channel' at path '/fields/3' ...'}", schema), 'channel');
  assert.equal(incompatibleField('', schema), undefined);
});
