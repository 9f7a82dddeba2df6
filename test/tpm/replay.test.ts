// The file: transport on the real vectors: a file is returned as it is; a bundle-like folder also
// yields its recorded quote, marked replayed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../src/base/errors.js';
import { readTpmEvidence } from '../../src/collect/tpm/index.js';
import { verifyEvidence } from '../../src/index.js';
import { withTempDir } from './sim-helpers.js';
import { FIXTURES as FX } from '../helpers/fixtures.js';

describe('file: transport (replay)', () => {
  it('an NV dump file comes back byte for byte, without a quote', async () => {
    const path = join(FX, 'negative/hcl-report-foreign-vcek.bin');
    const e = await readTpmEvidence({ transport: `file:${path}` });
    assert.ok(Buffer.from(e.hclReport).equals(await readFile(path)));
    assert.equal(e.replayed, true);
    assert.equal(e.quote, undefined);
    assert.equal(e.transport, `file:${path}`);
  });

  it('a bare SNP report file (anything verify --evidence takes) is returned as it is', async () => {
    const path = join(FX, 'snp/genoa-v3-report.bin');
    const e = await readTpmEvidence({ transport: `file:${path}` });
    assert.equal(e.hclReport.length, 1184);
  });

  it('the milan-v3-a folder: report + recorded quote, verified by the verifier as replayed (warn, not pass)', async () => {
    const dir = join(FX, 'azure-hcl/milan-v3-a');
    const e = await readTpmEvidence({ transport: `file:${dir}` });
    assert.equal(e.replayed, true);
    assert.ok(e.quote);
    assert.ok(Buffer.from(e.hclReport).equals(await readFile(join(dir, 'hcl-report.bin'))));
    assert.ok(Buffer.from(e.quote.message).equals(await readFile(join(dir, 'quote.msg'))));
    assert.ok(Buffer.from(e.quote.signature).equals(await readFile(join(dir, 'quote.sig'))));
    assert.equal(Buffer.from(e.quote.nonce).toString(), 'challenge');
    assert.equal(e.quote.pcrs.length, 24);
    assert.deepEqual(e.quote.pcrs, JSON.parse(await readFile(join(dir, 'pcrs.json'), 'utf8')));
    assert.deepEqual(
      e.quote.pcrSelection,
      Array.from({ length: 24 }, (_, i) => i),
    );
    const res = await verifyEvidence({ evidence: e.hclReport, quote: e.quote, replayed: e.replayed });
    const fresh = res.checks.find((c) => c.id === 'freshness');
    assert.equal(fresh?.status, 'warn');
    assert.match(fresh?.reason ?? '', /pcrDigest matches/);
  });

  it('milan-v2 (no pcrs.json): the selection comes from the quote, PCR values are empty strings', async () => {
    const e = await readTpmEvidence({ transport: `file:${join(FX, 'azure-hcl/milan-v2')}` });
    assert.deepEqual(e.quote?.pcrSelection, [0, 1, 2, 3, 4, 5, 6, 7, 14]);
    assert.deepEqual(
      e.quote?.pcrs,
      Array.from({ length: 24 }, () => ''),
    );
  });

  it('broken folders are InputErrors naming the file', async () => {
    const { dir, cleanup } = await withTempDir('cvm-replay-');
    try {
      const src = join(FX, 'azure-hcl/milan-v3-a');
      const mk = async (name: string, files: string[]): Promise<string> => {
        const d = join(dir, name);
        await mkdir(d);
        for (const f of files) await copyFile(join(src, f), join(d, f));
        return d;
      };
      const expectInput = async (d: string, code: string, re: RegExp): Promise<void> => {
        await assert.rejects(readTpmEvidence({ transport: `file:${d}` }), (e: unknown) => e instanceof InputError && e.code === code && re.test(e.message));
      };
      await expectInput(await mk('empty', []), 'E_REPLAY_MISSING', /hcl-report\.bin/);
      await expectInput(await mk('nosig', ['hcl-report.bin', 'quote.msg', 'nonce.hex']), 'E_REPLAY_MISSING', /quote\.sig/);
      const badPcrs = await mk('badpcrs', ['hcl-report.bin', 'quote.msg', 'quote.sig', 'nonce.hex']);
      await writeFile(join(badPcrs, 'pcrs.json'), '["zz"]');
      await expectInput(badPcrs, 'E_REPLAY_PCRS', /pcrs\.json\[0\]/);
      const badNonce = await mk('badnonce', ['hcl-report.bin', 'quote.msg', 'quote.sig']);
      await writeFile(join(badNonce, 'nonce.hex'), 'not hex');
      await expectInput(badNonce, 'E_REPLAY_NONCE', /nonce\.hex/);
      const badMsg = await mk('badmsg', ['hcl-report.bin', 'quote.sig', 'nonce.hex']);
      await writeFile(join(badMsg, 'quote.msg'), Buffer.alloc(10));
      await expectInput(badMsg, 'E_REPLAY_QUOTE', /TPMS_ATTEST/);
      await expectInput(join(dir, 'does-not-exist'), 'E_REPLAY_MISSING', /does-not-exist/);
    } finally {
      await cleanup();
    }
  });
});
