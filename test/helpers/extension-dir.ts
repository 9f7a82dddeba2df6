// An extension folder as the Azure agent lays it out: config/ and status/, HandlerEnvironment.json
// naming them, and optionally config/0.settings (public settings) with mrseq 0.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ExtensionDirOptions {
  /** The handler name in HandlerEnvironment.json (default P.T). */
  readonly name?: string;
  /** Written as config/0.settings, with mrseq 0. */
  readonly publicSettings?: Readonly<Record<string, unknown>>;
  /** Also write mrseq 0 (default: when publicSettings are given). */
  readonly mrseq?: boolean;
  /** Heartbeat file name inside the folder (default heartbeat.log). */
  readonly heartbeat?: string;
  /** Also create log/ and events/, and name events/ as eventsFolder. */
  readonly events?: boolean;
}

/** Lays out `ext` (which must exist) and returns it. */
export function makeExtensionDir(ext: string, o: ExtensionDirOptions = {}): string {
  for (const d of ['config', 'status', ...(o.events ? ['log', 'events'] : [])]) mkdirSync(join(ext, d), { recursive: true });
  if (o.publicSettings)
    writeFileSync(join(ext, 'config', '0.settings'), JSON.stringify({ runtimeSettings: [{ handlerSettings: { publicSettings: o.publicSettings } }] }));
  if (o.mrseq ?? o.publicSettings !== undefined) writeFileSync(join(ext, 'mrseq'), '0');
  const handlerEnvironment = {
    logFolder: join(ext, 'log'),
    configFolder: join(ext, 'config'),
    statusFolder: join(ext, 'status'),
    heartbeatFile: join(ext, o.heartbeat ?? 'heartbeat.log'),
    ...(o.events ? { eventsFolder: join(ext, 'events') } : {}),
  };
  writeFileSync(join(ext, 'HandlerEnvironment.json'), JSON.stringify([{ name: o.name ?? 'P.T', version: 1, handlerEnvironment }]));
  return ext;
}
