// TDX test inputs: the real vectors in test/fixtures/azure-tdx and intel (see PROVENANCE.md).
import { fixture } from '../helpers/fixtures.js';
import type { CollateralFile } from '../../src/platform/tdx/collateral.js';
import type { QuoteInput } from '../../src/guest/freshness.js';
import type { VerificationResult } from '../../src/result/result.js';
import { verifyEvidenceSync } from '../../src/verify/verify-evidence.js';

/** Inside every collateral's validity (2025-02-13..2025-03-15) and the PCK chain's. */
export const TDX_NOW = new Date('2025-03-01T00:00:00Z');
export const COLLATERAL_NAMES = [
  'tcb_signing_cert.pem',
  'tcbinfov3_00806f050000.json',
  'qeidentityv2_apiv4.json',
  'pck_platform_crl.der',
  'intel_root_ca_crl.der',
] as const;
export const collateral = (): CollateralFile[] => COLLATERAL_NAMES.map((n) => ({ name: n, bytes: fixture(`intel/${n}`) }));
export const tdxHcl = (): Buffer => fixture('azure-tdx/hcl-report.bin');
export const tdQuote = (): Buffer => fixture('azure-tdx/td-quote.bin');
export const intelQuote = (): Buffer => fixture('intel/quote_tdx_00806f050000.dat');
export function vtpmQuote(): QuoteInput {
  const j = JSON.parse(fixture('azure-tdx/tpm-quote-v1.json').toString('utf8')) as { message: string; signature: string; pcrs: string[] };
  return { message: Buffer.from(j.message, 'hex'), signature: Buffer.from(j.signature, 'hex'), nonce: Buffer.from('challenge'), pcrs: j.pcrs };
}

/** The verified real DCesv5 evidence (pass, TCB OutOfDate), with its vTPM quote. */
export function tdxResult(): VerificationResult {
  return verifyEvidenceSync({ evidence: tdxHcl(), tdQuote: tdQuote(), collateral: collateral(), now: TDX_NOW, quote: vtpmQuote() });
}
