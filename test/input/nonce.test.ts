// src/input/nonce.ts: the one hex nonce format (--nonce, bundle and replayed nonce.hex).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../../src/base/errors.js';
import { parseNonceHex } from '../../src/input/nonce.js';

const opts = { code: 'E_NONCE', what: 'test nonce' } as const;

describe('parseNonceHex', () => {
  it('accepts 1-64 bytes, trimmed, with an optional 0x, any case', () => {
    assert.deepEqual(parseNonceHex('ab', opts), Uint8Array.of(0xab));
    assert.deepEqual(parseNonceHex('  0XaBcD\n', opts), Uint8Array.of(0xab, 0xcd));
    assert.equal(parseNonceHex('00'.repeat(64), opts).length, 64);
  });

  for (const bad of ['', '0x', 'a', 'abc', 'zz', '00'.repeat(65), 'ab cd', '0x0xab', '-1']) {
    it(`refuses ${JSON.stringify(bad.slice(0, 20))} with the caller's code and name`, () => {
      assert.throws(
        () => parseNonceHex(bad, opts),
        (e: unknown) => e instanceof InputError && e.code === 'E_NONCE' && /^test nonce must be 1-64 bytes of hex/.test(e.message),
      );
    });
  }

  it('round-trips any 1-64 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.boolean(), (b, prefix) => {
        const hex = (prefix ? '0x' : '') + Buffer.from(b).toString('hex');
        assert.deepEqual(parseNonceHex(hex, opts), b);
      }),
    );
  });

  it('never throws anything but its InputError (fuzz)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\s*(0x)?[0-9a-fA-F]{0,130}\s*$/)), (t) => {
        try {
          const n = parseNonceHex(t, opts);
          assert.ok(n.length >= 1 && n.length <= 64);
        } catch (e) {
          assert.ok(e instanceof InputError && e.code === 'E_NONCE', String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
