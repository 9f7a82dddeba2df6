// `cvm-attest attest --verifier URL` against a running `cvm-attest serve`: the VM asks for a nonce,
// swtpm quotes over it, IMDS (emulator) serves certificates, the evidence is submitted. swtpm's NV
// indices hold at most 2048 bytes, so of the real HCL reports only the 2048-byte foreign-VCEK dump
// fits (the Genoa/Milan vectors are 2346-2436 bytes): its runtime data is bound, but the VCEK the
// IMDS serves is another chip's, and swtpm's AK is not the HCLAkPub signed into the report. So the
// service must say fail on signature, chip-id and freshness, and issue no token; what holds is the
// plumbing: the quote it rejected was over the nonce it issued, and the local verdict agrees.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../scripts/swtpm-sim.js';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/imds.js';
import { parseTpmsAttest } from '../../src/index.js';
import { relaxedPolicy, serve, tmp, writeKey, freePort, type Served } from './helpers.js';
import { cvmAttest } from '../helpers/cli.js';
import { text } from '../helpers/fixtures.js';

describe('attest --verifier (swtpm + IMDS emulator + serve)', () => {
  let sim: Simulator;
  let imds: ImdsEmulator;
  let strict: Served;
  let relaxed: Served;
  let dir: string;
  before(async () => {
    dir = tmp();
    sim = await startSimulator({ dir: tmp('swtpm-') });
    const blocks = text('negative/hcl-report-foreign-vcek-chain.pem').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
    imds = await startImdsEmulator({ thim: { vcekPem: blocks[0] ?? '', chainPem: (blocks[1] ?? '') + (blocks[2] ?? ''), tcbm: '7308000000000003' } });
    const key = writeKey(join(dir, 'key.pem'));
    [strict, relaxed] = await Promise.all([serve(['--signing-key', key]), serve(['--signing-key', key, '--policy', relaxedPolicy(dir)])]);
  });
  after(async () => {
    await Promise.all([strict?.stop(), relaxed?.stop()]);
    await imds?.close();
    await sim?.stop();
  });

  const vmArgs = (): string[] => ['--tpm', sim.transport, '--imds-endpoint', imds.url, '--cache-dir', tmp('cache-')];

  it('a fresh swtpm quote over the service nonce with a real HCL report: fail on freshness (AK not HCLAkPub), no token', async () => {
    const tokenOut = join(dir, 'token.jwt');
    const r = await cvmAttest(['attest', '--verifier', strict.url, '--token-out', tokenOut, '--format', 'json', ...vmArgs()], {
      env: { NO_PROXY: '127.0.0.1,localhost' },
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as {
      remote: { verdict: string; jti: string | null; checks: { id: string; status: string; reason: string }[] };
      local: { verdict: string };
    };
    assert.equal(out.remote.verdict, 'fail');
    const failed = out.remote.checks
      .filter((c) => c.status === 'fail')
      .map((c) => c.id)
      .sort();
    assert.deepEqual(failed, ['chip-id', 'freshness', 'policy.freshness', 'signature']);
    assert.match(out.remote.checks.find((c) => c.id === 'freshness')!.reason, /does not verify with HCLAkPub/);
    for (const id of ['structure', 'chain', 'runtime-data']) assert.equal(out.remote.checks.find((c) => c.id === id)!.status, 'pass', id);
    assert.equal(out.remote.jti, null);
    assert.equal(out.local.verdict, 'fail', 'the local verdict on the same evidence agrees');
    assert.equal(existsSync(tokenOut), false);
    // The service's log: one fail, and the quote it saw was over the nonce it issued.
    assert.match(strict.stdout(), /"message":"attestation".*"verdict":"fail"/);
  });

  it('the swtpm quote carries the nonce the service issued (a bundle collected with it)', async () => {
    const out = tmp('bundle-');
    const n = ((await (await fetch(relaxed.url + '/v1/challenge', { method: 'POST' })).json()) as { nonce: string }).nonce;
    const c = await cvmAttest(['collect', '--out', out, '--nonce', n, ...vmArgs()], { env: { NO_PROXY: '127.0.0.1,localhost' }, timeoutMs: 60_000 });
    assert.equal(c.code, 0, c.stderr);
    const a = parseTpmsAttest(readFileSync(join(out, 'quote.msg')));
    assert.equal(Buffer.from(a.extraData).toString('hex'), n);
  });

  it('relaxed policy: a quote that fails is still a fail (a bad quote is never ignored)', async () => {
    const r = await cvmAttest(['attest', '--verifier', relaxed.url, ...vmArgs()], { env: { NO_PROXY: '127.0.0.1,localhost' }, timeoutMs: 60_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /remote verdict: FAIL/);
    assert.match(r.stdout, /fail freshness: the quote signature does not verify with HCLAkPub/);
  });

  it('verifier down: exit 3 E_VERIFIER_UNAVAILABLE at once; http:// off loopback: exit 2', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const down = await cvmAttest(['attest', '--verifier', `http://127.0.0.1:${port}`, ...vmArgs()], { timeoutMs: 20_000 });
    assert.equal(down.code, 3);
    assert.match(down.stderr, /unreachable.*\[E_VERIFIER_UNAVAILABLE\]/);
    assert.ok(Date.now() - t0 < 15_000);
    const plain = await cvmAttest(['attest', '--verifier', 'http://verifier.example.com', ...vmArgs()], { timeoutMs: 20_000 });
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /must be https:\/\/.*\[E_VERIFIER_URL\]/);
  });
});
