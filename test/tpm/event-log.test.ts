// The TCG event log parser, replay and boot state on real logs (google/go-tpm-tools test data, with
// the SHA-256 PCR values and EFI application digests that project publishes for them), the event-log
// check against quoted PCR values, altered logs, and fuzzing (only ParseError, never another throw).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ParseError } from '../../src/base/errors.js';
import { deriveBootState } from '../../src/tpm/boot-state.js';
import { EV, parseEventLog, replayEventLog } from '../../src/tpm/event-log.js';
import { checkEventLog } from '../../src/guest/event-log-check.js';
import { fixture } from '../helpers/fixtures.js';

interface Known {
  sha256Pcrs: Record<string, string>;
  efiAppDigests: string[];
}
const LOGS = {
  'rhel8-uefi': { secureBoot: true },
  'ubuntu-1804-amd-sev': { secureBoot: false },
  'ubuntu-2104-no-secure-boot': { secureBoot: false },
  'ubuntu-2404-amd-sevsnp': { secureBoot: false },
} as const;
/** go-tpm-tools' internal/test/test_data.go (Ubuntu2404AmdSevSnpCmdline), trailing NUL dropped. */
const UBUNTU_2404_CMDLINE = '/vmlinuz-6.8.0-1010-gcp root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro console=ttyS0,115200 panic=-1';

const load = (n: string): { bin: Buffer; known: Known; quoted: Record<number, string> } => {
  const known = JSON.parse(fixture(`eventlog/${n}.json`).toString('utf8')) as Known;
  const quoted: Record<number, string> = {};
  for (const [k, v] of Object.entries(known.sha256Pcrs)) quoted[Number(k)] = v;
  return { bin: fixture(`eventlog/${n}.bin`), known, quoted };
};

/** The offset of the first SHA-256 digest of event `seq` (crypto-agile layout). */
function sha256DigestOffset(bin: Buffer, seq: number): number {
  const log = parseEventLog(bin);
  const e = log.events.find((x) => x.seq === seq)!;
  let off = e.offset + 12;
  for (let i = 0; i < bin.readUInt32LE(e.offset + 8); i++) {
    const alg = bin.readUInt16LE(off);
    const size = log.algorithms.find((a) => a.alg === alg)!.size;
    if (alg === 0x0b) return off + 2;
    off += 2 + size;
  }
  throw new Error('no sha256 digest');
}

describe('TCG event log (real logs from google/go-tpm-tools)', () => {
  for (const [name, want] of Object.entries(LOGS)) {
    const { bin, known, quoted } = load(name);

    it(`${name}: parses (crypto-agile, SHA-1/256/384) and replays to the published SHA-256 PCRs`, () => {
      const log = parseEventLog(bin);
      assert.deepEqual(
        log.algorithms.map((a) => a.alg),
        [0x04, 0x0b, 0x0c],
      );
      assert.ok(log.events.length > 50);
      const r = replayEventLog(log);
      for (const [k, v] of Object.entries(known.sha256Pcrs)) assert.equal(r.pcrs[Number(k)], v, `PCR ${k}`);
    });

    it(`${name}: boot state: Secure Boot ${want.secureBoot ? 'on' : 'off'}, boot applications as published, PK/KEK/db/dbx digests`, () => {
      const boot = deriveBootState(parseEventLog(bin), new Set(Object.keys(quoted).map(Number)));
      assert.equal(boot.secureBoot, want.secureBoot);
      assert.deepEqual(boot.bootApplications, known.efiAppDigests);
      assert.deepEqual(Object.keys(boot.secureBootVariables).sort(), ['KEK', 'PK', 'db', 'dbx']);
      for (const v of Object.values(boot.secureBootVariables)) assert.match(v, /^[0-9a-f]{64}$/);
      assert.equal(boot.firmwareDebugMode, false);
      assert.deepEqual(boot.inconsistencies, []);
    });

    it(`${name}: the event-log check passes against its quoted PCRs`, () => {
      const r = checkEventLog(bin, quoted);
      assert.equal(r.check.status, 'pass', r.check.reason);
      assert.equal(r.boot?.secureBoot, want.secureBoot);
    });

    it(`${name}: one altered event digest never passes`, () => {
      const log = parseEventLog(bin);
      for (const e of log.events.filter((x) => x.type !== EV.NO_ACTION && quoted[x.pcr] !== undefined).filter((_, i) => i % 7 === 0)) {
        const bad = Buffer.from(bin);
        bad[sha256DigestOffset(bin, e.seq)]! ^= 0x01;
        const r = checkEventLog(bad, quoted);
        assert.equal(r.check.status, 'fail', `event ${e.seq} (PCR ${e.pcr})`);
        assert.match(r.check.reason, new RegExp(`does not replay to the quoted PCRs? .*\\b${e.pcr}\\b`));
      }
    });

    it(`${name}: altered event data (digest kept) is caught where the digest covers the data`, () => {
      const log = parseEventLog(bin);
      const sb = log.events.find((e) => e.type === EV.EFI_VARIABLE_DRIVER_CONFIG && e.pcr === 7)!;
      const bad = Buffer.from(bin);
      // Flip the SecureBoot variable's value byte (the last byte of its event data); its digest stays.
      const valueAt = sb.data.byteOffset - bin.byteOffset + sb.data.length - 1;
      bad[valueAt]! ^= 0x01;
      const r = checkEventLog(bad, quoted);
      assert.equal(r.check.status, 'fail');
      assert.match(r.check.reason, /does not hash to its digest/);
    });
  }

  it('ubuntu-2404-amd-sevsnp: the kernel command line grub measured into PCR 8, as go-tpm-tools reads it', () => {
    const { bin, quoted } = load('ubuntu-2404-amd-sevsnp');
    assert.equal(checkEventLog(bin, quoted).boot?.kernelCmdline, UBUNTU_2404_CMDLINE);
  });

  it('events in PCRs the quote does not cover are not used (PCR 8 unquoted: no kernel command line; PCR 7 unquoted: no Secure Boot)', () => {
    const { bin, quoted } = load('rhel8-uefi');
    const only = (ks: number[]): Record<number, string> => Object.fromEntries(ks.map((k) => [k, quoted[k]!]));
    const r = checkEventLog(bin, only([0, 1, 2, 3, 4, 5, 6]));
    assert.equal(r.check.status, 'pass');
    assert.equal(r.boot?.secureBoot, undefined, 'PCR 7 not quoted: its SecureBoot event is not believed');
    assert.deepEqual(r.boot?.secureBootVariables, {});
    const r2 = checkEventLog(bin, only([0, 1, 2, 3, 4, 5, 6, 7]));
    assert.equal(r2.check.status, 'pass');
    assert.equal(r2.boot?.kernelCmdline, undefined);
    assert.match(r2.check.reason, /events in PCR 8,9,14 are not quoted and not used/);
  });

  it("another boot's PCRs: fails", () => {
    const a = load('ubuntu-2104-no-secure-boot');
    const b = load('rhel8-uefi');
    const r = checkEventLog(a.bin, b.quoted);
    assert.equal(r.check.status, 'fail');
  });

  it('no quote with PCR values: a warning, nothing derived; no log: skip; garbage: fail', () => {
    const { bin } = load('rhel8-uefi');
    const w = checkEventLog(bin, undefined);
    assert.equal(w.check.status, 'warn');
    assert.equal(w.boot, undefined);
    assert.equal(checkEventLog(undefined, undefined).check.status, 'skip');
    assert.equal(checkEventLog(Buffer.from('hello world, not a log at all'), {}).check.status, 'fail');
  });

  it('bounds: truncations and mutations give ParseError only (fuzzed)', () => {
    const seed = load('ubuntu-2404-amd-sevsnp').bin;
    const onlyParseError = (b: Uint8Array): boolean => {
      try {
        replayEventLog(parseEventLog(b));
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
      return true;
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), onlyParseError), { numRuns: 300 });
    fc.assert(
      fc.property(fc.nat({ max: seed.length }), (n) => onlyParseError(seed.subarray(0, n))),
      { numRuns: 200 },
    );
    const mutated = fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
      const b = Uint8Array.from(seed);
      for (const [i, v] of edits) b[i] = v;
      return b;
    });
    fc.assert(
      fc.property(mutated, (b) => {
        onlyParseError(b);
        // The check never throws on hostile bytes either.
        checkEventLog(b, { 0: '0'.repeat(64) });
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('refuses oversized inputs before work', () => {
    assert.throws(() => parseEventLog(new Uint8Array(4 * 1024 * 1024 + 1)), /too large/);
    assert.throws(() => parseEventLog(new Uint8Array(0)), /empty/);
  });

  it('a PCR extended from a StartupLocality event starts at the locality', () => {
    // A minimal synthetic log: Spec ID (SHA-256 only), StartupLocality 3, one PCR 0 event.
    const spec = Buffer.concat([
      Buffer.from('Spec ID Event03\0', 'latin1'),
      Buffer.from([0, 0, 0, 0, 0, 2, 0, 2]),
      Buffer.from([1, 0, 0, 0, 0x0b, 0, 32, 0, 0]),
    ]);
    const first = Buffer.concat([Buffer.from([0, 0, 0, 0, 3, 0, 0, 0]), Buffer.alloc(20), u32(spec.length), spec]);
    const loc = Buffer.concat([Buffer.from('StartupLocality\0', 'latin1'), Buffer.from([3])]);
    const ev2 = (pcr: number, type: number, digest: Buffer, data: Buffer): Buffer =>
      Buffer.concat([u32(pcr), u32(type), u32(1), Buffer.from([0x0b, 0]), digest, u32(data.length), data]);
    const d = createHash('sha256').update('x').digest();
    const bin = Buffer.concat([first, ev2(0, EV.NO_ACTION, Buffer.alloc(32), loc), ev2(0, EV.POST_CODE, d, Buffer.alloc(0))]);
    const log = parseEventLog(bin);
    assert.equal(log.startupLocality, 3);
    const init = Buffer.alloc(32);
    init[31] = 3;
    assert.equal(replayEventLog(log).pcrs[0], createHash('sha256').update(init).update(d).digest('hex'));
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
