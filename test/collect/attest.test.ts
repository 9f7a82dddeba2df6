// attest() end to end on real vectors replayed through the file: transport, with certificates from
// the IMDS emulator on loopback, in-process and through the CLI (exit codes 0/1/2/3).
//   genoa (real Azure HCL report + its VCEK), no quote -> pass (freshness: skip). Its recorded quote is
//     not used: the vector's nonce.hex ("challenge") is not that quote's extraData (48 other bytes).
//   milan-v3-a (real Azure HCL report, VCEK, recorded quote) -> pass (freshness: warn, replayed)
//   negative/debug-enabled (bare SNP, DEBUG=1)       -> fail on policy.debug, everything else genuine
//   negative/hcl-report-foreign-vcek (another chip's VCEK served) -> fail on signature and chip-id
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startImdsEmulator, type ImdsEmulator, type ThimConfig } from '../emulators/imds.js';
import { attest } from '../../src/collect/attest.js';
import { parsePolicy, defaultPolicy } from '../../src/index.js';
import { cvmAttest, type Run } from '../helpers/cli.js';
import { fixture, fixturePath, text as fx } from '../helpers/fixtures.js';

const pemOf = (derFile: string): string => new X509Certificate(fixture(derFile)).toString();
const pemBlocks = (t: string): string[] => t.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
const now = new Date('2026-11-28T12:00:00Z');
const GENOA_VMID = '390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc';

const vectors: Record<string, { tpm: string; thim: ThimConfig }> = {
  genoa: {
    tpm: `file:${fixturePath('azure-hcl/genoa')}`,
    thim: { vcekPem: fx('azure-hcl/genoa/vcek.pem'), chainPem: fx('amd/ask_ark_genoa.pem'), tcbm: '541700000000000A' },
  },
  milan: {
    tpm: `file:${fixturePath('azure-hcl/milan-v3-a')}`,
    thim: { vcekPem: fx('azure-hcl/milan-v3-a/vcek.pem'), chainPem: fx('amd/ask_ark_milan.pem'), tcbm: 'DB18000000000004' },
  },
  debug: {
    tpm: `file:${fixturePath('negative/debug-enabled-report.bin')}`,
    thim: { vcekPem: pemOf('negative/debug-enabled-vcek.der'), chainPem: fx('amd/ask_ark_milan.pem'), tcbm: '4405000000000002' },
  },
  foreign: {
    tpm: `file:${fixturePath('negative/hcl-report-foreign-vcek.bin')}`,
    thim: { vcekPem: pemBlocks(fx('negative/hcl-report-foreign-vcek-chain.pem'))[0] ?? '', chainPem: fx('amd/ask_ark_milan.pem'), tcbm: '7308000000000003' },
  },
};

const statusOf = (r: { checks: readonly { id: string; status: string }[] }, id: string): string | undefined => r.checks.find((c) => c.id === id)?.status;

describe('attest() in-process', () => {
  const emulators: Record<string, ImdsEmulator> = {};
  before(async () => {
    for (const [k, v] of Object.entries(vectors)) emulators[k] = await startImdsEmulator({ thim: v.thim, vmId: GENOA_VMID });
  });
  after(() => Promise.all(Object.values(emulators).map((e) => e.close())));
  const run = (k: string, extra: Record<string, unknown> = {}) =>
    attest({
      tpm: vectors[k]?.tpm ?? '',
      imdsEndpoint: emulators[k]?.url ?? '',
      cacheDir: mkdtempSync(join(tmpdir(), 'cvm-attest-at-')),
      now,
      imds: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10, timeoutMs: 500 },
      ...extra,
    });

  test('genoa vector (no quote), its VCEK served by IMDS: pass; identity bound', async () => {
    const o = await run('genoa', { quote: false });
    assert.equal(o.result.verdict, 'pass', JSON.stringify(o.result.checks, null, 1));
    assert.equal(o.result.product, 'Genoa');
    for (const id of ['signature', 'chain', 'tcb', 'chip-id', 'runtime-data']) assert.equal(statusOf(o.result, id), 'pass', id);
    assert.equal(statusOf(o.result, 'freshness'), 'skip');
    assert.equal(o.evidence.quote, undefined, '--no-quote drops the recorded quote');
    assert.equal(o.identity?.vmId, GENOA_VMID);
    assert.equal(o.identity?.boundToReport, true);
    assert.equal(o.evidence.certificateSource, 'imds');
    assert.ok(o.timings.totalMs > 0 && o.timings.verifyMs > 0);
  });

  test('milan-v3-a vector with its recorded quote: pass; the replayed quote verifies but is only a freshness warning', async () => {
    const o = await run('milan');
    assert.equal(o.result.verdict, 'pass', JSON.stringify(o.result.checks, null, 1));
    assert.equal(o.result.product, 'Milan');
    assert.equal(statusOf(o.result, 'freshness'), 'warn');
    assert.match(o.result.checks.find((c) => c.id === 'freshness')?.reason ?? '', /replayed.*quote signed by HCLAkPub over the expected nonce/);
    assert.equal(o.identity?.boundToReport, false, "the emulator's vmId is the genoa VM's, not this report's");
  });

  test('a stale-cache fallback shows up in the result warnings', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'cvm-attest-at-'));
    await run('genoa', { quote: false, cacheDir });
    emulators.genoa?.setFault({ kind: 'status', status: 503 }, { path: 'thim' });
    try {
      const o = await run('genoa', { quote: false, cacheDir, now: new Date(now.getTime() + 2 * 86400_000) });
      assert.equal(o.result.verdict, 'pass');
      assert.equal(o.evidence.certificateSource, 'cache-stale');
      assert.match(o.result.warnings.join('\n'), /HTTP 503.*using the cached certificates fetched 2 days ago/);
      assert.deepEqual(o.warnings, o.evidence.warnings);
    } finally {
      emulators.genoa?.setFault(undefined);
    }
  });

  test('debug-enabled report (genuine signature and chain): fail on policy.debug only', async () => {
    const o = await run('debug');
    assert.equal(o.result.verdict, 'fail');
    assert.equal(statusOf(o.result, 'policy.debug'), 'fail');
    for (const id of ['signature', 'chain', 'tcb', 'chip-id']) assert.equal(statusOf(o.result, id), 'pass', id);
  });

  test("foreign-VCEK HCL report (another chip's VCEK served): fail on signature and chip-id; the VCEK is not cached", async () => {
    const o = await run('foreign');
    assert.equal(o.result.verdict, 'fail');
    assert.equal(statusOf(o.result, 'signature'), 'fail');
    assert.equal(statusOf(o.result, 'chip-id'), 'fail');
    assert.match(o.warnings.join('\n'), /not this report's.*not cached/);
  });

  test('a policy is applied (a minimum TCB above the genoa report fails it)', async () => {
    const strict = parsePolicy({ ...(JSON.parse(JSON.stringify(defaultPolicy)) as Record<string, unknown>), minimumTcb: { bootloader: 11 } });
    const o = await run('genoa', { quote: false, policy: strict });
    assert.equal(o.result.verdict, 'fail');
    assert.ok(
      o.result.checks.some((c) => c.group === 'policy' && c.status === 'fail'),
      JSON.stringify(o.result.checks.filter((c) => c.group === 'policy')),
    );
  });
});

const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => cvmAttest(args, { source: true, env });

describe('cvm-attest attest / collect (CLI)', () => {
  let genoa: ImdsEmulator;
  let milan: ImdsEmulator;
  let foreign: ImdsEmulator;
  before(async () => {
    genoa = await startImdsEmulator({ thim: vectors.genoa?.thim, vmId: GENOA_VMID });
    milan = await startImdsEmulator({ thim: vectors.milan?.thim, vmId: '26f8bc30-774e-4290-8e7a-535f3b672aee' });
    foreign = await startImdsEmulator({ thim: vectors.foreign?.thim });
  });
  after(async () => {
    await genoa.close();
    await milan.close();
    await foreign.close();
  });

  test('attest --format json on the genoa vector: exit 0, the verify result plus identity', async () => {
    const r = await cli([
      'attest',
      '--tpm',
      vectors.genoa?.tpm ?? '',
      '--imds-endpoint',
      genoa.url,
      '--cache-dir',
      mkdtempSync(join(tmpdir(), 'c-')),
      '--no-quote',
      '--format',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { verdict: string; checks: unknown[]; identity: { vmId: string; boundToReport: boolean } };
    assert.equal(j.verdict, 'pass');
    assert.ok(j.checks.length > 5);
    assert.equal(j.identity.vmId, GENOA_VMID);
    assert.equal(j.identity.boundToReport, true);
  });

  test('attest on the foreign-VCEK vector: exit 1', async () => {
    const r = await cli(['attest', '--tpm', vectors.foreign?.tpm ?? '', '--format', 'json', '--cache-dir', mkdtempSync(join(tmpdir(), 'c-'))], {
      CVM_ATTEST_IMDS_ENDPOINT: foreign.url,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { verdict: string }).verdict, 'fail');
  });

  test('attest with IMDS unreachable and nothing cached: exit 3, one line, no stack trace', async () => {
    const gone = await startImdsEmulator();
    const url = gone.url;
    await gone.close();
    const r = await cli(['attest', '--tpm', vectors.genoa?.tpm ?? '', '--imds-endpoint', url, '--cache-dir', mkdtempSync(join(tmpdir(), 'c-'))]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^cvm-attest: IMDS \/metadata\/THIM\/amd\/certification at 127\.0\.0\.1:\d+: connection failed: .*\[E_IMDS_UNREACHABLE\]\n$/);
  });

  test('bad input: exit 2 (bad nonce, missing policy file, bad endpoint, missing --out)', async () => {
    const base = ['--tpm', vectors.genoa?.tpm ?? '', '--imds-endpoint', genoa.url];
    for (const [args, re] of [
      [['collect', ...base, '--nonce', 'xyz', '--out', '/tmp/x'], /E_NONCE/],
      [['attest', ...base, '--policy', '/nonexistent/policy.json'], /E_POLICY_FILE/],
      [['attest', '--tpm', vectors.genoa?.tpm ?? '', '--imds-endpoint', 'https://127.0.0.1:1'], /E_IMDS_ENDPOINT/],
      [['collect', ...base], /out/],
    ] as [string[], RegExp][]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  test('collect --out writes a bundle; it replays (file:) and verifies offline (verify --bundle), tampering is exit 2', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'b-')), 'bundle');
    const r = await cli([
      'collect',
      '--tpm',
      vectors.milan?.tpm ?? '',
      '--imds-endpoint',
      milan.url,
      '--cache-dir',
      mkdtempSync(join(tmpdir(), 'c-')),
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /bundle written to/);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: Record<string, unknown>; replayed: boolean };
    assert.deepEqual(Object.keys(m.files).sort(), [
      'chain.pem',
      'hcl-report.bin',
      'instance.json',
      'nonce.hex',
      'pcrs.json',
      'quote.msg',
      'quote.sig',
      'vcek.pem',
    ]);
    assert.equal(m.replayed, true);
    // the bundle replays through the file: transport too
    const again = await cli([
      'attest',
      '--tpm',
      `file:${out}`,
      '--imds-endpoint',
      milan.url,
      '--cache-dir',
      mkdtempSync(join(tmpdir(), 'c-')),
      '--format',
      'json',
    ]);
    assert.equal(again.code, 0, again.stderr);

    // verify --bundle, offline: no IMDS, no TPM.
    const v = await cli(['verify', '--bundle', out, '--format', 'json']);
    assert.equal(v.code, 0, v.stderr);
    const vj = JSON.parse(v.stdout) as { verdict: string; checks: { id: string; status: string }[] };
    assert.equal(vj.checks.find((c) => c.id === 'freshness')?.status, 'warn', "a recorded quote without the verifier's own nonce is only a warning");
    // The verifier's own nonce: the one the quote carries -> fresh; any other -> a stale/foreign quote, fail.
    const mine = await cli(['verify', '--bundle', out, '--nonce', '6368616c6c656e6765', '--format', 'json']);
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal((JSON.parse(mine.stdout) as typeof vj).checks.find((c) => c.id === 'freshness')?.status, 'pass');
    const stale = await cli(['verify', '--bundle', out, '--nonce', '00112233', '--format', 'json']);
    assert.equal(stale.code, 1, stale.stderr);
    assert.equal((JSON.parse(stale.stdout) as typeof vj).checks.find((c) => c.id === 'freshness')?.status, 'fail');
    // --bundle replaces the evidence options.
    const clash = await cli(['verify', '--bundle', out, '--evidence', join(out, 'hcl-report.bin')]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /--bundle supplies the evidence.*--evidence/);
    // One changed byte: input error, exit 2, naming the file.
    const b = readFileSync(join(out, 'hcl-report.bin'));
    b.writeUInt8(b.readUInt8(100) ^ 1, 100);
    writeFileSync(join(out, 'hcl-report.bin'), b);
    const bad = await cli(['verify', '--bundle', out]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bundle file hcl-report.bin does not match its SHA-256 .*\[E_BUNDLE_DIGEST\]/);
  });
});
