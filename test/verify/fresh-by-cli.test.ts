// `verify --evidence HCL --vcek V --nonce N` without a quote: requireFreshness passes on a report that
// carries N as user-data and fails on one that does not (the real reports: zero user data).
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

describe('verify --nonce without a quote (freshness by report)', () => {
  let tmp: string;
  const dir = 'azure-hcl/milan-v3-a';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cvm-fresh-'));
    writeFileSync(join(tmp, 'derived.bin'), withUserData(fixture(`${dir}/hcl-report.bin`), padded(Buffer.from(N, 'hex'))));
    writeFileSync(join(tmp, 'policy.json'), JSON.stringify({ requireFreshness: true }));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a report carrying the nonce: freshness and policy.freshness pass by report (the derived report fails only its AMD signature)', async () => {
    const r = await verify(
      '--evidence',
      join(tmp, 'derived.bin'),
      '--vcek',
      join(FIXTURES, dir, 'vcek.pem'),
      '--nonce',
      N,
      '--policy',
      join(tmp, 'policy.json'),
      '--now',
      '2026-11-28T12:00:00Z',
      '--format',
      'json',
    );
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

  it('the real report (zero user data): freshness and policy.freshness fail', async () => {
    const r = await verify(
      '--evidence',
      join(FIXTURES, dir, 'hcl-report.bin'),
      '--vcek',
      join(FIXTURES, dir, 'vcek.pem'),
      '--nonce',
      N,
      '--policy',
      join(tmp, 'policy.json'),
      '--now',
      '2026-11-28T12:00:00Z',
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /freshness.*user-data is zero/);
    assert.deepEqual(r.stdout.split('\n').filter((l) => /FAIL/i.test(l)).length >= 2, true, r.stdout);
  });
});
