// Collection on an Intel TDX CVM, replayed: the real DCesv5 HCL report through the file: transport,
// the TD quote from the IMDS emulator's POST /acc/tdquote, collateral from files, or from the PCS
// emulator through the disk cache; bundles that `verify --bundle` checks offline; the CLI end to end.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/imds.js';
import { startPcsEmulator, type PcsEmulator } from '../emulators/pcs.js';
import { attest } from '../../src/collect/attest.js';
import { collectEvidence } from '../../src/collect/collector.js';
import { readBundle, writeBundle } from '../../src/collect/bundle.js';
import { verifyBundleDir } from '../../src/cli/bundle-verify.js';
import { CollectionError } from '../../src/base/errors.js';
import { COLLATERAL_NAMES, TDX_NOW } from '../tdx/helpers.js';
import { cvmAttest, type Run } from '../helpers/cli.js';
import { fixture, fixturePath } from '../helpers/fixtures.js';

const HCL = fixturePath('azure-tdx/hcl-report.bin');
const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 10, timeoutMs: 2000 };

const cli = (args: string[]): Promise<Run> => cvmAttest(args, { source: true });

describe('TDX collection', () => {
  let imds: ImdsEmulator;
  let pcs: PcsEmulator;
  let tmp: string;
  let colDir: string;
  before(async () => {
    imds = await startImdsEmulator({ vmId: '6332533d-5649-4d02-8aa7-8f64b7c3ee21' });
    pcs = await startPcsEmulator();
    tmp = mkdtempSync(join(tmpdir(), 'cvm-tdx-collect-'));
    colDir = join(tmp, 'collateral');
    mkdirSync(colDir);
    for (const n of COLLATERAL_NAMES) copyFileSync(fixturePath(`intel/${n}`), join(colDir, n));
  });
  after(async () => {
    await imds.close();
    await pcs.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  const base = () => ({
    tpm: `file:${HCL}`,
    imdsEndpoint: imds.url,
    cacheDir: mkdtempSync(join(tmp, 'cache-')),
    now: TDX_NOW,
    imds: fast,
    pcs: { attempts: 2, baseDelayMs: 5 },
  });

  test('attest: the guest parts are kept on TDX too: the event log goes to the evidence, the bundle and the event-log check', async () => {
    const log = fixturePath('eventlog/ubuntu-2404-amd-sevsnp.bin');
    const o = await attest({ ...base(), collateral: [colDir], eventLog: log });
    assert.deepEqual(Buffer.from(o.evidence.eventLog!), readFileSync(log));
    const c = o.result.checks.find((x) => x.id === 'event-log')!;
    assert.equal(c.status, 'warn', 'a replay has no quote to judge the log against');
    assert.match(c.reason, /no verified quote/);
    const dir = join(tmp, 'bundle-guest');
    await writeBundle(dir, o.evidence);
    assert.deepEqual(readFileSync(join(dir, 'eventlog.bin')), readFileSync(log));
  });

  test('attest: the TD quote from POST /acc/tdquote, collateral from a folder: pass, identity bound', async () => {
    const before = imds.requests.length;
    const o = await attest({ ...base(), collateral: [colDir] });
    assert.equal(o.result.verdict, 'pass', JSON.stringify(o.result.checks));
    assert.equal(o.result.platform, 'TDX');
    assert.deepEqual(Buffer.from(o.evidence.tdQuote!), fixture('azure-tdx/td-quote.bin'));
    assert.equal(o.evidence.certificateSource, 'files');
    const r = imds.requests.slice(before).find((x) => x.path === '/acc/tdquote');
    assert.equal(r?.method, 'POST');
    assert.equal(r?.headers.metadata, 'true');
    assert.equal(r?.headers['content-type'], 'application/json');
    assert.equal(o.identity?.boundToReport, true);
  });

  test('IMDS failures: a 500 is retried; 404 and a TD report IMDS refuses are exit-3 collection errors', async () => {
    imds.setFault({ kind: 'status', status: 500 }, { path: 'tdquote', times: 1 });
    assert.equal((await attest({ ...base(), collateral: [colDir] })).result.verdict, 'pass');
    imds.setFault({ kind: 'status', status: 404 }, { path: 'tdquote' });
    await assert.rejects(
      attest({ ...base(), collateral: [colDir] }),
      (e: unknown) => e instanceof CollectionError && e.code === 'E_IMDS_NOT_FOUND' && e.exitCode === 3,
    );
    imds.setFault({ kind: 'bad-json' }, { path: 'tdquote' });
    await assert.rejects(attest({ ...base(), collateral: [colDir] }), (e: unknown) => e instanceof CollectionError && e.code === 'E_IMDS_BAD_RESPONSE');
    imds.setFault(undefined);
    await assert.rejects(
      attest({ ...base(), tpm: `file:${fixturePath('azure-tdx/hcl-report-tdx-noquote.bin')}`, collateral: [colDir] }),
      (e: unknown) => e instanceof CollectionError && e.code === 'E_IMDS_HTTP',
    );
  });

  test('collateral from PCS through the cache: fetched once, then served from the cache; stale cache kept when PCS fails', async () => {
    const cacheDir = mkdtempSync(join(tmp, 'pcs-cache-'));
    const n0 = pcs.requests.length;
    const a = await attest({ ...base(), cacheDir, pcsEndpoint: pcs.url });
    assert.equal(a.result.verdict, 'pass', JSON.stringify(a.result.checks));
    assert.equal(a.evidence.certificateSource, 'pcs');
    const paths = pcs.requests
      .slice(n0)
      .map((r) => r.path)
      .sort();
    assert.deepEqual(paths, [
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/sgx/certification/v4/rootcacrl',
      '/tdx/certification/v4/qe/identity',
      '/tdx/certification/v4/tcb?fmspc=00806f050000',
    ]);
    assert.ok(existsSync(join(cacheDir, 'tdx', '00806f050000-platform', 'manifest.json')));
    const n1 = pcs.requests.length;
    const b = await attest({ ...base(), cacheDir, pcsEndpoint: pcs.url });
    assert.equal(b.evidence.certificateSource, 'cache');
    assert.equal(pcs.requests.length, n1, 'a fresh cache is not refetched');
    pcs.setStatus(503, 100);
    const c = await attest({ ...base(), cacheDir, pcsEndpoint: pcs.url, now: new Date('2025-03-16T00:00:00Z') });
    pcs.setStatus(200, 0);
    assert.equal(c.evidence.certificateSource, 'cache-stale');
    assert.ok(
      c.result.warnings.some((w) => /PCS .* HTTP 503.*using the cached collateral/.test(w)),
      c.result.warnings.join('\n'),
    );
    await assert.rejects(
      attest({ ...base(), cacheDir: mkdtempSync(join(tmp, 'empty-')), pcsEndpoint: 'http://127.0.0.1:1' }),
      (e: unknown) => e instanceof CollectionError && e.code === 'E_PCS_UNREACHABLE',
    );
  });

  test('a bundle holds td-quote.bin and the collateral; verify --bundle works on it offline', async () => {
    const ev = await collectEvidence({ ...base(), collateral: [colDir] });
    const dir = join(tmp, 'bundle');
    const m = await writeBundle(dir, ev);
    assert.ok(m.files['td-quote.bin']);
    assert.equal(Object.keys(m.files).filter((k) => k.startsWith('collateral-')).length, COLLATERAL_NAMES.length);
    assert.ok(!readdirSync(dir).includes('vcek.pem'));
    const back = await readBundle(dir);
    assert.equal(back.evidence.collateral?.length, COLLATERAL_NAMES.length);
    const r = await verifyBundleDir(dir, {}, TDX_NOW);
    assert.equal(r.verdict, 'pass', JSON.stringify(r.checks));
    assert.equal(r.platform, 'TDX');
    const cl = await cli(['verify', '--bundle', dir, '--now', '2025-03-01T00:00:00Z']);
    assert.equal(cl.code, 0, cl.stderr);
    assert.match(cl.stdout, /Intel TDX/);
  });

  test('CLI: attest --tpm file:HCL --imds-endpoint URL --collateral DIR (real clock: stale collateral warns)', async () => {
    const r = await cli(['attest', '--tpm', `file:${HCL}`, '--imds-endpoint', imds.url, '--collateral', colDir, '--cache-dir', join(tmp, 'cli-cache')]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^Verdict: PASS {3}Intel TDX/);
    assert.match(r.stdout, /\[WARN\] collateral.freshness/);
    const bad = await cli(['attest', '--tpm', `file:${HCL}`, '--imds-endpoint', 'http://127.0.0.1:1', '--collateral', colDir]);
    assert.equal(bad.code, 3, bad.stderr);
  });
});
