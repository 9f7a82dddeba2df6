// Intel TCB info v3 for TDX (PCS v4 `/tdx/certification/v4/tcb`, id "TDX"): the TCB levels of one
// FMSPC, the TDX module identities, their statuses and advisories; signed by Intel SGX TCB Signing.
import { advisoryIds, Fields, parseSignedJson, tcbStatus, type TcbStatus } from './signed-json.js';

export interface TdxModuleTcbLevel {
  readonly isvsvn: number;
  readonly tcbDate: string;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIds: readonly string[];
}

export interface TdxModuleIdentity {
  /** "TDX_01": the TEE_TCB_SVN major version, two hex digits. */
  readonly id: string;
  readonly mrsigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly tcbLevels: readonly TdxModuleTcbLevel[];
}

export interface TdxTcbLevel {
  readonly sgxComponents: readonly number[];
  readonly pceSvn: number;
  readonly tdxComponents: readonly number[];
  readonly tcbDate: string;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIds: readonly string[];
}

export interface TcbInfo {
  /** The exact signed bytes of the tcbInfo value. */
  readonly raw: Uint8Array;
  readonly signature: Uint8Array;
  readonly id: 'TDX';
  readonly version: 3;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly fmspc: string;
  readonly pceId: string;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule: { readonly mrsigner: Uint8Array; readonly attributes: Uint8Array; readonly attributesMask: Uint8Array };
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[];
  readonly tcbLevels: readonly TdxTcbLevel[];
}

export function parseTcbInfo(input: Uint8Array | string): TcbInfo {
  const f = new Fields('E_TCB_INFO', 'TCB info');
  const s = parseSignedJson(input, 'tcbInfo', f.code, f.what);
  const t = f.obj(s.value, 'tcbInfo');
  if (t.id !== 'TDX') f.fail(`id is ${JSON.stringify(t.id)}, expected "TDX" (an SGX TCB info does not judge a TD)`);
  if (t.version !== 3) f.fail(`version is ${JSON.stringify(t.version)}, expected 3`);
  const comps = (v: unknown, path: string): number[] => {
    const a = f.arr(v, path, 16);
    if (a.length !== 16) f.fail(`${path} must have 16 components`);
    return a.map((c, i) => f.uint(f.obj(c, `${path}[${i}]`).svn, `${path}[${i}].svn`, 255));
  };
  const mod = f.obj(t.tdxModule, 'tdxModule');
  const identities = t.tdxModuleIdentities === undefined ? [] : f.arr(t.tdxModuleIdentities, 'tdxModuleIdentities', 64);
  return {
    raw: s.raw,
    signature: s.signature,
    id: 'TDX',
    version: 3,
    issueDate: f.date(t.issueDate, 'issueDate'),
    nextUpdate: f.date(t.nextUpdate, 'nextUpdate'),
    fmspc: Buffer.from(f.hex(t.fmspc, 'fmspc', 6)).toString('hex'),
    pceId: Buffer.from(f.hex(t.pceId, 'pceId', 2)).toString('hex'),
    tcbType: f.uint(t.tcbType, 'tcbType', 255),
    tcbEvaluationDataNumber: f.uint(t.tcbEvaluationDataNumber, 'tcbEvaluationDataNumber'),
    tdxModule: {
      mrsigner: f.hex(mod.mrsigner, 'tdxModule.mrsigner', 48),
      attributes: f.hex(mod.attributes, 'tdxModule.attributes', 8),
      attributesMask: f.hex(mod.attributesMask, 'tdxModule.attributesMask', 8),
    },
    tdxModuleIdentities: identities.map((x, i) => {
      const p = `tdxModuleIdentities[${i}]`;
      const m = f.obj(x, p);
      const id = f.str(m.id, `${p}.id`, 16);
      if (!/^TDX_[0-9A-Fa-f]{2}$/.test(id)) f.fail(`${p}.id must be TDX_xx`);
      return {
        id: id.toUpperCase().replace(/^TDX_/, 'TDX_'),
        mrsigner: f.hex(m.mrsigner, `${p}.mrsigner`, 48),
        attributes: f.hex(m.attributes, `${p}.attributes`, 8),
        attributesMask: f.hex(m.attributesMask, `${p}.attributesMask`, 8),
        tcbLevels: f.arr(m.tcbLevels, `${p}.tcbLevels`, 256).map((l, j) => {
          const q = `${p}.tcbLevels[${j}]`;
          const lv = f.obj(l, q);
          return {
            isvsvn: f.uint(f.obj(lv.tcb, `${q}.tcb`).isvsvn, `${q}.tcb.isvsvn`, 255),
            tcbDate: f.str(lv.tcbDate, `${q}.tcbDate`, 64),
            tcbStatus: tcbStatus(f, lv.tcbStatus, `${q}.tcbStatus`),
            advisoryIds: advisoryIds(f, lv.advisoryIDs, `${q}.advisoryIDs`),
          };
        }),
      };
    }),
    tcbLevels: f.arr(t.tcbLevels, 'tcbLevels', 256).map((l, i) => {
      const p = `tcbLevels[${i}]`;
      const lv = f.obj(l, p);
      const tcb = f.obj(lv.tcb, `${p}.tcb`);
      return {
        sgxComponents: comps(tcb.sgxtcbcomponents, `${p}.tcb.sgxtcbcomponents`),
        pceSvn: f.uint(tcb.pcesvn, `${p}.tcb.pcesvn`, 0xffff),
        tdxComponents: comps(tcb.tdxtcbcomponents, `${p}.tcb.tdxtcbcomponents`),
        tcbDate: f.str(lv.tcbDate, `${p}.tcbDate`, 64),
        tcbStatus: tcbStatus(f, lv.tcbStatus, `${p}.tcbStatus`),
        advisoryIds: advisoryIds(f, lv.advisoryIDs, `${p}.advisoryIDs`),
      };
    }),
  };
}
