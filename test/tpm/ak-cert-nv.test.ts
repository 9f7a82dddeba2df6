// The AK certificate from NV 0x01C101D0 over the real swtpm stack: provisioned like Azure (platform
// hierarchy, owner-readable) with a real Azure AK certificate as its NV dump (DER + zero padding).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AZURE_NV_ATTRIBUTES, type Simulator } from '../../scripts/swtpm-sim.js';
import { readNvBlob, readTpmEvidence } from '../../src/collect/tpm/index.js';
import { akCertificateDer } from '../../src/guest/ak-certificate.js';
import { AK_CERT_NV_INDEX } from '../../src/tpm/constants.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startTestSimulator } from './sim-helpers.js';

/** The second certificate of the txtar is a real NV dump: DER then the index's zero padding. */
function nvDump(): Buffer {
  const t = fixture('azure-vtpm/azure_ak_certificates.txt').toString('utf8');
  const pem = [...t.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/g)][1]![1]!;
  // Cut to 2048 bytes: libtpms caps an NV index at 2048 (the dump is 4096); DER plus padding all the same.
  return Buffer.from(pem.replace(/\s+/g, ''), 'base64').subarray(0, 2048);
}

describe('AK certificate at NV 0x01C101D0 (swtpm)', () => {
  let sim: Simulator;
  const dump = nvDump();
  before(async () => {
    sim = await startTestSimulator();
    const f = join(sim.dir, 'akcert.bin');
    await writeFile(f, dump);
    await sim.tpm2('tpm2_nvdefine', ['0x01C101D0', '-C', 'p', '-s', String(dump.length), '-a', AZURE_NV_ATTRIBUTES, '-p', 'akcert']);
    await sim.tpm2('tpm2_nvwrite', ['0x01C101D0', '-C', '0x01C101D0', '-P', 'akcert', '-i', f]);
  });
  after(async () => sim?.stop());

  it('reads the whole index with owner auth, in chunks, equal to what was provisioned', async () => {
    assert.ok(dump.length > 1024, 'more than one NV buffer');
    const b = await readNvBlob(sim.transport, AK_CERT_NV_INDEX);
    assert.deepEqual(Buffer.from(b!), dump);
    assert.equal(akCertificateDer(b!).length, 1009);
  });

  it('readTpmEvidence carries it; an undefined index is simply absent', async () => {
    const e = await readTpmEvidence({ transport: sim.transport, quote: false });
    assert.deepEqual(Buffer.from(e.akCertificate!), dump);
    await sim.tpm2('tpm2_nvundefine', ['-C', 'p', '0x01C101D0']);
    const none = await readTpmEvidence({ transport: sim.transport, quote: false });
    assert.equal(none.akCertificate, undefined);
    assert.equal(await readNvBlob(sim.transport, AK_CERT_NV_INDEX), undefined);
  });
});

describe('file: replay of a bundle folder carries ak-cert.der and eventlog.bin', () => {
  it('readTpmEvidence returns them as recorded', async () => {
    const { mkdtemp, copyFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'cvm-replay-'));
    try {
      await copyFile(join(FIXTURES, 'azure-hcl/milan-v3-a/hcl-report.bin'), join(dir, 'hcl-report.bin'));
      await writeFile(join(dir, 'ak-cert.der'), nvDump());
      await copyFile(join(FIXTURES, 'eventlog/rhel8-uefi.bin'), join(dir, 'eventlog.bin'));
      const e = await readTpmEvidence({ transport: `file:${dir}` });
      assert.equal(e.replayed, true);
      assert.deepEqual(Buffer.from(e.akCertificate!), nvDump());
      assert.deepEqual(Buffer.from(e.eventLog!), fixture('eventlog/rhel8-uefi.bin'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
