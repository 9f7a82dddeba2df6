// The guest's boot state end to end on the real stack: swtpm's SHA-256 PCRs are extended with a real
// event log's digests (rhel8-uefi from go-tpm-tools, Secure Boot on) until they equal the PCR values
// published for that machine, the collector quotes PCRs 0-9,14 and includes the log, and the verifier
// replays the log against the quote. The HCL report in the simulator is a derived one naming the
// simulator's AK as HCLAkPub, so the quote proves freshness (the report's AMD signature fails, apart).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HCL_REPORT, type Simulator } from '../../scripts/swtpm-sim.js';
import { startImdsEmulator, type ImdsEmulator } from '../emulators/imds.js';
import { attest } from '../../src/collect/attest.js';
import { readBundle, writeBundle } from '../../src/collect/bundle.js';
import { verifyCollected } from '../../src/collect/attest.js';
import { parsePolicy } from '../../src/policy/policy.js';
import { parseEventLog, EV } from '../../src/tpm/event-log.js';
import { startTestSimulator } from '../tpm/sim-helpers.js';
import { withAkPub } from '../verify/derive-report.js';
import { FIXTURES } from '../helpers/fixtures.js';

const logPath = join(FIXTURES, 'eventlog/rhel8-uefi.bin');
const log = readFileSync(logPath);
const known = JSON.parse(readFileSync(join(FIXTURES, 'eventlog/rhel8-uefi.json'), 'utf8')) as { sha256Pcrs: Record<string, string>; efiAppDigests: string[] };
const chainPem = readFileSync(join(FIXTURES, 'negative/hcl-report-foreign-vcek-chain.pem'), 'utf8');
const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
const now = new Date('2026-11-28T12:00:00Z');
const PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14];
/** What RHEL's grub measured into PCR 8 as `grub_kernel_cmdline ...` (its digest is checked against the event data). */
const RHEL8_CMDLINE =
  '(hd0,gpt2)/boot/vmlinuz-4.18.0-240.22.1.el8_3.x86_64 root=UUID=f3948fb4-cce7-4193-940a-c50052e93bf3 ro net.ifnames=0 biosdevname=0 scsi_mod.use_blk_mq=Y crashkernel=auto console=ttyS0,38400n8';

describe('event log replayed against a live quote (swtpm extended with a real log)', () => {
  let sim: Simulator;
  let imds: ImdsEmulator;
  before(async () => {
    sim = await startTestSimulator();
    // The derived report names the simulator's AK, so the quote is by HCLAkPub.
    const jwk = createPublicKey(sim.akPublicPem).export({ format: 'jwk' }) as { n: string; e: string };
    const dump = readFileSync(DEFAULT_HCL_REPORT);
    const derived = withAkPub(dump.subarray(0, dump.readUInt32LE(8)), jwk);
    const f = join(sim.dir, 'derived.bin');
    writeFileSync(f, Buffer.concat([derived, Buffer.alloc(2048 - derived.length)]));
    await sim.tpm2('tpm2_nvwrite', ['0x01400001', '-C', '0x01400001', '-P', sim.indexPassword, '-i', f]);
    // Extend the SHA-256 bank with every measured event's digest, in log order.
    const specs = parseEventLog(log)
      .events.filter((e) => e.type !== EV.NO_ACTION)
      .map((e) => `${e.pcr}:sha256=${Buffer.from(e.digests.get(0x0b)!).toString('hex')}`);
    for (let i = 0; i < specs.length; i += 25) await sim.tpm2('tpm2_pcrextend', specs.slice(i, i + 25));
    imds = await startImdsEmulator({ thim: { vcekPem: blocks[0] ?? '', chainPem: (blocks[1] ?? '') + (blocks[2] ?? ''), tcbm: '7308000000000003' } });
  });
  after(async () => {
    await imds?.close();
    await sim?.stop();
  });

  it("the simulator's PCRs now equal the real machine's (tpm2_pcrread)", async () => {
    const out = (await sim.tpm2('tpm2_pcrread', [`sha256:${PCRS.join(',')}`])).toString();
    for (const i of PCRS) assert.match(out, new RegExp(`\\b${i}\\s*: 0x${known.sha256Pcrs[i]!.toUpperCase()}`), `PCR ${i}`);
  });

  let bundleDir: string;
  it('attest with the log: event-log passes, Secure Boot on, boot applications and kernel command line derived, policy met', async () => {
    const policy = parsePolicy({
      requireSecureBoot: true,
      allowedBootApplicationDigests: known.efiAppDigests,
      allowedPcrs: { 7: [known.sha256Pcrs['7']!] },
      allowedKernelCmdlines: [RHEL8_CMDLINE],
    });
    const o = await attest({
      tpm: sim.transport,
      imdsEndpoint: imds.url,
      cacheDir: mkdtempSync(join(tmpdir(), 'c-')),
      pcrs: PCRS,
      eventLog: logPath,
      policy,
      now,
    });
    const st = (id: string) => o.result.checks.find((c) => c.id === id);
    assert.equal(st('freshness')?.status, 'pass', st('freshness')?.reason);
    assert.equal(o.result.claims['cvm-attest-fresh-by'], 'quote', 'no paravisor: the report does not carry the nonce');
    assert.equal(st('event-log')?.status, 'pass', st('event-log')?.reason);
    assert.equal(o.result.claims['secureboot'], true);
    assert.deepEqual(o.result.claims['x-ms-azurevm-attested-pcrs'], PCRS);
    // The guest claims named after MAA's are MAA's: the same names, at the top level, with the same JSON
    // types as in a real MAA Guest Attestation token (test/fixtures/maa/, see PROVENANCE.md).
    const maa = JSON.parse(readFileSync(join(FIXTURES, 'maa/sampleAttestationToken.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['secureboot', 'x-ms-azurevm-attested-pcrs']) {
      assert.ok(k in maa, `${k} is a claim of the real MAA token`);
      assert.equal(Array.isArray(o.result.claims[k]), Array.isArray(maa[k]), k);
      assert.equal(typeof o.result.claims[k], typeof maa[k], k);
    }
    assert.ok((maa['x-ms-azurevm-attested-pcrs'] as unknown[]).every((x) => typeof x === 'number'));
    const el = o.result.claims['cvm-attest-event-log'] as { bootApplications: string[]; kernelCmdline: string | null };
    assert.deepEqual(el.bootApplications, known.efiAppDigests);
    assert.equal(el.kernelCmdline, RHEL8_CMDLINE);
    assert.equal(st('policy.secure-boot')?.status, 'pass');
    assert.equal(st('policy.boot-applications')?.status, 'pass');
    assert.equal(st('policy.pcrs')?.status, 'pass');
    assert.equal(st('policy.kernel-cmdline')?.status, 'pass');
    assert.deepEqual(
      o.result.checks
        .filter((c) => c.status === 'fail')
        .map((c) => c.id)
        .sort(),
      ['chip-id', 'signature'],
      "only the derived report's AMD signature and the foreign VCEK fail",
    );
    bundleDir = mkdtempSync(join(tmpdir(), 'b-'));
    const m = await writeBundle(bundleDir, o.evidence);
    assert.ok(m.files['eventlog.bin'], 'the bundle carries eventlog.bin');
  });

  it('the bundle verifies the same way offline; a log with one altered event never passes', async () => {
    const { evidence } = await readBundle(bundleDir);
    assert.deepEqual(Buffer.from(evidence.eventLog!), log);
    const r = await verifyCollected(evidence, { now, policy: parsePolicy({ requireSecureBoot: true }) });
    assert.equal(r.checks.find((c) => c.id === 'event-log')?.status, 'pass');
    const bad = Buffer.from(log);
    const e = parseEventLog(log).events.find((x) => x.pcr === 4 && x.type === EV.EFI_BOOT_SERVICES_APPLICATION)!;
    bad[e.offset + 12 + 2 + 20 + 2 + 5]! ^= 0x40; // inside its SHA-256 digest (after count, SHA-1 digest, alg id)
    const r2 = await verifyCollected({ ...evidence, eventLog: bad }, { now, policy: parsePolicy({ requireSecureBoot: true }) });
    assert.equal(r2.checks.find((c) => c.id === 'event-log')?.status, 'fail');
    assert.match(r2.checks.find((c) => c.id === 'event-log')?.reason ?? '', /PCR 4/);
    assert.equal(r2.checks.find((c) => c.id === 'policy.secure-boot')?.status, 'fail');
  });
});
