// TPM 2.0 numeric constants we use (TCG TPM 2.0 Library, Part 2: Structures). Values are facts of the spec.

export const TPM_ST = { NO_SESSIONS: 0x8001, SESSIONS: 0x8002, ATTEST_QUOTE: 0x8018 } as const;

export const TPM_CC = {
  NV_UndefineSpace: 0x00000122,
  NV_DefineSpace: 0x0000012a,
  NV_Write: 0x00000137,
  NV_Read: 0x0000014e,
  Startup: 0x00000144,
  Quote: 0x00000158,
  NV_ReadPublic: 0x00000169,
  ReadPublic: 0x00000173,
  GetCapability: 0x0000017a,
  PCR_Read: 0x0000017e,
} as const;

export const TPM_SU_CLEAR = 0x0000;
export const TPM_RS_PW = 0x40000009;
export const TPM_RH_OWNER = 0x40000001;

export const TPM_CAP_TPM_PROPERTIES = 0x00000006;
export const TPM_PT_NV_INDEX_MAX = 0x00000117;
export const TPM_PT_NV_BUFFER_MAX = 0x0000012c;

export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  RSASSA: 0x0014,
  RSAPSS: 0x0016,
  ECDSA: 0x0018,
  ECC: 0x0023,
} as const;

/** TPMS_ATTEST magic "\xFFTCG". */
export const TPM_GENERATED_VALUE = 0xff544347;

/** Azure's HCL report NV index, the AK and EK persistent handles (see docs/tpm.md). */
export const HCL_NV_INDEX = 0x01400001;
export const AZURE_AK_HANDLE = 0x81000003;
export const AZURE_EK_HANDLE = 0x81010001;
/** The guest writes 64 bytes of user data here; the paravisor puts them into the next HCL report's runtime data. */
export const USER_DATA_NV_INDEX = 0x01400002;
export const USER_DATA_SIZE = 64;
/** The vTPM attestation-key certificate Azure provisions (DER, possibly followed by padding). */
export const AK_CERT_NV_INDEX = 0x01c101d0;

/** PCRs a SHA-256 bank has on a PC-client TPM. */
export const PCR_COUNT = 24;

/** Default NV buffer size when the TPM does not report TPM_PT_NV_BUFFER_MAX (the PC-client minimum is 512; 1024 is common). */
export const DEFAULT_NV_BUFFER_MAX = 1024;

/** No TPM response is larger than this (TPM_PT_MAX_RESPONSE_SIZE is 4096 on every TPM we know). */
export const MAX_RESPONSE_BYTES = 16384;

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
