// Derives an HCL report whose runtime data carries given user data: the runtime-data JSON is rewritten
// with `user-data` set, the HCL lengths updated and REPORT_DATA re-bound to the new JSON's hash. The
// AMD signature over the report then fails (as it must): tests judge the freshness logic apart from it.
import { createHash } from 'node:crypto';

const REQ = 0x20 + 1184;
/** REPORT_DATA of the SNP report in the HCL report's report area. */
const SNP_REPORT_DATA = 0x20 + 0x50;

/**
 * The HCL report's header and request data with the runtime-data JSON changed by `mutate` and every
 * length updated, the new JSON's SHA-256 (zero-padded to 64 bytes) written at `reportDataAt`; the JSON
 * bytes apart. SNP and TDX evidence (test/tdx/derive.ts) are derived through it.
 */
export function rebindRuntime(
  hcl: Uint8Array,
  mutate: (json: Record<string, unknown>) => void,
  reportDataAt: number,
): { head: Buffer; runtime: Buffer; reportData: Buffer } {
  const b = Buffer.from(hcl);
  const varSize = b.readUInt32LE(REQ + 16);
  const json = JSON.parse(b.subarray(REQ + 20, REQ + 20 + varSize).toString('utf8')) as Record<string, unknown>;
  mutate(json);
  const runtime = Buffer.from(JSON.stringify(json));
  const head = Buffer.from(b.subarray(0, REQ + 20));
  head.writeUInt32LE(REQ + 20 + runtime.length, 8); // report_size
  head.writeUInt32LE(20 + runtime.length, REQ); // data_size
  head.writeUInt32LE(runtime.length, REQ + 16); // variable_data_size
  const reportData = Buffer.alloc(64);
  createHash('sha256').update(runtime).digest().copy(reportData);
  reportData.copy(head, reportDataAt);
  return { head, runtime, reportData };
}

/** An HCL report whose runtime data is changed by `mutate`, lengths and REPORT_DATA re-bound. */
export function withRuntime(hcl: Uint8Array, mutate: (json: Record<string, unknown>) => void): Buffer {
  const { head, runtime } = rebindRuntime(hcl, mutate, SNP_REPORT_DATA);
  return Buffer.concat([head, runtime]);
}

export function withUserData(hcl: Uint8Array, userData: Uint8Array, pad = 0): Buffer {
  const { head, runtime } = rebindRuntime(
    hcl,
    (j) => {
      j['user-data'] = Buffer.from(userData).toString('hex').toUpperCase();
    },
    SNP_REPORT_DATA,
  );
  return Buffer.concat([head, runtime, Buffer.alloc(pad)]);
}

/** A nonce zero-padded to the 64 bytes of user data. */
export function padded(nonce: Uint8Array): Buffer {
  const out = Buffer.alloc(64);
  Buffer.from(nonce).copy(out);
  return out;
}

/** An HCL report whose HCLAkPub is `jwk` (e.g. the key of an AK certificate). */
export function withAkPub(hcl: Uint8Array, jwk: { n: string; e: string }): Buffer {
  return withRuntime(hcl, (j) => {
    const keys = j.keys as Record<string, unknown>[];
    const ak = keys.find((k) => k.kid === 'HCLAkPub')!;
    ak.n = jwk.n;
    ak.e = jwk.e;
  });
}
