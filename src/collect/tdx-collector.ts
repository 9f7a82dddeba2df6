// The TDX half of collection: the TD quote for the HCL report's TD report from IMDS, and the
// collateral: the files given (--collateral), else the disk cache, refreshed from PCS before its
// nextUpdate. Collateral from PCS is cached only after its signatures check out under the pinned root.
import { CollectionError, CvmAttestError } from '../base/errors.js';
import { parseCollateral, type CollateralFile } from '../platform/tdx/collateral.js';
import { parseTdxHclReport } from '../platform/tdx/hcl.js';
import { parsePckExtensions } from '../platform/tdx/pck-extensions.js';
import { parseTdQuote } from '../platform/tdx/quote.js';
import { CertStore } from '../x509/cert-store.js';
import { pemDer } from '../x509/pem.js';
import { checkCollateral } from '../platform/tdx/collateral-check.js';
import { defaultCacheDir } from './cert-cache.js';
import { collateralDir, readCachedCollateral, writeCachedCollateral } from './collateral-cache.js';
import type { CollectOptions } from './collector.js';
import { fetchTdxCollateral } from './pcs.js';
import { fetchTdQuote } from './tdquote.js';
import { readCollateralPaths } from './tdx-inputs.js';

export type CollateralSource = 'files' | 'cache' | 'pcs' | 'cache-stale';

export interface TdxParts {
  readonly tdQuote: Uint8Array;
  readonly collateral: CollateralFile[];
  readonly collateralSource: CollateralSource;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function collectTdxParts(hclReport: Uint8Array, replayed: boolean, options: CollectOptions, warnings: string[]): Promise<TdxParts> {
  let tdReport: Uint8Array;
  try {
    tdReport = parseTdxHclReport(hclReport).tdReport.bytes;
  } catch (e) {
    if (replayed) throw e;
    throw new CollectionError('E_TPM_EVIDENCE', `the TDX HCL report read from the vTPM is unusable: ${message(e)}`, { cause: e });
  }
  const tdQuote = await fetchTdQuote(tdReport, {
    ...options.imds,
    ...(options.imdsEndpoint !== undefined ? { endpoint: options.imdsEndpoint } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (options.collateral?.length) return { tdQuote, collateral: readCollateralPaths(options.collateral), collateralSource: 'files' };

  const quote = parseTdQuote(tdQuote);
  const pckPem = quote.pckChainPem[0]!;
  const pckDer = pemDer(pckPem, 'CERTIFICATE', { what: 'the PCK certificate', code: 'E_TDX_QUOTE' });
  const ext = parsePckExtensions(pckDer);
  const ca: 'platform' | 'processor' = /Processor CA/.test(quote.pckChainPem.join('')) ? 'processor' : 'platform';
  const now = options.now ?? new Date();
  const dir = collateralDir(options.cacheDir ?? defaultCacheDir(), ext.fmspc, ca);
  const cached = await readCachedCollateral(dir, now);
  if (cached?.fresh) return { tdQuote, collateral: cached.files, collateralSource: 'cache' };
  try {
    const files = await fetchTdxCollateral(ext.fmspc, ca, {
      ...options.pcs,
      ...(options.pcsEndpoint ? { endpoint: options.pcsEndpoint } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    // Never cache what Intel did not sign (the verifier would refuse it anyway).
    const signed = checkCollateral(parseCollateral(files), ext.fmspc, ext.pceId, new CertStore(false), now, false, false).checks[0];
    if (signed?.status !== 'pass')
      throw new CollectionError('E_PCS_BAD_RESPONSE', `PCS collateral for FMSPC ${ext.fmspc} does not verify: ${signed?.reason ?? 'unknown'}`);
    try {
      await writeCachedCollateral(dir, files);
    } catch (e) {
      warnings.push(`could not write the collateral cache in ${dir}: ${message(e)}`);
    }
    return { tdQuote, collateral: files, collateralSource: 'pcs' };
  } catch (e) {
    if (!(e instanceof CvmAttestError)) throw e;
    if (cached) {
      warnings.push(`${e.message}; using the cached collateral for FMSPC ${ext.fmspc} (next update ${cached.nextUpdate?.toISOString() ?? 'unknown'})`);
      return { tdQuote, collateral: cached.files, collateralSource: 'cache-stale' };
    }
    throw e;
  }
}
