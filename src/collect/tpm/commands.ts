// Encoders for the TPM 2.0 commands the collector sends, and decoders for their responses. Pure: bytes
// in, bytes or values out. A non-success response code becomes a TpmResponseError naming the
// command, the handle/parameter/session and a hint; a malformed response a ParseError.
import { ParseError } from '../../base/errors.js';
import { MAX_RESPONSE_BYTES, TPM_ALG, TPM_CAP_TPM_PROPERTIES, TPM_CC, TPM_RS_PW, TPM_ST, TPM_SU_CLEAR, hex32 } from '../../tpm/constants.js';
import { TpmReader, TpmWriter } from '../../tpm/marshal.js';
import { RC_SUCCESS, TpmResponseError, type CommandContext } from '../../tpm/response-codes.js';
import {
  readPcrSelection,
  readSignature,
  writePcrSelection,
  parsePublicArea,
  type PcrSelection,
  type TpmPublicKey,
  type TpmSignature,
} from '../../tpm/structures.js';

export const HEADER_SIZE = 10;

function command(tag: number, cc: number, body: (w: TpmWriter) => void): Uint8Array {
  const w = new TpmWriter();
  body(w);
  const params = w.finish();
  return new TpmWriter()
    .u16(tag)
    .u32(HEADER_SIZE + params.length)
    .u32(cc)
    .bytes(params)
    .finish();
}

/** An authorization area holding one password session (TPM_RS_PW, empty nonce, continueSession). */
function writePasswordSession(w: TpmWriter, password: Uint8Array): void {
  w.u32(4 + 2 + 1 + 2 + password.length)
    .u32(TPM_RS_PW)
    .tpm2b(new Uint8Array(0))
    .u8(0x01)
    .tpm2b(password);
}

/** Reads the 10-byte header: the total size a response claims, for the transports' framing. */
export function responseSizeFromHeader(header: Uint8Array): number {
  const r = new TpmReader(header, 'TPM response header');
  const tag = r.u16('tag');
  const size = r.u32('responseSize');
  if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.SESSIONS && tag !== 0x00c4) {
    throw new ParseError('E_TPM_RESPONSE_TAG', `TPM response tag is 0x${tag.toString(16)}, not a TPM 2.0 response`);
  }
  if (size < HEADER_SIZE || size > MAX_RESPONSE_BYTES) {
    throw new ParseError('E_TPM_RESPONSE_SIZE', `TPM response claims ${size} bytes (allowed ${HEADER_SIZE}-${MAX_RESPONSE_BYTES})`);
  }
  return size;
}

/** The response code of a complete response (0 = success); throws ParseError when the framing is wrong. */
export function responseCode(resp: Uint8Array): number {
  const size = responseSizeFromHeader(resp);
  if (size !== resp.length) throw new ParseError('E_TPM_RESPONSE_SIZE', `TPM response header says ${size} bytes but ${resp.length} arrived`);
  const r = new TpmReader(resp, 'TPM response header');
  r.bytes(6, 'tag and size');
  return r.u32('responseCode');
}

/**
 * Checks header and response code, and returns a reader over the response parameters. For responses
 * with sessions, the parameter area is bounded by parameterSize and the session area is left unread.
 */
export function openResponse(resp: Uint8Array, ctx: CommandContext, sessions: boolean): TpmReader {
  const what = `${ctx.command} response`;
  const rc = responseCode(resp);
  if (rc !== RC_SUCCESS) throw new TpmResponseError(ctx, rc);
  const r = new TpmReader(resp, what);
  const tag = r.u16('tag');
  r.u32('responseSize');
  r.u32('responseCode');
  const want = sessions ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
  if (tag !== want) throw new ParseError('E_TPM_RESPONSE_TAG', `${what} has tag 0x${tag.toString(16)}, expected 0x${want.toString(16)}`);
  if (!sessions) return r;
  const paramSize = r.u32('parameterSize');
  return r.sub(paramSize, 'parameters');
}

// ---- TPM2_Startup ----

export const STARTUP_CTX: CommandContext = { command: 'TPM2_Startup', parameters: ['startupType'] };

export function encodeStartup(): Uint8Array {
  return command(TPM_ST.NO_SESSIONS, TPM_CC.Startup, (w) => w.u16(TPM_SU_CLEAR));
}

// ---- TPM2_GetCapability (TPM_CAP_TPM_PROPERTIES) ----

export const GET_CAPABILITY_CTX: CommandContext = { command: 'TPM2_GetCapability', parameters: ['capability', 'property', 'propertyCount'] };

export function encodeGetCapabilityProperties(first: number, count: number): Uint8Array {
  return command(TPM_ST.NO_SESSIONS, TPM_CC.GetCapability, (w) => w.u32(TPM_CAP_TPM_PROPERTIES).u32(first).u32(count));
}

export function decodeGetCapabilityProperties(resp: Uint8Array): { moreData: boolean; properties: Map<number, number> } {
  const r = openResponse(resp, GET_CAPABILITY_CTX, false);
  const moreData = r.u8('moreData') !== 0;
  const cap = r.u32('capabilityData.capability');
  if (cap !== TPM_CAP_TPM_PROPERTIES) throw new ParseError('E_TPM_FIELD', `TPM2_GetCapability answered capability ${cap}, not TPM_PROPERTIES`);
  const count = r.u32('tpmProperty.count');
  if (count > 256) throw new ParseError('E_TPM_FIELD', `TPM2_GetCapability lists ${count} properties, more than 256`);
  const properties = new Map<number, number>();
  for (let i = 0; i < count; i++) properties.set(r.u32(`tpmProperty[${i}].property`), r.u32(`tpmProperty[${i}].value`));
  r.done('capabilityData');
  return { moreData, properties };
}

// ---- TPM2_NV_ReadPublic ----

export function nvReadPublicCtx(nvIndex: number, hints?: Record<string, string>): CommandContext {
  return { command: 'TPM2_NV_ReadPublic', handles: [{ name: 'nvIndex', value: nvIndex }], ...(hints ? { hints } : {}) };
}

export function encodeNvReadPublic(nvIndex: number): Uint8Array {
  return command(TPM_ST.NO_SESSIONS, TPM_CC.NV_ReadPublic, (w) => w.u32(nvIndex));
}

export interface NvPublic {
  readonly nvIndex: number;
  readonly nameAlg: number;
  /** TPMA_NV bits (e.g. 0x00040000 OWNERREAD, 0x00020000 AUTHREAD). */
  readonly attributes: number;
  readonly authPolicy: Uint8Array;
  readonly dataSize: number;
  readonly name: Uint8Array;
}

export function decodeNvReadPublic(resp: Uint8Array, nvIndex: number, hints?: Record<string, string>): NvPublic {
  const r = openResponse(resp, nvReadPublicCtx(nvIndex, hints), false);
  const pub = r.sub(r.u16('nvPublic.size'), 'nvPublic');
  const index = pub.u32('nvPublic.nvIndex');
  const nameAlg = pub.u16('nvPublic.nameAlg');
  const attributes = pub.u32('nvPublic.attributes');
  const authPolicy = pub.tpm2b('nvPublic.authPolicy', 64);
  const dataSize = pub.u16('nvPublic.dataSize');
  pub.done('TPMS_NV_PUBLIC');
  const name = r.tpm2b('nvName', 68);
  r.done('nvName');
  if (index !== nvIndex) throw new ParseError('E_TPM_FIELD', `TPM2_NV_ReadPublic answered for index ${hex32(index)}, not ${hex32(nvIndex)}`);
  return { nvIndex: index, nameAlg, attributes, authPolicy, dataSize, name };
}

/** TPMA_NV attribute bits we report on. */
export const TPMA_NV = {
  PPWRITE: 1 << 0,
  OWNERWRITE: 1 << 1,
  AUTHWRITE: 1 << 2,
  PPREAD: 1 << 16,
  OWNERREAD: 1 << 17,
  AUTHREAD: 1 << 18,
  POLICYREAD: 1 << 19,
  NO_DA: 1 << 25,
  WRITTEN: 1 << 29,
  PLATFORMCREATE: 1 << 30,
} as const;

// ---- TPM2_NV_Read ----

export function nvReadCtx(authHandle: number, nvIndex: number, hints?: Record<string, string>): CommandContext {
  return {
    command: 'TPM2_NV_Read',
    handles: [
      { name: 'authHandle', value: authHandle },
      { name: 'nvIndex', value: nvIndex },
    ],
    parameters: ['size', 'offset'],
    ...(hints ? { hints } : {}),
  };
}

export function encodeNvRead(authHandle: number, nvIndex: number, size: number, offset: number, password: Uint8Array = new Uint8Array(0)): Uint8Array {
  return command(TPM_ST.SESSIONS, TPM_CC.NV_Read, (w) => {
    w.u32(authHandle).u32(nvIndex);
    writePasswordSession(w, password);
    w.u16(size).u16(offset);
  });
}

export function decodeNvRead(resp: Uint8Array, ctx: CommandContext): Uint8Array {
  const r = openResponse(resp, ctx, true);
  const data = r.tpm2b('data');
  r.done('data');
  return data;
}

// ---- TPM2_PCR_Read ----

export const PCR_READ_CTX: CommandContext = { command: 'TPM2_PCR_Read', parameters: ['pcrSelectionIn'] };

export function encodePcrRead(pcrs: readonly number[], hashAlg: number = TPM_ALG.SHA256): Uint8Array {
  return command(TPM_ST.NO_SESSIONS, TPM_CC.PCR_Read, (w) => writePcrSelection(w, pcrs, hashAlg));
}

export interface PcrReadResult {
  readonly updateCounter: number;
  readonly selection: PcrSelection[];
  readonly digests: Uint8Array[];
}

export function decodePcrRead(resp: Uint8Array): PcrReadResult {
  const r = openResponse(resp, PCR_READ_CTX, false);
  const updateCounter = r.u32('pcrUpdateCounter');
  const selection = readPcrSelection(r, 'pcrSelectionOut');
  const count = r.u32('pcrValues.count');
  if (count > 8) throw new ParseError('E_TPM_FIELD', `TPM2_PCR_Read returned ${count} digests, more than the 8 a TPML_DIGEST holds`);
  const digests: Uint8Array[] = [];
  for (let i = 0; i < count; i++) digests.push(r.tpm2b(`pcrValues[${i}]`, 64));
  r.done('pcrValues');
  const selected = selection.reduce((n, s) => n + s.pcrs.length, 0);
  if (selected !== count) throw new ParseError('E_TPM_FIELD', `TPM2_PCR_Read selected ${selected} PCRs but returned ${count} digests`);
  return { updateCounter, selection, digests };
}

// ---- TPM2_ReadPublic ----

export function readPublicCtx(handle: number, hints?: Record<string, string>): CommandContext {
  return { command: 'TPM2_ReadPublic', handles: [{ name: 'objectHandle', value: handle }], ...(hints ? { hints } : {}) };
}

export function encodeReadPublic(handle: number): Uint8Array {
  return command(TPM_ST.NO_SESSIONS, TPM_CC.ReadPublic, (w) => w.u32(handle));
}

export function decodeReadPublic(
  resp: Uint8Array,
  handle: number,
  hints?: Record<string, string>,
): { publicArea: Uint8Array; key: TpmPublicKey; name: Uint8Array } {
  const r = openResponse(resp, readPublicCtx(handle, hints), false);
  const publicArea = r.tpm2b('outPublic');
  const name = r.tpm2b('name', 68);
  r.tpm2b('qualifiedName', 68);
  r.done('qualifiedName');
  return { publicArea, key: parsePublicArea(publicArea), name };
}

// ---- TPM2_Quote ----

export function quoteCtx(signHandle: number, hints?: Record<string, string>): CommandContext {
  return {
    command: 'TPM2_Quote',
    handles: [{ name: 'signHandle', value: signHandle }],
    parameters: ['qualifyingData', 'inScheme', 'PCRselect'],
    ...(hints ? { hints } : {}),
  };
}

export function encodeQuote(signHandle: number, qualifyingData: Uint8Array, pcrs: readonly number[], password: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (qualifyingData.length > 64) throw new ParseError('E_TPM_NONCE', `the quote nonce is ${qualifyingData.length} bytes; at most 64 fit a TPM2B_DATA`);
  return command(TPM_ST.SESSIONS, TPM_CC.Quote, (w) => {
    w.u32(signHandle);
    writePasswordSession(w, password);
    w.tpm2b(qualifyingData);
    w.u16(TPM_ALG.NULL); // inScheme NULL: the AK's own scheme (RSASSA-SHA256 on Azure)
    writePcrSelection(w, pcrs);
  });
}

export function decodeQuote(resp: Uint8Array, ctx: CommandContext): { attest: Uint8Array; signature: TpmSignature } {
  const r = openResponse(resp, ctx, true);
  const attest = r.tpm2b('quoted');
  const signature = readSignature(r);
  r.done('signature');
  return { attest, signature };
}

// ---- TPM2_NV_DefineSpace / TPM2_NV_UndefineSpace / TPM2_NV_Write (the user-data index 0x01400002) ----

export function nvDefineCtx(authHandle: number, nvIndex: number, hints?: Record<string, string>): CommandContext {
  return {
    command: 'TPM2_NV_DefineSpace',
    handles: [{ name: 'authHandle', value: authHandle }],
    parameters: ['auth', 'publicInfo'],
    hints: { TPM_RC_NV_DEFINED: `NV index ${hex32(nvIndex)} is already defined.`, ...hints },
  };
}

/** Defines an ordinary NV index with an empty auth value and no policy. */
export function encodeNvDefineSpace(
  authHandle: number,
  nvIndex: number,
  attributes: number,
  dataSize: number,
  nameAlg: number = TPM_ALG.SHA256,
  password: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return command(TPM_ST.SESSIONS, TPM_CC.NV_DefineSpace, (w) => {
    w.u32(authHandle);
    writePasswordSession(w, password);
    w.tpm2b(new Uint8Array(0)); // auth: empty
    const pub = new TpmWriter().u32(nvIndex).u16(nameAlg).u32(attributes).tpm2b(new Uint8Array(0)).u16(dataSize).finish();
    w.tpm2b(pub);
  });
}

export function nvUndefineCtx(authHandle: number, nvIndex: number, hints?: Record<string, string>): CommandContext {
  return {
    command: 'TPM2_NV_UndefineSpace',
    handles: [
      { name: 'authHandle', value: authHandle },
      { name: 'nvIndex', value: nvIndex },
    ],
    ...(hints ? { hints } : {}),
  };
}

export function encodeNvUndefineSpace(authHandle: number, nvIndex: number, password: Uint8Array = new Uint8Array(0)): Uint8Array {
  return command(TPM_ST.SESSIONS, TPM_CC.NV_UndefineSpace, (w) => {
    w.u32(authHandle).u32(nvIndex);
    writePasswordSession(w, password);
  });
}

export function nvWriteCtx(authHandle: number, nvIndex: number, hints?: Record<string, string>): CommandContext {
  return {
    command: 'TPM2_NV_Write',
    handles: [
      { name: 'authHandle', value: authHandle },
      { name: 'nvIndex', value: nvIndex },
    ],
    parameters: ['data', 'offset'],
    ...(hints ? { hints } : {}),
  };
}

export function encodeNvWrite(authHandle: number, nvIndex: number, data: Uint8Array, offset: number, password: Uint8Array = new Uint8Array(0)): Uint8Array {
  return command(TPM_ST.SESSIONS, TPM_CC.NV_Write, (w) => {
    w.u32(authHandle).u32(nvIndex);
    writePasswordSession(w, password);
    w.tpm2b(data);
    w.u16(offset);
  });
}

/** Responses with sessions and no output parameters (DefineSpace, UndefineSpace, Write). */
export function decodeNoParameters(resp: Uint8Array, ctx: CommandContext): void {
  openResponse(resp, ctx, true).done('parameters');
}
