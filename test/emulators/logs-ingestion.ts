// Azure Monitor Logs Ingestion API emulator over TLS, speaking the real wire contract to the real
// @azure/monitor-ingestion client:
//   POST /dataCollectionRules/{dcrImmutableId}/streams/{stream}?api-version=2023-01-01
//   Authorization: Bearer <token with aud https://monitor.azure.com>, Content-Encoding: gzip
// It checks the token's audience, gunzips, enforces the 1 MB limit (compressed and uncompressed),
// and validates every record against the DCR stream declaration (by default read from OUR ARM
// template, extension/azure/azuredeploy.json). It is stricter than the service on one point: an
// undeclared column is rejected (the service would silently drop it), so schema drift fails tests.
// Faults for tests: status codes for every request (request-level: 400 schema drift, 413 from a
// smaller limit, 403...; with Retry-After), per-record rejection, hangs, connection resets.
// Standalone: `node --import tsx test/emulators/logs-ingestion.ts [--port N]` prints
// {"endpoint","caFile","dcrImmutableId","streams"}.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';

export interface StreamColumn {
  readonly name: string;
  readonly type: string;
}
export type StreamDeclarations = Readonly<Record<string, { readonly columns: readonly StreamColumn[] }>>;

export type IngestionFault =
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly retryAfterSeconds?: number;
      readonly code?: string;
      readonly message?: string;
      readonly times?: number;
      readonly skip?: number;
    }
  | { readonly kind: 'hang'; readonly times?: number; readonly skip?: number }
  | { readonly kind: 'reset'; readonly times?: number; readonly skip?: number }
  /** Ingests the records, then never answers (a crash or timeout after the service accepted them). */
  | { readonly kind: 'accept-then-hang'; readonly times?: number; readonly skip?: number }
  /**
   * Per-record rejection: a request holding any record whose RecordId / SystemAlertId is in `ids` is
   * refused whole with 400 InvalidRecord naming that record (the service accepts or refuses a request
   * as a whole; it has no partial success). Lasts until cleared; `times`/`skip` do not apply.
   */
  | { readonly kind: 'reject-records'; readonly ids: readonly string[]; readonly times?: undefined; readonly skip?: undefined };

export interface IngestionRequest {
  readonly stream: string;
  readonly status: number;
  readonly records: number;
  readonly gzipBytes: number;
  readonly jsonBytes: number;
  readonly fault?: string;
  readonly error?: string;
  readonly at: number;
}

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface LogsIngestionEmulatorOptions {
  /** Stream declarations; default: the DCR in extension/azure/azuredeploy.json. */
  readonly streams?: StreamDeclarations;
  readonly dcrImmutableId?: string;
  /** Certificate + key; default: a fresh self-signed one (SAN IP:127.0.0.1, DNS:localhost) made with openssl. */
  readonly tls?: TlsMaterial;
  /** Expected token audience (default https://monitor.azure.com). */
  readonly audience?: string;
  readonly port?: number;
  /** Request size limit in bytes, compressed and uncompressed (default 1 MiB). */
  readonly maxBytes?: number;
}

export interface LogsIngestionEmulator {
  /** https://127.0.0.1:PORT */
  readonly endpoint: string;
  /** PEM of the CA that signed the server certificate (self-signed: the certificate itself). */
  readonly ca: string;
  /** A file holding `ca`, for NODE_EXTRA_CA_CERTS in child processes. */
  readonly caFile: string;
  readonly dcrImmutableId: string;
  readonly streams: StreamDeclarations;
  /** Records accepted on a stream, in arrival order (duplicates included). */
  received(stream: string): readonly Record<string, unknown>[];
  readonly requests: readonly IngestionRequest[];
  /** Applies a fault to the next `times` requests (default: every request) after letting `skip` pass, or clears it (null). */
  setFault(fault: IngestionFault | null): void;
  close(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
export const ARM_TEMPLATE_PATH = join(here, '../../extension/azure/azuredeploy.json');
export const DEFAULT_DCR_ID = 'dcr-00000000000000000000000000c0ffee';

/** Reads the stream declarations of the DCR in an ARM template. */
export async function streamsFromArmTemplate(path = ARM_TEMPLATE_PATH): Promise<StreamDeclarations> {
  const tpl = JSON.parse(await readFile(path, 'utf8')) as { resources: { type: string; properties?: { streamDeclarations?: StreamDeclarations } }[] };
  const dcr = tpl.resources.find((r) => r.type === 'Microsoft.Insights/dataCollectionRules');
  if (!dcr?.properties?.streamDeclarations) throw new Error(`${path}: no DCR with streamDeclarations`);
  return dcr.properties.streamDeclarations;
}

/** A self-signed certificate for 127.0.0.1/localhost, made with openssl. */
export async function makeSelfSignedTls(): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'li-tls-'));
  try {
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    return { cert, key: await readFile(join(dir, 'key.pem'), 'utf8'), ca: cert };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Checks one record against a stream declaration; returns a problem or undefined. */
export function validateRecord(rec: unknown, columns: readonly StreamColumn[]): string | undefined {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return 'record is not an object';
  const types = new Map(columns.map((c) => [c.name, c.type.toLowerCase()]));
  for (const [k, v] of Object.entries(rec)) {
    const t = types.get(k);
    if (t === undefined) return `column ${k} is not declared in the stream`;
    if (v === null) continue;
    const ok =
      t === 'string'
        ? typeof v === 'string'
        : t === 'int'
          ? Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31
          : t === 'long'
            ? Number.isInteger(v)
            : t === 'real'
              ? typeof v === 'number'
              : t === 'boolean'
                ? typeof v === 'boolean'
                : t === 'datetime'
                  ? typeof v === 'string' && Number.isFinite(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}T/.test(v)
                  : t === 'dynamic';
    if (!ok) return `column ${k}: ${JSON.stringify(v).slice(0, 80)} is not a ${t}`;
  }
  return undefined;
}

function tokenAudience(auth: string | undefined): string | undefined {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(auth ?? '');
  if (!m) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as { aud?: unknown; exp?: unknown };
    if (typeof payload.exp === 'number' && payload.exp * 1000 < Date.now()) return undefined;
    return typeof payload.aud === 'string' ? payload.aud : undefined;
  } catch {
    return undefined;
  }
}

export async function startLogsIngestionEmulator(opts: LogsIngestionEmulatorOptions = {}): Promise<LogsIngestionEmulator> {
  const streams = opts.streams ?? (await streamsFromArmTemplate());
  const dcrId = opts.dcrImmutableId ?? DEFAULT_DCR_ID;
  const tls = opts.tls ?? (await makeSelfSignedTls());
  const audience = (opts.audience ?? 'https://monitor.azure.com').replace(/\/+$/, '');
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const received = new Map<string, Record<string, unknown>[]>();
  const requests: IngestionRequest[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let fault: IngestionFault | null = null;
  let faultLeft = Infinity;
  let faultSkip = 0;
  const tmp = await mkdtemp(join(tmpdir(), 'li-ca-'));
  const caFile = join(tmp, 'ca.pem');
  await writeFile(caFile, tls.ca);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'https://127.0.0.1');
      const m = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/]+)$/.exec(u.pathname);
      const stream = m ? decodeURIComponent(m[2]!) : '';
      const log = (status: number, extra: Partial<IngestionRequest> = {}): void => {
        requests.push({ stream, status, records: 0, gzipBytes: size, jsonBytes: 0, at: Date.now(), ...extra });
      };
      const send = (status: number, code?: string, message?: string, headers: Record<string, string> = {}, extra: Partial<IngestionRequest> = {}): void => {
        log(status, { ...extra, ...(code ? { error: `${code}: ${message}` } : {}) });
        res.writeHead(status, { 'x-ms-request-id': crypto.randomUUID(), ...(code ? { 'content-type': 'application/json' } : {}), ...headers });
        res.end(code ? JSON.stringify({ error: { code, message } }) : undefined);
      };
      let acceptThenHang = false;
      const rejecting = fault?.kind === 'reject-records' ? new Set(fault.ids) : undefined;
      if (rejecting) {
        /* applied after validation, below */
      } else if (fault && faultSkip > 0) faultSkip--;
      else if (fault?.kind === 'accept-then-hang' && faultLeft > 0) {
        acceptThenHang = true;
        if (--faultLeft <= 0) fault = null;
      } else if (fault && faultLeft > 0) {
        const f = fault;
        if (--faultLeft <= 0) fault = null;
        if (f.kind === 'reset') {
          log(0, { fault: 'reset' });
          req.socket.destroy();
          return;
        }
        if (f.kind === 'hang') {
          log(0, { fault: 'hang' });
          hanging.add(res);
          return;
        }
        if (f.kind === 'accept-then-hang' || f.kind === 'reject-records') return;
        const headers: Record<string, string> = f.retryAfterSeconds !== undefined ? { 'retry-after': String(f.retryAfterSeconds) } : {};
        return send(f.status, f.code ?? `Injected${f.status}`, f.message ?? 'emulator: injected fault', headers, { fault: `status ${f.status}` });
      }
      if (req.method !== 'POST' || !m) return send(404, 'NotFound', `no route ${req.method} ${u.pathname}`);
      if (u.searchParams.get('api-version') !== '2023-01-01')
        return send(400, 'InvalidApiVersion', `unsupported api-version ${u.searchParams.get('api-version')}`);
      const aud = tokenAudience(req.headers.authorization)?.replace(/\/+$/, '');
      if (aud === undefined) return send(401, 'InvalidToken', 'missing, malformed or expired bearer token');
      if (aud !== audience) return send(401, 'InvalidToken', `token audience ${aud} is not ${audience}`);
      if (decodeURIComponent(m[1]!) !== dcrId) return send(404, 'NotFound', `Data collection rule with immutable Id '${decodeURIComponent(m[1]!)}' not found.`);
      const decl = streams[stream];
      if (!decl) return send(404, 'InvalidStream', `stream ${stream} is not declared in the DCR`);
      if (tooBig) return send(413, 'ContentLengthLimitExceeded', `request body over ${maxBytes} bytes`);
      let json: Buffer = Buffer.concat(chunks);
      if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
        try {
          json = gunzipSync(json, { maxOutputLength: maxBytes + 1 });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger|buffer.*too large/i.test(String(e)))
            return send(413, 'ContentLengthLimitExceeded', `uncompressed body over ${maxBytes} bytes`);
          return send(400, 'InvalidContentEncoding', 'body is not valid gzip');
        }
      }
      if (json.length > maxBytes) return send(413, 'ContentLengthLimitExceeded', `uncompressed body over ${maxBytes} bytes`);
      let records: unknown;
      try {
        records = JSON.parse(json.toString('utf8'));
      } catch {
        return send(400, 'InvalidPayload', 'body is not JSON');
      }
      if (!Array.isArray(records)) return send(400, 'InvalidPayload', 'body is not a JSON array');
      for (let i = 0; i < records.length; i++) {
        const problem = validateRecord(records[i], decl.columns);
        if (problem) return send(400, 'InvalidRecord', `record ${i}: ${problem}`, {}, { jsonBytes: json.length });
        const r = records[i] as Record<string, unknown>;
        const id = String(r.RecordId ?? r.SystemAlertId ?? '');
        if (rejecting?.has(id))
          return send(400, 'InvalidRecord', `record ${i}: rejected by the emulator (${id})`, {}, { jsonBytes: json.length, fault: 'reject-records' });
      }
      const list = received.get(stream) ?? [];
      list.push(...(records as Record<string, unknown>[]));
      received.set(stream, list);
      if (acceptThenHang) {
        log(0, { fault: 'accept-then-hang', records: records.length, jsonBytes: json.length });
        hanging.add(res);
        return;
      }
      send(204, undefined, undefined, {}, { records: records.length, jsonBytes: json.length });
    });
  };

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    ca: tls.ca,
    caFile,
    dcrImmutableId: dcrId,
    streams,
    received: (s) => received.get(s) ?? [],
    requests,
    setFault(f) {
      fault = f;
      faultLeft = f?.times ?? Infinity;
      faultSkip = f?.skip ?? 0;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      hanging.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--port');
  const emu = await startLogsIngestionEmulator({ port: i > 0 ? Number(process.argv[i + 1]) : 0 });
  process.stdout.write(
    `${JSON.stringify({ endpoint: emu.endpoint, caFile: emu.caFile, dcrImmutableId: emu.dcrImmutableId, streams: Object.keys(emu.streams) })}\n`,
  );
  const stop = (): void => {
    void emu.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
