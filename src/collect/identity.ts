// The VM's identity from IMDS instance metadata (compute section). Pure: no I/O.
// IMDS is unauthenticated link-local data: the identity is only as good as its binding, so
// `boundToReport` says whether vmId equals the vmUniqueId the HCL signed into the runtime data.
import { ImdsResponseError, parseImdsJson } from '../input/thim.js';

export interface SecurityProfile {
  readonly securityType?: string;
  readonly secureBootEnabled?: boolean;
  readonly virtualTpmEnabled?: boolean;
  readonly encryptionAtHost?: boolean;
}

export interface InstanceIdentity {
  readonly vmId: string;
  readonly resourceId: string;
  readonly subscriptionId: string;
  readonly resourceGroupName: string;
  readonly name: string;
  readonly location: string;
  readonly vmSize: string;
  readonly securityProfile?: SecurityProfile;
  /** True when vmId equals the report's runtime-data vmUniqueId; undefined when not compared. */
  readonly boundToReport?: boolean;
}

export const INSTANCE_MAX_BYTES = 256 * 1024;
const MAX_FIELD = 1024;

function str(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_FIELD) {
    throw new ImdsResponseError(`instance metadata: compute.${name} is ${v === undefined ? 'missing' : 'not a non-empty string'}`);
  }
  return v;
}

/** IMDS writes booleans in securityProfile as the strings "true"/"false". */
function flag(v: unknown): boolean | undefined {
  if (v === true || v === 'true' || v === 'True') return true;
  if (v === false || v === 'false' || v === 'False') return false;
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function parseInstanceMetadata(body: Buffer | string): InstanceIdentity {
  const json = parseImdsJson(body, 'instance metadata', INSTANCE_MAX_BYTES);
  if (!isObject(json) || !isObject(json.compute)) throw new ImdsResponseError('instance metadata has no "compute" object');
  return identityFromCompute(json.compute);
}

/** The identity from a compute object (IMDS's, or a stored InstanceIdentity: same field names). */
export function identityFromCompute(c: Record<string, unknown>): InstanceIdentity {
  const vmId = str(c, 'vmId');
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(vmId)) {
    throw new ImdsResponseError('instance metadata: compute.vmId is not a GUID');
  }
  const identity: InstanceIdentity = {
    vmId: vmId.toLowerCase(),
    resourceId: str(c, 'resourceId'),
    subscriptionId: str(c, 'subscriptionId'),
    resourceGroupName: str(c, 'resourceGroupName'),
    name: str(c, 'name'),
    location: str(c, 'location'),
    vmSize: str(c, 'vmSize'),
  };
  const sp = c.securityProfile;
  if (!isObject(sp)) return identity;
  const profile: { -readonly [K in keyof SecurityProfile]: SecurityProfile[K] } = {};
  if (typeof sp.securityType === 'string' && sp.securityType.length <= MAX_FIELD) profile.securityType = sp.securityType;
  const sb = flag(sp.secureBootEnabled);
  if (sb !== undefined) profile.secureBootEnabled = sb;
  const vt = flag(sp.virtualTpmEnabled);
  if (vt !== undefined) profile.virtualTpmEnabled = vt;
  const eah = flag(sp.encryptionAtHost);
  if (eah !== undefined) profile.encryptionAtHost = eah;
  return { ...identity, securityProfile: profile };
}

/** Binds an identity to the vmUniqueId from the signed runtime data (case-insensitive GUID compare). */
export function bindIdentity(identity: InstanceIdentity, vmUniqueId: string | undefined): InstanceIdentity {
  if (vmUniqueId === undefined) return identity;
  return { ...identity, boundToReport: identity.vmId === vmUniqueId.toLowerCase() };
}
