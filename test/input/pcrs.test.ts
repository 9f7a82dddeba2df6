// src/input/pcrs.ts: the one PCR values JSON format (pcrs.json, verify --pcrs).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { InputError } from '../../src/base/errors.js';
import { parsePcrValues } from '../../src/input/pcrs.js';

const opts = { code: 'E_PCRS', what: 'test pcrs' } as const;
const h = (c: string): string => c.repeat(64);
const refused = (text: string, message: RegExp): void => {
  assert.throws(
    () => parsePcrValues(text, opts),
    (e: unknown) => e instanceof InputError && e.code === 'E_PCRS' && message.test(e.message),
  );
};

describe('parsePcrValues', () => {
  it('pads to 24, lowercases, and lists the PCRs with a value', () => {
    const v = parsePcrValues(JSON.stringify([h('A'), '', h('b')]), opts);
    assert.equal(v.pcrs.length, 24);
    assert.deepEqual(v.pcrs.slice(0, 4), [h('a'), '', h('b'), '']);
    assert.deepEqual(v.pcrSelection, [0, 2]);
  });

  it('reads the pcrs.json that collect writes (a real capture)', () => {
    const v = parsePcrValues(readFileSync(new URL('../fixtures/azure-hcl/genoa/pcrs.json', import.meta.url), 'utf8'), opts);
    assert.equal(v.pcrs.length, 24);
    assert.ok(v.pcrSelection.length > 0);
    for (const i of v.pcrSelection) assert.match(v.pcrs[i]!, /^[0-9a-f]{64}$/);
  });

  it('refuses what is not the format, naming the input', () => {
    refused('{}', /^test pcrs must be a JSON array/);
    refused(JSON.stringify(Array(25).fill('')), /^test pcrs must be a JSON array of up to 24/);
    refused(JSON.stringify(['', 'ab']), /^test pcrs\[1\] is not a 64-digit/);
    refused(JSON.stringify([1]), /^test pcrs\[0\]/);
    refused('[', /^test pcrs is not JSON/);
    refused('[[[]]]', /nested/);
  });

  it('never throws anything but its InputError (fuzz)', () => {
    const hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const texts = fc.oneof(
      fc.string(),
      fc.json(),
      fc.array(fc.oneof(fc.string(), hex, fc.constant('')), { maxLength: 30 }).map((a) => JSON.stringify(a)),
    );
    fc.assert(
      fc.property(texts, (t) => {
        try {
          const v = parsePcrValues(t, opts);
          assert.equal(v.pcrs.length, 24);
        } catch (e) {
          assert.ok(e instanceof InputError && e.code === 'E_PCRS', String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
