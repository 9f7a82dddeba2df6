// `verify --evidence HCL --vcek V --nonce N` without a quote: requireFreshness passes on a report that
// carries N as user-data and fails on one that does not (the real reports: zero user data, not fresh).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { padded, withUserData } from './derive-report.js';
import { cvmAttest, type Run } from '../helpers/cli.js';

const N = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

const verify = (...args: string[]): Promise<Run> => cvmAttest(['verify', ...args]);
const dir = 'azure-hcl/milan-v3-a';
/** `verify` of one report with the milan-v3-a VCEK, the nonce N, the strict policy and a pinned time. */
const verifyWithNonce = (evidence: string, policy: string, ...more: string[]): Promise<Run> =>
  verify('--evidence', evidence, '--vcek', join(FIXTURES, dir, 'vcek.pem'), '--nonce', N, '--policy', policy, '--now', '2026-11-28T12:00:00Z', ...more);

describe('verify --nonce without a quote (freshness by report)', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cvm-fresh-'));
    writeFileSync(join(tmp, 'derived.bin'), withUserData(fixture(`${dir}/hcl-report.bin`), padded(Buffer.from(N, 'hex'))));
    writeFileSync(join(tmp, 'policy.json'), JSON.stringify({ requireFreshness: true }));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a report carrying the nonce: freshness and policy.freshness pass by report (the derived report fails only its AMD signature)', async () => {
    const r = await verifyWithNonce(join(tmp, 'derived.bin'), join(tmp, 'policy.json'), '--format', 'json');
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout) as { checks: { id: string; status: string; reason: string }[]; claims: Record<string, unknown> };
    const st = (id: string): string | undefined => j.checks.find((c) => c.id === id)?.status;
    assert.equal(st('freshness'), 'pass');
    assert.equal(st('policy.freshness'), 'pass');
    assert.deepEqual(
      j.checks.filter((c) => c.status === 'fail').map((c) => c.id),
      ['signature'],
    );
    assert.equal(j.claims['cvm-attest-fresh-by'], 'report');
  });

  it('the real report (zero user data): not fresh (freshness skip), so requireFreshness fails the verdict', async () => {
    const r = await verifyWithNonce(join(FIXTURES, dir, 'hcl-report.bin'), join(tmp, 'policy.json'));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^Verdict: FAIL/);
    assert.match(r.stdout, /\[skip\] freshness +not fresh: the report's user-data is zero/);
    assert.match(r.stdout, /\[FAIL\] policy\.freshness +policy requires freshness/);
  });
});
