// The SGX extensions of an Intel PCK certificate (OID 1.2.840.113741.1.13.1, "PCK Certificate and CRL
// Profile"): FMSPC, PCE-ID, the 16 TCB component SVNs, PCESVN, CPUSVN, SGX type. Read with the
// bounds-checked DER reader of src/x509/der.ts (shared; to move down to a common layer in the redesign).
import { ParseError } from '../../base/errors.js';
import { children, content, decodeOid, decodeSmallUint, expectTag, readTlv, Tag, type Tlv } from '../../x509/der.js';

export const SGX_EXTENSIONS_OID = '1.2.840.113741.1.13.1';
const ENUMERATED = 0x0a;

export interface PckExtensions {
  readonly ppid: Uint8Array;
  /** The 16 SGX TCB component SVNs (.2.1-.2.16). */
  readonly tcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly cpuSvn: Uint8Array;
  /** 2 bytes, hex lowercase. */
  readonly pceId: string;
  /** 6 bytes, hex lowercase. */
  readonly fmspc: string;
  /** 0 Standard, 1 Scalable, 2 Scalable with integrity. */
  readonly sgxType: number;
  /** Platform CA certificates only. */
  readonly platformInstanceId?: Uint8Array;
}

const bad = (msg: string): never => {
  throw new ParseError('E_PCK_EXT', `PCK certificate SGX extensions: ${msg}`);
};

function octets(b: Uint8Array, t: Tlv | undefined, len: number | undefined, what: string): Uint8Array {
  const v = content(b, expectTag(t, Tag.OctetString, what));
  if (len !== undefined && v.length !== len) bad(`${what} must be ${len} bytes, got ${v.length}`);
  return v.slice();
}

/** The extnValue bytes of the SGX extension of a DER certificate, or undefined when it has none. */
function sgxExtensionValue(der: Uint8Array): Uint8Array | undefined {
  const cert = expectTag(readTlv(der, 0, der.length, 'certificate'), Tag.Sequence, 'certificate');
  const [tbs] = children(der, cert, 'certificate');
  for (const part of children(der, expectTag(tbs, Tag.Sequence, 'TBSCertificate'), 'TBSCertificate')) {
    if (part.tag !== 0xa3) continue;
    const [exts] = children(der, part, 'extensions');
    for (const e of children(der, expectTag(exts, Tag.Sequence, 'extensions'), 'extensions')) {
      const p = children(der, expectTag(e, Tag.Sequence, 'extension'), 'extension');
      if (decodeOid(der, expectTag(p[0], Tag.Oid, 'extension id')) !== SGX_EXTENSIONS_OID) continue;
      return content(der, expectTag(p[p.length - 1], Tag.OctetString, 'SGX extension value'));
    }
  }
  return undefined;
}

/** Reads the SGX extensions of a PCK certificate (DER). Throws ParseError when absent or malformed. */
export function parsePckExtensions(der: Uint8Array): PckExtensions {
  let v: Uint8Array | undefined;
  try {
    v = sgxExtensionValue(der);
  } catch (e) {
    if (e instanceof ParseError) bad(e.message);
    throw e;
  }
  if (!v) bad('the certificate has none');
  const b = v!;
  try {
    const top = expectTag(readTlv(b, 0, b.length, 'SGX extensions'), Tag.Sequence, 'SGX extensions');
    if (top.end !== b.length) bad('trailing bytes');
    const out: {
      ppid?: Uint8Array;
      tcb?: number[];
      pceSvn?: number;
      cpuSvn?: Uint8Array;
      pceId?: string;
      fmspc?: string;
      sgxType?: number;
      platformInstanceId?: Uint8Array;
    } = {};
    const seen = new Set<string>();
    for (const item of children(b, top, 'SGX extensions')) {
      const [oidT, valT] = children(b, expectTag(item, Tag.Sequence, 'SGX extension'), 'SGX extension');
      const oid = decodeOid(b, expectTag(oidT, Tag.Oid, 'SGX extension id'));
      if (!oid.startsWith(SGX_EXTENSIONS_OID + '.')) bad(`unexpected id ${oid}`);
      const sub = oid.slice(SGX_EXTENSIONS_OID.length + 1);
      if (seen.has(sub)) bad(`${oid} appears twice`);
      seen.add(sub);
      switch (sub) {
        case '1':
          out.ppid = octets(b, valT, 16, 'PPID');
          break;
        case '2': {
          const tcb = new Array<number>(16).fill(-1);
          for (const c of children(b, expectTag(valT, Tag.Sequence, 'TCB'), 'TCB')) {
            const [cOid, cVal] = children(b, expectTag(c, Tag.Sequence, 'TCB component'), 'TCB component');
            const co = decodeOid(b, expectTag(cOid, Tag.Oid, 'TCB component id'));
            const n = co.startsWith(`${SGX_EXTENSIONS_OID}.2.`) ? Number(co.slice(SGX_EXTENSIONS_OID.length + 3)) : NaN;
            if (n >= 1 && n <= 16) {
              if (tcb[n - 1] !== -1) bad(`TCB component ${n} appears twice`);
              tcb[n - 1] = decodeSmallUint(b, expectTag(cVal, Tag.Integer, `TCB component ${n}`), `TCB component ${n}`);
              if (tcb[n - 1]! > 255) bad(`TCB component ${n} is above 255`);
            } else if (n === 17) out.pceSvn = decodeSmallUint(b, expectTag(cVal, Tag.Integer, 'PCESVN'), 'PCESVN');
            else if (n === 18) out.cpuSvn = octets(b, cVal, 16, 'CPUSVN');
            else bad(`unexpected TCB component ${co}`);
          }
          if (tcb.includes(-1)) bad('a TCB component SVN is missing');
          out.tcb = tcb;
          break;
        }
        case '3':
          out.pceId = Buffer.from(octets(b, valT, 2, 'PCE-ID')).toString('hex');
          break;
        case '4':
          out.fmspc = Buffer.from(octets(b, valT, 6, 'FMSPC')).toString('hex');
          break;
        case '5': {
          const t = valT;
          if (!t || t.tag !== ENUMERATED) bad('SGX type is not ENUMERATED');
          const c = content(b, t!);
          if (c.length !== 1) bad('SGX type is not one byte');
          out.sgxType = c[0]!;
          break;
        }
        case '6':
          out.platformInstanceId = octets(b, valT, 16, 'platform instance id');
          break;
        default:
          break; // configuration (.7) and later additions: not used for TCB matching
      }
    }
    if (!out.tcb || out.pceSvn === undefined || !out.cpuSvn) bad('TCB (components, PCESVN, CPUSVN) is missing');
    if (!out.pceId || !out.fmspc || !out.ppid || out.sgxType === undefined) bad('PPID, PCE-ID, FMSPC or SGX type is missing');
    if (out.pceSvn! > 0xffff) bad('PCESVN is above 65535');
    return {
      ppid: out.ppid!,
      tcbComponents: out.tcb!,
      pceSvn: out.pceSvn!,
      cpuSvn: out.cpuSvn!,
      pceId: out.pceId!,
      fmspc: out.fmspc!,
      sgxType: out.sgxType!,
      ...(out.platformInstanceId ? { platformInstanceId: out.platformInstanceId } : {}),
    };
  } catch (e) {
    if (e instanceof ParseError && e.code === 'E_PCK_EXT') throw e;
    if (e instanceof ParseError) bad(e.message);
    throw e;
  }
}
