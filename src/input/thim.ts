// The IMDS THIM certification body, validated strictly. Pure: no I/O.
// Shape (formats.md): {"vcekCert": PEM, "tcbm": 16 hex digits (REPORTED_TCB as big-endian u64 text),
// "certificateChain": PEM ASK + PEM ARK, "cacheControl": seconds as a decimal string}.
import { CollectionError, ParseError } from '../base/errors.js';
import { readPem, type PemText } from '../x509/pem.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../base/bounded-json.js';

export interface ThimCertificates {
  /** The VCEK, one PEM CERTIFICATE block. */
  readonly vcekPem: string;
  /** ASK and ARK, as PEM CERTIFICATE blocks (order as served). */
  readonly chainPem: string;
  /** REPORTED_TCB the VCEK was issued for, as a u64. */
  readonly tcbm: bigint;
  /** Seconds the service says the certificates may be cached. */
  readonly cacheControlSeconds: number;
}

/** IMDS answered, but not with the shape the contract promises. */
export class ImdsResponseError extends CollectionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_IMDS_BAD_RESPONSE', message, options);
  }
}

export const THIM_MAX_BYTES = 64 * 1024;
/** A cacheControl beyond this is clamped: a certificate cache should be revalidated at least monthly. */
export const CACHE_CONTROL_MAX_SECONDS = 30 * 24 * 3600;

/** Builds the error a THIM reader throws: IMDS's answers are collection errors, a user's file is a parse error. */
export type ThimFail = (message: string, cause?: unknown) => Error;
const imdsFail: ThimFail = (m, cause) => new ImdsResponseError(m, cause === undefined ? undefined : { cause });

/** The DER bytes of each PEM CERTIFICATE block in `text`; throws (by `fail`) when anything else is there. */
export function pemCertificates(text: string, what: string, fail: ThimFail = imdsFail): Buffer[] {
  let pem: PemText;
  try {
    pem = readPem(text, { what, code: 'E_IMDS_BAD_RESPONSE', maxBlocks: 8 });
  } catch (e) {
    if (e instanceof ParseError) throw fail(e.message, e);
    throw e;
  }
  if (pem.outside !== '' || pem.blocks.some((b) => b.label !== 'CERTIFICATE')) throw fail(`${what}: unexpected text outside PEM CERTIFICATE blocks`);
  return pem.blocks.map((b) => {
    // A DER certificate is a SEQUENCE with a long-form length: 30 82 .. ..
    if (b.der.length < 64 || b.der[0] !== 0x30) throw fail(`${what}: a PEM block does not hold a DER certificate`);
    return Buffer.from(b.der);
  });
}

/** A THIM body's fields, checked. */
export interface ThimFields {
  readonly vcekPem: string;
  readonly chainPem?: string;
  /** 16 hex digits as sent. */
  readonly tcbm: string;
  readonly cacheControl?: string;
  /** The VCEK's DER, then the chain's (ASK, ARK as served). */
  readonly ders: Buffer[];
}

/**
 * Checks a parsed THIM body. `complete`: all four fields as IMDS must send them (chain of ASK and ARK,
 * cacheControl); otherwise (a THIM body a user saved as --vcek) the chain and cacheControl may be absent.
 */
export function thimFields(json: unknown, o: { complete: boolean; fail: ThimFail }): ThimFields {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw o.fail('THIM response is not a JSON object');
  const obj = json as Record<string, unknown>;
  const field = (name: string, required: boolean): string | undefined => {
    const v = obj[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string') throw o.fail(`THIM response: "${name}" is ${v === undefined ? 'missing' : `a ${typeof v}, not a string`}`);
    return v;
  };
  const vcekPem = field('vcekCert', true)!;
  const tcbm = field('tcbm', true)!;
  const chainPem = field('certificateChain', o.complete);
  const cacheControl = field('cacheControl', o.complete);
  const vcek = pemCertificates(vcekPem, 'THIM vcekCert', o.fail);
  if (vcek.length !== 1) throw o.fail('THIM vcekCert must hold exactly one certificate');
  const chain = chainPem === undefined ? [] : pemCertificates(chainPem, 'THIM certificateChain', o.fail);
  if (o.complete && chain.length !== 2) throw o.fail(`THIM certificateChain must hold 2 certificates (ASK and ARK), found ${chain.length}`);
  if (!/^[0-9A-Fa-f]{16}$/.test(tcbm)) throw o.fail(`THIM tcbm "${tcbm.slice(0, 40)}" is not 16 hex digits`);
  return { vcekPem, tcbm, ders: [...vcek, ...chain], ...(chainPem !== undefined ? { chainPem } : {}), ...(cacheControl !== undefined ? { cacheControl } : {}) };
}

/** The JSON value of an IMDS body (`what` names it in errors), its size checked first. */
export function parseImdsJson(body: Buffer | string, what: string, maxBytes: number): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.length > maxBytes) throw new ImdsResponseError(`${what} of ${text.length} bytes exceeds ${maxBytes}`);
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new ImdsResponseError(`${what} is nested more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ImdsResponseError(`${what} is not valid JSON (${text.length} bytes; truncated?)`, { cause: e });
  }
}

/** Parses and checks a THIM body. Every deviation is an ImdsResponseError naming the field. */
export function parseThimResponse(body: Buffer | string): ThimCertificates {
  const json = parseImdsJson(body, 'THIM response', THIM_MAX_BYTES);
  const f = thimFields(json, { complete: true, fail: imdsFail });
  const vcekPem = f.vcekPem;
  const chainPem = f.chainPem ?? '';
  const tcbmText = f.tcbm;
  const cacheText = f.cacheControl ?? '';
  if (!/^\d{1,10}$/.test(cacheText.trim())) throw new ImdsResponseError(`THIM cacheControl "${cacheText.slice(0, 40)}" is not a number of seconds`);
  return {
    vcekPem: vcekPem.endsWith('\n') ? vcekPem : vcekPem + '\n',
    chainPem: chainPem.endsWith('\n') ? chainPem : chainPem + '\n',
    tcbm: BigInt('0x' + tcbmText),
    cacheControlSeconds: Math.min(Number(cacheText.trim()), CACHE_CONTROL_MAX_SECONDS),
  };
}

/** tcbm text as THIM writes it: the u64 in 16 uppercase hex digits. */
export function formatTcbm(tcb: bigint): string {
  return tcb.toString(16).toUpperCase().padStart(16, '0');
}
