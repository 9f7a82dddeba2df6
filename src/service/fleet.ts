// Fleet records written by the verifier itself (`--sinks FILE`), with the service's own identity,
// through the sink code the extension uses. VmId is the vmUniqueId attested in the runtime data; the
// identity the VM claims goes in Claimed* columns only, so an enrolled VM can no longer write rows in
// another VM's name. Alerts stay the VMs' job (their state is per VM): they are off here.
import { readFile, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../base/errors.js';
import type { SinkIdentity } from '../sinks/types.js';
import type { VerificationResult } from '../result/result.js';
import type { ServiceLogger } from './log.js';
import type { AttestRequest } from './request.js';
import type { VerdictListener } from './server.js';
import type { AttestOutcome } from './verification.js';

/** Records waiting for the spool at most; beyond it a record is dropped, and the drop is logged and counted. */
const MAX_PENDING = 1000;

export interface FleetRecorder {
  readonly listener: VerdictListener;
  readonly dropped: () => number;
  close(): Promise<void>;
}

const claimedString = (o: Readonly<Record<string, unknown>> | undefined, k: string): string | undefined => {
  const v = o?.[k];
  return typeof v === 'string' && v.length > 0 && v.length <= 1024 ? v : undefined;
};

/** The identity the VM claimed in `evidence.instance` (never trusted: Claimed* columns). */
export function claimedIdentity(req: AttestRequest): SinkIdentity | undefined {
  const i = req.evidence.instance;
  if (!i) return undefined;
  const out: Record<string, string> = {};
  for (const k of ['vmId', 'name', 'resourceId', 'subscriptionId', 'resourceGroupName', 'location', 'vmSize']) {
    const v = claimedString(i, k);
    if (v) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** What the sinks need from the verifier's outcome, as a VerificationResult. */
function asResult(o: AttestOutcome): VerificationResult {
  return {
    verdict: o.verdict,
    product: o.product,
    checks: o.checks,
    claims: o.claims,
    warnings: o.warnings,
    verifiedAt: o.verifiedAt,
    certificates: [],
    policy: { hash: o.policyHash },
  };
}

export async function createFleetRecorder(sinksFile: string, log: ServiceLogger, agentVersion?: string): Promise<FleetRecorder> {
  let raw: unknown;
  try {
    const st = await stat(sinksFile);
    if (!st.isFile() || st.size > 256 * 1024) throw new Error('not a file under 256 KiB');
    raw = JSON.parse(await readFile(sinksFile, 'utf8'));
  } catch (e) {
    throw new InputError('E_SINKS_SETTINGS', `--sinks ${sinksFile} is not a readable JSON file (${(e as Error).message})`, { cause: e });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError('E_SINKS_SETTINGS', `--sinks ${sinksFile} must hold a JSON object`);
  const settings = { ...(raw as Record<string, unknown>), alerts: { enabled: false } };
  // One spool per replica (containers get distinct host names), kept across restarts when the folder is a volume.
  const stateDir = join(process.env.CVM_ATTEST_STATE_DIR || join(tmpdir(), 'cvm-attest-serve'), hostname().replace(/[^A-Za-z0-9._-]/g, '_'));
  const { createSinks } = await import('../sinks/index.js');
  const sinks = await createSinks(settings, { stateDir, logger: log, ...(agentVersion ? { agentVersion } : {}) });
  let pending = 0;
  let dropped = 0;
  return {
    listener: (outcome, request) => {
      if (pending >= MAX_PENDING) {
        dropped++;
        log.error('fleet record dropped: too many waiting for the spool', { dropped, vmId: outcome.attestedVmId ?? null });
        return;
      }
      pending++;
      sinks
        .deliver({
          result: asResult(outcome),
          reporter: { by: 'verifier', attestedVmId: outcome.attestedVmId, tokenId: outcome.jti, claimed: claimedIdentity(request) },
        })
        .catch((e: unknown) => log.error('fleet record not spooled', { error: (e as Error).message }))
        .finally(() => pending--);
    },
    dropped: () => dropped,
    close: async () => {
      await sinks.flush({ timeoutMs: 10_000 }).catch(() => undefined);
      await sinks.close();
    },
  };
}
