// Test helpers for `cvm-attest serve`: the real built CLI as a child process on loopback, a real
// redis-server, signing keys made with openssl-compatible node:crypto, and request bodies from the
// real SNP vectors in test/fixtures.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../helpers/cli.js';
import { FIXTURES as FIX, fixture as fx } from '../helpers/fixtures.js';

export { ROOT } from '../helpers/cli.js';
export { FIX };

export const tmp = (prefix = 'serve-'): string => mkdtempSync(join(tmpdir(), prefix));

export function writeKey(file: string, type: 'rsa' | 'ec' = 'rsa', mode = 0o600): string {
  const { privateKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode });
  return file;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface Served {
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Runs `cvm-attest serve --listen 127.0.0.1:0 --port-file ... <args>` and waits for the port. */
export async function serve(args: readonly string[], env: Record<string, string> = {}): Promise<Served> {
  const dir = tmp('serve-port-');
  const portFile = join(dir, 'port');
  const proc = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--port-file', portFile, ...args], {
    env: { ...process.env, CVM_ATTEST_WORKERS: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  let done = false;
  void exited.then(() => (done = true));
  while (!existsSync(portFile)) {
    if (done) throw new Error(`serve exited early: ${err}${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`serve did not start: ${err}${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const port = Number(readFileSync(portFile, 'utf8').trim());
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Redis {
  readonly url: string;
  stop(): Promise<void>;
}

/** A real redis-server on a free loopback port, no persistence. */
export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const dir = tmp('redis-');
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (c) => (out += c));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/i.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`redis-server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.on('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export interface Vector {
  hclReport: Buffer;
  vcek: string;
  chain: string;
  quote?: { message: Buffer; signature: Buffer; pcrs: string[]; nonce: Buffer };
  vmUniqueId: string;
}

/** The real Genoa and Milan HCL vectors (their quotes are over their own recorded nonces). */
export function vector(name: 'genoa' | 'milan-v3-a'): Vector {
  const d = `azure-hcl/${name}`;
  const product = name === 'genoa' ? 'genoa' : 'milan';
  const hclReport = fx(`${d}/hcl-report.bin`);
  const m = /"vmUniqueId":"([0-9A-F-]{36})"/.exec(hclReport.toString('latin1'));
  return {
    hclReport,
    vcek: fx(`${d}/vcek.pem`).toString('utf8'),
    chain: fx(`amd/ask_ark_${product}.pem`).toString('utf8'),
    quote: {
      message: fx(`${d}/quote.msg`),
      signature: fx(`${d}/quote.sig`),
      pcrs: JSON.parse(fx(`${d}/pcrs.json`).toString('utf8')) as string[],
      nonce: Buffer.from(fx(`${d}/nonce.hex`).toString('utf8').trim(), 'hex'),
    },
    vmUniqueId: m?.[1] ?? '',
  };
}

export function attestBody(nonce: string, v: Vector, o: { quote?: boolean; instance?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    nonce,
    evidence: {
      hclReport: v.hclReport.toString('base64'),
      vcek: v.vcek,
      chain: v.chain,
      ...(o.quote && v.quote
        ? { quote: { message: v.quote.message.toString('base64'), signature: v.quote.signature.toString('base64'), pcrs: v.quote.pcrs } }
        : {}),
      ...(o.instance ? { instance: o.instance } : {}),
    },
  };
}

export async function post(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, json, headers: res.headers };
}

export async function challenge(url: string): Promise<string> {
  const r = await post(url, '/v1/challenge', {});
  if (r.status !== 200) throw new Error(`challenge ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json.nonce as string;
}

export const relaxedPolicy = (dir: string): string => {
  const f = join(dir, 'relaxed.json');
  writeFileSync(f, JSON.stringify({ requireFreshness: false }));
  return f;
};
