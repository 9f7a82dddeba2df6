// The one JSON parser for inputs (runtime data, policy, THIM bodies, bundle manifests, PCR files,
// settings): refuses text larger than a size cap or nested deeper than a depth cap before parsing it,
// so a hostile document can neither take unbounded memory nor overflow the stack of whatever later
// walks or serialises it (JSON.stringify recurses). A UTF-8 BOM is accepted, as for PEM and THIM. Pure.
import { InputError, ParseError, type ErrorCode } from './errors.js';
import { escapeTextCapped } from './text-escape.js';

/** Far above any real input (runtime data is 4 levels deep, a policy 2). */
export const MAX_JSON_DEPTH = 64;

export interface JsonLimits {
  /** Names the input in errors, e.g. "policy file p.json". */
  readonly what: string;
  /** Error code, e.g. E_POLICY_FILE. */
  readonly code: ErrorCode;
  /** Largest accepted text in UTF-16 code units (default 1 MiB). */
  readonly maxLength?: number;
  /** Deepest accepted nesting of arrays and objects (default MAX_JSON_DEPTH). */
  readonly maxDepth?: number;
  /** Throw InputError (a file the user gave) instead of ParseError (bytes a parser was handed); both exit 2. */
  readonly input?: boolean;
}

/** The deepest nesting of `[` and `{` outside strings, stopping early once past `limit`. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** JSON.parse with size and depth caps; ParseError (one line, names the input) for anything refused. */
export function parseJsonBounded(text: string, limits: JsonLimits): unknown {
  const code = limits.code;
  const Err = limits.input ? InputError : ParseError;
  const maxLength = limits.maxLength ?? 1024 * 1024;
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  if (text.length > maxLength) throw new Err(code, `${limits.what} is too large for JSON (${text.length} characters, at most ${maxLength})`);
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (jsonDepth(t, maxDepth) > maxDepth) throw new Err(code, `${limits.what} is nested more than ${maxDepth} levels deep (refused)`);
  try {
    return JSON.parse(t) as unknown;
  } catch (e) {
    throw new Err(code, `${limits.what} is not JSON: ${escapeTextCapped(e instanceof Error ? e.message : String(e), 200)}`);
  }
}
