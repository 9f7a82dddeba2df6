// What a replayed TCG event log says about the boot, taken only from events in PCRs the caller trusts
// (the ones a verified quote covers and the log replays to). A digest in the log is what the PCR
// proves; an event's data is only believed where its digest is a hash of that data, and that is
// checked here (an attacker can edit data freely and keep the digest). Pure.
import { digest } from '../base/digest.js';
import { TPM_ALG } from './constants.js';
import { EV, type EventLog, type TcgEvent } from './event-log.js';

export interface BootState {
  /** The SecureBoot UEFI variable measured into PCR 7 (undefined: not measured or PCR 7 not trusted). */
  readonly secureBoot?: boolean;
  /** "UEFI Debug Mode" measured into PCR 7: the firmware ran in debug mode. */
  readonly firmwareDebugMode?: boolean;
  /** SHA-256 of the PK, KEK, db and dbx variable contents as measured into PCR 7. */
  readonly secureBootVariables: Readonly<Partial<Record<'PK' | 'KEK' | 'db' | 'dbx', string>>>;
  /** SHA-256 Authenticode digests of the EFI applications measured into PCR 4 (shim, boot loader, kernel), in order. */
  readonly bootApplications: readonly string[];
  /** The kernel command line the boot loader measured into PCR 8 (grub), trailing NUL dropped. */
  readonly kernelCmdline?: string;
  /** Events whose data does not hash to their digest: the log was edited. */
  readonly inconsistencies: readonly string[];
}

const sha256 = (b: Uint8Array): string => digest('sha256', b).toString('hex');
const hex = (b: Uint8Array | undefined): string | undefined => (b ? Buffer.from(b).toString('hex') : undefined);

/** UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength u64, VariableDataLength u64, name (UTF-16), data. */
function uefiVariable(d: Uint8Array): { name: string; data: Uint8Array } | undefined {
  if (d.length < 32) return undefined;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const nameLen = dv.getBigUint64(16, true);
  const dataLen = dv.getBigUint64(24, true);
  if (nameLen > 1024n || dataLen > BigInt(d.length)) return undefined;
  const nameEnd = 32 + Number(nameLen) * 2;
  if (nameEnd + Number(dataLen) > d.length) return undefined;
  return { name: Buffer.from(d.subarray(32, nameEnd)).toString('utf16le'), data: d.subarray(nameEnd, nameEnd + Number(dataLen)) };
}

const CMDLINE_PREFIXES = ['kernel_cmdline: ', 'grub_kernel_cmdline '];

/** grub measures the command line as an EV_IPL string; its digest covers the line (without prefix and NUL) or the whole event. */
function kernelCmdline(e: TcgEvent, digest: string): { value?: string; mismatch?: boolean } {
  const text = Buffer.from(e.data).toString('latin1');
  const prefix = CMDLINE_PREFIXES.find((p) => text.startsWith(p));
  if (!prefix) return {};
  const line = text.slice(prefix.length).replace(/\0$/, '');
  const ok = [sha256(e.data), sha256(Buffer.from(line, 'latin1')), sha256(Buffer.from(text.slice(prefix.length), 'latin1'))].includes(digest);
  return ok ? { value: line } : { mismatch: true };
}

export function deriveBootState(log: EventLog, trusted: ReadonlySet<number>): BootState {
  const vars: Partial<Record<'PK' | 'KEK' | 'db' | 'dbx', string>> = {};
  const apps: string[] = [];
  const issues: string[] = [];
  let secureBoot: boolean | undefined;
  let debug: boolean | undefined;
  let cmdline: string | undefined;
  if (trusted.has(7)) debug = false;
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION || !trusted.has(e.pcr)) continue;
    const digest = hex(e.digests.get(TPM_ALG.SHA256));
    if (!digest) continue;
    if (e.type === EV.EFI_VARIABLE_DRIVER_CONFIG && e.pcr === 7) {
      const v = uefiVariable(e.data);
      if (!v || sha256(e.data) !== digest) {
        issues.push(`event ${e.seq} (PCR 7 UEFI variable${v ? ` ${v.name}` : ''}) does not hash to its digest`);
        continue;
      }
      if (v.name === 'SecureBoot') secureBoot = v.data.length >= 1 && v.data[0] === 1;
      else if (v.name === 'PK' || v.name === 'KEK' || v.name === 'db' || v.name === 'dbx') vars[v.name] = sha256(v.data);
    } else if (e.type === EV.EFI_ACTION && e.pcr === 7) {
      if (Buffer.from(e.data).toString('latin1') === 'UEFI Debug Mode') debug = true;
    } else if (e.type === EV.EFI_BOOT_SERVICES_APPLICATION && e.pcr === 4) {
      apps.push(digest);
    } else if (e.type === EV.IPL && e.pcr === 8) {
      const c = kernelCmdline(e, digest);
      if (c.mismatch) issues.push(`event ${e.seq} (PCR 8 kernel command line) does not hash to its digest`);
      else if (c.value !== undefined) cmdline = c.value;
    }
  }
  return {
    ...(secureBoot !== undefined ? { secureBoot } : {}),
    ...(debug !== undefined ? { firmwareDebugMode: debug } : {}),
    secureBootVariables: vars,
    bootApplications: apps,
    ...(cmdline !== undefined ? { kernelCmdline: cmdline } : {}),
    inconsistencies: issues,
  };
}
