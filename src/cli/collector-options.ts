// Options shared by `collect` and `attest`: where the evidence comes from.
import type { Argv } from 'yargs';
import { InputError } from '../base/errors.js';
import type { CollectOptions } from '../collect/collector.js';
import { parseNonceHex } from '../input/nonce.js';

export function collectorOptions(y: Argv): Argv {
  return y
    .option('tpm', {
      type: 'string',
      describe:
        'TPM transport: device:/dev/tpmrm0 (default), swtpm:path=SOCK, swtpm:host=H,port=P, file:PATH (replay a dump or bundle folder). Env CVM_ATTEST_TPM',
    })
    .option('imds-endpoint', { type: 'string', describe: 'IMDS base URL (default http://169.254.169.254). Env CVM_ATTEST_IMDS_ENDPOINT' })
    .option('cache-dir', { type: 'string', describe: 'certificate cache folder (default ~/.cache/cvm-attest/certs). Env CVM_ATTEST_CACHE_DIR' })
    .option('nonce', { type: 'string', describe: "nonce as hex, 1-64 bytes, for the quote and the report's user-data (default: 32 random bytes)" })
    .option('report-nonce', {
      type: 'boolean',
      default: true,
      describe: 'write the nonce to vTPM NV 0x01400002 first, so the HCL report itself carries it (fresh by report; --no-report-nonce: leave the index alone)',
    })
    .option('quote', { type: 'boolean', default: true, describe: 'take a fresh vTPM quote (--no-quote: HCL report and certificates only)' })
    .option('event-log', {
      type: 'string',
      describe: `TCG event log to include (default on the device: ${'/sys/kernel/security/tpm0/binary_bios_measurements'}; --no-event-log: none)`,
    })
    .option('pcrs', { type: 'string', describe: 'SHA-256 PCRs to quote, comma-separated (default 0-7)' })

    .option('collateral', { type: 'string', array: true, describe: 'Intel TDX: collateral FILE or DIR, repeatable (default: the cache, filled from PCS)' })
    .option('pcs-endpoint', {
      type: 'string',
      describe: 'Intel TDX: PCS v4 (or a cache with its API) base URL (default https://api.trustedservices.intel.com). Env CVM_ATTEST_PCS_ENDPOINT',
    });
}

function str(args: Record<string, unknown>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new InputError('E_USAGE', `--${name} is given twice: give it once`);
  if (typeof v !== 'string' || v === '') throw new InputError('E_USAGE', `--${name} needs a value`);
  return v;
}

/** --nonce of collect, attest and verify. */
export const NONCE_OPTION = { code: 'E_NONCE', what: '--nonce' } as const;

export function parsePcrList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?$/.exec(part);
    if (!m) throw new InputError('E_TPM_PCRS', `--pcrs: "${part}" is not a PCR number or range (e.g. 0-7,14)`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (a > 23 || b > 23 || b < a) throw new InputError('E_TPM_PCRS', `--pcrs: "${part}" is outside PCRs 0-23`);
    for (let i = a; i <= b; i++) if (!out.includes(i)) out.push(i);
  }
  return out.sort((x, y) => x - y);
}

export function collectOptionsFrom(args: Record<string, unknown>): CollectOptions {
  const tpm = str(args, 'tpm');
  const imdsEndpoint = str(args, 'imds-endpoint');
  const cacheDir = str(args, 'cache-dir');
  const nonce = str(args, 'nonce');
  const pcrs = str(args, 'pcrs');
  const pcsEndpoint = str(args, 'pcs-endpoint');
  const col = args['collateral'];
  const collateral = col === undefined ? undefined : (Array.isArray(col) ? col : [col]).map(String);
  if (collateral?.some((c) => c === '')) throw new InputError('E_USAGE', '--collateral needs a value');
  return {
    ...(pcsEndpoint ? { pcsEndpoint } : {}),
    ...(collateral?.length ? { collateral } : {}),
    ...(tpm ? { tpm } : {}),
    ...(imdsEndpoint ? { imdsEndpoint } : {}),
    ...(cacheDir ? { cacheDir } : {}),
    ...(nonce ? { nonce: parseNonceHex(nonce, NONCE_OPTION) } : {}),
    ...(pcrs ? { pcrs: parsePcrList(pcrs) } : {}),
    quote: args['quote'] !== false,
    reportNonce: args['report-nonce'] !== false,
    ...(args['event-log'] === false
      ? { eventLog: false as const }
      : typeof args['event-log'] === 'string' && args['event-log'] !== ''
        ? { eventLog: args['event-log'] }
        : {}),
  };
}
