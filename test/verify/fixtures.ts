// Test helpers: the real vectors in test/fixtures (see PROVENANCE.md) and derived inputs.
import type { CheckResult, VerificationResult } from '../../src/result/result.js';

// The loader lives in test/helpers; re-exported for the tests that import it with the vectors.
export { FIXTURES, fixture } from '../helpers/fixtures.js';
/** All certificates of the vectors are valid on this date (the VLEK aside: it expired 2025-12-10). */
export const NOW = new Date('2026-11-28T12:00:00Z');

export interface HclVector {
  readonly dir: string;
  readonly vcek: string;
  readonly product: 'Milan' | 'Genoa';
}
export const HCL_VECTORS: readonly HclVector[] = [
  { dir: 'azure-hcl/milan-v2', vcek: 'vcek-chain.pem', product: 'Milan' },
  { dir: 'azure-hcl/milan-v3-a', vcek: 'vcek.pem', product: 'Milan' },
  { dir: 'azure-hcl/milan-v3-b', vcek: 'vcek.der', product: 'Milan' },
  { dir: 'azure-hcl/genoa', vcek: 'vcek.pem', product: 'Genoa' },
];

export const SNP_VECTORS: readonly { report: string; vcek: string; product: 'Milan' | 'Genoa'; version: number }[] = [
  { report: 'snp/aci-milan-v2-report.bin', vcek: 'azure-hcl/thim-response.json', product: 'Milan', version: 2 },
  { report: 'snp/milan-v3-report.bin', vcek: 'snp/milan-v3-vcek.pem', product: 'Milan', version: 3 },
  { report: 'snp/genoa-v3-report.bin', vcek: 'snp/genoa-v3-vcek.pem', product: 'Genoa', version: 3 },
  { report: 'snp/milan-v2-report.hex', vcek: 'snp/milan-v2-vcek.der', product: 'Milan', version: 2 },
  { report: 'snp/milan-v2-azpolicy-report.bin', vcek: 'snp/milan-v2-azpolicy-vcek.der', product: 'Milan', version: 2 },
];

export function check(r: VerificationResult, id: string): CheckResult {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
}

/** Ids of the failed checks, sorted. */
export function failed(r: VerificationResult): string[] {
  return r.checks
    .filter((c) => c.status === 'fail')
    .map((c) => c.id)
    .sort();
}
