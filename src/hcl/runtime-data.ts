// The HCL runtime data: compact UTF-8 JSON whose exact bytes are hashed into REPORT_DATA. Parsing never
// throws: bytes that are not a JSON object are kept with the reason, and the binding check reports it.
import { createPublicKey, type KeyObject, type JsonWebKey } from 'node:crypto';
import { ParseError } from '../base/errors.js';
import { isUtf8 } from 'node:buffer';
import { parseJsonBounded } from '../base/bounded-json.js';
import { bytesEqual } from '../base/bytes.js';
import { deepFreeze } from '../base/freeze.js';
import { perObject } from '../base/object-memo.js';

export interface RuntimeData {
  /** Exactly the bytes the hash covers. */
  readonly raw: Uint8Array;
  /** The parsed JSON object, when the bytes are one. */
  readonly json?: Readonly<Record<string, unknown>>;
  /** Why `json` is missing. */
  readonly error?: string;
}

export const AK_KID = 'HCLAkPub';

/** Parsed runtime data by its exact bytes (bounded): a VM's runtime data changes only with its user data. */
const memo: RuntimeData[] = [];
const MEMO_MAX = 32;

/**
 * The runtime data in `raw`. The result is shared by every later call with the same bytes, so it is
 * frozen, JSON included (it goes into claims as x-ms-runtime): a consumer cannot change another's.
 */
export function parseRuntimeData(raw: Uint8Array): RuntimeData {
  for (const m of memo) if (bytesEqual(m.raw, raw)) return m;
  const rd = deepFreeze(parseRuntimeDataUncached(raw.slice()));
  if (memo.length >= MEMO_MAX) memo.shift();
  memo.push(rd);
  return rd;
}

function parseRuntimeDataUncached(raw: Uint8Array): RuntimeData {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!isUtf8(buf)) return { raw, error: 'runtime data is not valid UTF-8' };
  const text = buf.toString('utf8');
  let json: unknown;
  try {
    // Depth-capped: the object is put into the claims, which are serialised whole (JSON.stringify recurses).
    json = parseJsonBounded(text, { what: 'runtime data', code: 'E_EVIDENCE_FORMAT' });
  } catch (e) {
    return { raw, error: e instanceof ParseError && /nested|too large/.test(e.message) ? e.message : 'runtime data is not valid JSON' };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { raw, error: 'runtime data is not a JSON object' };
  return { raw, json: json as Record<string, unknown> };
}

/** The JWK with the given kid from the runtime data's `keys` array (found by kid, never by position). */
export function findRuntimeKey(rd: RuntimeData, kid: string): JsonWebKey | undefined {
  const keys = rd.json?.keys;
  if (!Array.isArray(keys)) return undefined;
  const matches = keys.filter((k): k is JsonWebKey => k !== null && typeof k === 'object' && (k as { kid?: unknown }).kid === kid);
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * The vTPM attestation key (HCLAkPub) as a public KeyObject; ParseError when absent or not an RSA key.
 * Remembered per runtime data object (frozen, shared for the same bytes): freshness and the AK
 * certificate check both need it.
 */
export const akPublicKey: (rd: RuntimeData) => KeyObject = perObject(importAkPublicKey);

function importAkPublicKey(rd: RuntimeData): KeyObject {
  const jwk = findRuntimeKey(rd, AK_KID);
  if (!jwk) throw new ParseError('E_RUNTIME_AK', `runtime data has no single ${AK_KID} key`);
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') throw new ParseError('E_RUNTIME_AK', `${AK_KID} is not an RSA public key`);
  try {
    return createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
  } catch (e) {
    throw new ParseError('E_RUNTIME_AK', `${AK_KID} is not a usable RSA public key`, { cause: e });
  }
}
