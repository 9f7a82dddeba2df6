// collect/tpm/report-user-data.ts reads the runtime data at hcl/header.ts's offsets, for SNP and TDX.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { reportUserData } from '../../src/collect/tpm/report-user-data.js';
import { HCL_REQ_OFFSET, HCL_RUNTIME_OFFSET } from '../../src/hcl/header.js';

const fx = (p: string): Buffer => readFileSync(new URL(`../fixtures/${p}`, import.meta.url));
/** The runtime data's user-data, found in the JSON text itself. */
const inJson = (b: Buffer): string => /"user-data":"([0-9A-Fa-f]+)"/.exec(b.toString('latin1'))![1]!.toUpperCase();

describe('reportUserData', () => {
  for (const f of [
    'azure-hcl/genoa/hcl-report.bin',
    'azure-hcl/milan-v3-a/hcl-report.bin',
    'azure-tdx/hcl-report.bin',
    'azure-tdx/hcl-report-tdx-noquote.bin',
  ]) {
    it(`${f}: the runtime data's user-data`, () => {
      const b = fx(f);
      assert.equal(reportUserData(b), inJson(b));
    });
  }

  it('a TDX report with a user-data written: found (its request data follows the 1184-byte area too)', () => {
    const b = Buffer.from(fx('azure-tdx/hcl-report.bin'));
    assert.equal(b.readUInt32LE(HCL_REQ_OFFSET + 8), 4);
    const size = b.readUInt32LE(HCL_REQ_OFFSET + 16);
    const text = b
      .subarray(HCL_RUNTIME_OFFSET, HCL_RUNTIME_OFFSET + size)
      .toString('latin1')
      .replace(/"user-data":"0{8}/, '"user-data":"ab12cd34');
    b.write(text, HCL_RUNTIME_OFFSET, 'latin1');
    assert.match(reportUserData(b) ?? '', /^AB12CD34/);
  });

  it('no report type it knows, or truncated: undefined', () => {
    const b = Buffer.from(fx('azure-tdx/hcl-report.bin'));
    b.writeUInt32LE(3, HCL_REQ_OFFSET + 8);
    assert.equal(reportUserData(b), undefined);
    assert.equal(reportUserData(fx('azure-tdx/hcl-report.bin').subarray(0, HCL_RUNTIME_OFFSET + 10)), undefined);
  });
});
