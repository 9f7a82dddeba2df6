// Package entry: the offline verifier and its parsers (pure: no file or network I/O).
export { verifyEvidence, verifyEvidenceSync, type VerifyOptions, type VerifyInput } from './verify/verify-evidence.js';
export type { QuoteInput } from './guest/freshness.js';
export type {
  VerificationResult,
  CheckResult,
  CheckGroup,
  CheckStatus,
  Claims,
  Product,
  CertificateInfo,
  PolicySummary,
  EvidenceSummary,
  TcbComponents,
} from './result/result.js';
export { parseEvidence, type ParsedEvidence } from './platform/snp/evidence.js';
export {
  parseSnpReport,
  productFromCpuid,
  type SnpReport,
  type GuestPolicy,
  type PlatformInfo,
  type SigningKey,
  type FirmwareVersion,
} from './platform/snp/report.js';
export { parseHclReport, type HclReport, type HclHashType } from './platform/snp/hcl.js';
export { parseRuntimeData, findRuntimeKey, akPublicKey, type RuntimeData } from './hcl/runtime-data.js';
export { decodeTcb, tcbComponents, tcbHex, type TcbVersion } from './platform/snp/tcb.js';
export { parseCertificate, type Certificate, type AmdExtensions } from './x509/certificate.js';
export {
  parseCertificateBundle,
  productFromCertificate,
  certificateRole,
  mergeBundles,
  type CertificateBundle,
  type CertificateRole,
  type ThimInfo,
} from './input/certificates.js';
export { parseCrl, type Crl } from './x509/crl.js';
export { parseTpmsAttest, type TpmsAttest } from './tpm/structures.js';
export { parsePolicy, defaultPolicy, isParsedPolicy, canonicalPolicy, policySummary, type Policy, type CrlMode } from './policy/policy.js';
export { PINNED_ARK_SPKI_SHA256 } from './platform/snp/amd-roots.js';
export { ParseError, InputError, CollectionError, CvmAttestError, ExitCode, ERROR_CODES, type ErrorCode } from './base/errors.js';
// Intel TDX.
export type { Platform, TdxDetails } from './result/result.js';
export { parseTdQuote, type TdQuote, type TdQuoteBody, type QuoteHeader } from './platform/tdx/quote.js';
export { parseTdReport, type TdReport, type TdMeasurements } from './platform/tdx/td-report.js';
export { parseTdxHclReport, isTdxHclReport, type TdxHclReport } from './platform/tdx/hcl.js';
export { parsePckExtensions, type PckExtensions } from './platform/tdx/pck-extensions.js';
export { parseTcbInfo, type TcbInfo } from './platform/tdx/tcb-info.js';
export { parseQeIdentity, type QeIdentity } from './platform/tdx/qe-identity.js';
export { parseCollateral, type TdxCollateral, type CollateralFile } from './platform/tdx/collateral.js';
export { INTEL_SGX_ROOT_SPKI_SHA256 } from './platform/tdx/intel-root.js';
export type { CollateralMode } from './policy/policy.js';
