// Hand-built inputs for sink tests (edge cases); real verifier results are used where available.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckResult, VerificationResult } from '../../src/result/result.js';
import type { SinkIdentity } from '../../src/sinks/types.js';

export const IDENTITY: SinkIdentity = {
  vmId: '2dedc52a-6832-46ce-9910-e8c9980bf5a7',
  resourceId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-cvm/providers/Microsoft.Compute/virtualMachines/cvm-01',
  subscriptionId: '00000000-0000-0000-0000-000000000001',
  resourceGroupName: 'rg-cvm',
  name: 'cvm-01',
  location: 'westeurope',
  vmSize: 'Standard_DC4as_v5',
};

export interface ResultOptions {
  verdict?: 'pass' | 'fail';
  failed?: CheckResult[];
  chipId?: string;
  measurement?: string;
  debuggable?: boolean;
  reportedTcb?: Record<string, number>;
  minimumTcb?: Record<string, number>;
  vcekNotAfter?: string;
  verifiedAt?: string;
  fresh?: boolean;
}

export function makeResult(o: ResultOptions = {}): VerificationResult {
  const reported = o.reportedTcb ?? { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
  const checks: CheckResult[] = [
    { id: 'signature', group: 'signature', status: 'pass', reason: 'report signed by the VCEK' },
    { id: 'chain', group: 'chain', status: 'pass', reason: 'VCEK chains to the pinned Genoa ARK' },
    ...(o.fresh === false ? [] : [{ id: 'freshness.quote', group: 'freshness' as const, status: 'pass' as const, reason: 'quote over the nonce verified' }]),
    ...(o.failed ?? []),
  ];
  return {
    verdict: o.verdict ?? (o.failed?.length ? 'fail' : 'pass'),
    product: 'Genoa',
    checks,
    claims: {
      'x-ms-attestation-type': 'sevsnpvm',
      'x-ms-sevsnpvm-launchmeasurement': o.measurement ?? 'aa'.repeat(48),
      'x-ms-sevsnpvm-hostdata': '00'.repeat(32),
      'x-ms-sevsnpvm-idkeydigest': 'cd'.repeat(48),
      'x-ms-sevsnpvm-is-debuggable': o.debuggable ?? false,
      'x-ms-sevsnpvm-vmpl': 0,
      'cvm-attest-product': 'Genoa',
      'cvm-attest-chip-id': o.chipId ?? '11'.repeat(64),
      'cvm-attest-reported-tcb': reported,
      'cvm-attest-committed-tcb': reported,
      'cvm-attest-launch-tcb': reported,
      'cvm-attest-report-version': 3,
      'cvm-attest-hcl-header-version': 2,
    },
    warnings: [],
    verifiedAt: o.verifiedAt ?? '2026-11-28T12:00:00.000Z',
    certificates: [
      {
        role: 'VCEK',
        subject: 'CN=SEV-VCEK',
        issuer: 'CN=SEV-Genoa',
        serialNumber: '00',
        notBefore: '2025-01-01T00:00:00.000Z',
        notAfter: o.vcekNotAfter ?? '2032-01-01T00:00:00.000Z',
        sha256: 'ab'.repeat(32),
        pinned: false,
      },
      {
        role: 'ARK',
        subject: 'CN=ARK-Genoa',
        issuer: 'CN=ARK-Genoa',
        serialNumber: '01',
        notBefore: '2022-01-01T00:00:00.000Z',
        notAfter: '2047-01-01T00:00:00.000Z',
        sha256: 'cd'.repeat(32),
        pinned: true,
      },
    ],
    policy: { hash: 'ef'.repeat(32), ...(o.minimumTcb ? { minimumTcb: o.minimumTcb } : {}) },
  };
}

export async function tempDir(prefix = 'sinks-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Clears everything that would make the Azure SDK pick another identity or a proxy. */
export function isolateAzureEnv(imdsUrl?: string): void {
  for (const k of [
    'AZURE_CLIENT_ID',
    'AZURE_TENANT_ID',
    'AZURE_CLIENT_SECRET',
    'AZURE_CLIENT_CERTIFICATE_PATH',
    'AZURE_FEDERATED_TOKEN_FILE',
    'AZURE_USERNAME',
    'AZURE_PASSWORD',
    'IDENTITY_ENDPOINT',
    'IDENTITY_HEADER',
    'MSI_ENDPOINT',
    'MSI_SECRET',
    'IMDS_ENDPOINT',
    'IDENTITY_SERVER_THUMBPRINT',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'http_proxy',
    'https_proxy',
    'AZURE_POD_IDENTITY_AUTHORITY_HOST',
  ])
    delete process.env[k];
  process.env.NO_PROXY = '127.0.0.1,localhost,169.254.169.254';
  if (imdsUrl) process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = imdsUrl;
}
