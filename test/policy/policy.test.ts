// Policy file: parsing (unknown keys rejected, types checked, defaults), the published schema agreeing
// with the parser, and every rule judged on real evidence.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePolicy, defaultPolicy, policySummary, verifyEvidenceSync, ParseError, type VerifyOptions } from '../../src/index.js';
import { check, failed, fixture, NOW } from '../verify/fixtures.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '../../extension/policy.schema.json'), 'utf8')) as {
  properties: Record<string, { default?: unknown; properties?: Record<string, unknown> }>;
  additionalProperties: boolean;
  examples: unknown[];
};

describe('parsePolicy', () => {
  it('empty object = the safe default', () => {
    const p = parsePolicy({});
    assert.deepEqual({ ...p }, { ...defaultPolicy });
    assert.equal(p.allowDebug, false);
    assert.equal(p.maxVmpl, 0);
    assert.equal(p.allowMigrationAgent, false);
    assert.equal(p.allowVlek, false);
    assert.equal(p.requireRuntimeDataBinding, true);
    assert.equal(p.crl, 'warn');
  });

  it('unknown keys, wrong types and bad values are ParseErrors naming the key', () => {
    const bad: [unknown, RegExp][] = [
      [{ allowDebg: true }, /unknown key "allowDebg"/],
      [{ allowDebug: 'no' }, /allowDebug/],
      [{ maxVmpl: 4 }, /maxVmpl/],
      [{ maxVmpl: 0.5 }, /maxVmpl/],
      [{ minimumTcb: { snp: 256 } }, /minimumTcb.snp/],
      [{ minimumTcb: { spn: 1 } }, /unknown component "spn"/],
      [{ allowedMeasurements: ['00'] }, /allowedMeasurements\[0\]/],
      [{ allowedMeasurements: [] }, /allowedMeasurements/],
      [{ allowedProducts: ['Rome'] }, /allowedProducts/],
      [{ minimumFirmwareVersion: '1.x' }, /minimumFirmwareVersion/],
      [{ crl: 'strict' }, /crl/],
      [[], /JSON object/],
      [null, /JSON object/],
    ];
    for (const [j, re] of bad)
      assert.throws(
        () => parsePolicy(j),
        (e: unknown) => e instanceof ParseError && re.test(e.message),
        JSON.stringify(j),
      );
  });

  it('hex allowlists are normalised to lowercase; $schema is accepted and not part of the hash', () => {
    const p = parsePolicy({ allowedHostData: ['AB'.repeat(32)], $schema: 'x' });
    assert.deepEqual(p.allowedHostData, ['ab'.repeat(32)]);
    assert.equal(policySummary(p).hash, policySummary(parsePolicy({ allowedHostData: ['ab'.repeat(32)] })).hash);
  });

  it('the policy hash is canonical (key order does not matter) and changes with the policy', () => {
    const a = policySummary(parsePolicy({ maxVmpl: 1, allowDebug: false }));
    const b = policySummary(parsePolicy({ allowDebug: false, maxVmpl: 1 }));
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, policySummary(defaultPolicy).hash);
    assert.deepEqual(policySummary(parsePolicy({ minimumTcb: { snp: 8 } })).minimumTcb, { snp: 8 });
  });

  it('the published schema lists exactly the keys the parser accepts, with the same defaults', () => {
    assert.equal(schema.additionalProperties, false);
    for (const k of Object.keys(schema.properties)) {
      if (k === '$schema') continue;
      const v = k === 'minimumTcb' ? {} : k.startsWith('allowed') ? undefined : schema.properties[k]!.default;
      if (v !== undefined) assert.doesNotThrow(() => parsePolicy({ [k]: v }), k);
      if (schema.properties[k]!.default !== undefined)
        assert.deepEqual((defaultPolicy as unknown as Record<string, unknown>)[k], schema.properties[k]!.default, k);
    }
    for (const k of Object.keys(defaultPolicy)) assert.ok(k in schema.properties, `schema lacks ${k}`);
    assert.throws(() => parsePolicy({ notInSchema: 1 }), ParseError);
    for (const ex of schema.examples) assert.doesNotThrow(() => parsePolicy(ex));
    assert.deepEqual(Object.keys(schema.properties.minimumTcb!.properties!).sort(), ['bootloader', 'fmc', 'microcode', 'snp', 'tee']);
  });

  it('schema and parser agree on minimumFirmwareVersion (each part 0..255) and on empty allowlists (refused)', () => {
    const fw = new RegExp((schema.properties.minimumFirmwareVersion as { pattern: string }).pattern, 'u');
    for (const v of ['1.55', '1.55.29', '0.0', '255.255.255', '1.256', '256.0', '1.2.300', '1.2.3.4', '01.2x', '']) {
      let parsed = true;
      try {
        parsePolicy({ minimumFirmwareVersion: v });
      } catch {
        parsed = false;
      }
      assert.equal(fw.test(v), parsed, `"${v}": schema ${fw.test(v)}, parser ${parsed}`);
    }
    for (const k of ['allowedMeasurements', 'allowedHostData', 'allowedIdKeyDigests', 'allowedFamilyIds', 'allowedImageIds', 'allowedProducts']) {
      assert.throws(() => parsePolicy({ [k]: [] }), ParseError, k);
      const prop = schema.properties[k] as { minItems?: number; $ref?: string };
      const def = prop.$ref ? (schema as unknown as { $defs: Record<string, { minItems?: number }> }).$defs[prop.$ref.replace('#/$defs/', '')] : prop;
      assert.equal(def?.minItems, 1, `${k}: the schema must refuse an empty list too`);
    }
  });
});

describe('policy rules on real evidence (milan-v3-a: TCB bootloader 4, tee 0, snp 24, microcode 219; firmware 1.55.29)', () => {
  const dir = 'azure-hcl/milan-v3-a';
  const base: VerifyOptions = { evidence: fixture(`${dir}/hcl-report.bin`), vcek: fixture(`${dir}/vcek.pem`), now: NOW };
  const withPolicy = (j: unknown) => verifyEvidenceSync({ ...base, policy: parsePolicy(j) });
  const measurement = withPolicy({}).claims['x-ms-sevsnpvm-launchmeasurement'] as string;

  it('minimum TCB on REPORTED_TCB', () => {
    assert.equal(check(withPolicy({ minimumTcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 } }), 'policy.minimum-tcb').status, 'pass');
    const r = withPolicy({ minimumTcb: { snp: 25 } });
    assert.deepEqual(failed(r), ['policy.minimum-tcb']);
    assert.match(check(r, 'policy.minimum-tcb').reason, /snp 24 < 25/);
    // fmc applies to Turin only.
    assert.equal(check(withPolicy({ minimumTcb: { fmc: 9 } }), 'policy.minimum-tcb').status, 'pass');
  });

  it('milan-v2 (CURRENT_TCB microcode 210, REPORTED = COMMITTED microcode 115): the minimum applies to REPORTED, optionally COMMITTED, never CURRENT', () => {
    const v2: VerifyOptions = { evidence: fixture('azure-hcl/milan-v2/hcl-report.bin'), vcek: fixture('azure-hcl/milan-v2/vcek-chain.pem'), now: NOW };
    const c = verifyEvidenceSync(v2).claims;
    assert.equal((c['cvm-attest-current-tcb'] as Record<string, number>).microcode, 210);
    assert.equal((c['cvm-attest-reported-tcb'] as Record<string, number>).microcode, 115);
    const r = verifyEvidenceSync({ ...v2, policy: parsePolicy({ minimumTcb: { microcode: 200 } }) });
    assert.deepEqual(failed(r), ['policy.minimum-tcb']);
    assert.match(check(r, 'policy.minimum-tcb').reason, /microcode 115 < 200/);
    const ok = verifyEvidenceSync({ ...v2, policy: parsePolicy({ minimumTcb: { microcode: 115, snp: 8 }, minimumTcbCommitted: true }) });
    assert.equal(ok.verdict, 'pass');
    assert.equal(check(ok, 'policy.minimum-tcb-committed').status, 'pass');
    const both = verifyEvidenceSync({ ...v2, policy: parsePolicy({ minimumTcb: { snp: 9 }, minimumTcbCommitted: true }) });
    assert.deepEqual(failed(both), ['policy.minimum-tcb', 'policy.minimum-tcb-committed']);
  });

  it('allowlists: measurement, host data, id key digest, family and image id', () => {
    assert.equal(withPolicy({ allowedMeasurements: [measurement] }).verdict, 'pass');
    assert.deepEqual(failed(withPolicy({ allowedMeasurements: ['00'.repeat(48)] })), ['policy.measurement']);
    assert.deepEqual(failed(withPolicy({ allowedHostData: ['11'.repeat(32)] })), ['policy.host-data']);
    assert.deepEqual(failed(withPolicy({ allowedIdKeyDigests: ['11'.repeat(48)] })), ['policy.id-key-digest']);
    assert.deepEqual(failed(withPolicy({ allowedFamilyIds: ['11'.repeat(16)] })), ['policy.family-id']);
    assert.deepEqual(failed(withPolicy({ allowedImageIds: ['11'.repeat(16)] })), ['policy.image-id']);
    const c = withPolicy({}).claims;
    assert.equal(
      withPolicy({
        allowedHostData: [c['x-ms-sevsnpvm-hostdata']],
        allowedFamilyIds: [c['x-ms-sevsnpvm-familyId']],
        allowedImageIds: [c['x-ms-sevsnpvm-imageId']],
        allowedIdKeyDigests: [c['x-ms-sevsnpvm-idkeydigest']],
      }).verdict,
      'pass',
    );
  });

  it('products, firmware version, guest SVN, freshness required', () => {
    assert.equal(withPolicy({ allowedProducts: ['Milan'] }).verdict, 'pass');
    assert.deepEqual(failed(withPolicy({ allowedProducts: ['Genoa', 'Turin'] })), ['policy.product']);
    assert.equal(withPolicy({ minimumFirmwareVersion: '1.55.29' }).verdict, 'pass');
    assert.equal(withPolicy({ minimumFirmwareVersion: '1.55' }).verdict, 'pass');
    assert.deepEqual(failed(withPolicy({ minimumFirmwareVersion: '1.55.30' })), ['policy.firmware-version']);
    assert.deepEqual(failed(withPolicy({ minimumFirmwareVersion: '1.56' })), ['policy.firmware-version']);
    const svn = withPolicy({}).claims['x-ms-sevsnpvm-guestsvn'] as number;
    assert.equal(withPolicy({ minimumGuestSvn: svn }).verdict, 'pass');
    assert.deepEqual(failed(withPolicy({ minimumGuestSvn: svn + 1 })), ['policy.guest-svn']);
    assert.deepEqual(failed(withPolicy({ requireFreshness: true })), ['policy.freshness']);
    const quote = { message: fixture(`${dir}/quote.msg`), signature: fixture(`${dir}/quote.sig`), nonce: Buffer.from('challenge') };
    assert.equal(verifyEvidenceSync({ ...base, quote, policy: parsePolicy({ requireFreshness: true }) }).verdict, 'pass');
    assert.deepEqual(failed(verifyEvidenceSync({ ...base, quote, replayed: true, policy: parsePolicy({ requireFreshness: true }) })), ['policy.freshness']);
  });

  it('requireRuntimeDataBinding false turns a binding mismatch into a warning', () => {
    const ev = Uint8Array.from(base.evidence);
    ev[0x4d4 + 10]! ^= 1;
    assert.deepEqual(failed(verifyEvidenceSync({ ...base, evidence: ev })), ['runtime-data']);
    const r = verifyEvidenceSync({ ...base, evidence: ev, policy: parsePolicy({ requireRuntimeDataBinding: false }) });
    assert.equal(r.verdict, 'pass');
    assert.equal(check(r, 'runtime-data').status, 'warn');
    assert.equal(r.claims['x-ms-runtime'], undefined);
  });
});
