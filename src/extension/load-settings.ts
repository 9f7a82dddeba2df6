// config/<seq>.settings: read (capped, never blocking), validated, protected settings decrypted,
// the policy checked. Used by enable (to refuse bad settings at once) and by the worker.
import { join } from 'node:path';
import { openSync, closeSync, fstatSync, readSync, constants } from 'node:fs';
import type { HandlerEnvironment } from './handler-environment.js';
import {
  parseSettingsFile,
  validatePublicSettings,
  validateProtectedSettings,
  SettingsError,
  SETTINGS_MAX_BYTES,
  type ExtensionSettings,
  type ProtectedSettings,
} from './settings.js';
import { decryptProtectedSettings } from './protected-settings.js';
import { policyFromSettings } from './policy-settings.js';

export interface LoadedSettings {
  readonly seq: number;
  readonly settings: ExtensionSettings;
  readonly protectedSettings: ProtectedSettings;
}

/** Reads, validates and decrypts config/<seq>.settings. Throws SettingsError naming the setting. */
export async function loadSettings(env: HandlerEnvironment, seq: number, signal?: AbortSignal): Promise<LoadedSettings> {
  const file = join(env.configFolder, `${seq}.settings`);
  const hs = parseSettingsFile(readSettingsText(file, seq));
  const settings = validatePublicSettings(hs.publicSettings);
  let protectedSettings: ProtectedSettings = {};
  if (hs.protectedSettings !== null && hs.protectedSettingsCertThumbprint !== null) {
    const plain = await decryptProtectedSettings({
      protectedSettings: hs.protectedSettings,
      thumbprint: hs.protectedSettingsCertThumbprint,
      libDir: env.libDir,
      ...(signal ? { signal } : {}),
    });
    protectedSettings = validateProtectedSettings(plain);
  }
  // Reject a bad policy here, at enable, not only when the worker starts.
  policyFromSettings(policyInput(settings, protectedSettings));
  return { seq, settings, protectedSettings };
}

/**
 * The text of config/<seq>.settings. Only a missing file for seq 0 means "no settings" (the agent
 * runs enable without any); a folder, a FIFO, an unreadable or oversized file is a SettingsError,
 * never the defaults. Opened once, without blocking, and read from that descriptor with a cap.
 */
function readSettingsText(file: string, seq: number): string {
  const cannot = (why: string) => new SettingsError('runtimeSettings', `config/${seq}.settings cannot be read (${why})`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT' && seq === 0) return '';
    throw cannot(code);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw cannot(st.isDirectory() ? 'it is a folder' : 'not a regular file');
    const buf = Buffer.alloc(SETTINGS_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      let r: number;
      try {
        r = readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        throw cannot((e as NodeJS.ErrnoException).code ?? 'error');
      }
      if (r === 0) break;
      n += r;
      if (n > SETTINGS_MAX_BYTES) throw new SettingsError('runtimeSettings', 'the settings file is larger than 1 MiB');
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function policyInput(
  s: ExtensionSettings,
  p: ProtectedSettings,
): { policy?: Readonly<Record<string, unknown>>; minimumTcb?: Readonly<Record<string, number>>; from: string } {
  const policy = p.policy ?? s.policy;
  return {
    ...(policy ? { policy } : {}),
    ...(s.minimumTcb ? { minimumTcb: s.minimumTcb } : {}),
    from: p.policy ? 'protectedSettings.policy' : 'publicSettings.policy',
  };
}
