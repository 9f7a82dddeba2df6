// Intel enclave identity v2 of the TD Quoting Enclave (PCS v4 `/tdx/certification/v4/qe/identity`,
// id "TD_QE"): who may sign TD quotes and the status of each QE ISVSVN; signed by Intel SGX TCB Signing.
import { advisoryIds, Fields, parseSignedJson, tcbStatus, type TcbStatus } from './signed-json.js';

export interface QeTcbLevel {
  readonly isvsvn: number;
  readonly tcbDate: string;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIds: readonly string[];
}

export interface QeIdentity {
  readonly raw: Uint8Array;
  readonly signature: Uint8Array;
  readonly id: 'TD_QE';
  readonly version: 2;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
  readonly miscselect: number;
  readonly miscselectMask: number;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrsigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly QeTcbLevel[];
}

export function parseQeIdentity(input: Uint8Array | string): QeIdentity {
  const f = new Fields('E_QE_IDENTITY', 'QE identity');
  const s = parseSignedJson(input, 'enclaveIdentity', f.code, f.what);
  const e = f.obj(s.value, 'enclaveIdentity');
  if (e.id !== 'TD_QE') f.fail(`id is ${JSON.stringify(e.id)}, expected "TD_QE" (the SGX QE's identity does not judge a TD quote)`);
  if (e.version !== 2) f.fail(`version is ${JSON.stringify(e.version)}, expected 2`);
  const u32hex = (v: unknown, p: string): number => Buffer.from(f.hex(v, p, 4)).readUInt32BE(0);
  return {
    raw: s.raw,
    signature: s.signature,
    id: 'TD_QE',
    version: 2,
    issueDate: f.date(e.issueDate, 'issueDate'),
    nextUpdate: f.date(e.nextUpdate, 'nextUpdate'),
    tcbEvaluationDataNumber: f.uint(e.tcbEvaluationDataNumber, 'tcbEvaluationDataNumber'),
    // Intel writes MISCSELECT as big-endian hex of the u32 the REPORT holds little-endian.
    miscselect: u32hex(e.miscselect, 'miscselect'),
    miscselectMask: u32hex(e.miscselectMask, 'miscselectMask'),
    attributes: f.hex(e.attributes, 'attributes', 16),
    attributesMask: f.hex(e.attributesMask, 'attributesMask', 16),
    mrsigner: f.hex(e.mrsigner, 'mrsigner', 32),
    isvProdId: f.uint(e.isvprodid, 'isvprodid', 0xffff),
    tcbLevels: f.arr(e.tcbLevels, 'tcbLevels', 256).map((l, i) => {
      const p = `tcbLevels[${i}]`;
      const lv = f.obj(l, p);
      return {
        isvsvn: f.uint(f.obj(lv.tcb, `${p}.tcb`).isvsvn, `${p}.tcb.isvsvn`, 0xffff),
        tcbDate: f.str(lv.tcbDate, `${p}.tcbDate`, 64),
        tcbStatus: tcbStatus(f, lv.tcbStatus, `${p}.tcbStatus`),
        advisoryIds: advisoryIds(f, lv.advisoryIDs, `${p}.advisoryIDs`),
      };
    }),
  };
}
