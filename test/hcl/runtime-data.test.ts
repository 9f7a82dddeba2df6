// parseRuntimeData remembers results by the exact bytes and shares them between callers, so what it
// returns must be immutable: one verification's claims can never change another's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuntimeData } from '../../src/hcl/runtime-data.js';

test('the same bytes give the same frozen result; other bytes give their own', () => {
  const text = JSON.stringify({
    keys: [{ kid: 'HCLAkPub', kty: 'RSA', n: 'AQAB', e: 'AQAB' }],
    'vm-configuration': { 'secure-boot': true },
    'user-data': '00',
  });
  const a = parseRuntimeData(new Uint8Array(Buffer.from(text)));
  const b = parseRuntimeData(new Uint8Array(Buffer.from(text)));
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.json) && Object.isFrozen((a.json!.keys as object[])[0]));
  assert.throws(() => {
    (a.json!['vm-configuration'] as Record<string, unknown>)['secure-boot'] = false;
  }, TypeError);
  assert.equal((b.json!['vm-configuration'] as Record<string, unknown>)['secure-boot'], true);
  const other = parseRuntimeData(new Uint8Array(Buffer.from(text.replace('true', 'false'))));
  assert.notEqual(other, a);
  assert.equal((other.json!['vm-configuration'] as Record<string, unknown>)['secure-boot'], false);
});

test("the caller's buffer is copied: changing it afterwards changes neither the result nor a later parse", () => {
  const bytes = new Uint8Array(Buffer.from('{"user-data":"AA"}'));
  const a = parseRuntimeData(bytes);
  bytes[15] = 0x42; // "AA" -> "AB"
  assert.equal(a.json!['user-data'], 'AA');
  assert.equal(Buffer.from(a.raw).toString(), '{"user-data":"AA"}');
  assert.equal(parseRuntimeData(bytes).json!['user-data'], 'AB');
});

test('bytes that are not a JSON object keep their reason (and are remembered the same way)', () => {
  assert.match(parseRuntimeData(new Uint8Array([0xff, 0xfe])).error!, /UTF-8/);
  assert.match(parseRuntimeData(new Uint8Array(Buffer.from('[1]'))).error!, /not a JSON object/);
  assert.match(parseRuntimeData(new Uint8Array(Buffer.from('{'))).error!, /not valid JSON/);
});
