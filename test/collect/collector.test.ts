// collectEvidence() with the file: transport (the real genoa vector, replayed) and the IMDS emulator
// on loopback: certificate source (IMDS, fresh cache, stale cache after each IMDS fault), the tcbm
// and chip guards, the identity binding. Each IMDS fault must end in a retry, cache use or a clear
// CollectionError (exit 3), never a hang.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { startImdsEmulator, type ImdsEmulator, type ThimConfig, defaultThim } from '../emulators/imds.js';
import { collectEvidence, type CollectOptions } from '../../src/collect/collector.js';
import { CertificateCache } from '../../src/collect/cert-cache.js';
import { formatTcbm } from '../../src/input/thim.js';
import { parseEvidence } from '../../src/platform/snp/evidence.js';
import { CvmAttestError, ExitCode } from '../../src/base/errors.js';
import { fixture, fixturePath, text } from '../helpers/fixtures.js';

const genoaDir = fixturePath('azure-hcl/genoa');
const genoaReport = parseEvidence(fixture('azure-hcl/genoa/hcl-report.bin')).report;
const genoaThim: ThimConfig = {
  vcekPem: text('azure-hcl/genoa/vcek.pem'),
  chainPem: text('amd/ask_ark_genoa.pem'),
  tcbm: formatTcbm(genoaReport.reportedTcb.raw),
  cacheControl: '3600',
};
const foreignChain = text('negative/hcl-report-foreign-vcek-chain.pem');
const pemBlocks = (t: string): string[] => t.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
/** Another chip's (Milan) VCEK presented with the genoa report's tcbm: passes the tcbm guard, fails the chip guard. */
const foreignVcekThim: ThimConfig = { vcekPem: pemBlocks(foreignChain)[0] ?? '', chainPem: genoaThim.chainPem, tcbm: genoaThim.tcbm };

async function collectionError(p: Promise<unknown>, code: string): Promise<CvmAttestError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CvmAttestError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.exitCode, ExitCode.Collection);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('collectEvidence: file: transport + IMDS emulator', () => {
  let imds: ImdsEmulator;
  before(async () => {
    imds = await startImdsEmulator({ thim: genoaThim, vmId: '390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc' });
  });
  after(() => imds.close());
  const t0 = new Date('2026-11-28T12:00:00Z');
  const opts = (cacheDir: string, extra: Partial<CollectOptions> = {}): CollectOptions => ({
    tpm: `file:${genoaDir}`,
    imdsEndpoint: imds.url,
    imds: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10, timeoutMs: 300, connectTimeoutMs: 300 },
    cacheDir,
    now: t0,
    ...extra,
  });
  const thimRequests = (): number => imds.requests.filter((r) => r.path.includes('THIM')).length;
  const newCache = (): string => mkdtempSync(join(tmpdir(), 'cvm-attest-collect-'));

  test('IMDS certificates are fetched, checked and cached; then served from the fresh cache without asking IMDS', async () => {
    imds.setFault(undefined);
    const dir = newCache();
    const n = thimRequests();
    const ev = await collectEvidence(opts(dir));
    assert.equal(ev.certificateSource, 'imds');
    assert.equal(ev.vcekPem.trim(), genoaThim.vcekPem.trim());
    assert.equal(ev.replayed, true);
    assert.deepEqual(Buffer.from(ev.quote?.nonce ?? []).toString(), 'challenge', 'the replayed quote comes with its recorded nonce');
    assert.equal(ev.instance?.boundToReport, true, 'IMDS vmId equals the vmUniqueId signed into the report');
    assert.deepEqual(ev.warnings, []);
    assert.equal(thimRequests(), n + 1);
    const again = await collectEvidence(opts(dir, { now: new Date(t0.getTime() + 60_000) }));
    assert.equal(again.certificateSource, 'cache');
    assert.equal(thimRequests(), n + 1, 'a fresh cache entry means no THIM request');
    // Past cacheControl (3600 s): IMDS is asked again.
    const later = await collectEvidence(opts(dir, { now: new Date(t0.getTime() + 3700_000) }));
    assert.equal(later.certificateSource, 'imds');
    assert.equal(thimRequests(), n + 2);
  });

  for (const [label, fault] of [
    ['500', { kind: 'status', status: 500 }],
    ['429 + Retry-After', { kind: 'status', status: 429, retryAfter: '0' }],
    ['404', { kind: 'status', status: 404 }],
    ['hang past the timeout', { kind: 'hang' }],
    ['truncated JSON (cut connection)', { kind: 'truncate' }],
    ['truncated JSON (complete response)', { kind: 'bad-json' }],
    ['wrong certificate (other TCB)', { kind: 'wrong-cert', thim: defaultThim() }],
  ] as const) {
    test(`${label}: a stale cached certificate is used, with a warning`, async () => {
      imds.setFault(undefined);
      const dir = newCache();
      await collectEvidence(opts(dir));
      imds.setFault(fault, { path: 'thim' });
      const started = Date.now();
      const ev = await collectEvidence(opts(dir, { now: new Date(t0.getTime() + 7200_000) }));
      assert.ok(Date.now() - started < 3000, 'bounded time');
      assert.equal(ev.certificateSource, 'cache-stale');
      assert.equal(ev.vcekPem.trim(), genoaThim.vcekPem.trim());
      assert.equal(ev.warnings.length, 1);
      assert.match(ev.warnings[0] ?? '', /using the cached certificates fetched 2 h ago/);
      imds.setFault(undefined);
    });
    test(`${label}: nothing cached -> CollectionError (exit 3)`, async () => {
      imds.setFault(fault, { path: 'thim' });
      const code =
        fault.kind === 'status'
          ? (({ 500: 'E_IMDS_SERVER', 429: 'E_IMDS_THROTTLED', 404: 'E_IMDS_NOT_FOUND' } as Record<number, string>)[fault.status] ?? '')
          : fault.kind === 'hang'
            ? 'E_IMDS_TIMEOUT'
            : fault.kind === 'truncate'
              ? 'E_IMDS_UNREACHABLE'
              : fault.kind === 'bad-json'
                ? 'E_IMDS_BAD_RESPONSE'
                : 'E_THIM_TCBM_MISMATCH';
      const dir = newCache();
      const e = await collectionError(collectEvidence(opts(dir)), code);
      if (code === 'E_THIM_TCBM_MISMATCH') {
        assert.match(e.message, /VCEK for TCB 7308000000000003 but the report's REPORTED_TCB is/);
        assert.equal(
          existsSync(new CertificateCache(dir).fileFor({ product: genoaReport.product, chipId: genoaReport.chipId, reportedTcb: genoaReport.reportedTcb.raw })),
          false,
          'wrong certificate not cached',
        );
      }
      imds.setFault(undefined);
    });
  }

  test("another chip's VCEK (right tcbm): not cached, handed to the verifier with a warning", async () => {
    imds.setFault({ kind: 'wrong-cert', thim: foreignVcekThim }, { path: 'thim' });
    const dir = newCache();
    const ev = await collectEvidence(opts(dir));
    assert.equal(ev.vcekPem, foreignVcekThim.vcekPem.endsWith('\n') ? foreignVcekThim.vcekPem : foreignVcekThim.vcekPem + '\n');
    assert.match(ev.warnings.join('\n'), /not this report's: the VCEK's hwID is another chip's.*not cached/);
    const key = { product: genoaReport.product, chipId: genoaReport.chipId, reportedTcb: genoaReport.reportedTcb.raw };
    assert.equal(await new CertificateCache(dir).get(key), undefined);
    imds.setFault(undefined);
  });

  test('instance metadata failing only costs the identity (warning), not the evidence', async () => {
    imds.setFault({ kind: 'status', status: 404 }, { path: 'instance' });
    const ev = await collectEvidence(opts(newCache()));
    assert.equal(ev.instance, undefined);
    assert.match(ev.warnings.join('\n'), /VM identity unavailable: .*HTTP 404/);
    imds.setFault(undefined);
  });

  test("an identity that is not the report's vmUniqueId is flagged", async () => {
    const other = await startImdsEmulator({ thim: genoaThim, vmId: 'baefd3e1-184b-4c4c-ab88-0bdad260505f' });
    try {
      const ev = await collectEvidence({ ...opts(newCache()), imdsEndpoint: other.url });
      assert.equal(ev.instance?.boundToReport, false);
      assert.match(ev.warnings.join('\n'), /differs from the vmUniqueId signed into the report/);
    } finally {
      await other.close();
    }
  });

  test('IMDS down entirely and nothing cached: E_IMDS_UNREACHABLE (exit 3)', async () => {
    const gone = await startImdsEmulator();
    const url = gone.url;
    await gone.close();
    await collectionError(collectEvidence({ ...opts(newCache()), imdsEndpoint: url }), 'E_IMDS_UNREACHABLE');
  });

  test('when the TPM fails, the identity fetch still running is cancelled (no background retries)', async () => {
    imds.setFault({ kind: 'hang' }, { path: 'instance' });
    // A "TPM" that accepts the connection and drops it after 200 ms: by then the identity request hangs.
    const tpm = net.createServer((s) => {
      setTimeout(() => s.destroy(), 200);
    });
    await new Promise<void>((r) => tpm.listen(0, '127.0.0.1', r));
    const port = (tpm.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      await assert.rejects(
        collectEvidence({ ...opts(newCache()), tpm: `swtpm:host=127.0.0.1,port=${port}`, imds: { timeoutMs: 30_000 } }),
        (e: unknown) => e instanceof CvmAttestError && e.exitCode === ExitCode.Collection,
      );
      assert.ok(Date.now() - started < 2000);
      assert.ok(
        imds.requests.some((r) => r.path.startsWith('/metadata/instance') && r.status === 0),
        'the identity request was hanging',
      );
      for (let i = 0; i < 50 && imds.openConnections > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(imds.openConnections, 0, 'the hanging identity request was closed by the collector');
    } finally {
      tpm.close();
      imds.setFault(undefined);
    }
  });

  test('an AbortSignal ends a hanging collection promptly', async () => {
    imds.setFault({ kind: 'hang' });
    const started = Date.now();
    await assert.rejects(
      collectEvidence({ ...opts(newCache()), imds: { timeoutMs: 30_000 }, signal: AbortSignal.timeout(200) }),
      (e: unknown) => e instanceof CvmAttestError && e.code === 'E_IMDS_ABORTED',
    );
    assert.ok(Date.now() - started < 2000);
    imds.setFault(undefined);
  });
});
