// collectEvidence(): reads the vTPM (HCL report + a fresh quote) and IMDS (certificates through the
// cache, VM identity). No verification here: attest.ts adds that.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CollectionError, CvmAttestError, InputError } from '../base/errors.js';
import { parseEvidence, type ParsedEvidence } from '../platform/snp/evidence.js';
import { readTpmEvidence, type TpmEvidence } from './tpm/index.js';
import { fetchInstanceIdentity, fetchThimCertificates, type ImdsOptions } from './imds.js';
import { CertificateCache, type CacheKey, type CacheLookup } from './cert-cache.js';
import { formatTcbm, type ThimCertificates } from '../input/thim.js';
import { vcekChipMismatch } from './vcek-match.js';
import { bindIdentity, type InstanceIdentity } from './identity.js';
import type { CertificateSource, Evidence, QuoteEvidence } from './evidence.js';
import type { PcsOptions } from './pcs.js';
import { isTdxHclReport } from '../platform/tdx/hcl.js';
import { DEFAULT_EVENT_LOG_PATH, readEventLogFile } from './event-log-file.js';

export interface CollectOptions {
  /** TPM transport (device:/dev/tpmrm0, swtpm:path=S, swtpm:host=H,port=P, file:PATH). Default: env CVM_ATTEST_TPM, else the device. */
  tpm?: string;
  /** IMDS base URL. Default: env CVM_ATTEST_IMDS_ENDPOINT, else http://169.254.169.254. */
  imdsEndpoint?: string;
  /** IMDS timeouts and retries (defaults in imds.ts). */
  imds?: Omit<ImdsOptions, 'endpoint' | 'signal'>;
  /** Certificate cache folder. Default: env CVM_ATTEST_CACHE_DIR, else ~/.cache/cvm-attest/certs. */
  cacheDir?: string;
  /** Quote nonce (1-64 bytes). Default: 32 random bytes. */
  nonce?: Uint8Array;
  /** Write the nonce to NV 0x01400002 first so the paravisor's next HCL report carries it (fresh by report). Default true (live TPMs). */
  reportNonce?: boolean;
  /** How long to wait for that report (default 5000 ms on a device, 0 on swtpm). */
  reportWaitMs?: number;
  /** The TCG event log to include: a path, or false for none. Default: the kernel's securityfs log for the device transport, none otherwise. */
  eventLog?: string | false;
  /** Take a fresh quote. Default true. */
  quote?: boolean;
  /** PCRs to quote (SHA-256 bank). Default 0-7. */
  pcrs?: number[];
  /** Fetch the VM identity from IMDS instance metadata. Default true. */
  instance?: boolean;
  signal?: AbortSignal;
  /** Clock for cache freshness (and verification in attest). */
  now?: Date;
  /** Intel TDX: collateral files or folders; default: the cache, filled from PCS. */
  collateral?: string[];
  /** Intel TDX: PCS (or a cache with its API) base URL. Default env CVM_ATTEST_PCS_ENDPOINT, else Intel's PCS. */
  pcsEndpoint?: string;
  pcs?: Omit<PcsOptions, 'endpoint' | 'signal'>;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function ageText(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** Certificates for the report: a fresh cache entry, else THIM (checked, then cached), else a stale cache entry with a warning. */
async function certificatesFor(key: CacheKey, options: CollectOptions, warnings: string[]): Promise<{ certs: ThimCertificates; source: CertificateSource }> {
  const cache = new CertificateCache(options.cacheDir);
  const now = options.now ?? new Date();
  const cached: CacheLookup | undefined = await cache.get(key, now);
  if (cached?.fresh) return { certs: cached.entry, source: 'cache' };

  let failure: CvmAttestError;
  let served: ThimCertificates | undefined;
  try {
    served = await fetchThimCertificates({
      ...options.imds,
      ...(options.imdsEndpoint !== undefined ? { endpoint: options.imdsEndpoint } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (m) => options.imds?.onRetry?.(m),
    });
    if (served.tcbm !== key.reportedTcb) {
      // A VCEK for another TCB cannot sign this report's TCB claims: never cache it.
      throw new CollectionError(
        'E_THIM_TCBM_MISMATCH',
        `IMDS served a VCEK for TCB ${formatTcbm(served.tcbm)} but the report's REPORTED_TCB is ${formatTcbm(key.reportedTcb)} (the host's certificate cache is stale; retry later)`,
      );
    }
    const chip = vcekChipMismatch(served.vcekPem, key.chipId);
    if (chip === undefined) {
      try {
        await cache.put(key, served, now);
      } catch (e) {
        warnings.push(`could not write the certificate cache in ${cache.dir}: ${message(e)}`);
      }
      return { certs: served, source: 'imds' };
    }
    failure = new CollectionError('E_THIM_WRONG_CHIP', `IMDS served a VCEK that is not this report's: ${chip}`);
  } catch (e) {
    if (!(e instanceof CvmAttestError)) throw e;
    if (e.code === 'E_IMDS_ABORTED') throw e;
    failure = e;
    served = undefined;
  }
  if (cached) {
    warnings.push(
      `${failure.message}; using the cached certificates fetched ${ageText(cached.ageSeconds)} ago for this chip and TCB (cacheControl ${cached.entry.cacheControlSeconds} s)`,
    );
    return { certs: cached.entry, source: 'cache-stale' };
  }
  if (served && failure.code === 'E_THIM_WRONG_CHIP') {
    // Nothing better to offer: hand the served certificate to the verifier, which fails it with
    // the precise reason (signature, chip id). It is not cached.
    warnings.push(`${failure.message}; it was not cached`);
    return { certs: served, source: 'imds' };
  }
  throw failure;
}

function quoteEvidence(q: NonNullable<TpmEvidence['quote']>): QuoteEvidence {
  return { message: q.message, signature: q.signature, nonce: q.nonce, pcrs: [...q.pcrs], pcrSelection: [...q.pcrSelection] };
}

function vmUniqueId(parsed: ParsedEvidence): string | undefined {
  const vc = parsed.hcl?.runtimeData.json?.['vm-configuration'];
  const id = vc && typeof vc === 'object' ? (vc as Record<string, unknown>).vmUniqueId : undefined;
  return typeof id === 'string' ? id : undefined;
}

export interface Collected {
  evidence: Evidence;
  /** SEV-SNP only. */
  parsed?: ParsedEvidence;
  tpmMs: number;
  certificatesMs: number;
}

export async function collect(options: CollectOptions): Promise<Collected> {
  // One signal for everything this collection starts: when any part fails, the rest (an identity
  // fetch still retrying, say) is cancelled instead of keeping the process alive in the background.
  const ac = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, ac.signal]) : ac.signal;
  try {
    return await collectWith({ ...options, signal });
  } finally {
    ac.abort();
  }
}

async function collectWith(options: CollectOptions & { signal: AbortSignal }): Promise<Collected> {
  const warnings: string[] = [];
  const wantQuote = options.quote ?? true;
  const wantReportNonce = options.reportNonce ?? true;
  const nonce = options.nonce ?? (wantQuote || wantReportNonce ? new Uint8Array(randomBytes(32)) : undefined);
  if (nonce && (nonce.length < 1 || nonce.length > 64)) throw new InputError('E_NONCE', `nonce must be 1-64 bytes (got ${nonce.length})`);

  const t0 = performance.now();
  const identityP: Promise<InstanceIdentity | undefined> =
    options.instance === false
      ? Promise.resolve(undefined)
      : fetchInstanceIdentity({
          ...options.imds,
          ...(options.imdsEndpoint !== undefined ? { endpoint: options.imdsEndpoint } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        }).catch((e: unknown) => {
          if (e instanceof CvmAttestError && e.code !== 'E_IMDS_ABORTED' && e.exitCode === 3) {
            warnings.push(`VM identity unavailable: ${e.message}`);
            return undefined;
          }
          throw e;
        });
  // Settle the identity fetch even if the TPM read throws (no unhandled rejection).
  identityP.catch(() => undefined);

  const tpm = await readTpmEvidence({
    ...(options.tpm !== undefined ? { transport: options.tpm } : {}),
    quote: wantQuote,
    ...(nonce ? { nonce } : {}),
    ...(nonce && wantReportNonce ? { reportNonce: nonce } : {}),
    ...(options.reportWaitMs !== undefined ? { reportWaitMs: options.reportWaitMs } : {}),
    ...(options.pcrs ? { pcrs: options.pcrs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const tpmMs = performance.now() - t0;
  const logPath = options.eventLog ?? (tpm.transport.startsWith('device:') ? DEFAULT_EVENT_LOG_PATH : false);
  let eventLog: Uint8Array | undefined = logPath === false ? undefined : tpm.eventLog;
  // A replay brings its own log (a bundle's eventlog.bin) unless a file is named explicitly.
  if (logPath !== false && (!tpm.replayed || options.eventLog !== undefined)) {
    try {
      eventLog = await readEventLogFile(logPath);
      if (!eventLog) warnings.push(`no TCG event log at ${logPath}: the boot state is not judged`);
    } catch (e) {
      if (!(e instanceof CvmAttestError)) throw e;
      warnings.push(`${e.message}: the boot state is not judged`);
    }
  }
  // The guest parts (user data, AK certificate, event log) are the vTPM's: the same on TDX.
  const guest = {
    ...(tpm.userData && nonce ? { userData: { nonce, matched: tpm.userData.matched } } : {}),
    ...(tpm.akCertificate ? { akCertificate: tpm.akCertificate } : {}),
    ...(eventLog ? { eventLog } : {}),
  };
  if (isTdxHclReport(tpm.hclReport)) return collectTdx(tpm, options, warnings, identityP, wantQuote, tpmMs, guest);

  let parsed: ParsedEvidence;
  try {
    parsed = parseEvidence(tpm.hclReport);
  } catch (e) {
    if (tpm.replayed) throw e; // a file the user gave: an input error (exit 2)
    throw new CollectionError('E_TPM_EVIDENCE', `the HCL report read from ${tpm.transport} is unusable: ${message(e)}`, { cause: e });
  }
  const r = parsed.report;
  const t1 = performance.now();
  const { certs, source } = await certificatesFor({ product: r.product, chipId: r.chipId, reportedTcb: r.reportedTcb.raw }, options, warnings);
  const certificatesMs = performance.now() - t1;

  const instance = await identityP;
  const identity = instance ? bindIdentity(instance, vmUniqueId(parsed)) : undefined;
  const evidence: Evidence = {
    ...commonEvidence(warnings, tpm, identity, wantQuote, guest),
    vcekPem: certs.vcekPem,
    chainPem: certs.chainPem,
    certificateSource: source,
  };
  return { evidence, parsed, tpmMs, certificatesMs };
}

/** What both platforms' evidence holds beside the certificates: the vTPM parts, the identity, the warnings. */
function commonEvidence(
  warnings: string[],
  tpm: TpmEvidence,
  identity: ReturnType<typeof bindIdentity> | undefined,
  wantQuote: boolean,
  guest: Pick<Evidence, 'userData' | 'akCertificate' | 'eventLog'>,
): Omit<Evidence, 'vcekPem' | 'chainPem' | 'certificateSource'> {
  warnAboutParts(warnings, tpm, identity, wantQuote);
  return {
    hclReport: tpm.hclReport,
    // --no-quote also drops a replayed capture's recorded quote: the user asked for none.
    ...(tpm.quote && wantQuote ? { quote: quoteEvidence(tpm.quote) } : {}),
    ...guest,
    ...(identity ? { instance: identity } : {}),
    warnings,
    replayed: tpm.replayed,
    transport: tpm.transport,
  };
}

/** The collection warnings both platforms give: an IMDS identity not of this report, a nonce the report does not carry, no quote. */
function warnAboutParts(warnings: string[], tpm: TpmEvidence, identity: ReturnType<typeof bindIdentity> | undefined, wantQuote: boolean): void {
  if (identity?.boundToReport === false)
    warnings.push(`IMDS vmId ${identity.vmId} differs from the vmUniqueId signed into the report: the identity does not belong to this evidence`);
  if (tpm.userData && !tpm.userData.matched)
    warnings.push(
      'the HCL report read after writing the nonce to NV 0x01400002 does not carry it (no paravisor answered in time): freshness rests on the quote',
    );
  if (wantQuote && !tpm.quote) warnings.push(tpm.replayed ? 'replayed evidence carries no quote: freshness cannot be shown' : 'the TPM returned no quote');
}

/** Reads the vTPM and IMDS. Throws CollectionError (exit 3) when evidence cannot be had. */
export async function collectEvidence(options: CollectOptions = {}): Promise<Evidence> {
  return (await collect(options)).evidence;
}

/** An Intel TDX CVM: the TD quote and collateral take the place of the VCEK and its chain. */
async function collectTdx(
  tpm: TpmEvidence,
  options: CollectOptions & { signal: AbortSignal },
  warnings: string[],
  identityP: Promise<InstanceIdentity | undefined>,
  wantQuote: boolean,
  tpmMs: number,
  guest: Pick<Evidence, 'userData' | 'akCertificate' | 'eventLog'>,
): Promise<Collected> {
  const t1 = performance.now();
  const { collectTdxParts } = await import('./tdx-collector.js');
  const tdx = await collectTdxParts(tpm.hclReport, tpm.replayed, options, warnings);
  const certificatesMs = performance.now() - t1;
  const instance = await identityP;
  const { parseTdxHclReport } = await import('../platform/tdx/hcl.js');
  const vc = parseTdxHclReport(tpm.hclReport).runtimeData.json?.['vm-configuration'];
  const id = vc && typeof vc === 'object' ? (vc as Record<string, unknown>).vmUniqueId : undefined;
  const identity = instance ? bindIdentity(instance, typeof id === 'string' ? id : undefined) : undefined;
  const evidence: Evidence = {
    ...commonEvidence(warnings, tpm, identity, wantQuote, guest),
    vcekPem: '',
    chainPem: '',
    tdQuote: tdx.tdQuote,
    collateral: tdx.collateral,
    certificateSource: tdx.collateralSource === 'files' ? 'files' : tdx.collateralSource === 'pcs' ? 'pcs' : tdx.collateralSource,
  };
  return { evidence, tpmMs, certificatesMs };
}
