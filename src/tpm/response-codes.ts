// TPM 2.0 response codes (TCG Library Part 2, TPM_RC) decoded into a name, the handle / parameter /
// session they point at, and a hint the user can act on. Pure.
import { CollectionError, TPM_RC_CODE_PREFIX, type TpmRcErrorCode } from '../base/errors.js';
import { hex32 } from './constants.js';

export const RC_SUCCESS = 0x000;
const RC_VER1 = 0x100;
const RC_FMT1 = 0x080;
const RC_WARN = 0x900;

export const TPM_RC_INITIALIZE = RC_VER1 + 0x000;

interface RcInfo {
  readonly name: string;
  readonly text: string;
}

const rc = (name: string, text: string): RcInfo => ({ name, text });

/** Format-zero errors (bit 7 clear, bit 8 set, bit 11 clear): offset from RC_VER1. */
const FORMAT0: Record<number, RcInfo> = {
  0x000: rc('TPM_RC_INITIALIZE', 'the TPM has not been started (TPM2_Startup not run)'),
  0x001: rc('TPM_RC_FAILURE', 'the TPM is in failure mode'),
  0x003: rc('TPM_RC_SEQUENCE', 'improper use of a sequence handle'),
  0x00b: rc('TPM_RC_PRIVATE', 'not currently used'),
  0x019: rc('TPM_RC_HMAC', 'not currently used'),
  0x020: rc('TPM_RC_DISABLED', 'the command is disabled'),
  0x021: rc('TPM_RC_EXCLUSIVE', 'the command failed because an audit sequence required exclusivity'),
  0x024: rc('TPM_RC_AUTH_TYPE', 'authorization handle is not correct for the command'),
  0x025: rc('TPM_RC_AUTH_MISSING', 'the command requires an authorization session for a handle and it is not present'),
  0x026: rc('TPM_RC_POLICY', 'policy failure in math operation or an invalid authPolicy value'),
  0x027: rc('TPM_RC_PCR', 'PCR check fail'),
  0x028: rc('TPM_RC_PCR_CHANGED', 'the PCRs changed since the policy session was started'),
  0x02d: rc('TPM_RC_UPGRADE', 'the TPM is in field-upgrade mode'),
  0x02e: rc('TPM_RC_TOO_MANY_CONTEXTS', 'context ID counter is at its maximum'),
  0x02f: rc('TPM_RC_AUTH_UNAVAILABLE', 'authValue or authPolicy is not available for the selected entity'),
  0x030: rc('TPM_RC_REBOOT', 'a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation'),
  0x031: rc('TPM_RC_UNBALANCED', 'the protection algorithms (hash and symmetric) are not reasonably balanced'),
  0x042: rc('TPM_RC_COMMAND_SIZE', 'command size does not match the bytes sent'),
  0x043: rc('TPM_RC_COMMAND_CODE', 'command code not supported'),
  0x044: rc('TPM_RC_AUTHSIZE', 'the authorization size is out of range or does not match the sessions'),
  0x045: rc('TPM_RC_AUTH_CONTEXT', 'use of an authorization session with a context command, or another command that cannot have one'),
  0x046: rc('TPM_RC_NV_RANGE', 'NV offset + size is out of range'),
  0x047: rc('TPM_RC_NV_SIZE', 'requested allocation size is larger than allowed'),
  0x048: rc('TPM_RC_NV_LOCKED', 'the NV index is locked for this operation'),
  0x049: rc('TPM_RC_NV_AUTHORIZATION', 'the NV index attributes do not allow this authorization (e.g. no OWNERREAD for an owner read)'),
  0x04a: rc('TPM_RC_NV_UNINITIALIZED', 'the NV index has never been written'),
  0x04b: rc('TPM_RC_NV_SPACE', 'insufficient space for the NV allocation'),
  0x04c: rc('TPM_RC_NV_DEFINED', 'the NV index is already defined'),
  0x050: rc('TPM_RC_BAD_CONTEXT', 'context in TPM2_ContextLoad is not valid'),
  0x051: rc('TPM_RC_CPHASH', 'cpHash value already set or not correct for use'),
  0x052: rc('TPM_RC_PARENT', 'handle for parent is not a valid parent'),
  0x053: rc('TPM_RC_NEEDS_TEST', 'some function needs testing'),
  0x054: rc('TPM_RC_NO_RESULT', 'an internal function cannot process a request due to an unspecified problem'),
  0x055: rc('TPM_RC_SENSITIVE', 'the sensitive area did not unmarshal correctly after decryption'),
};

/** Format-one errors (bit 7 set): bits 0-5. */
const FORMAT1: Record<number, RcInfo> = {
  0x001: rc('TPM_RC_ASYMMETRIC', 'asymmetric algorithm not supported or not correct'),
  0x002: rc('TPM_RC_ATTRIBUTES', 'inconsistent attributes'),
  0x003: rc('TPM_RC_HASH', 'hash algorithm not supported or not appropriate'),
  0x004: rc('TPM_RC_VALUE', 'value is out of range or is not correct for the context'),
  0x005: rc('TPM_RC_HIERARCHY', 'hierarchy is not enabled or is not correct for the use'),
  0x007: rc('TPM_RC_KEY_SIZE', 'key size is not supported'),
  0x008: rc('TPM_RC_MGF', 'mask generation function not supported'),
  0x009: rc('TPM_RC_MODE', 'mode of operation not supported'),
  0x00a: rc('TPM_RC_TYPE', 'the type of the value is not appropriate for the use'),
  0x00b: rc('TPM_RC_HANDLE', 'the handle is not correct for the use (not defined / not loaded)'),
  0x00c: rc('TPM_RC_KDF', 'unsupported key derivation function or not appropriate for use'),
  0x00d: rc('TPM_RC_RANGE', 'value was out of allowed range'),
  0x00e: rc('TPM_RC_AUTH_FAIL', 'the authorization HMAC check or password failed (counts toward dictionary-attack lockout)'),
  0x00f: rc('TPM_RC_NONCE', 'invalid nonce size or nonce value mismatch'),
  0x010: rc('TPM_RC_PP', 'authorization requires assertion of physical presence'),
  0x012: rc('TPM_RC_SCHEME', 'unsupported or incompatible scheme'),
  0x015: rc('TPM_RC_SIZE', 'structure is the wrong size'),
  0x016: rc('TPM_RC_SYMMETRIC', 'unsupported symmetric algorithm or key size, or not appropriate for instance'),
  0x017: rc('TPM_RC_TAG', 'incorrect structure tag'),
  0x018: rc('TPM_RC_SELECTOR', 'union selector is incorrect'),
  0x01a: rc('TPM_RC_INSUFFICIENT', 'the TPM was unable to unmarshal a value because there were not enough octets in the input buffer'),
  0x01b: rc('TPM_RC_SIGNATURE', 'the signature is not valid'),
  0x01c: rc('TPM_RC_KEY', 'key fields are not compatible with the selected use'),
  0x01d: rc('TPM_RC_POLICY_FAIL', 'a policy check failed'),
  0x01f: rc('TPM_RC_INTEGRITY', 'integrity check failed'),
  0x020: rc('TPM_RC_TICKET', 'invalid ticket'),
  0x021: rc('TPM_RC_RESERVED_BITS', 'reserved bits not set to zero as required'),
  0x022: rc('TPM_RC_BAD_AUTH', 'authorization failure without dictionary-attack implications (wrong password)'),
  0x023: rc('TPM_RC_EXPIRED', 'the policy has expired'),
  0x024: rc('TPM_RC_POLICY_CC', 'the commandCode in the policy is not the commandCode of the command'),
  0x025: rc('TPM_RC_BINDING', 'public and sensitive portions of an object are not cryptographically bound'),
  0x026: rc('TPM_RC_CURVE', 'curve not supported'),
  0x027: rc('TPM_RC_ECC_POINT', 'point is not on the required curve'),
};

/** Warnings (bits 8 and 11 set): bits 0-6. */
const WARNINGS: Record<number, RcInfo> = {
  0x001: rc('TPM_RC_CONTEXT_GAP', 'gap for context ID is too large'),
  0x002: rc('TPM_RC_OBJECT_MEMORY', 'out of memory for object contexts'),
  0x003: rc('TPM_RC_SESSION_MEMORY', 'out of memory for session contexts'),
  0x004: rc('TPM_RC_MEMORY', 'out of shared object/session memory or need space for internal operations'),
  0x005: rc('TPM_RC_SESSION_HANDLES', 'out of session handles'),
  0x006: rc('TPM_RC_OBJECT_HANDLES', 'out of object handles'),
  0x007: rc('TPM_RC_LOCALITY', 'bad locality'),
  0x008: rc('TPM_RC_YIELDED', 'the TPM has suspended operation on the command'),
  0x009: rc('TPM_RC_CANCELED', 'the command was canceled'),
  0x00a: rc('TPM_RC_TESTING', 'the TPM is performing self-tests'),
  0x020: rc('TPM_RC_NV_RATE', 'the TPM is rate-limiting accesses to prevent wearout of NV'),
  0x021: rc('TPM_RC_LOCKOUT', 'authorizations for objects subject to DA protection are not allowed at this time (dictionary-attack lockout)'),
  0x022: rc('TPM_RC_RETRY', 'the TPM was not able to start the command'),
  0x023: rc('TPM_RC_NV_UNAVAILABLE', 'the command may require writing of NV and NV is not currently accessible'),
  0x07f: rc('TPM_RC_NOT_USED', 'this value is reserved and shall not be returned by the TPM'),
};
for (let i = 0; i < 7; i++) {
  WARNINGS[0x010 + i] = rc(`TPM_RC_REFERENCE_H${i}`, `the ${i + 1}. handle references a transient object or session that is not loaded`);
  WARNINGS[0x018 + i] = rc(`TPM_RC_REFERENCE_S${i}`, `the ${i + 1}. authorization session handle references a session that is not loaded`);
}

/** What the user can do, by name. Context-specific hints (e.g. "not an Azure CVM") are added by the caller. */
const HINTS: Record<string, string> = {
  TPM_RC_INITIALIZE: 'the TPM must be started with TPM2_Startup (a platform/firmware issue on a real VM).',
  TPM_RC_FAILURE: 'the TPM is in failure mode: restart the VM (or the simulator).',
  TPM_RC_AUTH_FAIL: 'the password/authorization is wrong; repeated failures can lock the TPM out.',
  TPM_RC_BAD_AUTH: 'the password/authorization is wrong.',
  TPM_RC_LOCKOUT: 'the TPM is in dictionary-attack lockout: wait for the lockout interval or reset it with the lockout authorization.',
  TPM_RC_NV_AUTHORIZATION: 'the index does not allow this kind of read (check its attributes with `tpm2_nvreadpublic`).',
  TPM_RC_NV_UNINITIALIZED: 'the NV index exists but was never written: on Azure the paravisor writes it at boot.',
  TPM_RC_HANDLE: 'the handle does not exist on this TPM.',
  TPM_RC_RETRY: 'the TPM was busy: try again.',
  TPM_RC_YIELDED: 'the TPM was busy: try again.',
  TPM_RC_TESTING: 'the TPM is running self-tests: try again shortly.',
  TPM_RC_NV_RATE: 'the TPM is rate-limiting NV access: try again later.',
  TPM_RC_OBJECT_MEMORY: 'too many objects loaded: use the resource manager /dev/tpmrm0, or flush transient objects.',
  TPM_RC_SESSION_MEMORY: 'too many sessions loaded: use the resource manager /dev/tpmrm0, or flush sessions.',
};

export interface DecodedResponseCode {
  readonly rc: number;
  /** e.g. TPM_RC_HANDLE; a synthetic name for codes outside the TPM 2.0 set. */
  readonly name: string;
  readonly description: string;
  readonly format: 'format-0' | 'format-1' | 'warning' | 'tpm1.2' | 'vendor' | 'layer';
  /** Format-1 only: which command handle (1-based), parameter (1-based) or session (1-based) the error is about. */
  readonly handle?: number;
  readonly parameter?: number;
  readonly session?: number;
  readonly hint?: string;
}

/** Decodes any 32-bit response code (pure; never throws). */
export function decodeResponseCode(code: number): DecodedResponseCode {
  const c = code >>> 0;
  if (c > 0xfff) {
    // Bits above 11 are set by software layers (TSS/resource managers), never by the TPM itself.
    return {
      rc: c,
      name: `LAYER_${(c >>> 16).toString(16).toUpperCase()}_RC_${(c & 0xffff).toString(16).toUpperCase()}`,
      description: 'an error from a software layer in front of the TPM (resource manager or driver)',
      format: 'layer',
    };
  }
  if (c & RC_FMT1) {
    const e = c & 0x3f;
    const info = FORMAT1[e] ?? rc(`TPM_RC_FMT1_${e.toString(16).toUpperCase()}`, 'unknown format-one error');
    const base = { rc: c, name: info.name, description: info.text, format: 'format-1' as const, hint: HINTS[info.name] };
    const n = (c >>> 8) & 0xf;
    if (c & 0x40) return { ...base, parameter: n };
    if (n & 0x8) return { ...base, session: n & 0x7 };
    return n === 0 ? base : { ...base, handle: n };
  }
  if (!(c & RC_VER1)) {
    return {
      rc: c,
      name: `TPM_1.2_RC_${c.toString(16).toUpperCase()}`,
      description: 'a TPM 1.2 style response code: the device does not speak TPM 2.0',
      format: 'tpm1.2',
    };
  }
  if (c & 0x400) {
    return { rc: c, name: `TPM_RC_VENDOR_${(c & 0x7f).toString(16).toUpperCase()}`, description: 'a vendor-defined error', format: 'vendor' };
  }
  if ((c & RC_WARN) === RC_WARN) {
    const info = WARNINGS[c & 0x7f] ?? rc(`TPM_RC_WARN_${(c & 0x7f).toString(16).toUpperCase()}`, 'unknown warning');
    return { rc: c, name: info.name, description: info.text, format: 'warning', hint: HINTS[info.name] };
  }
  const info = FORMAT0[c & 0x7f] ?? rc(`TPM_RC_${(c & 0x7f).toString(16).toUpperCase()}`, 'unknown format-zero error');
  return { rc: c, name: info.name, description: info.text, format: 'format-0', hint: HINTS[info.name] };
}

/** Names the command's handles / parameters so an error can say "handle 2 (nvIndex 0x01400001)". */
export interface CommandContext {
  readonly command: string;
  readonly handles?: readonly { readonly name: string; readonly value: number }[];
  readonly parameters?: readonly string[];
  /** Extra, command-specific advice keyed by response-code name (e.g. TPM_RC_HANDLE -> "not an Azure CVM"). */
  readonly hints?: Readonly<Record<string, string>>;
}

/**
 * The error code of a response code's name: E_TPM_RC_HANDLE for TPM_RC_HANDLE. The synthetic names
 * of codes outside TPM 2.0 (LAYER_*, TPM_1.2_*) get the same prefix, so every code is in the family.
 */
export function tpmRcErrorCode(name: string): TpmRcErrorCode {
  const n = name.replace(/[^A-Z0-9_]/g, '_');
  return `${TPM_RC_CODE_PREFIX}${n.startsWith('TPM_RC_') ? n.slice('TPM_RC_'.length) : n}`;
}

/** A TPM answered a command with a non-success response code. */
export class TpmResponseError extends CollectionError {
  readonly rc: number;
  readonly rcName: string;
  readonly decoded: DecodedResponseCode;
  readonly command: string;

  constructor(ctx: CommandContext, code: number) {
    const d = decodeResponseCode(code);
    let where = '';
    if (d.handle !== undefined) {
      const h = ctx.handles?.[d.handle - 1];
      where = ` on handle ${d.handle}${h ? ` (${h.name} ${hex32(h.value)})` : ''}`;
    } else if (d.parameter !== undefined) {
      const p = ctx.parameters?.[d.parameter - 1];
      where = ` on parameter ${d.parameter}${p ? ` (${p})` : ''}`;
    } else if (d.session !== undefined) {
      where = ` on session ${d.session}`;
    }
    const h = ctx.hints?.[d.name] ?? d.hint;
    const hint = h ? h.charAt(0).toUpperCase() + h.slice(1) : undefined;
    super(
      tpmRcErrorCode(d.name),
      `${ctx.command} failed: ${d.name} (0x${d.rc.toString(16).toUpperCase().padStart(3, '0')})${where}: ${d.description}.${hint ? ` ${hint}` : ''}`,
    );
    this.rc = d.rc;
    this.rcName = d.name;
    this.decoded = d;
    this.command = ctx.command;
  }
}
