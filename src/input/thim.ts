// The IMDS THIM certification body, validated strictly. Pure: no I/O.
// Shape (formats.md): {"vcekCert": PEM, "tcbm": 16 hex digits (REPORTED_TCB as big-endian u64 text),
// "certificateChain": PEM ASK + PEM ARK, "cacheControl": seconds as a decimal string}.
import { CollectionError } from '../base/errors.js';
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

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** The DER bytes of each PEM CERTIFICATE block in `text`; throws when anything else is there. */
export function pemCertificates(text: string, what: string): Buffer[] {
  const ders: Buffer[] = [];
  let rest = text;
  for (const m of text.matchAll(PEM_BLOCK)) {
    const der = Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64');
    // A DER certificate is a SEQUENCE with a long-form length: 30 82 .. ..
    if (der.length < 64 || der[0] !== 0x30) throw new ImdsResponseError(`${what}: a PEM block does not hold a DER certificate`);
    ders.push(der);
    rest = rest.replace(m[0], '');
  }
  if (rest.trim() !== '') throw new ImdsResponseError(`${what}: unexpected text outside PEM CERTIFICATE blocks`);
  return ders;
}

function field(obj: Record<string, unknown>, name: string): string {
  const v = obj[name];
  if (typeof v !== 'string') throw new ImdsResponseError(`THIM response: "${name}" is ${v === undefined ? 'missing' : `a ${typeof v}, not a string`}`);
  return v;
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
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ImdsResponseError('THIM response is not a JSON object');
  const obj = json as Record<string, unknown>;
  const vcekPem = field(obj, 'vcekCert');
  const chainPem = field(obj, 'certificateChain');
  const tcbmText = field(obj, 'tcbm');
  const cacheText = field(obj, 'cacheControl');
  if (pemCertificates(vcekPem, 'THIM vcekCert').length !== 1) throw new ImdsResponseError('THIM vcekCert must hold exactly one certificate');
  const chainCount = pemCertificates(chainPem, 'THIM certificateChain').length;
  if (chainCount !== 2) throw new ImdsResponseError(`THIM certificateChain must hold 2 certificates (ASK and ARK), found ${chainCount}`);
  if (!/^[0-9A-Fa-f]{16}$/.test(tcbmText)) throw new ImdsResponseError(`THIM tcbm "${tcbmText.slice(0, 40)}" is not 16 hex digits`);
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
