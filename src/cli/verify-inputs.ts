// The inputs of one `verify` from the command line: every file read with a cap, the policy parsed,
// the quote assembled. Shared by `verify` and `verify --bundle` (cli/bundle-verify.ts).
import { InputError, ParseError } from '../base/errors.js';
import { readFileBoundedSync } from '../io/bounded-read.js';
import { parseJsonBounded } from '../base/bounded-json.js';
import { escapeTextCapped } from '../base/text-escape.js';
import { parsePolicy } from '../policy/policy.js';
import type { VerifyOptions } from '../verify/verify-evidence.js';
import type { QuoteInput } from '../guest/freshness.js';
import { readCollateralPaths, readTdQuoteFile } from '../collect/tdx-inputs.js';
import { parseNonceHex } from '../input/nonce.js';
import { parsePcrValues } from '../input/pcrs.js';
import { NONCE_OPTION } from './collector-options.js';

/** Per input file; real ones are a few KiB. Read from one descriptor, never much more than this (see io/bounded-read.ts). */
export const MAX_FILE = 1024 * 1024;

export function readInput(path: string, what: string): Buffer {
  return readFileBoundedSync(path, { max: MAX_FILE, what: `${what} file` });
}

/** A policy file as JSON (size and depth capped, a UTF-8 BOM accepted); E_POLICY_FILE when it is not. */
export function readPolicyJson(path: string): unknown {
  const text = readFileBoundedSync(path, { max: MAX_FILE, what: 'policy file', codes: { missing: 'E_POLICY_FILE' } }).toString('utf8');
  return parseJsonBounded(text, { what: `policy file ${escapeTextCapped(path, 300)}`, code: 'E_POLICY_FILE', input: true });
}

/** Runs a parser on a file's bytes, naming the file in the error. */
function named<T>(path: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ParseError) throw new ParseError(e.code, `${what} file ${escapeTextCapped(path, 300)}: ${e.message}`, { cause: e });
    throw e;
  }
}

export function str(args: Record<string, unknown>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new InputError('E_USAGE', `--${name} is given twice: give it once`);
  if (typeof v !== 'string' || v === '') throw new InputError('E_USAGE', `--${name} needs a value`);
  return v;
}

function parsePcrsFile(path: string): string[] {
  const text = readInput(path, 'PCR values').toString('utf8');
  return parsePcrValues(text, { code: 'E_PCRS', what: `PCR values file ${escapeTextCapped(path, 300)}` }).pcrs;
}

/** The inputs of one verification from the command line. */
export interface VerifyFiles {
  evidence?: string;
  vcek?: string;
  chain?: string;
  crl?: string;
  policy?: string;
  quoteMsg?: string;
  quoteSig?: string;
  nonce?: string;
  pcrs?: string;
  /** Intel TDX: the TD quote, and collateral files or folders. */
  tdQuote?: string;
  collateral?: string[];
  akCert?: string;
  akChain?: string;
  eventLog?: string;
}

/** --policy (parsed) and --crl: read alike by `verify` and `verify --bundle` (whose evidence is the bundle's). */
export function loadPolicyAndCrl(f: Pick<VerifyFiles, 'policy' | 'crl'>): Pick<VerifyOptions, 'policy' | 'crl'> {
  const out: { -readonly [K in 'policy' | 'crl']?: VerifyOptions[K] } = {};
  if (f.crl) out.crl = readInput(f.crl, 'CRL');
  if (f.policy) {
    const j = readPolicyJson(f.policy);
    out.policy = named(f.policy, 'policy', () => parsePolicy(j));
  }
  return out;
}

/** Reads every file (the policy is parsed here; evidence and certificates by verifyEvidence, see runVerify). */
export function loadVerifyOptions(f: VerifyFiles): Omit<VerifyOptions, 'now' | 'cache' | 'replayed'> {
  if (!f.evidence) throw new InputError('E_USAGE', 'give --evidence FILE (an HCL report, NV dump or SNP report)');
  const evidence = readInput(f.evidence, 'evidence');
  const out: { -readonly [K in keyof VerifyOptions]?: VerifyOptions[K] } = { evidence };
  if (f.vcek) {
    out.vcek = readInput(f.vcek, 'VCEK');
  }
  if (f.chain) {
    out.chain = readInput(f.chain, 'chain');
  }
  if (f.akCert) out.akCertificate = readInput(f.akCert, 'AK certificate');
  if (f.akChain) out.akIntermediates = readInput(f.akChain, 'AK intermediates');
  if (f.eventLog) out.eventLog = readInput(f.eventLog, 'event log');
  Object.assign(out, loadPolicyAndCrl(f));
  const quoteParts = [f.quoteMsg, f.quoteSig, f.nonce];
  let nonce: Uint8Array | undefined;
  if (f.nonce !== undefined) {
    nonce = parseNonceHex(f.nonce, NONCE_OPTION);
    // Without a quote, the nonce is checked against the report's user-data (freshness by report).
    out.nonce = nonce;
  }
  if (f.quoteMsg !== undefined || f.quoteSig !== undefined || f.pcrs) {
    if (quoteParts.some((x) => x === undefined)) throw new InputError('E_USAGE', 'a quote needs all of --quote-msg, --quote-sig and --nonce');
    const quote: QuoteInput = {
      message: readInput(f.quoteMsg!, 'quote message'),
      signature: readInput(f.quoteSig!, 'quote signature'),
      nonce: nonce!,
      ...(f.pcrs ? { pcrs: parsePcrsFile(f.pcrs) } : {}),
    };
    out.quote = quote;
  }
  if (f.tdQuote) out.tdQuote = readTdQuoteFile(f.tdQuote);
  if (f.collateral?.length) out.collateral = readCollateralPaths(f.collateral);
  return out as VerifyOptions;
}
