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
