// Evidence bundles: a folder holding everything `verify --bundle` needs offline, with a manifest of
// SHA-256 digests checked on read. Format: docs/collector.md.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, isCvmAttestError } from '../base/errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { readFileBounded } from '../io/bounded-read.js';
import { outError, prepareOutDir } from '../io/out-dir.js';
import { parseJsonBounded } from '../base/bounded-json.js';
import type { Evidence, QuoteEvidence } from './evidence.js';
import { identityFromCompute, type InstanceIdentity } from './identity.js';
import { parseNonceHex } from '../input/nonce.js';
import { parsePcrValues } from '../input/pcrs.js';

export const BUNDLE_FORMAT = 'cvm-attest-evidence-bundle';
export const BUNDLE_VERSION = 1;
/** Intel TDX collateral members: recognised by content on read, so numbered, not named. */
const COLLATERAL_FILES = Array.from({ length: 16 }, (_, i) => `collateral-${String(i + 1).padStart(2, '0')}` as const);
export const BUNDLE_FILES = [
  'hcl-report.bin',
  'vcek.pem',
  'chain.pem',
  'quote.msg',
  'quote.sig',
  'pcrs.json',
  'nonce.hex',
  'instance.json',
  'td-quote.bin',
  'ak-cert.der',
  'eventlog.bin',
  ...COLLATERAL_FILES,
] as const;
export type BundleFile = (typeof BUNDLE_FILES)[number];
/** SEV-SNP; a TDX bundle has td-quote.bin (and its collateral) instead of vcek.pem and chain.pem. */
const REQUIRED: readonly BundleFile[] = ['hcl-report.bin', 'vcek.pem', 'chain.pem'];
const REQUIRED_TDX: readonly BundleFile[] = ['hcl-report.bin', 'td-quote.bin'];
const QUOTE_FILES: readonly BundleFile[] = ['quote.msg', 'quote.sig', 'pcrs.json', 'nonce.hex'];
/** Per file; the largest real member (an HCL report) is under 4 KiB, but event logs can reach hundreds of KiB. */
const MAX_FILE_BYTES = 256 * 1024;
const MAX_EVENT_LOG_BYTES = 4 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 64 * 1024;

export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: typeof BUNDLE_VERSION;
  readonly createdAt: string;
  readonly transport: string;
  readonly replayed: boolean;
  readonly certificateSource: string;
  readonly warnings: readonly string[];
  readonly files: Readonly<Partial<Record<BundleFile, { readonly sha256: string; readonly size: number }>>>;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** pcrs.json: a JSON array of 24 SHA-256 hex values indexed by PCR number, '' for PCRs not quoted (the test vectors' and the file: transport's format). */
function pcrsJson(q: QuoteEvidence): string {
  const out: string[] = [];
  for (let i = 0; i < 24; i++) out.push(q.pcrSelection.includes(i) ? (q.pcrs[i] ?? '') : '');
  return JSON.stringify(out, null, 2) + '\n';
}

/**
 * Writes `evidence` into `dir` (created if needed); the manifest is written last. Any write error is
 * an InputError E_OUT (exit 2) naming the folder.
 */
export async function writeBundle(dir: string, evidence: Evidence, now: Date = new Date()): Promise<BundleManifest> {
  prepareOutDir(dir, 'bundle folder');
  try {
    return await writeBundleFiles(dir, evidence, now);
  } catch (e) {
    if (isCvmAttestError(e)) throw e;
    throw outError('bundle folder', dir, e);
  }
}

async function writeBundleFiles(dir: string, evidence: Evidence, now: Date): Promise<BundleManifest> {
  // Drop the old manifest first: a crash midway leaves no manifest (unreadable), never a stale one.
  await rm(join(dir, 'manifest.json'), { force: true });
  const contents: Partial<Record<BundleFile, Uint8Array>> = evidence.tdQuote
    ? { 'hcl-report.bin': evidence.hclReport, 'td-quote.bin': evidence.tdQuote }
    : { 'hcl-report.bin': evidence.hclReport, 'vcek.pem': Buffer.from(evidence.vcekPem), 'chain.pem': Buffer.from(evidence.chainPem) };
  const col = evidence.collateral ?? [];
  if (col.length > COLLATERAL_FILES.length)
    throw new InputError('E_BUNDLE_FORMAT', `a bundle holds at most ${COLLATERAL_FILES.length} collateral files, got ${col.length}`);
  col.forEach((f, i) => (contents[COLLATERAL_FILES[i]!] = f.bytes));
  if (evidence.quote) {
    contents['quote.msg'] = evidence.quote.message;
    contents['quote.sig'] = evidence.quote.signature;
    contents['pcrs.json'] = Buffer.from(pcrsJson(evidence.quote));
    contents['nonce.hex'] = Buffer.from(Buffer.from(evidence.quote.nonce).toString('hex') + '\n');
  }
  if (evidence.akCertificate) contents['ak-cert.der'] = evidence.akCertificate;
  if (evidence.eventLog) contents['eventlog.bin'] = evidence.eventLog;
  if (evidence.instance) contents['instance.json'] = Buffer.from(JSON.stringify(evidence.instance, null, 2) + '\n');
  const files: Partial<Record<BundleFile, { sha256: string; size: number }>> = {};
  for (const name of BUNDLE_FILES) {
    const data = contents[name];
    if (!data) {
      await rm(join(dir, name), { force: true }); // a previous bundle's member that this one lacks
      continue;
    }
    await writeFileAtomic(join(dir, name), data, { mode: 0o644 });
    files[name] = { sha256: sha256(data), size: data.length };
  }
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    createdAt: now.toISOString(),
    transport: evidence.transport,
    replayed: evidence.replayed,
    certificateSource: evidence.certificateSource,
    warnings: [...evidence.warnings],
    files,
  };
  await writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o644 });
  return manifest;
}

/** A bundle member: never through a symlink (it could point outside the bundle), a regular file, capped. */
function readCapped(file: string, max: number, what: string): Promise<Buffer> {
  return readFileBounded(file, { max, what, noFollow: true, codes: { missing: 'E_BUNDLE_MISSING', type: 'E_BUNDLE_FORMAT', size: 'E_BUNDLE_FORMAT' } });
}

function parseManifest(text: string): BundleManifest {
  const m = parseJsonBounded(text, { what: 'bundle manifest.json', code: 'E_BUNDLE_FORMAT', input: true, maxDepth: 8 });
  const o = m as Partial<BundleManifest> | null;
  if (!o || typeof o !== 'object' || o.format !== BUNDLE_FORMAT)
    throw new InputError('E_BUNDLE_FORMAT', `bundle manifest.json is not a ${BUNDLE_FORMAT} manifest`);
  if (o.version !== BUNDLE_VERSION)
    throw new InputError('E_BUNDLE_FORMAT', `bundle version ${String(o.version)} is not supported (expected ${BUNDLE_VERSION})`);
  if (!o.files || typeof o.files !== 'object') throw new InputError('E_BUNDLE_FORMAT', 'bundle manifest.json has no "files"');
  for (const [name, f] of Object.entries(o.files)) {
    if (!(BUNDLE_FILES as readonly string[]).includes(name))
      throw new InputError('E_BUNDLE_FORMAT', `bundle manifest lists an unknown file "${name.slice(0, 80)}"`);
    const e = f as { sha256?: unknown; size?: unknown } | null;
    if (!e || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256) || typeof e.size !== 'number')
      throw new InputError('E_BUNDLE_FORMAT', `bundle manifest entry for ${name} needs sha256 and size`);
  }
  for (const r of o.files['td-quote.bin'] ? REQUIRED_TDX : REQUIRED)
    if (!o.files[r]) throw new InputError('E_BUNDLE_FORMAT', `bundle manifest does not list ${r}`);
  const quoteListed = QUOTE_FILES.filter((f) => o.files?.[f]);
  if (quoteListed.length !== 0 && quoteListed.length !== QUOTE_FILES.length)
    throw new InputError('E_BUNDLE_FORMAT', `bundle has part of a quote (${quoteListed.join(', ')}); needs all of ${QUOTE_FILES.join(', ')}`);
  return o as BundleManifest;
}

/**
 * Reads a bundle, checking every listed file against its SHA-256 (a mismatch is an InputError,
 * E_BUNDLE_DIGEST). Files not listed in the manifest are ignored.
 */
export async function readBundle(dir: string): Promise<{ evidence: Evidence; manifest: BundleManifest }> {
  const manifest = parseManifest((await readCapped(join(dir, 'manifest.json'), MAX_MANIFEST_BYTES, 'bundle manifest')).toString('utf8'));
  const data: Partial<Record<BundleFile, Buffer>> = {};
  for (const name of BUNDLE_FILES) {
    const entry = manifest.files[name];
    if (!entry) continue;
    const bytes = await readCapped(join(dir, name), name === 'eventlog.bin' ? MAX_EVENT_LOG_BYTES : MAX_FILE_BYTES, `bundle file ${name}`);
    if (bytes.length !== entry.size || sha256(bytes) !== entry.sha256) {
      throw new InputError('E_BUNDLE_DIGEST', `bundle file ${name} does not match its SHA-256 in manifest.json (changed or corrupted)`);
    }
    data[name] = bytes;
  }
  const text = (n: BundleFile): string => (data[n] ?? Buffer.alloc(0)).toString('utf8');
  let quote: QuoteEvidence | undefined;
  if (data['quote.msg']) {
    quote = {
      message: data['quote.msg'],
      signature: data['quote.sig'] ?? Buffer.alloc(0),
      nonce: parseNonceHex(text('nonce.hex'), { code: 'E_BUNDLE_FORMAT', what: 'bundle nonce.hex' }),
      ...parsePcrValues(text('pcrs.json'), { code: 'E_BUNDLE_FORMAT', what: 'bundle pcrs.json' }),
    };
  }
  let instance: InstanceIdentity | undefined;
  if (data['instance.json']) {
    const j = parseJsonBounded(text('instance.json'), { what: 'bundle instance.json', code: 'E_BUNDLE_FORMAT', input: true, maxDepth: 8 });
    try {
      if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('not an object');
      instance = identityFromCompute(j as Record<string, unknown>);
    } catch (e) {
      throw new InputError('E_BUNDLE_FORMAT', `bundle instance.json is not a VM identity (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  const evidence: Evidence = {
    hclReport: data['hcl-report.bin'] ?? Buffer.alloc(0),
    vcekPem: text('vcek.pem'),
    chainPem: text('chain.pem'),
    ...(data['td-quote.bin']
      ? { tdQuote: data['td-quote.bin'], collateral: COLLATERAL_FILES.flatMap((n) => (data[n] ? [{ name: `${dir}/${n}`, bytes: data[n] }] : [])) }
      : {}),
    ...(quote ? { quote } : {}),
    ...(instance ? { instance } : {}),
    ...(data['ak-cert.der'] ? { akCertificate: data['ak-cert.der'] } : {}),
    ...(data['eventlog.bin'] ? { eventLog: data['eventlog.bin'] } : {}),
    warnings: Array.isArray(manifest.warnings) ? manifest.warnings.filter((w): w is string => typeof w === 'string') : [],
    replayed: true,
    transport: `bundle:${dir}`,
    certificateSource: 'bundle',
  };
  return { evidence, manifest };
}
