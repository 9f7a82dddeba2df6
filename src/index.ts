// Package entry: the offline verifier and its parsers (pure: no file or network I/O).
export { verifyEvidence, verifyEvidenceSync, parseErrorInput, type VerifyOptions, type VerifyInput } from './verify/verify-evidence.js';
export type { QuoteInput } from './verify/freshness.js';
export type { VerificationResult, CheckResult, CheckGroup, CheckStatus, Claims, Product, CertificateInfo, PolicySummary, EvidenceSummary, TcbComponents } from './verify/result.js';
export { parseEvidence, type ParsedEvidence } from './snp/evidence.js';
export { parseSnpReport, productFromCpuid, type SnpReport, type GuestPolicy, type PlatformInfo, type SigningKey, type FirmwareVersion } from './snp/report.js';
export { parseHclReport, type HclReport, type HclHashType } from './snp/hcl.js';
export { parseRuntimeData, findRuntimeKey, akPublicKey, type RuntimeData } from './snp/runtime-data.js';
export { decodeTcb, tcbComponents, tcbHex, type TcbVersion } from './snp/tcb.js';
export { parseCertificate, type Certificate, type AmdExtensions } from './snp/certificate.js';
export { parseCertificateBundle, productFromCertificate, certificateRole, mergeBundles, type CertificateBundle, type CertificateRole, type ThimInfo } from './snp/cert-bundle.js';
export { parseCrl, type Crl } from './snp/crl.js';
export { parseTpmsAttest, type TpmsAttest } from './tpm/structures.js';
export { parsePolicy, defaultPolicy, isParsedPolicy, canonicalPolicy, policySummary, type Policy, type CrlMode } from './policy/policy.js';
export { PINNED_ARK_SPKI_SHA256 } from './verify/amd-roots.js';
export { ParseError, InputError, CollectionError, CvmAttestError, ExitCode } from './errors.js';
// Intel TDX.
export type { Platform, TdxDetails } from './verify/result.js';
export { parseTdQuote, type TdQuote, type TdQuoteBody, type QuoteHeader } from './tdx/quote.js';
export { parseTdReport, type TdReport, type TdMeasurements } from './tdx/td-report.js';
export { parseTdxHclReport, isTdxHclReport, type TdxHclReport } from './tdx/hcl.js';
export { parsePckExtensions, type PckExtensions } from './tdx/pck-extensions.js';
export { parseTcbInfo, type TcbInfo } from './tdx/tcb-info.js';
export { parseQeIdentity, type QeIdentity } from './tdx/qe-identity.js';
export { parseCollateral, type TdxCollateral, type CollateralFile } from './tdx/collateral.js';
export { INTEL_SGX_ROOT_SPKI_SHA256 } from './verify/tdx/intel-root.js';
export type { CollateralMode } from './policy/policy.js';
