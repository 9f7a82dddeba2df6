// Protected settings: CMS EnvelopedData encrypted by the platform to a certificate the agent wrote
// (`<THUMBPRINT>.crt` / `.prv` in its library folder). Node 20 refuses RSA PKCS#1 v1.5 decryption
// (CVE-2023-46809), which that key transport uses, so - like Microsoft's own handlers - we let
// `openssl cms` decrypt: ciphertext on stdin, plaintext on stdout, held only in memory. The
// plaintext is never logged, never written to disk, never put in an error message.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SettingsError } from './settings-error.js';

export const MAX_PROTECTED_BYTES = 256 * 1024;

export interface DecryptOptions {
  /** Base64 DER CMS EnvelopedData from the settings file. */
  readonly protectedSettings: string;
  /** SHA-1 thumbprint (hex) naming the certificate and key files. */
  readonly thumbprint: string;
  /** The agent's library folder (configFolder/../..). */
  readonly libDir: string;
  /** openssl binary; default /usr/bin/openssl when present, else `openssl`. */
  readonly openssl?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

function run(bin: string, args: string[], input: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<{ code: number | null; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'ignore'], timeout: timeoutMs, ...(signal ? { signal } : {}) });
    const chunks: Buffer[] = [];
    let size = 0;
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_PROTECTED_BYTES) child.kill('SIGKILL');
      else chunks.push(c);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: size > MAX_PROTECTED_BYTES ? -1 : code, stdout: Buffer.concat(chunks) }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Decrypts and parses the protected settings. Throws SettingsError('protectedSettings', ...) without any secret. */
export async function decryptProtectedSettings(opts: DecryptOptions): Promise<unknown> {
  const thumb = opts.thumbprint.toUpperCase();
  if (!/^[0-9A-F]{40}$/.test(thumb)) throw new SettingsError('protectedSettingsCertThumbprint', 'must be 40 hex digits');
  const der = Buffer.from(opts.protectedSettings, 'base64');
  if (der.length === 0 || der.length > MAX_PROTECTED_BYTES) throw new SettingsError('protectedSettings', 'empty or larger than 256 KiB');
  const crt = join(opts.libDir, `${thumb}.crt`);
  const prv = join(opts.libDir, `${thumb}.prv`);
  if (!existsSync(crt) || !existsSync(prv)) {
    throw new SettingsError('protectedSettings', `the agent's certificate ${thumb}.crt/.prv is not in ${opts.libDir}`);
  }
  const bin = opts.openssl ?? (existsSync('/usr/bin/openssl') ? '/usr/bin/openssl' : 'openssl');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let plain: Buffer | undefined;
  for (const tool of ['cms', 'smime']) {
    let r: { code: number | null; stdout: Buffer };
    try {
      r = await run(bin, [tool, '-decrypt', '-inform', 'DER', '-recip', crt, '-inkey', prv], der, timeoutMs, opts.signal);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      continue;
    }
    if (r.code === 0 && r.stdout.length > 0) {
      plain = r.stdout;
      break;
    }
    r.stdout.fill(0);
  }
  if (!plain) throw new SettingsError('protectedSettings', `cannot be decrypted with the certificate ${thumb} (openssl cms and smime both failed)`);
  try {
    return JSON.parse(plain.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    throw new SettingsError('protectedSettings', 'decrypted, but not valid JSON');
  } finally {
    plain.fill(0);
  }
}
