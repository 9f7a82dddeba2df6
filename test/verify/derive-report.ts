// Derives an HCL report whose runtime data carries given user data: the runtime-data JSON is rewritten
// with `user-data` set, the HCL lengths updated and REPORT_DATA re-bound to the new JSON's hash. The
// AMD signature over the report then fails (as it must): tests judge the freshness logic apart from it.
import { createHash } from 'node:crypto';

const REQ = 0x20 + 1184;

export function withUserData(hcl: Uint8Array, userData: Uint8Array, pad = 0): Buffer {
  const b = Buffer.from(hcl);
  const varSize = b.readUInt32LE(REQ + 16);
  const json = JSON.parse(b.subarray(REQ + 20, REQ + 20 + varSize).toString('utf8')) as Record<string, unknown>;
  json['user-data'] = Buffer.from(userData).toString('hex').toUpperCase();
  const rd = Buffer.from(JSON.stringify(json));
  const head = Buffer.from(b.subarray(0, REQ + 20));
  head.writeUInt32LE(REQ + 20 + rd.length, 8); // report_size
  head.writeUInt32LE(20 + rd.length, REQ); // data_size
  head.writeUInt32LE(rd.length, REQ + 16); // variable_data_size
  const digest = createHash('sha256').update(rd).digest();
  head.fill(0, 0x20 + 0x50, 0x20 + 0x90);
  digest.copy(head, 0x20 + 0x50);
  return Buffer.concat([head, rd, Buffer.alloc(pad)]);
}

/** A nonce zero-padded to the 64 bytes of user data. */
export function padded(nonce: Uint8Array): Buffer {
  const out = Buffer.alloc(64);
  Buffer.from(nonce).copy(out);
  return out;
}

/** An HCL report whose runtime data is changed by `mutate`, lengths and REPORT_DATA re-bound. */
export function withRuntime(hcl: Uint8Array, mutate: (json: Record<string, unknown>) => void): Buffer {
  const b = Buffer.from(hcl);
  const varSize = b.readUInt32LE(REQ + 16);
  const json = JSON.parse(b.subarray(REQ + 20, REQ + 20 + varSize).toString('utf8')) as Record<string, unknown>;
  mutate(json);
  const rd = Buffer.from(JSON.stringify(json));
  const head = Buffer.from(b.subarray(0, REQ + 20));
  head.writeUInt32LE(REQ + 20 + rd.length, 8);
  head.writeUInt32LE(20 + rd.length, REQ);
  head.writeUInt32LE(rd.length, REQ + 16);
  head.fill(0, 0x20 + 0x50, 0x20 + 0x90);
  createHash('sha256')
    .update(rd)
    .digest()
    .copy(head, 0x20 + 0x50);
  return Buffer.concat([head, rd]);
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
