// Reads a whole NV index that is not the HCL report (the AK certificate at 0x01C101D0): size from
// NV_ReadPublic, owner authorization, chunks of at most the TPM's NV buffer, in order. An index that is
// not defined is `undefined` (not an error: older Azure VMs have no AK certificate).
import { CollectionError } from '../../base/errors.js';
import { hex32, TPM_RH_OWNER } from '../../tpm/constants.js';
import { TpmResponseError } from '../../tpm/response-codes.js';
import { withTpm, type IoOptions } from './client.js';
import { decodeNvRead, encodeNvRead, nvReadCtx } from './commands.js';
import { nvLimits, nvReadPublic } from './nv.js';
import type { TpmTransport, TransportSpec } from './transport.js';

/** Far above a certificate; an index this large is refused instead of read. */
export const MAX_NV_BLOB = 16 * 1024;

export async function readNvBlob(transport: string | TransportSpec | TpmTransport, nvIndex: number, io: IoOptions = {}): Promise<Uint8Array | undefined> {
  return withTpm(transport, io, async (c) => {
    let size: number;
    try {
      size = (await nvReadPublic(c, nvIndex)).dataSize;
    } catch (e) {
      if (e instanceof TpmResponseError && e.rcName === 'TPM_RC_HANDLE') return undefined;
      throw e;
    }
    if (size > MAX_NV_BLOB) throw new CollectionError('E_TPM_NV_SIZE', `NV index ${hex32(nvIndex)} is ${size} bytes, more than ${MAX_NV_BLOB}`);
    const { nvBufferMax } = await nvLimits(c);
    const out = new Uint8Array(size);
    const ctx = nvReadCtx(TPM_RH_OWNER, nvIndex, { TPM_RC_NV_UNINITIALIZED: `NV index ${hex32(nvIndex)} exists but was never written.` });
    for (let off = 0; off < size; off += nvBufferMax) {
      const n = Math.min(nvBufferMax, size - off);
      const data = await c.run('TPM2_NV_Read', encodeNvRead(TPM_RH_OWNER, nvIndex, n, off), (r) => decodeNvRead(r, ctx));
      if (data.length !== n) throw new CollectionError('E_TPM_PROTOCOL', `TPM2_NV_Read at offset ${off} returned ${data.length} bytes, asked for ${n}`);
      out.set(data, off);
    }
    return out;
  });
}
