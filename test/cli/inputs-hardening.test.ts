// Issue 9 (inputs share): every file input is read bounded from one descriptor, never through a
// symlink in a bundle; escapes in evidence never reach the terminal raw; deep JSON is refused; usage
// errors are one clear line. Each test spawns the real CLI (through tsx) on real vectors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOW } from '../verify/fixtures.js';
import { cvmAttest, ROOT, type Run } from '../helpers/cli.js';
import { fixturePath as F } from '../helpers/fixtures.js';
import { writeBundle } from '../../src/collect/bundle.js';
import { readReplay } from '../../src/collect/tpm/file-replay.js';
import { renderText, renderIdentity } from '../../src/cli/render-text.js';
import { verifyEvidenceSync } from '../../src/verify/verify-evidence.js';
import { hostileResult } from '../report/hostile-result.js';
import { isCvmAttestError } from '../../src/base/errors.js';

const hcl = 'azure-hcl/milan-v3-a';

const cli = (args: string[], timeoutMs = 120_000): Promise<Run> => cvmAttest(args, { source: true, nodeArgs: ['--max-old-space-size=512'], timeoutMs });
const verify = (...a: string[]): Promise<Run> => cli(['verify', ...a]);

function oneLine(r: Run, code: number, ...mention: (string | RegExp)[]): void {
  assert.equal(r.killed, false, 'the command hung and was killed');
  assert.equal(r.code, code, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^cvm-attest: .+ \[E_[A-Z_]+\]$/);
  for (const m of mention) assert.ok(typeof m === 'string' ? r.stderr.includes(m) : m.test(r.stderr), `stderr should mention ${String(m)}: ${r.stderr}`);
}

/** No raw control character (other than the layout's newlines) and no bidi override. */
function noRawControls(s: string): void {
  assert.doesNotMatch(s, /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/, JSON.stringify(s.slice(0, 400)));
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cvm-h9-inputs-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function bundleOf(name: string, warnings: string[] = []): Promise<string> {
  const dir = join(tmp, name);
  await writeBundle(dir, {
    hclReport: readFileSync(F(`${hcl}/hcl-report.bin`)),
    vcekPem: readFileSync(F(`${hcl}/vcek.pem`), 'utf8'),
    chainPem: readFileSync(F('amd/ask_ark_milan.pem'), 'utf8'),
    warnings,
    replayed: false,
    transport: 'test',
    certificateSource: 'imds',
  });
  return dir;
}

describe('item 4: bounded reads of every file input', () => {
  it('--evidence /dev/zero: refused at once as not a regular file (exit 2)', async () => {
    oneLine(await verify('--evidence', '/dev/zero', '--vcek', F(`${hcl}/vcek.pem`)), 2, '/dev/zero', 'not a regular file');
  });
  it('--evidence /proc/self/pagemap (st_size 0, endless content): refused past the cap (exit 2)', async () => {
    oneLine(await verify('--evidence', '/proc/self/pagemap', '--vcek', F(`${hcl}/vcek.pem`)), 2, 'pagemap', 'too large');
  });
  it('--policy /dev/urandom: refused (exit 2)', async () => {
    oneLine(
      await verify('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', F(`${hcl}/vcek.pem`), '--policy', '/dev/urandom'),
      2,
      '/dev/urandom',
      'not a regular file',
    );
  });
  it('a FIFO as --evidence or --vcek does not hang', async () => {
    const fifo = join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    oneLine(await verify('--evidence', fifo, '--vcek', F(`${hcl}/vcek.pem`)), 2, 'FIFO');
    oneLine(await verify('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', fifo), 2, 'FIFO');
  });
  it('/etc/passwd as evidence: one line, exit 2', async () => {
    oneLine(await verify('--evidence', '/etc/passwd', '--vcek', F(`${hcl}/vcek.pem`)), 2, '/etc/passwd');
  });
  it('a bundle member symlinked to a file outside the bundle is refused, even with the right bytes', async () => {
    const dir = await bundleOf('b-link');
    assert.equal((await verify('--bundle', dir, '--now', NOW.toISOString())).code, 0, 'the untouched bundle passes');
    const outside = join(tmp, 'outside-vcek.pem');
    copyFileSync(join(dir, 'vcek.pem'), outside);
    unlinkSync(join(dir, 'vcek.pem'));
    symlinkSync(outside, join(dir, 'vcek.pem'));
    oneLine(await verify('--bundle', dir, '--now', NOW.toISOString()), 2, 'vcek.pem', 'symbolic link');
    unlinkSync(join(dir, 'vcek.pem'));
    symlinkSync('/etc/passwd', join(dir, 'vcek.pem'));
    oneLine(await verify('--bundle', dir), 2, 'symbolic link');
  });
  it('a bundle member that is a FIFO does not hang', async () => {
    const dir = await bundleOf('b-fifo');
    unlinkSync(join(dir, 'chain.pem'));
    execFileSync('mkfifo', [join(dir, 'chain.pem')]);
    oneLine(await verify('--bundle', dir), 2, 'chain.pem', 'FIFO');
  });
  it('the file: replay transport reads bounded too', async () => {
    for (const p of ['/dev/zero', '/proc/self/pagemap']) {
      await assert.rejects(readReplay(p), (e: unknown) => isCvmAttestError(e) && e.exitCode === 2 && /regular file|too large/.test(e.message));
    }
  });
});

describe('item 5: control characters never reach text output raw', () => {
  const ESC = '\u001b[2J\u001b[1;1HVerdict: PASS\u0007\u009b\u202e';
  it('renderText escapes check reasons, warnings, subjects and runtime data', () => {
    const r = hostileResult();
    const hostile = {
      ...r,
      checks: r.checks.map((c) => ({ ...c, reason: c.reason + ESC })),
      warnings: [`bundle: ${ESC}`],
      product: `Genoa${ESC}` as 'Genoa',
      claims: { ...r.claims, 'x-ms-runtime': { 'vm-configuration': { vmUniqueId: ESC, 'secure-boot': ESC } } },
      certificates: r.certificates.map((c) => ({ ...c, subject: `CN=${ESC}`, subjectCn: ESC })),
    };
    const out = renderText(hostile);
    noRawControls(out);
    assert.ok(out.includes('\\x1b[2J'), 'the escape is shown, visibly');
  });
  it('the certificate CN comes from the parsed subject, not a CN= inside another attribute', () => {
    const r = hostileResult();
    const out = renderText({
      ...r,
      certificates: [{ ...r.certificates[0]!, subject: 'O=Evil CN=ARK-Milan, CN=SEV-VCEK', subjectCn: 'SEV-VCEK', pinned: false }],
    });
    assert.match(out, /VCEK +SEV-VCEK /);
    assert.doesNotMatch(out, /ARK-Milan/);
  });
  it('the IMDS identity lines are escaped', () => {
    const out = renderIdentity({
      vmId: ESC,
      name: ESC,
      vmSize: ESC,
      location: ESC,
      resourceId: ESC,
      subscriptionId: 's',
      resourceGroupName: 'g',
      boundToReport: false,
    });
    noRawControls(out);
  });
  it('bundle manifest warnings reach stdout escaped', async () => {
    const dir = await bundleOf('b-warn', [`cached certificate ${ESC}`]);
    const r = await verify('--bundle', dir, '--now', NOW.toISOString());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cached certificate \\x1b\[2J/);
    noRawControls(r.stdout);
  });
  it('an error message quoting input (a policy key) is escaped', async () => {
    const p = join(tmp, 'esc-policy.json');
    writeFileSync(p, JSON.stringify({ [`x${ESC}`]: true }));
    const r = await verify('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', F(`${hcl}/vcek.pem`), '--policy', p);
    oneLine(r, 2, 'esc-policy.json');
    noRawControls(r.stderr.trimEnd());
  });
  it('a file name with control characters is escaped in the error', async () => {
    const r = await verify('--evidence', join(tmp, `no\u001b]0;pwned\u0007pe`), '--vcek', F(`${hcl}/vcek.pem`));
    oneLine(r, 2, 'ENOENT');
    noRawControls(r.stderr.trimEnd());
  });
});

/** The milan-v3-a HCL report with its runtime data replaced by `runtime` and REPORT_DATA re-bound to it (the signature then fails). */
function rebind(runtime: Buffer): Buffer {
  const orig = readFileSync(F(`${hcl}/hcl-report.bin`));
  const REQ = 0x20 + 1184;
  const hashType = ({ 1: 'sha256', 2: 'sha384', 3: 'sha512' } as Record<number, string>)[orig.readUInt32LE(REQ + 12)]!;
  const out = Buffer.concat([orig.subarray(0, REQ + 20), runtime]);
  out.writeUInt32LE(REQ + 20 + runtime.length, 8);
  out.writeUInt32LE(20 + runtime.length, REQ);
  out.writeUInt32LE(runtime.length, REQ + 16);
  const rd = Buffer.alloc(64);
  createHash(hashType).update(runtime).digest().copy(rd);
  rd.copy(out, 0x20 + 0x50);
  return out;
}

describe('item 6: deep JSON', () => {
  it('runtime data nested 20,000 levels, --format json: a clear failure (exit 1), not an internal error', async () => {
    const deep = Buffer.from(`{"keys":[],"x":${'['.repeat(20000)}${']'.repeat(20000)}}`);
    const ev = join(tmp, 'deep-hcl.bin');
    writeFileSync(ev, rebind(deep));
    const r = await verify('--evidence', ev, '--vcek', F(`${hcl}/vcek.pem`), '--format', 'json');
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout) as { checks: { id: string; status: string; reason: string }[]; claims: Record<string, unknown> };
    const rt = j.checks.find((c) => c.id === 'runtime-data');
    assert.equal(rt?.status, 'fail');
    assert.match(rt?.reason ?? '', /nested more than \d+ levels/);
    assert.equal(j.claims['x-ms-runtime'], undefined);
  });
  it('a deeply nested policy file: E_POLICY_FILE, exit 2', async () => {
    const p = join(tmp, 'deep-policy.json');
    writeFileSync(p, `{"allowDebug":false,"x":${'['.repeat(100000)}${']'.repeat(100000)}}`);
    oneLine(await verify('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', F(`${hcl}/vcek.pem`), '--policy', p), 2, 'nested more than', 'deep-policy.json');
  });
  it('a deeply nested THIM body as --vcek: exit 2', async () => {
    const p = join(tmp, 'deep-thim.json');
    writeFileSync(p, `{"vcekCert":"x","tcbm":"0000000000000000","z":${'['.repeat(100000)}${']'.repeat(100000)}}`);
    oneLine(await verify('--evidence', F(`${hcl}/hcl-report.bin`), '--vcek', p), 2, 'nested more than');
  });
  it('a deeply nested bundle manifest: exit 2', async () => {
    const dir = await bundleOf('b-deep');
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m).replace(/}$/, `,"z":${'['.repeat(30000)}${']'.repeat(30000)}}`));
    oneLine(await verify('--bundle', dir), 2, 'nested more than');
  });
});

describe('item 12: verify without any VCEK source', () => {
  it('is a usage error naming --vcek, --bundle and IMDS, not four FAILs', async () => {
    oneLine(await verify('--evidence', F(`${hcl}/hcl-report.bin`)), 2, '--vcek', '--bundle', 'IMDS');
    oneLine(await verify('--evidence', F('snp/milan-v3-report.bin'), '--chain', F('amd/ask_ark_milan.pem')), 2, '--vcek');
  });
});

describe('item 15: collect --out is validated before collecting', () => {
  // --tpm names a device that does not exist: collecting first would fail with E_TPM_NO_DEVICE (exit 3).
  const collect = (out: string): Promise<Run> => cli(['collect', '--tpm', 'device:/nonexistent-tpm', '--out', out], 120_000);
  it('an existing file, a folder under a file, /proc, an unwritable place: exit 2 naming --out, never a hang', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const [f, under, proc, procSelf, sys] = await Promise.all(
      [file, join(file, 'sub'), '/proc/cvm-attest-bundle', '/proc/self/cvm-attest/x', '/sys/cvm-attest-bundle'].map(collect),
    );
    oneLine(f!, 2, '--out', 'a-file');
    oneLine(under!, 2, '--out');
    oneLine(proc!, 2, '--out');
    oneLine(procSelf!, 2, '--out');
    oneLine(sys!, 2, '--out');
  });
  it('a usable --out gets past validation to collection (exit 3 here: no TPM)', async () => {
    const r = await collect(join(tmp, 'new', 'bundle'));
    oneLine(r, 3, 'E_TPM_NO_DEVICE');
  });
  it('writeBundle wraps a write error as an input error', async () => {
    await assert.rejects(
      writeBundle('/proc/cvm-attest-x', {
        hclReport: new Uint8Array(4),
        vcekPem: '',
        chainPem: '',
        warnings: [],
        replayed: true,
        transport: 't',
        certificateSource: 'bundle',
      }),
      (e: unknown) => isCvmAttestError(e) && e.exitCode === 2 && e.code === 'E_OUT',
    );
  });
});

describe('low items: CLI text', () => {
  it('yargs errors are one line', async () => {
    oneLine(await verify('--evidence', 'x', '--format', 'bogus'), 2, 'format');
    oneLine(await verify('--bogus', 'x'), 2, 'bogus');
  });
  it('no command: one "(see --help)"', async () => {
    const r = await cli([]);
    oneLine(r, 2);
    assert.equal(r.stderr.split('see --help').length, 2, r.stderr);
  });
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  });
  it('help examples are never wrapped mid-command', async () => {
    for (const c of ['verify', 'collect', 'attest']) {
      const r = await cli([c, '--help']);
      const src = readFileSync(join(ROOT, `src/cli/commands/${c}.ts`), 'utf8');
      const examples = [...src.matchAll(/\.example\('([^']+)'/g)].map((m) => m[1]!);
      assert.ok(examples.length > 2);
      // A long command may be continued with a shell line continuation (` \` + newline), never cut.
      const joined = r.stdout.replace(/ \\\n\s+/g, ' ');
      for (const e of examples) assert.ok(joined.includes(e), `${c} --help shows "${e}" whole:\n${r.stdout}`);
    }
  });
  it('--now 2026-02-31 is refused; 2024-02-29 is accepted', async () => {
    oneLine(await verify('--evidence', F('snp/milan-v3-report.bin'), '--vcek', F('snp/milan-v3-vcek.pem'), '--now', '2026-02-31'), 2, '--now');
    oneLine(await verify('--evidence', F('snp/milan-v3-report.bin'), '--vcek', F('snp/milan-v3-vcek.pem'), '--now', '2026-01-01T25:00:00Z'), 2, '--now');
    const ok = await verify('--evidence', F('snp/milan-v3-report.bin'), '--vcek', F('snp/milan-v3-vcek.pem'), '--now', '2026-11-28');
    assert.equal(ok.code, 0, ok.stderr);
  });
  it('a policy file with a UTF-8 BOM is accepted like PEM and THIM', async () => {
    const p = join(tmp, 'bom-policy.json');
    writeFileSync(p, '\uFEFF{"maxVmpl":0}');
    const r = await verify('--evidence', F('snp/milan-v3-report.bin'), '--vcek', F('snp/milan-v3-vcek.pem'), '--policy', p, '--now', NOW.toISOString());
    assert.equal(r.code, 0, r.stderr);
  });
  it('a PEM whose first byte is "0" is read as PEM, not DER', async () => {
    const p = join(tmp, 'zero-first.pem');
    writeFileSync(p, `0 explanatory text\n${readFileSync(F('snp/milan-v3-vcek.pem'), 'utf8')}`);
    const r = await verify('--evidence', F('snp/milan-v3-report.bin'), '--vcek', p, '--now', NOW.toISOString());
    assert.equal(r.code, 0, r.stderr);
  });
  it('a CRL PEM whose first byte is "0" is read as PEM too', async () => {
    const p = join(tmp, 'zero-first-crl.pem');
    writeFileSync(p, `0 from AMD KDS\n${readFileSync(F('amd/crl_milan.pem'), 'utf8')}`);
    const r = await verify('--evidence', F('snp/milan-v3-report.bin'), '--vcek', F('snp/milan-v3-vcek.pem'), '--crl', p, '--now', NOW.toISOString());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\[(pass|WARN)\] crl /);
  });
  it('hex evidence with a 0x prefix is accepted', async () => {
    const p = join(tmp, 'report-0x.hex');
    writeFileSync(p, `0x${readFileSync(F('snp/milan-v3-report.bin')).toString('hex')}\n`);
    const r = await verify('--evidence', p, '--vcek', F('snp/milan-v3-vcek.pem'), '--now', NOW.toISOString());
    assert.equal(r.code, 0, r.stderr);
  });
  it('a repeated --evidence says it was given twice', async () => {
    oneLine(await verify('--evidence', 'a', '--evidence', 'b'), 2, '--evidence', 'given twice');
  });
  it('collect --pcrs with a bad selection gives the documented E_TPM_PCRS', async () => {
    oneLine(await cli(['collect', '--pcrs', '0-99', '--out', join(tmp, 'pcrs-out')]), 2, 'E_TPM_PCRS');
  });
});

describe('low items: wording', () => {
  it('an expired VLEK is not told to "give the VCEK"', async () => {
    const p = join(tmp, 'vlek.json');
    writeFileSync(p, JSON.stringify({ allowVlek: true, maxVmpl: 1 }));
    const r = await verify('--evidence', F('negative/vmpl1-vlek-report.bin'), '--vcek', F('negative/vmpl1-vlek.der'), '--policy', p);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[FAIL\] chain .*VLEK expired/);
    assert.doesNotMatch(r.stdout, /give the VCEK/);
    assert.match(r.stdout, /- chain: .*VLEK/);
  });
  it('the freshness skip on a bare SNP report does not talk of an HCL report', async () => {
    const r = await verify('--evidence', F('snp/milan-v3-report.bin'), '--vcek', F('snp/milan-v3-vcek.pem'), '--now', NOW.toISOString());
    const line = r.stdout.split('\n').find((l) => l.includes('[skip] freshness')) ?? '';
    assert.ok(line, r.stdout);
    assert.doesNotMatch(line, /HCL/);
  });
  it('"product Genoa is not in Milan" reads as an allowlist', async () => {
    const p = join(tmp, 'products.json');
    writeFileSync(p, JSON.stringify({ allowedProducts: ['Milan'] }));
    const r = await verify('--evidence', F('snp/genoa-v3-report.bin'), '--vcek', F('snp/genoa-v3-vcek.pem'), '--policy', p, '--now', NOW.toISOString());
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stdout, /is not in Milan/);
    assert.match(r.stdout, /product Genoa is not an allowed product \(allowed: Milan\)/);
  });
});

describe('low item: high-S ECDSA signatures (documented, not refused)', () => {
  const N = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
  const sOf = (report: Buffer): bigint =>
    BigInt(
      `0x${Buffer.from(report.subarray(0x2e8, 0x2e8 + 48))
        .reverse()
        .toString('hex')}`,
    );
  function flipS(report: Buffer): Buffer {
    const out = Buffer.from(report);
    Buffer.from((N - sOf(report)).toString(16).padStart(96, '0'), 'hex')
      .reverse()
      .copy(out, 0x2e8);
    return out;
  }
  it('AMD signs high-S itself: a genuine high-S report passes, so refusing high-S would fail genuine evidence', () => {
    const report = readFileSync(F('snp/aci-milan-v2-report.bin'));
    assert.ok(sOf(report) > N / 2n, 'this genuine vector is high-S');
    assert.equal(verifyEvidenceSync({ evidence: report, vcek: readFileSync(F('azure-hcl/thim-response.json')), now: NOW }).verdict, 'pass');
  });
  it('(r, n - s) of a genuine report verifies to the same claims; no cache keyed by report bytes changes a later verdict', () => {
    const report = readFileSync(F('snp/milan-v3-report.bin'));
    const vcek = readFileSync(F('snp/milan-v3-vcek.pem'));
    const genuine = verifyEvidenceSync({ evidence: report, vcek, now: NOW });
    const flipped = verifyEvidenceSync({ evidence: flipS(report), vcek, now: NOW });
    assert.equal(genuine.verdict, 'pass');
    assert.equal(flipped.verdict, 'pass');
    assert.deepEqual(flipped.claims, genuine.claims);
    // A verdict is never remembered: after the genuine report passed, one signed byte changed fails.
    const altered = Buffer.from(report);
    altered[0x50] = altered[0x50]! ^ 1;
    assert.equal(verifyEvidenceSync({ evidence: altered, vcek, now: NOW }).checks.find((c) => c.id === 'signature')?.status, 'fail');
    const alteredSig = flipS(report);
    alteredSig[0x2a0] = alteredSig[0x2a0]! ^ 1;
    assert.equal(verifyEvidenceSync({ evidence: alteredSig, vcek, now: NOW }).verdict, 'fail');
  });
});

describe('low item: E_IMDS_HTTP names the host and carries what IMDS said', () => {
  it('a 403 from the IMDS emulator: host and error text in the message', async () => {
    const { startImdsEmulator } = await import('../emulators/imds.js');
    const { imdsGet, THIM_PATH } = await import('../../src/collect/imds.js');
    const imds = await startImdsEmulator();
    try {
      imds.setFault({ kind: 'status', status: 403 });
      await assert.rejects(imdsGet(THIM_PATH, 65536, { endpoint: imds.url, attempts: 1 }), (e: unknown) => {
        assert.ok(isCvmAttestError(e) && e.code === 'E_IMDS_HTTP', String(e));
        assert.ok(e.message.includes(new URL(imds.url).host), e.message);
        assert.match(e.message, /HTTP 403: \S/);
        return true;
      });
    } finally {
      await imds.close();
    }
  });
  it('a plain-text 4xx body with escapes: shown escaped and capped', async () => {
    const http = await import('node:http');
    const { imdsGet, THIM_PATH } = await import('../../src/collect/imds.js');
    const server = http.createServer((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end(`bad request \u001b[31mFAKE\u0007 ${'x'.repeat(5000)}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await assert.rejects(imdsGet(THIM_PATH, 65536, { endpoint: `http://127.0.0.1:${port}`, attempts: 1 }), (e: unknown) => {
        assert.ok(isCvmAttestError(e) && e.code === 'E_IMDS_HTTP', String(e));
        assert.ok(e.message.includes(`127.0.0.1:${port}`), e.message);
        assert.ok(e.message.includes('bad request \\x1b[31mFAKE\\x07'), e.message);
        assert.ok(e.message.length < 600, `capped: ${e.message.length}`);
        return true;
      });
    } finally {
      server.close();
    }
  });
});

describe('item 4: the certificate cache reads its entries bounded too', () => {
  it('an entry replaced by a symlink or a FIFO is a miss, without following or hanging', async () => {
    const { CertificateCache } = await import('../../src/collect/cert-cache.js');
    const { parseEvidence } = await import('../../src/platform/snp/evidence.js');
    const genoa = parseEvidence(readFileSync(F('azure-hcl/genoa/hcl-report.bin'))).report;
    const key = { product: genoa.product, chipId: genoa.chipId, reportedTcb: genoa.reportedTcb.raw };
    const dir = join(tmp, 'cache');
    const cache = new CertificateCache(dir);
    const t0 = new Date('2026-11-28T10:00:00Z');
    await cache.put(
      key,
      {
        vcekPem: readFileSync(F('azure-hcl/genoa/vcek.pem'), 'utf8'),
        chainPem: readFileSync(F('amd/ask_ark_genoa.pem'), 'utf8'),
        tcbm: genoa.reportedTcb.raw,
        cacheControlSeconds: 3600,
      },
      t0,
    );
    assert.ok(await cache.get(key, t0), 'the real entry is a hit');
    const outside = join(tmp, 'outside-entry.json');
    copyFileSync(cache.fileFor(key), outside);
    unlinkSync(cache.fileFor(key));
    symlinkSync(outside, cache.fileFor(key));
    assert.equal(await cache.get(key, t0), undefined, 'a symlinked entry is not followed');
    unlinkSync(cache.fileFor(key));
    execFileSync('mkfifo', [cache.fileFor(key)]);
    assert.equal(await cache.get(key, t0), undefined, 'a FIFO is a miss, at once');
  });
});
