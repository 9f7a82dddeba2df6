// perObject (src/base/object-memo.ts): one computation per argument object, none shared between
// objects, and a computation that throws is not remembered (the next call throws again, as before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { perObject } from '../../src/base/object-memo.js';

test('perObject: once per object, per object, and a throw is not remembered', () => {
  const calls: object[] = [];
  const f = perObject((o: { n: number }) => {
    calls.push(o);
    if (o.n < 0) throw new RangeError('negative');
    return { twice: o.n * 2 };
  });
  const a = { n: 1 };
  const b = { n: 1 };
  const first = f(a);
  assert.equal(f(a), first, 'the same result object again');
  assert.deepEqual(f(b), first);
  assert.notEqual(f(b), first, 'an equal but other object has its own');
  assert.deepEqual(calls, [a, b]);
  const bad = { n: -1 };
  assert.throws(() => f(bad), RangeError);
  assert.throws(() => f(bad), RangeError);
  assert.equal(calls.filter((c) => c === bad).length, 2);
});
