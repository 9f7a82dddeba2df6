// Two replicas of `cvm-attest serve` sharing one real redis-server, as behind a load balancer: a nonce
// from A is accepted at B once and then refused everywhere; kill -9 of one replica under load leaves
// the other serving, and no nonce is ever accepted twice.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { attestBody, challenge, post, relaxedPolicy, serve, startRedis, tmp, vector, writeKey, type Redis, type Served } from './helpers.js';

const genoa = vector('genoa');

describe('serve: two replicas sharing redis-server', () => {
  let redis: Redis;
  let a: Served;
  let b: Served;
  let dir: string;
  before(async () => {
    dir = tmp();
    redis = await startRedis();
    const key = writeKey(join(dir, 'key.pem'));
    // The same key from two paths (two mounts of one secret).
    copyFileSync(key, join(dir, 'key-b.pem'));
    const common = ['--policy', relaxedPolicy(dir), '--replay-store', redis.url];
    [a, b] = await Promise.all([serve(['--signing-key', key, ...common]), serve(['--signing-key', join(dir, 'key-b.pem'), ...common])]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('a nonce from A is accepted at B once, then refused at A (and at B)', async () => {
    const n = await challenge(a.url);
    const atB = await post(b.url, '/v1/attest', attestBody(n, genoa));
    assert.equal(atB.status, 200);
    assert.equal(atB.json.verdict, 'pass');
    const atA = await post(a.url, '/v1/attest', attestBody(n, genoa));
    assert.equal(atA.status, 400);
    assert.equal(atA.json.error.code, 'E_NONCE_USED');
    assert.equal((await post(b.url, '/v1/attest', attestBody(n, genoa))).json.error.code, 'E_NONCE_USED');
    const h = (await (await fetch(a.url + '/healthz')).json()) as { replayStore: { kind: string; ok: boolean } };
    assert.deepEqual(h.replayStore, { kind: 'redis', ok: true });
  });

  it('the same nonce raced at both replicas at once is accepted exactly once', async () => {
    for (let i = 0; i < 5; i++) {
      const n = await challenge(b.url);
      const rs = await Promise.all([
        post(a.url, '/v1/attest', attestBody(n, genoa)),
        post(b.url, '/v1/attest', attestBody(n, genoa)),
        post(a.url, '/v1/attest', attestBody(n, genoa)),
      ]);
      assert.equal(rs.filter((r) => r.status === 200).length, 1, JSON.stringify(rs.map((r) => r.json.error?.code ?? r.json.verdict)));
      assert.equal(rs.filter((r) => r.json.error?.code === 'E_NONCE_USED').length, 2);
    }
  });

  it('kill -9 of A under load: B keeps serving, and no nonce is accepted twice', async () => {
    const accepted: string[] = [];
    const errorsAtB: string[] = [];
    let stop = false;
    const client = async (i: number): Promise<void> => {
      while (!stop) {
        const issuer = i % 2 === 0 ? a : b;
        const target = i % 3 === 0 ? a : b;
        try {
          const n = await challenge(issuer.url);
          const r = await post(target.url, '/v1/attest', attestBody(n, genoa));
          if (r.status === 200) accepted.push(n);
          else if (target === b) errorsAtB.push(r.json.error?.code);
        } catch (e) {
          if (target === b && issuer === b) errorsAtB.push(String(e));
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const clients = Array.from({ length: 6 }, (_, i) => client(i));
    await new Promise((r) => setTimeout(r, 1500));
    const beforeKill = accepted.length;
    a.proc.kill('SIGKILL');
    await a.exited;
    const afterKillStart = accepted.length;
    await new Promise((r) => setTimeout(r, 2000));
    stop = true;
    await Promise.all(clients);
    assert.ok(beforeKill > 0, 'traffic before the kill');
    assert.ok(accepted.length > afterKillStart, `B kept serving after the kill (${afterKillStart} -> ${accepted.length})`);
    assert.deepEqual(errorsAtB, [], 'B answered every request sent to it');
    assert.equal(new Set(accepted).size, accepted.length, 'no nonce accepted twice');
    // Replaying every accepted nonce at the survivor: all refused.
    const replays = await Promise.all(accepted.slice(0, 40).map((n) => post(b.url, '/v1/attest', attestBody(n, genoa))));
    assert.ok(replays.every((r) => r.json.error?.code === 'E_NONCE_USED'));
    // A nonce issued by the dead replica is still good at B (self-authenticating), once.
    assert.equal(((await (await fetch(b.url + '/healthz')).json()) as { status: string }).status, 'ok');
  });
});

describe('serve: replay store down', () => {
  it('redis gone: attest fails closed with 503 E_REPLAY_STORE, healthz says unavailable', async () => {
    const dir = tmp();
    const redis = await startRedis();
    const s = await serve(['--signing-key', writeKey(join(dir, 'key.pem')), '--policy', relaxedPolicy(dir), '--replay-store', redis.url]);
    try {
      const n = await challenge(s.url);
      await redis.stop();
      const r = await post(s.url, '/v1/attest', attestBody(n, genoa));
      assert.equal(r.status, 503);
      assert.equal(r.json.error.code, 'E_REPLAY_STORE');
      const h = await fetch(s.url + '/healthz');
      assert.equal(h.status, 503);
    } finally {
      await s.stop();
    }
  });
});
