// Writes the verifier's nonce (zero-padded to 64 bytes) to NV index 0x01400002, where Azure's paravisor
// picks it up: the next HCL report it produces carries those bytes as the runtime data's `user-data`,
// bound into the AMD-signed REPORT_DATA. The guest owns this index: it is defined, if absent, in the
// owner hierarchy with an empty auth value, nameAlg SHA-256, 64 bytes, OWNERWRITE|OWNERREAD|AUTHWRITE|
// AUTHREAD (what Microsoft's samples, azure-cvm-tooling and OpenHCL's guest test tool use). An index of
// another size, or one the owner cannot write, is undefined and defined again.
import { InputError } from '../../base/errors.js';
import { hex32, TPM_ALG, TPM_RH_OWNER, USER_DATA_NV_INDEX, USER_DATA_SIZE } from '../../tpm/constants.js';
import { TpmResponseError } from '../../tpm/response-codes.js';
import { withTpm, type IoOptions, type TpmClient } from './client.js';
import {
  decodeNoParameters,
  encodeNvDefineSpace,
  encodeNvUndefineSpace,
  encodeNvWrite,
  nvDefineCtx,
  nvUndefineCtx,
  nvWriteCtx,
  TPMA_NV,
  type NvPublic,
} from './commands.js';
import { nvReadPublic } from './nv.js';
import type { TpmTransport, TransportSpec } from './transport.js';

/** The attributes the guest gives the user-data index. */
export const USER_DATA_ATTRIBUTES = TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD;

/** The nonce as the 64 bytes of user data: zero-padded on the right. */
export function userDataFor(nonce: Uint8Array): Uint8Array {
  if (!(nonce instanceof Uint8Array) || nonce.length < 1 || nonce.length > USER_DATA_SIZE) {
    throw new InputError('E_NONCE', `the report nonce must be 1-${USER_DATA_SIZE} bytes (got ${nonce?.length ?? 'none'})`);
  }
  const out = new Uint8Array(USER_DATA_SIZE);
  out.set(nonce);
  return out;
}

export interface UserDataWrite {
  /** What was done to the index before writing. */
  readonly index: 'existing' | 'defined' | 'redefined';
  /** TPMA_NV attributes of the index as written (WRITTEN set). */
  readonly attributes: number;
  readonly data: Uint8Array;
}

async function publicOrUndefined(c: TpmClient, idx: number): Promise<NvPublic | undefined> {
  try {
    return await nvReadPublic(c, idx);
  } catch (e) {
    if (e instanceof TpmResponseError && e.rcName === 'TPM_RC_HANDLE') return undefined;
    throw e;
  }
}

/** Writes 64 bytes of user data (the zero-padded nonce) to 0x01400002, defining the index when needed. */
export async function writeUserData(transport: string | TransportSpec | TpmTransport, nonce: Uint8Array, io: IoOptions = {}): Promise<UserDataWrite> {
  const data = userDataFor(nonce);
  const idx = USER_DATA_NV_INDEX;
  return withTpm(transport, io, async (c) => {
    const pub = await publicOrUndefined(c, idx);
    let index: UserDataWrite['index'] = 'existing';
    const usable = pub && pub.dataSize === USER_DATA_SIZE && (pub.attributes & TPMA_NV.OWNERWRITE) !== 0 && (pub.attributes & TPMA_NV.PLATFORMCREATE) === 0;
    if (pub && !usable) {
      await c.run('TPM2_NV_UndefineSpace', encodeNvUndefineSpace(TPM_RH_OWNER, idx), (r) =>
        decodeNoParameters(
          r,
          nvUndefineCtx(TPM_RH_OWNER, idx, {
            TPM_RC_NV_AUTHORIZATION: `NV index ${hex32(idx)} (attributes 0x${pub.attributes.toString(16)}, ${pub.dataSize} bytes) is not writable by the owner and cannot be redefined.`,
          }),
        ),
      );
      index = 'redefined';
    }
    if (!usable) {
      await c.run('TPM2_NV_DefineSpace', encodeNvDefineSpace(TPM_RH_OWNER, idx, USER_DATA_ATTRIBUTES, USER_DATA_SIZE, TPM_ALG.SHA256), (r) =>
        decodeNoParameters(
          r,
          nvDefineCtx(TPM_RH_OWNER, idx, {
            TPM_RC_AUTH_FAIL: 'the owner authorization is not empty: the user-data index cannot be defined.',
            TPM_RC_BAD_AUTH: 'the owner authorization is not empty: the user-data index cannot be defined.',
          }),
        ),
      );
      if (index === 'existing') index = 'defined';
    }
    await c.run('TPM2_NV_Write', encodeNvWrite(TPM_RH_OWNER, idx, data, 0), (r) => decodeNoParameters(r, nvWriteCtx(TPM_RH_OWNER, idx)));
    const after = await nvReadPublic(c, idx);
    return { index, attributes: after.attributes, data };
  });
}
