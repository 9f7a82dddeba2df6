// attest() live against swtpm (provisioned like an Azure vTPM by scripts/swtpm-sim.ts with the real
// 2048-byte HCL dump negative/hcl-report-foreign-vcek.bin) and the IMDS emulator serving that dump's
// VCEK chain. That VCEK is ANOTHER chip's, and swtpm's AK is not the HCLAkPub signed into the dump,
// so a correct verdict is FAIL, on:
//   signature + chip-id (wrong VCEK), and freshness (the quote, though genuine and over our fresh
//   nonce, is not signed by the AK bound into the report).
// What passes here proves the collector: NV bytes equal the dump, the quote verifies with the
// simulator's AK and carries our nonce, evidence is live (not replayed).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createPublicKey, verify } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../scripts/swtpm-sim.js';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/imds.js';
import { attest } from '../../src/collect/attest.js';
import { parseTpmsAttest } from '../../src/index.js';
import { CvmAttestError, ExitCode } from '../../src/base/errors.js';
import { cvmAttest, type Run } from '../helpers/cli.js';
import { fixture, text } from '../helpers/fixtures.js';

const dump = fixture('negative/hcl-report-foreign-vcek.bin');
const chainPem = text('negative/hcl-report-foreign-vcek-chain.pem');
const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
const now = new Date('2026-11-28T12:00:00Z');

const cli = (args: string[]): Promise<Run> => cvmAttest(args, { source: true });

describe('attest against swtpm + IMDS emulator (foreign-VCEK dump: verdict must be fail)', () => {
  let sim: Simulator;
  let imds: ImdsEmulator;
  before(async () => {
    sim = await startSimulator({ dir: mkdtempSync(join(tmpdir(), 'swtpm-at-')) });
    imds = await startImdsEmulator({ thim: { vcekPem: blocks[0] ?? '', chainPem: (blocks[1] ?? '') + (blocks[2] ?? ''), tcbm: '7308000000000003' } });
  });
  after(async () => {
    await imds?.close();
    await sim?.stop();
  });

  test('live collection is right; the verdict fails on signature, chip-id and the AK binding of the quote', async () => {
    const nonce = new Uint8Array(32).map((_v, i) => i * 7);
    const o = await attest({ tpm: sim.transport, imdsEndpoint: imds.url, cacheDir: mkdtempSync(join(tmpdir(), 'c-')), nonce, now });
    // The collector's part (must hold).
    assert.equal(o.evidence.replayed, false);
    const size = dump.readUInt32LE(8);
    assert.deepEqual(Buffer.from(o.evidence.hclReport), dump.subarray(0, size), 'NV bytes (meaningful length) equal the dump');
    const q = o.evidence.quote;
    assert.ok(q, 'a fresh quote was taken');
    assert.ok(verify('sha256', q.message, createPublicKey(sim.akPublicPem), q.signature), 'the quote verifies with the simulator AK');
    assert.deepEqual(Buffer.from(parseTpmsAttest(q.message).extraData), Buffer.from(nonce), 'the quote carries our nonce');
    assert.deepEqual(q.pcrSelection, [0, 1, 2, 3, 4, 5, 6, 7]);
    // The verdict (must fail, for these reasons).
    const st = (id: string) => o.result.checks.find((c) => c.id === id);
    assert.equal(o.result.verdict, 'fail');
    assert.equal(st('signature')?.status, 'fail', 'the report is not signed by the served VCEK');
    assert.equal(st('chip-id')?.status, 'fail', "the served VCEK is another chip's");
    assert.equal(st('runtime-data')?.status, 'pass', 'the runtime data hash in the dump is right');
    assert.equal(st('freshness')?.status, 'fail');
    assert.match(st('freshness')?.reason ?? '', /does not verify with HCLAkPub/, 'the AK binding reports the mismatch');
    assert.ok(o.timings.tpmMs > 0);
  });

  test('collect --nonce via the CLI, then verify --bundle with that nonce: exit 1 for the same reasons', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'b-')), 'bundle');
    const nonceHex = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const c = await cli([
      'collect',
      '--tpm',
      sim.transport,
      '--imds-endpoint',
      imds.url,
      '--cache-dir',
      mkdtempSync(join(tmpdir(), 'c-')),
      '--nonce',
      nonceHex,
      '--out',
      out,
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(readFileSync(join(out, 'nonce.hex'), 'utf8').trim(), nonceHex);
    const v = await cli(['verify', '--bundle', out, '--nonce', nonceHex, '--format', 'json']);
    assert.equal(v.code, 1, v.stderr);
    const j = JSON.parse(v.stdout) as { checks: { id: string; status: string; reason: string }[] };
    assert.equal(j.checks.find((x) => x.id === 'signature')?.status, 'fail');
    assert.match(j.checks.find((x) => x.id === 'freshness')?.reason ?? '', /HCLAkPub/);
  });

  test('no TPM (device path absent): CollectionError, exit 3', async () => {
    await assert.rejects(
      attest({ tpm: 'device:/nonexistent/tpmrm0', imdsEndpoint: imds.url, cacheDir: mkdtempSync(join(tmpdir(), 'c-')) }),
      (e: unknown) => e instanceof CvmAttestError && e.exitCode === ExitCode.Collection,
    );
  });
});
