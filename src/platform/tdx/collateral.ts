// TDX collateral files recognised by their content, whatever their names: TCB info JSON, QE identity
// JSON, CRLs (DER or PEM) and PEM certificates (issuer chains, as PCS sends them, raw or URL-encoded).
import { ParseError } from '../../base/errors.js';
import { bytesEqual, utf8 } from '../../base/bytes.js';
import { parseCertificate, type Certificate } from '../../x509/certificate.js';
import { parseCrl, type Crl } from '../../x509/crl.js';
import { readPem } from '../../x509/pem.js';
import { parseQeIdentity, type QeIdentity } from './qe-identity.js';
import { MAX_COLLATERAL_JSON } from './signed-json.js';
import { parseTcbInfo, type TcbInfo } from './tcb-info.js';

export interface TdxCollateral {
  readonly tcbInfos: readonly TcbInfo[];
  readonly qeIdentities: readonly QeIdentity[];
  readonly crls: readonly Crl[];
  readonly certificates: readonly Certificate[];
}

export interface CollateralFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export const EMPTY_COLLATERAL: TdxCollateral = { tcbInfos: [], qeIdentities: [], crls: [], certificates: [] };
/** More files than a collateral set ever has. */
export const MAX_COLLATERAL_FILES = 64;

/** The certificates and CRLs of a PEM file (other blocks are skipped); how many were read. */
function fromPem(text: string, out: { crls: Crl[]; certificates: Certificate[] }): number {
  let n = 0;
  for (const b of readPem(text, { what: 'PEM text', code: 'E_COLLATERAL' }).blocks) {
    if (b.label === 'CERTIFICATE') out.certificates.push(parseCertificate(b.der));
    else if (b.label === 'X509 CRL') out.crls.push(parseCrl(b.der));
    else continue;
    n++;
  }
  return n;
}

/** Classifies and parses one file's bytes into `acc`. Throws ParseError (E_COLLATERAL) naming the file. */
function addFile(f: CollateralFile, acc: { tcbInfos: TcbInfo[]; qeIdentities: QeIdentity[]; crls: Crl[]; certificates: Certificate[] }): void {
  const b = f.bytes;
  if (b.length > MAX_COLLATERAL_JSON) throw new ParseError('E_COLLATERAL', `collateral file ${f.name} is too large (${b.length} bytes)`);
  if (b.length === 0) throw new ParseError('E_COLLATERAL', `collateral file ${f.name} is empty`);
  try {
    if (b[0] === 0x30) {
      // DER: a CRL or a certificate.
      try {
        acc.crls.push(parseCrl(b));
      } catch {
        acc.certificates.push(parseCertificate(b.slice()));
      }
      return;
    }
    let text = utf8.decode(b).trim();
    if (text.startsWith('{')) {
      let j: unknown;
      try {
        j = JSON.parse(text);
      } catch {
        throw new ParseError('E_COLLATERAL', 'not JSON');
      }
      const o = (j ?? {}) as Record<string, unknown>;
      if ('tcbInfo' in o) acc.tcbInfos.push(parseTcbInfo(text));
      else if ('enclaveIdentity' in o) acc.qeIdentities.push(parseQeIdentity(text));
      else throw new ParseError('E_COLLATERAL', 'JSON that is neither a TCB info nor an enclave identity');
      return;
    }
    if (text.startsWith('-----BEGIN%20') || text.includes('%0A')) {
      try {
        text = decodeURIComponent(text);
      } catch {
        throw new ParseError('E_COLLATERAL', 'bad URL encoding');
      }
    }
    if (fromPem(text, acc) === 0) throw new ParseError('E_COLLATERAL', 'not a TCB info, QE identity, CRL or PEM certificate');
  } catch (e) {
    if (e instanceof ParseError) throw new ParseError(e.code === 'E_COLLATERAL' ? e.code : e.code, `collateral file ${f.name}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Parses a set of collateral files (any order, any names). */
export function parseCollateral(files: readonly CollateralFile[]): TdxCollateral {
  if (files.length > MAX_COLLATERAL_FILES) throw new ParseError('E_COLLATERAL', `too many collateral files (${files.length}, at most ${MAX_COLLATERAL_FILES})`);
  const acc = { tcbInfos: [] as TcbInfo[], qeIdentities: [] as QeIdentity[], crls: [] as Crl[], certificates: [] as Certificate[] };
  for (const f of files) addFile(f, acc);
  return acc;
}

/** Parsed collateral sets by their exact bytes (bounded): a verifier sees the same set for hours. */
const memo: { readonly files: readonly Uint8Array[]; readonly collateral: TdxCollateral }[] = [];
const MEMO_MAX = 16;

const sameFiles = (a: readonly Uint8Array[], b: readonly CollateralFile[]): boolean => a.length === b.length && a.every((x, i) => bytesEqual(x, b[i]!.bytes));

/**
 * parseCollateral, remembered by the files' exact bytes (names aside: content decides). The bytes are
 * compared, not hashed: a compare of the ~20 KiB of a set costs a few microseconds, a hash ten times that.
 * The same bytes give the same object, which the endorsement memo is keyed by.
 */
export function parseCollateralCached(files: readonly CollateralFile[]): TdxCollateral {
  if (files.length > MAX_COLLATERAL_FILES) return parseCollateral(files);
  const hit = memo.find((m) => sameFiles(m.files, files));
  if (hit) return hit.collateral;
  const collateral = parseCollateral(files);
  if (memo.length >= MEMO_MAX) memo.shift();
  memo.push({ files: files.map((f) => f.bytes.slice()), collateral });
  return collateral;
}
