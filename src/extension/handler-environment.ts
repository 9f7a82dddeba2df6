// HandlerEnvironment.json: the agent's word on where this extension may read and write. Every path
// the extension uses comes from here (or from the extension folder the file sits in).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError, ParseError } from '../base/errors.js';

export interface HandlerEnvironment {
  /** `Publisher.Type` as the agent knows the handler. */
  readonly name: string;
  readonly logFolder: string;
  readonly configFolder: string;
  readonly statusFolder: string;
  readonly heartbeatFile: string;
  readonly eventsFolder?: string;
  /** The extension's own folder (where HandlerEnvironment.json and HandlerManifest.json are). */
  readonly extensionDir: string;
  /** The agent's library folder (configFolder/../..), where it writes `<thumbprint>.crt/.prv`. */
  readonly libDir: string;
}

const MAX_BYTES = 64 * 1024;

function str(o: Record<string, unknown>, key: string, required: true): string;
function str(o: Record<string, unknown>, key: string, required: false): string | undefined;
function str(o: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new ParseError('E_HANDLER_ENV', `HandlerEnvironment.json: handlerEnvironment.${key} is missing`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096 || v.includes('\0')) {
    throw new ParseError('E_HANDLER_ENV', `HandlerEnvironment.json: handlerEnvironment.${key} must be a non-empty path`);
  }
  return v;
}

/** Pure: parses the file's text. Relative paths are resolved against the extension folder. */
export function parseHandlerEnvironment(text: string, extensionDir: string): HandlerEnvironment {
  if (text.length > MAX_BYTES) throw new ParseError('E_HANDLER_ENV', 'HandlerEnvironment.json is too large');
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    throw new ParseError('E_HANDLER_ENV', 'HandlerEnvironment.json is not valid JSON');
  }
  const first: unknown = Array.isArray(doc) ? (doc as unknown[])[0] : doc;
  if (typeof first !== 'object' || first === null) throw new ParseError('E_HANDLER_ENV', 'HandlerEnvironment.json must be a one-element array');
  const top = first as Record<string, unknown>;
  const he = top['handlerEnvironment'];
  if (typeof he !== 'object' || he === null || Array.isArray(he))
    throw new ParseError('E_HANDLER_ENV', 'HandlerEnvironment.json: handlerEnvironment is missing');
  const h = he as Record<string, unknown>;
  const name = typeof top['name'] === 'string' ? top['name'] : 'cvm-attest';
  const abs = (p: string) => resolve(extensionDir, p);
  const configFolder = abs(str(h, 'configFolder', true));
  const events = str(h, 'eventsFolder', false);
  return {
    name,
    logFolder: abs(str(h, 'logFolder', true)),
    configFolder,
    statusFolder: abs(str(h, 'statusFolder', true)),
    heartbeatFile: abs(str(h, 'heartbeatFile', true)),
    ...(events !== undefined ? { eventsFolder: abs(events) } : {}),
    extensionDir: resolve(extensionDir),
    libDir: dirname(dirname(configFolder)),
  };
}

export function loadHandlerEnvironment(extensionDir: string): HandlerEnvironment {
  const path = join(extensionDir, 'HandlerEnvironment.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError('E_HANDLER_ENV', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (run by the Azure VM agent?)`);
  }
  return parseHandlerEnvironment(text, extensionDir);
}
