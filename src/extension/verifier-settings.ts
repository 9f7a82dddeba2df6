// `settings.verifier`: {"endpoint": "https://...", "caCertificate": "<PEM, optional>"}. When set,
// each run asks that remote verifier (cvm-attest serve) for a nonce, collects over it and submits.
import { verifierUrl } from '../remote/verifier-client.js';
import { SettingsError } from './settings-error.js';

export interface VerifierSettings {
  readonly endpoint: string;
  readonly caCertificate?: string;
}

export function parseVerifierSettings(v: unknown): VerifierSettings {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new SettingsError('publicSettings.verifier', 'must be an object {"endpoint": "https://...", "caCertificate": "<PEM>"}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'endpoint' && k !== 'caCertificate') throw new SettingsError(`publicSettings.verifier.${k}`, 'unknown setting (known: endpoint, caCertificate)');
  if (typeof o.endpoint !== 'string' || o.endpoint.length > 2048) throw new SettingsError('publicSettings.verifier.endpoint', 'must be the verifier URL');
  try {
    verifierUrl(o.endpoint);
  } catch (e) {
    throw new SettingsError('publicSettings.verifier.endpoint', (e as Error).message);
  }
  if (
    o.caCertificate !== undefined &&
    (typeof o.caCertificate !== 'string' || !o.caCertificate.includes('-----BEGIN CERTIFICATE-----') || o.caCertificate.length > 65536)
  ) {
    throw new SettingsError('publicSettings.verifier.caCertificate', 'must be one or more PEM certificates');
  }
  return { endpoint: o.endpoint, ...(typeof o.caCertificate === 'string' ? { caCertificate: o.caCertificate } : {}) };
}
