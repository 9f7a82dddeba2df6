// `serve` inputs read from disk once at start-up: the listen address, the policy (the service
// requires freshness unless the file says otherwise) and the --collateral folder: AMD CRLs named for
// their product, and Intel TDX collateral (every other file, recognised by its content).
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, ParseError } from '../base/errors.js';
import { MAX_COLLATERAL_FILES, parseCollateral, type CollateralFile } from '../platform/tdx/collateral.js';
import { parsePolicy } from '../policy/policy.js';
import type { Product } from '../result/result.js';

const MAX_FILE = 1024 * 1024;

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InputError('E_USAGE', `--listen must be HOST:PORT (e.g. 127.0.0.1:8443 or [::1]:0), got "${s.slice(0, 80)}"`);
  return { host: (m[1] ?? m[2])!, port };
}

async function readCapped(file: string, what: string): Promise<Buffer> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    throw new InputError('E_USAGE', `${what} ${file} is missing or unreadable`, { cause: e });
  }
  if (!st.isFile()) throw new InputError('E_USAGE', `${what} ${file} is not a file`);
  if (st.size > MAX_FILE) throw new InputError('E_USAGE', `${what} ${file} is larger than ${MAX_FILE} bytes`);
  return readFile(file);
}

/** The service's policy as JSON: the file's keys over the service default (freshness required). */
export async function loadServicePolicy(file: string | undefined): Promise<Record<string, unknown>> {
  let json: Record<string, unknown> = {};
  if (file !== undefined) {
    try {
      json = JSON.parse((await readCapped(file, '--policy')).toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError('E_POLICY', `--policy ${file} is not JSON`);
    }
  }
  const merged = json !== null && typeof json === 'object' && !Array.isArray(json) ? { requireFreshness: true, ...json } : json;
  parsePolicy(merged); // fail at start-up, not per request
  return merged as Record<string, unknown>;
}

const PRODUCTS: readonly Product[] = ['Milan', 'Genoa', 'Turin'];

export interface ServiceCollateral {
  /** AMD CRLs as PEM, by product. */
  readonly crls: Partial<Record<Product, string>>;
  /** Intel TDX collateral (TCB info, QE identity, CRLs, issuer chains) for requests that bring none. */
  readonly tdx: CollateralFile[];
}

const isAmdCrlName = (n: string): boolean => /\.(pem|crl)$/i.test(n) && PRODUCTS.some((p) => n.toLowerCase().includes(p.toLowerCase()));

/**
 * --collateral DIR: AMD CRLs as PEM, one per product, named for it (crl_genoa.pem, Milan.crl...); every
 * other regular file (dot files aside) is Intel TDX collateral, parsed here once so a bad file stops
 * the start, not each request.
 */
export async function loadCollateral(dir: string | undefined): Promise<ServiceCollateral> {
  if (dir === undefined) return { crls: {}, tdx: [] };
  let entries;
  try {
    entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch (e) {
    throw new InputError('E_USAGE', `--collateral ${dir} is not a readable folder`, { cause: e });
  }
  const tdx: CollateralFile[] = [];
  for (const d of entries) {
    if (!d.isFile() || d.name.startsWith('.') || isAmdCrlName(d.name)) continue;
    if (tdx.length >= MAX_COLLATERAL_FILES) throw new InputError('E_USAGE', `--collateral ${dir} holds more than ${MAX_COLLATERAL_FILES} TDX collateral files`);
    tdx.push({ name: d.name, bytes: new Uint8Array(await readCapped(join(dir, d.name), '--collateral file')) });
  }
  try {
    parseCollateral(tdx);
  } catch (e) {
    if (e instanceof ParseError) throw new InputError('E_USAGE', `--collateral ${dir}: ${e.message}`, { cause: e });
    throw e;
  }
  return { crls: await loadAmdCrls(dir), tdx };
}

async function loadAmdCrls(dir: string): Promise<Partial<Record<Product, string>>> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw new InputError('E_USAGE', `--collateral ${dir} is not a readable folder`, { cause: e });
  }
  const out: Partial<Record<Product, string>> = {};
  for (const n of names) {
    const product = PRODUCTS.find((p) => n.toLowerCase().includes(p.toLowerCase()));
    if (!product || !/\.(pem|crl)$/i.test(n)) continue;
    const text = (await readCapped(join(dir, n), '--collateral file')).toString('latin1');
    if (text.includes('-----BEGIN X509 CRL-----')) out[product] = text;
  }
  return out;
}
