// Certificate cache (keying, freshness, atomic 0644 files, corrupt entries ignored), the VCEK-chip
// match that guards the cache, and evidence bundles (round trip, digest check on read).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, statSync, readdirSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEvidence } from '../../src/platform/snp/evidence.js';
import { CertificateCache, cacheFileName, defaultCacheDir } from '../../src/collect/cert-cache.js';
import { vcekChipMismatch } from '../../src/collect/vcek-match.js';
import { writeBundle, readBundle } from '../../src/collect/bundle.js';
import { readTpmEvidence } from '../../src/collect/tpm/index.js';
import type { Evidence } from '../../src/collect/evidence.js';
import { InputError } from '../../src/base/errors.js';
import { fixture as fx } from '../helpers/fixtures.js';

const genoa = parseEvidence(fx('azure-hcl/genoa/hcl-report.bin')).report;
const genoaVcek = fx('azure-hcl/genoa/vcek.pem').toString();
const genoaChain = fx('amd/ask_ark_genoa.pem').toString();
const key = { product: genoa.product, chipId: genoa.chipId, reportedTcb: genoa.reportedTcb.raw };
const certs = { vcekPem: genoaVcek, chainPem: genoaChain, tcbm: genoa.reportedTcb.raw, cacheControlSeconds: 3600 };
const tmp = (): string => mkdtempSync(join(tmpdir(), 'cvm-attest-cache-'));

describe('certificate cache', () => {
  test('put then get: fresh within cacheControl, stale after, file 0644 and atomic (no temp left)', async () => {
    const dir = join(tmp(), 'nested', 'certs');
    const cache = new CertificateCache(dir);
    const t0 = new Date('2026-11-28T10:00:00Z');
    await cache.put(key, certs, t0);
    assert.deepEqual(readdirSync(dir), [cacheFileName(key)]);
    assert.equal(statSync(cache.fileFor(key)).mode & 0o777, 0o644);
    const hit = await cache.get(key, new Date(t0.getTime() + 60_000));
    assert.ok(hit);
    assert.equal(hit.fresh, true);
    assert.equal(hit.entry.vcekPem, genoaVcek);
    assert.equal(hit.ageSeconds, 60);
    const stale = await cache.get(key, new Date(t0.getTime() + 3601_000));
    assert.equal(stale?.fresh, false);
    const future = await cache.get(key, new Date(t0.getTime() - 1000));
    assert.equal(future?.fresh, false, 'an entry from the future is not trusted as fresh');
  });

  test('keyed by product, chip id and REPORTED_TCB', async () => {
    const cache = new CertificateCache(tmp());
    await cache.put(key, certs);
    assert.ok(await cache.get(key));
    const otherChip = Uint8Array.from(key.chipId);
    otherChip[0] = (otherChip[0] ?? 0) ^ 1;
    assert.equal(await cache.get({ ...key, chipId: otherChip }), undefined);
    assert.equal(await cache.get({ ...key, reportedTcb: key.reportedTcb + 1n }), undefined);
    assert.equal(await cache.get({ ...key, product: 'Milan' }), undefined);
  });

  test('corrupt, foreign or renamed entries are ignored, never served', async () => {
    const dir = tmp();
    const cache = new CertificateCache(dir);
    await cache.put(key, certs);
    const file = cache.fileFor(key);
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.slice(0, 100));
    assert.equal(await cache.get(key), undefined);
    writeFileSync(file, good.replace(/"chipId": "[0-9a-f]+"/, `"chipId": "${'00'.repeat(64)}"`));
    assert.equal(await cache.get(key), undefined);
    writeFileSync(file, good.replace('-----END CERTIFICATE-----', ''));
    assert.equal(await cache.get(key), undefined);
    // An entry stored for another chip, renamed to this key's file name.
    const other = { ...key, chipId: new Uint8Array(64).fill(7) };
    await cache.put(other, certs);
    renameSync(cache.fileFor(other), file);
    assert.equal(await cache.get(key), undefined);
  });

  test('default directory: env, XDG, home', () => {
    assert.equal(defaultCacheDir({ CVM_ATTEST_CACHE_DIR: '/x' }), '/x');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/cvm-attest/certs');
    assert.match(defaultCacheDir({}), /\.cache\/cvm-attest\/certs$/);
  });
});

describe('VCEK hwID vs CHIP_ID', () => {
  test("the genoa report's own VCEK matches", () => {
    assert.equal(vcekChipMismatch(genoaVcek, genoa.chipId), undefined);
  });
  test('another chip id is a mismatch', () => {
    const c = Uint8Array.from(genoa.chipId);
    c[5] = (c[5] ?? 0) ^ 0xff;
    assert.match(vcekChipMismatch(genoaVcek, c) ?? '', /another chip/);
  });
  test("the foreign-VCEK negative vector's VCEK is not its report's chip", () => {
    const r = parseEvidence(fx('negative/hcl-report-foreign-vcek.bin')).report;
    const chain = fx('negative/hcl-report-foreign-vcek-chain.pem').toString();
    const vcek = chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g)?.[0] ?? '';
    assert.match(vcekChipMismatch(vcek, r.chipId) ?? '', /another chip/);
  });
  test('a masked (zero) chip id cannot be compared: no mismatch claimed', () => {
    assert.equal(vcekChipMismatch(genoaVcek, new Uint8Array(64)), undefined);
  });
  test('garbage PEM is reported, not thrown', () => {
    assert.match(vcekChipMismatch('nope', genoa.chipId) ?? '', /cannot be read/);
  });
});

describe('evidence bundle', () => {
  const evidence = (): Evidence => ({
    hclReport: fx('azure-hcl/genoa/hcl-report.bin'),
    vcekPem: genoaVcek,
    chainPem: genoaChain,
    quote: {
      message: fx('azure-hcl/genoa/quote.msg'),
      signature: fx('azure-hcl/genoa/quote.sig'),
      nonce: Buffer.from(fx('azure-hcl/genoa/nonce.hex').toString().trim(), 'hex'),
      pcrs: JSON.parse(fx('azure-hcl/genoa/pcrs.json').toString()) as string[],
      pcrSelection: [0, 1, 2, 3, 4, 5, 6, 7],
    },
    instance: {
      vmId: '390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc',
      resourceId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/n',
      subscriptionId: 's',
      resourceGroupName: 'g',
      name: 'n',
      location: 'westeurope',
      vmSize: 'Standard_DC2as_v5',
      securityProfile: { securityType: 'ConfidentialVM', secureBootEnabled: true },
    },
    warnings: ['a warning'],
    replayed: false,
    transport: 'swtpm:path=/x',
    certificateSource: 'imds',
  });

  test('round trip: every file back byte for byte, manifest digests', async () => {
    const dir = join(tmp(), 'bundle');
    const ev = evidence();
    const m = await writeBundle(dir, ev);
    assert.deepEqual(readdirSync(dir).sort(), [
      'chain.pem',
      'hcl-report.bin',
      'instance.json',
      'manifest.json',
      'nonce.hex',
      'pcrs.json',
      'quote.msg',
      'quote.sig',
      'vcek.pem',
    ]);
    assert.equal(m.files['hcl-report.bin']?.size, ev.hclReport.length);
    const { evidence: back, manifest } = await readBundle(dir);
    assert.deepEqual(Buffer.from(back.hclReport), Buffer.from(ev.hclReport));
    assert.equal(back.vcekPem, ev.vcekPem);
    assert.equal(back.chainPem, ev.chainPem);
    assert.deepEqual(Buffer.from(back.quote?.message ?? []), Buffer.from(ev.quote?.message ?? []));
    assert.deepEqual(Buffer.from(back.quote?.signature ?? []), Buffer.from(ev.quote?.signature ?? []));
    assert.deepEqual(Buffer.from(back.quote?.nonce ?? []), Buffer.from('challenge'));
    assert.deepEqual(back.quote?.pcrSelection, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(back.quote?.pcrs.slice(0, 8), ev.quote?.pcrs.slice(0, 8));
    assert.equal(back.instance?.vmId, ev.instance?.vmId);
    assert.equal(back.replayed, true);
    assert.equal(manifest.transport, 'swtpm:path=/x');
  });

  test('without a quote or instance: only the required files', async () => {
    const dir = join(tmp(), 'b');
    const { quote: _q, instance: _i, ...rest } = evidence();
    await writeBundle(dir, rest);
    assert.deepEqual(readdirSync(dir).sort(), ['chain.pem', 'hcl-report.bin', 'manifest.json', 'vcek.pem']);
    const { evidence: back } = await readBundle(dir);
    assert.equal(back.quote, undefined);
  });

  test("rewriting a folder drops the previous bundle's members this one lacks", async () => {
    const dir = join(tmp(), 'b');
    await writeBundle(dir, evidence());
    const { quote: _q, instance: _i, ...rest } = evidence();
    await writeBundle(dir, rest);
    assert.deepEqual(readdirSync(dir).sort(), ['chain.pem', 'hcl-report.bin', 'manifest.json', 'vcek.pem']);
  });

  test('one flipped byte in any file: E_BUNDLE_DIGEST (exit 2)', async () => {
    for (const name of ['hcl-report.bin', 'vcek.pem', 'quote.sig', 'pcrs.json', 'nonce.hex']) {
      const dir = join(tmp(), 'b');
      await writeBundle(dir, evidence());
      const b = readFileSync(join(dir, name));
      b.writeUInt8(b.readUInt8(b.length >> 1) ^ 1, b.length >> 1);
      writeFileSync(join(dir, name), b);
      await assert.rejects(
        readBundle(dir),
        (e: unknown) => e instanceof InputError && e.code === 'E_BUNDLE_DIGEST' && e.exitCode === 2 && e.message.includes(name),
        name,
      );
    }
  });

  test('file:BUNDLE replays through the digest-checking reader', async () => {
    const dir = join(tmp(), 'b');
    const ev = evidence();
    await writeBundle(dir, ev);
    const r = await readTpmEvidence({ transport: `file:${dir}` });
    assert.equal(r.replayed, true);
    assert.deepEqual(Buffer.from(r.hclReport), Buffer.from(ev.hclReport));
    assert.deepEqual(Buffer.from(r.quote?.signature ?? []), Buffer.from(ev.quote?.signature ?? []));
    assert.deepEqual(Buffer.from(r.quote?.nonce ?? []), Buffer.from('challenge'));
    assert.deepEqual(r.quote?.pcrSelection, [0, 1, 2, 3, 4, 5, 6, 7]);
    const b = readFileSync(join(dir, 'quote.sig'));
    b.writeUInt8(b.readUInt8(0) ^ 1, 0);
    writeFileSync(join(dir, 'quote.sig'), b);
    await assert.rejects(
      readTpmEvidence({ transport: `file:${dir}` }),
      (e: unknown) => e instanceof InputError && e.code === 'E_BUNDLE_DIGEST' && e.message.includes('quote.sig'),
    );
  });

  test('missing files, broken manifests: clear InputErrors', async () => {
    const dir = join(tmp(), 'b');
    await writeBundle(dir, evidence());
    rmSync(join(dir, 'quote.sig'));
    await assert.rejects(readBundle(dir), (e: unknown) => e instanceof InputError && e.code === 'E_BUNDLE_MISSING');
    await assert.rejects(readBundle(join(dir, 'nope')), (e: unknown) => e instanceof InputError && e.code === 'E_BUNDLE_MISSING');
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown> & { files: Record<string, unknown> };
    const variants: [unknown, RegExp][] = [
      [{ ...m, version: 2 }, /version 2/],
      [{ ...m, format: 'x' }, /not a cvm-attest-evidence-bundle/],
      [{ ...m, files: { ...m.files, '../etc/passwd': { sha256: '0'.repeat(64), size: 1 } } }, /unknown file/],
      [{ ...m, files: { ...m.files, 'vcek.pem': undefined } }, /does not list vcek.pem/],
      [{ ...m, files: { ...m.files, 'quote.msg': undefined } }, /part of a quote/],
    ];
    for (const [v, re] of variants) {
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(v));
      await assert.rejects(readBundle(dir), (e: unknown) => e instanceof InputError && re.test(e.message), String(re));
    }
    writeFileSync(join(dir, 'manifest.json'), '{');
    await assert.rejects(readBundle(dir), /not JSON/);
  });
});

describe('fuzz: bundle and cache readers never throw anything but InputError / never serve junk', () => {
  test('random or mutated manifest.json: InputError or a consistent read', async () => {
    const fc = (await import('fast-check')).default;
    const dir = join(tmp(), 'b');
    const evidence: Evidence = {
      hclReport: fx('azure-hcl/genoa/hcl-report.bin'),
      vcekPem: genoaVcek,
      chainPem: genoaChain,
      quote: {
        message: Buffer.from('m'),
        signature: Buffer.from('s'),
        nonce: Buffer.from('n'),
        pcrs: new Array<string>(24).fill('').map((_v, i) => (i < 8 ? 'ab'.repeat(32) : '')),
        pcrSelection: [0, 1, 2, 3, 4, 5, 6, 7],
      },
      warnings: [],
      replayed: false,
      transport: 't',
      certificateSource: 'imds',
    };
    await writeBundle(dir, evidence);
    const manifest = readFileSync(join(dir, 'manifest.json'), 'utf8');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.tuple(fc.nat(manifest.length - 1), fc.string({ maxLength: 8 })).map(([i, s]) => manifest.slice(0, i) + s + manifest.slice(i + 1)),
        ),
        async (text) => {
          writeFileSync(join(dir, 'manifest.json'), text);
          try {
            const { evidence: back } = await readBundle(dir);
            assert.deepEqual(Buffer.from(back.hclReport), Buffer.from(evidence.hclReport));
          } catch (e) {
            if (!(e instanceof InputError)) throw e;
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('random cache file contents: undefined or the stored certificates', async () => {
    const fc = (await import('fast-check')).default;
    const cache = new CertificateCache(tmp());
    await cache.put(key, certs);
    const good = readFileSync(cache.fileFor(key), 'utf8');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.tuple(fc.nat(good.length - 1), fc.string({ maxLength: 4 })).map(([i, s]) => good.slice(0, i) + s + good.slice(i + 1)),
        ),
        async (text) => {
          writeFileSync(cache.fileFor(key), text);
          const hit = await cache.get(key);
          if (hit) {
            assert.equal(hit.entry.tcbm, key.reportedTcb);
            assert.equal(pemCount(hit.entry.chainPem), 2);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

function pemCount(t: string): number {
  return (t.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
}
