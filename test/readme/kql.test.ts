// The README's Log Analytics queries parse and bind with the Kusto language service against the
// table schemas in extension/azure/azuredeploy.json (the same check test/sinks/kql.test.ts applies
// to the shipped queries): a reader who pastes them gets results, not errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { README } from './tables.js';
import { errors } from '../helpers/kusto.js';

test('the checker rejects an unknown column (so a pass means something)', () => {
  assert.ok(errors('CvmAttestation_CL | project Verdikt').length > 0);
});

test("every query in the README's kusto blocks binds against the tables", () => {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```kusto\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length > 0, 'the README has kusto blocks');
  const queries = blocks
    .flatMap((b) => b.split(/\n\s*\n/))
    .map((q) => q.trim())
    .filter((q) => q.length > 0);
  assert.ok(queries.length >= 2);
  for (const q of queries) assert.deepEqual(errors(q), [], q);
});
