// PCR values as JSON (pcrs.json, `verify --pcrs`): an array of up to 24 SHA-256 hex values indexed
// by PCR number, '' for PCRs not quoted. Written by `collect`, read by verify, bundles and the file:
// transport; each caller names the input and keeps its own error code. Pure.
import { InputError } from '../base/errors.js';
import { parseJsonBounded } from '../base/bounded-json.js';
import type { HexInputOptions } from './nonce.js';

export const PCR_VALUES = 24;

export interface PcrValues {
  /** 24 entries, lowercase hex, '' where no value was given. */
  readonly pcrs: string[];
  /** The PCRs that have a value. */
  readonly pcrSelection: number[];
}

/** Parses PCR values JSON; every deviation is an InputError with `o.code` naming `o.what`. */
export function parsePcrValues(text: string, o: HexInputOptions): PcrValues {
  const v = parseJsonBounded(text, { what: o.what, code: o.code, input: true, maxDepth: 2 });
  if (!Array.isArray(v) || v.length > PCR_VALUES) {
    throw new InputError(o.code, `${o.what} must be a JSON array of up to ${PCR_VALUES} SHA-256 hex values indexed by PCR number ("" for unused)`);
  }
  const pcrs = v.map((x: unknown, i) => {
    if (typeof x !== 'string' || !/^([0-9a-fA-F]{64})?$/.test(x)) throw new InputError(o.code, `${o.what}[${i}] is not a 64-digit hex SHA-256 value or ""`);
    return x.toLowerCase();
  });
  while (pcrs.length < PCR_VALUES) pcrs.push('');
  return { pcrs, pcrSelection: pcrs.flatMap((x, i) => (x ? [i] : [])) };
}
