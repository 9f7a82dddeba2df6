// Issue 11 figures: TCG event log parse + replay of a real log (floor 2 ms), the boot-state derivation,
// the AK certificate check, and a full verification with every guest input (report nonce, AK
// certificate, event log) against the same verification without them (floor 1.3x), same process and run.
import { floor } from './_floors.mjs';
import { median, ms } from './_timing.mjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';

const root = join(fileURLToPath(import.meta.url), '../../..');
const fx = (p) => readFileSync(join(root, 'test/fixtures', p));
const { verifyEvidenceSync } = await import(join(root, 'src/verify/verify-evidence.ts'));
const { parseEventLog, replayEventLog } = await import(join(root, 'src/tpm/event-log.ts'));
const { deriveBootState } = await import(join(root, 'src/tpm/boot-state.ts'));
const { checkEventLog } = await import(join(root, 'src/guest/event-log-check.ts'));
const { checkAkCertificate, akCertificateDer } = await import(join(root, 'src/guest/ak-certificate.ts'));
const { parseRuntimeData } = await import(join(root, 'src/hcl/runtime-data.ts'));

console.log('event log (median):');
for (const name of ['rhel8-uefi', 'ubuntu-2404-amd-sevsnp']) {
  const bin = fx(`eventlog/${name}.bin`);
  const known = JSON.parse(fx(`eventlog/${name}.json`));
  const quoted = Object.fromEntries(Object.entries(known.sha256Pcrs).map(([k, v]) => [Number(k), v]));
  const parseReplay = median(() => replayEventLog(parseEventLog(bin)), { warmup: 100, runs: 1000 });
  const log = parseEventLog(bin);
  const derive = median(() => deriveBootState(log, new Set(Object.keys(quoted).map(Number))), { warmup: 100, runs: 1000 });
  const whole = median(() => checkEventLog(bin, quoted), { warmup: 100, runs: 1000 });
  const wholeCold = median(() => checkEventLog(bin, quoted, false), { warmup: 50, runs: 500 });
  console.log(
    `  ${name.padEnd(24)} ${bin.length} bytes, ${log.events.length} events: parse + replay ${ms(parseReplay)} ${floor(`event-log parse + replay (${name})`, parseReplay, 2)}; boot state ${ms(derive)}; whole event-log check ${ms(wholeCold)} (cache off), ${ms(whole)} (same log again, cached)`,
  );
}

// AK certificate check on a real certificate (runtime data naming its key).
const txt = fx('azure-vtpm/azure_ak_certificates.txt').toString();
const der = akCertificateDer(Buffer.from(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(txt)[0]));
const jwk = new X509Certificate(der).publicKey.export({ format: 'jwk' });
const rd = parseRuntimeData(Buffer.from(JSON.stringify({ keys: [{ kid: 'HCLAkPub', kty: 'RSA', n: jwk.n, e: jwk.e }] })));
const at = new Date('2026-06-01T00:00:00Z');
const ak = median(() => checkAkCertificate({ certificate: der, runtimeData: rd, bindingOk: true, now: at }), { warmup: 100, runs: 1000 });
const akCold = median(() => checkAkCertificate({ certificate: der, runtimeData: rd, bindingOk: true, now: at, cache: false }), { warmup: 50, runs: 500 });
console.log(`AK certificate check (parse, chain to the pinned root, key = HCLAkPub): ${ms(akCold)} (cache off), ${ms(ak)} (cached)`);

// Full verification: today's inputs (report + VCEK + quote with PCRs) vs. the same plus every guest
// input (a nonce for the report's user data, the AK certificate, a real event log). The log is another
// machine's, so it is parsed and replayed in full and then fails the comparison with the quoted PCRs.
const dir = 'azure-hcl/milan-v3-a';
const evidence = fx(`${dir}/hcl-report.bin`);
const vcek = fx(`${dir}/vcek.pem`);
const quote = { message: fx(`${dir}/quote.msg`), signature: fx(`${dir}/quote.sig`), nonce: Buffer.from('challenge'), pcrs: JSON.parse(fx(`${dir}/pcrs.json`)) };
const now = new Date('2026-06-01T00:00:00Z');
const eventLog = fx('eventlog/rhel8-uefi.bin');
const med = (x) => x.sort((p, q) => p - q)[x.length >> 1];
for (const cache of [true, false]) {
  const base = () => verifyEvidenceSync({ evidence, vcek, quote, now, cache });
  const guest = () => verifyEvidenceSync({ evidence, vcek, quote, now, cache, nonce: Buffer.from('challenge'), akCertificate: der, eventLog });
  base();
  guest();
  // Interleave the two so they share the machine's noise.
  const a = [];
  const b = [];
  for (let i = 0; i < 15; i++) {
    a.push(median(base, { warmup: 10, runs: 60 }));
    b.push(median(guest, { warmup: 10, runs: 60 }));
  }
  const ta = med(a);
  const tb = med(b);
  console.log(
    `full verification (median of 15 medians, milan-v3-a + quote, cache ${cache ? 'on (default: certificates, AK chain and event log reused by their bytes)' : 'off (everything parsed and verified anew)'}):`,
  );
  console.log(`  without guest inputs                    ${ms(ta)}`);
  console.log(
    `  with nonce + AK certificate + event log ${ms(tb)}   ratio ${(tb / ta).toFixed(2)}x ${floor(`verification with guest inputs / without, cache ${cache ? 'on' : 'off'}`, Number((tb / ta).toFixed(2)), 1.3, 'x')}`,
  );
}
