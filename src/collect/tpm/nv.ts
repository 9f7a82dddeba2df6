// Reads the HCL report from NV index 0x01400001: size from NV_ReadPublic, owner authorization, chunks no
// larger than the TPM's NV buffer, offset 0 first and then in order (the paravisor regenerates the
// report when a read starts at offset 0), meaningful length from the HCL header.
import { performance } from 'node:perf_hooks';
import { CollectionError, InputError, ParseError } from '../../base/errors.js';
import { withTpm, type IoOptions, type TpmClient } from './client.js';
import {
  decodeGetCapabilityProperties,
  decodeNvRead,
  decodeNvReadPublic,
  encodeGetCapabilityProperties,
  encodeNvRead,
  encodeNvReadPublic,
  nvReadCtx,
  TPMA_NV,
  type NvPublic,
} from './commands.js';
import { DEFAULT_NV_BUFFER_MAX, HCL_NV_INDEX, hex32, TPM_PT_NV_BUFFER_MAX, TPM_PT_NV_INDEX_MAX, TPM_RH_OWNER } from '../../tpm/constants.js';
import { hclReportSize } from './hcl-header.js';
import type { TpmTransport, TransportSpec } from './transport.js';

export interface ReadNvOptions extends IoOptions {
  /** Default 0x01400001 (Azure's HCL report). */
  readonly nvIndex?: number;
  /** Who authorizes the read: the owner hierarchy (default, as `tpm2_nvread -C o`) or the index itself. */
  readonly auth?: 'owner' | 'index';
  /** Password of the authorizing entity (empty by default; Azure's owner auth is empty). */
  readonly password?: Uint8Array | string;
  /** Cap the chunk size below the TPM's NV buffer max (tests, or TPMs that misreport it). */
  readonly maxChunk?: number;
  /** Also read past report_size to the end of the index and return it as `indexData`. */
  readonly wholeIndex?: boolean;
  /** Called after each chunk arrives (offset, size): progress reporting. */
  readonly onChunk?: (offset: number, size: number) => void;
}

export interface NvReadResult {
  /** The meaningful bytes: report_size from the HCL header. */
  readonly hclReport: Uint8Array;
  /** The whole index (only with wholeIndex). */
  readonly indexData?: Uint8Array;
  readonly nvIndex: number;
  readonly nvIndexSize: number;
  readonly nvAttributes: number;
  /** TPM_PT_NV_BUFFER_MAX (or the 1024 default when the TPM does not say). */
  readonly nvBufferMax: number;
  readonly nvIndexMax?: number;
  /** Chunks as read: offset and size, in order. */
  readonly chunks: readonly { readonly offset: number; readonly size: number }[];
  readonly timings: { readonly totalMs: number };
}

/** Bytes of the HCL header that hold report_size. */
const HEADER_NEEDED = 12;

const absentHint = (idx: number): string =>
  idx === HCL_NV_INDEX
    ? `NV index ${hex32(idx)} (the HCL report) is not defined on this TPM: this is not an Azure Confidential VM (or the simulator was not provisioned).`
    : `NV index ${hex32(idx)} is not defined on this TPM.`;

/** TPM_PT_NV_BUFFER_MAX and TPM_PT_NV_INDEX_MAX in one GetCapability. */
export async function nvLimits(c: TpmClient): Promise<{ nvBufferMax: number; nvIndexMax?: number }> {
  const count = TPM_PT_NV_BUFFER_MAX - TPM_PT_NV_INDEX_MAX + 1;
  const { properties } = await c.run('TPM2_GetCapability', encodeGetCapabilityProperties(TPM_PT_NV_INDEX_MAX, count), decodeGetCapabilityProperties);
  const buf = properties.get(TPM_PT_NV_BUFFER_MAX);
  const idx = properties.get(TPM_PT_NV_INDEX_MAX);
  return { nvBufferMax: buf && buf > 0 ? buf : DEFAULT_NV_BUFFER_MAX, ...(idx ? { nvIndexMax: idx } : {}) };
}

export async function nvReadPublic(c: TpmClient, nvIndex: number): Promise<NvPublic> {
  return c.run('TPM2_NV_ReadPublic', encodeNvReadPublic(nvIndex), (resp) => decodeNvReadPublic(resp, nvIndex, { TPM_RC_HANDLE: absentHint(nvIndex) }));
}

function toBytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

/** Reads the HCL report from the NV index over a live transport (device or swtpm). */
export async function readHclNvIndex(transport: string | TransportSpec | TpmTransport, opts: ReadNvOptions = {}): Promise<NvReadResult> {
  const nvIndex = opts.nvIndex ?? HCL_NV_INDEX;
  if (opts.maxChunk !== undefined && !(Number.isInteger(opts.maxChunk) && opts.maxChunk >= 1)) {
    throw new InputError('E_TPM_OPTION', `maxChunk must be a positive integer, not ${opts.maxChunk}`);
  }
  const t0 = performance.now();
  const password = toBytes(opts.password);
  const authHandle = opts.auth === 'index' ? nvIndex : TPM_RH_OWNER;
  return withTpm(transport, opts, async (c) => {
    const limits = await nvLimits(c);
    const pub = await nvReadPublic(c, nvIndex);
    const size = pub.dataSize;
    if (size === 0) throw new CollectionError('E_TPM_NV_EMPTY', `NV index ${hex32(nvIndex)} has size 0: it holds no HCL report`);
    const chunk = Math.min(limits.nvBufferMax, opts.maxChunk ?? Infinity);
    const hints = {
      TPM_RC_NV_AUTHORIZATION:
        authHandle === TPM_RH_OWNER && !(pub.attributes & TPMA_NV.OWNERREAD)
          ? `NV index ${hex32(nvIndex)} has no OWNERREAD attribute (attributes 0x${pub.attributes.toString(16)}): it cannot be read with owner authorization.`
          : `NV index ${hex32(nvIndex)} (attributes 0x${pub.attributes.toString(16)}) does not allow this authorization.`,
      TPM_RC_NV_UNINITIALIZED: `NV index ${hex32(nvIndex)} exists but was never written: on Azure the paravisor writes the HCL report at boot.`,
      TPM_RC_AUTH_FAIL:
        authHandle === TPM_RH_OWNER
          ? 'the owner authorization (password) is wrong: pass the owner password, or ask the VM admin.'
          : 'the NV index password is wrong.',
      TPM_RC_BAD_AUTH:
        authHandle === TPM_RH_OWNER
          ? 'the owner authorization (password) is wrong: pass the owner password, or ask the VM admin.'
          : 'the NV index password is wrong.',
    };
    const ctx = nvReadCtx(authHandle, nvIndex, hints);
    const out = new Uint8Array(size);
    const chunks: { offset: number; size: number }[] = [];
    const readAt = async (offset: number, n: number): Promise<void> => {
      const data = await c.run('TPM2_NV_Read', encodeNvRead(authHandle, nvIndex, n, offset, password), (r) => decodeNvRead(r, ctx));
      if (data.length !== n) throw new CollectionError('E_TPM_PROTOCOL', `TPM2_NV_Read at offset ${offset} returned ${data.length} bytes, asked for ${n}`);
      out.set(data, offset);
      chunks.push({ offset, size: n });
      opts.onChunk?.(offset, n);
    };
    // Offset 0 first, then in order; enough chunks for the header's report_size (12 bytes), then the rest.
    let off = 0;
    while (off < Math.min(HEADER_NEEDED, size)) {
      await readAt(off, Math.min(chunk, size - off));
      off += Math.min(chunk, size - off);
    }
    let meaningful: number;
    try {
      meaningful = hclReportSize(out.subarray(0, off), size);
    } catch (e) {
      if (e instanceof ParseError) throw new CollectionError(e.code, `NV index ${hex32(nvIndex)}: ${e.message}`, { cause: e });
      throw e;
    }
    const end = opts.wholeIndex ? size : meaningful;
    for (; off < end; off += chunk) await readAt(off, Math.min(chunk, end - off));
    return {
      hclReport: out.slice(0, meaningful),
      ...(opts.wholeIndex ? { indexData: out } : {}),
      nvIndex,
      nvIndexSize: size,
      nvAttributes: pub.attributes,
      nvBufferMax: limits.nvBufferMax,
      ...(limits.nvIndexMax !== undefined ? { nvIndexMax: limits.nvIndexMax } : {}),
      chunks,
      timings: { totalMs: performance.now() - t0 },
    };
  });
}
