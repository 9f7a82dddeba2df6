// The verification pool (src/service/pool.ts) with a stand-in worker (pool-worker.mjs), for what the
// real worker cannot be made to do on demand: crash or hang. Each worker holds up to two tasks; when
// one dies only the task it was on fails, and the one waiting behind it is run by the replacement.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VerificationPool } from '../../src/service/pool.js';
import { ServiceError } from '../../src/service/errors.js';
import type { AttestRequest } from '../../src/service/request.js';
import type { VerifierConfig } from '../../src/service/verification.js';

const url = new URL('./pool-worker.mjs', import.meta.url);
const req = (nonce: string, ms?: number): AttestRequest => ({ nonce, ...(ms !== undefined ? { ms } : {}) }) as unknown as AttestRequest;
const pool = (o: { size?: number; taskTimeoutMs?: number } = {}): { p: VerificationPool; events: string[] } => {
  const events: string[] = [];
  const p = new VerificationPool({} as VerifierConfig, {
    size: o.size ?? 1,
    workerUrl: url,
    taskTimeoutMs: o.taskTimeoutMs ?? 5000,
    onEvent: (m) => events.push(m),
  });
  return { p, events };
};
const echoed = async (x: Promise<{ body: string }>): Promise<unknown> => (JSON.parse((await x).body) as { claims: { nonce: string } }).claims.nonce;

describe('verification pool', () => {
  it('a worker that crashes fails only the task it was on; the task queued behind it is run by the replacement', async () => {
    const { p, events } = pool();
    try {
      const crash = p.run(req('crash'));
      const next = p.run(req('after-crash'));
      await assert.rejects(crash, (e: unknown) => e instanceof ServiceError && e.code === 'E_INTERNAL' && e.status === 500);
      assert.equal(await echoed(next), 'after-crash');
      assert.deepEqual(events, ['verification worker replaced']);
      assert.equal(await echoed(p.run(req('later'))), 'later', 'the replacement keeps serving');
    } finally {
      await p.close();
    }
  });

  it('a task past its deadline fails; the worker is replaced and the waiting task still runs', async () => {
    // Long enough for the replacement worker to start under a loaded test run (its own deadline runs from the hand-over).
    const { p } = pool({ taskTimeoutMs: 1500 });
    try {
      const t0 = Date.now();
      const hang = p.run(req('hang'));
      const next = p.run(req('after-hang'));
      await assert.rejects(hang, (e: unknown) => e instanceof ServiceError && e.code === 'E_INTERNAL');
      assert.ok(Date.now() - t0 >= 1490, 'not before its deadline');
      assert.equal(await echoed(next), 'after-hang');
    } finally {
      await p.close();
    }
  });

  it('two tasks in flight per worker, the rest queued (bounded), answers matched by id', async () => {
    const { p } = pool({ size: 2 });
    try {
      const names = Array.from({ length: 12 }, (_, i) => `n${i}`);
      const got = await Promise.all(names.map((n, i) => echoed(p.run(req(n, 5 + ((i * 7) % 20))))));
      assert.deepEqual(got, names);
      assert.equal(p.queued, 0);
    } finally {
      await p.close();
    }
  });

  it('close rejects what is queued and in flight with E_SHUTTING_DOWN', async () => {
    const { p } = pool();
    const outcomes = ['x', 'y', 'z'].map((n) =>
      p.run(req(n, 500)).then(
        () => 'answered',
        (e: unknown) => e,
      ),
    );
    await p.close();
    for (const e of await Promise.all(outcomes)) assert.ok(e instanceof ServiceError && e.code === 'E_SHUTTING_DOWN', String(e));
    await assert.rejects(p.run(req('after')), (e: unknown) => e instanceof ServiceError && e.code === 'E_SHUTTING_DOWN');
  });
});
