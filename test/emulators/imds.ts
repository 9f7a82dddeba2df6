// An Azure Instance Metadata Service emulator on 127.0.0.1 (random port) speaking the real wire
// contract for the two endpoints cvm-attest uses, with fault injection for the collector's tests.
//
//   import { startImdsEmulator } from '../emulators/imds.js';
//   const imds = await startImdsEmulator({ thim: { vcekPem, chainPem, tcbm: '...' }, vmId: '...' });
//   imds.url            // 'http://127.0.0.1:PORT' -> pass as imdsEndpoint / CVM_ATTEST_IMDS_ENDPOINT
//   imds.setFault({ kind: 'status', status: 429, retryAfter: '1' }, { times: 1, path: 'thim' });
//   imds.requests       // every request seen: method, path, headers, status
//   imds.openConnections
//   await imds.close();
//
// Standalone: `node --import tsx test/emulators/imds.ts [--port N] [--vcek F --chain F --tcbm HEX]
// [--vm-id GUID]` prints the URL and serves until interrupted.
//
// Contract reproduced: GET only (405 otherwise); `Metadata: true` required (400 with IMDS's error JSON
// otherwise); requests carrying X-Forwarded-For refused (400; IMDS refuses proxied requests);
// /metadata/instance needs a known api-version (400 listing newest-versions otherwise); unknown
// paths 404; THIM body {vcekCert, tcbm, certificateChain, cacheControl} as Azure serves it.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { fixture, text } from '../helpers/fixtures.js';

export interface ThimConfig {
  vcekPem: string;
  chainPem: string;
  /** 16 hex digits (REPORTED_TCB, big-endian text). */
  tcbm: string;
  /** Seconds, as a string like Azure's. Default "86400". */
  cacheControl?: string;
}

export type ImdsFault =
  /** Answer with this status (404, 429, 500, 503...) and IMDS's error JSON; optional Retry-After. */
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Accept the request, never answer (until close() or the client gives up). */
  | { kind: 'hang' }
  /** Declare the full Content-Length, send half the body, then cut the connection. */
  | { kind: 'truncate' }
  /** A complete 200 whose JSON body is cut in half (Content-Length matches what is sent). */
  | { kind: 'bad-json' }
  /** Serve this certificate set instead of the configured one (e.g. another chip's VCEK, another tcbm). */
  | { kind: 'wrong-cert'; thim: ThimConfig };

export interface FaultScope {
  /** Which endpoint the fault hits. Default 'all'. */
  path?: 'thim' | 'instance' | 'tdquote' | 'all';
  /** How many matching requests it hits before the emulator behaves again. Default: all of them. */
  times?: number;
}

export interface ImdsRequestRecord {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Status sent, or 0 for hang/cut connection. */
  status: number;
  readonly at: number;
}

export interface ImdsEmulatorOptions {
  /** Certificates served by THIM. Default: test/fixtures/azure-hcl/thim-response.json. */
  thim?: ThimConfig;
  /** compute.vmId (lowercase GUID as IMDS writes it). */
  vmId?: string;
  /** Overrides merged into the compute object. */
  compute?: Record<string, unknown>;
  /** Port to listen on (127.0.0.1). Default: random. */
  port?: number;
  /**
   * Intel TDX: the TD quote `POST /acc/tdquote` answers, by the base64url TD report it is asked for.
   * Default: the real DCesv5 pair (test/fixtures/azure-tdx). A report not in the map gets HTTP 400,
   * as a host QE refuses a TD report whose MAC does not verify.
   */
  tdQuotes?: ReadonlyMap<string, Uint8Array>;
}

/** The real DCesv5 TD report (from its HCL report) and the quote IMDS returned for it. */
export function defaultTdQuotes(): Map<string, Uint8Array> {
  const hcl = fixture('azure-tdx/hcl-report.bin');
  return new Map([[hcl.subarray(0x20, 0x20 + 1024).toString('base64url'), fixture('azure-tdx/td-quote.bin')]]);
}

export interface ImdsEmulator {
  readonly url: string;
  readonly port: number;
  readonly requests: ImdsRequestRecord[];
  /** Injects a fault (replacing any other); `undefined` clears it. */
  setFault(fault: ImdsFault | undefined, scope?: FaultScope): void;
  /** Replaces the served certificates. */
  setThim(thim: ThimConfig): void;
  /** Client connections open right now (a hung request the client gave up on is closed by it). */
  readonly openConnections: number;
  close(): Promise<void>;
}

export const IMDS_API_VERSIONS = [
  '2017-03-01',
  '2017-04-02',
  '2017-08-01',
  '2017-10-01',
  '2017-12-01',
  '2018-02-01',
  '2018-04-02',
  '2018-10-01',
  '2019-02-01',
  '2019-03-11',
  '2019-04-30',
  '2019-06-01',
  '2019-06-04',
  '2019-08-01',
  '2019-08-15',
  '2019-11-01',
  '2020-06-01',
  '2020-07-15',
  '2020-09-01',
  '2020-10-01',
  '2020-12-01',
  '2021-01-01',
  '2021-02-01',
  '2021-03-01',
  '2021-05-01',
  '2021-10-01',
  '2021-11-01',
  '2021-11-15',
  '2021-12-13',
  '2022-02-01',
  '2022-03-01',
  '2022-07-01',
  '2022-08-01',
  '2023-07-01',
  '2023-11-15',
  '2024-03-15',
  '2025-04-07',
];

export function defaultThim(): ThimConfig {
  const j = JSON.parse(text('azure-hcl/thim-response.json')) as Record<string, string>;
  return { vcekPem: j.vcekCert ?? '', chainPem: j.certificateChain ?? '', tcbm: j.tcbm ?? '', cacheControl: j.cacheControl ?? '86400' };
}

export function thimBody(t: ThimConfig): string {
  return JSON.stringify({ vcekCert: t.vcekPem, tcbm: t.tcbm, certificateChain: t.chainPem, cacheControl: t.cacheControl ?? '86400' });
}

/** An instance-metadata document shaped like a real Azure CVM's (2021-02-01+ compute and network). */
export function instanceDocument(vmId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const sub = '8d10da13-8125-4ba9-a717-bf7490507b3d';
  const rg = 'cvm-rg';
  const name = 'cvm-01';
  return {
    compute: {
      azEnvironment: 'AzurePublicCloud',
      additionalCapabilities: { hibernationEnabled: 'false' },
      extendedLocation: { type: '', name: '' },
      isHostCompatibilityLayerVm: 'false',
      licenseType: '',
      location: 'westeurope',
      name,
      offer: '0001-com-ubuntu-confidential-vm-jammy',
      osProfile: { adminUsername: 'azureuser', computerName: name, disablePasswordAuthentication: 'true' },
      osType: 'Linux',
      placementGroupId: '',
      plan: { name: '', product: '', publisher: '' },
      platformFaultDomain: '0',
      platformUpdateDomain: '0',
      priority: '',
      provider: 'Microsoft.Compute',
      publicKeys: [],
      publisher: 'canonical',
      resourceGroupName: rg,
      resourceId: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`,
      securityProfile: { encryptionAtHost: 'false', secureBootEnabled: 'true', securityType: 'ConfidentialVM', virtualTpmEnabled: 'true' },
      sku: '22_04-lts-cvm',
      storageProfile: {},
      subscriptionId: sub,
      tags: '',
      tagsList: [],
      userData: '',
      version: '22.04.202411010',
      vmId,
      vmScaleSetName: '',
      vmSize: 'Standard_DC2as_v5',
      zone: '1',
      ...overrides,
    },
    network: {
      interface: [
        {
          ipv4: { ipAddress: [{ privateIpAddress: '10.0.0.4', publicIpAddress: '' }], subnet: [{ address: '10.0.0.0', prefix: '24' }] },
          ipv6: { ipAddress: [] },
          macAddress: '000D3A5F1B2C',
        },
      ],
    },
  };
}

export async function startImdsEmulator(options: ImdsEmulatorOptions = {}): Promise<ImdsEmulator> {
  let thim = options.thim ?? defaultThim();
  const vmId = (options.vmId ?? '390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc').toLowerCase();
  const requests: ImdsRequestRecord[] = [];
  const sockets = new Set<Socket>();
  let fault: ImdsFault | undefined;
  let scope: Required<FaultScope> = { path: 'all', times: Infinity };

  const send = (res: http.ServerResponse, rec: ImdsRequestRecord, status: number, body: string, extra: Record<string, string> = {}): void => {
    rec.status = status;
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      Server: 'Microsoft-IIS/10.0',
      ...extra,
    });
    res.end(body);
  };
  const error = (
    res: http.ServerResponse,
    rec: ImdsRequestRecord,
    status: number,
    message: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): void => send(res, rec, status, JSON.stringify({ error: message, ...extra }), headers);

  const tdQuotes = options.tdQuotes ?? defaultTdQuotes();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://169.254.169.254');
    const rec: ImdsRequestRecord = { method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, status: 0, at: Date.now() };
    requests.push(rec);
    if (url.pathname.replace(/\/+$/, '').toLowerCase() === '/acc/tdquote') return tdquote(req, res, rec);
    if (req.method !== 'GET') return error(res, rec, 405, `Http method not allowed: Path = "${url.pathname}", Method = "${req.method}"`);
    if (req.headers['x-forwarded-for'] !== undefined) return error(res, rec, 400, 'Bad request. Request contains X-Forwarded-For header');
    if (String(req.headers.metadata).toLowerCase() !== 'true') return error(res, rec, 400, 'Bad request. Required metadata header not specified');

    let which: 'thim' | 'instance';
    const lower = url.pathname.replace(/\/+$/, '').toLowerCase();
    if (lower === '/metadata/thim/amd/certification') which = 'thim';
    else if (lower === '/metadata/instance') which = 'instance';
    else return error(res, rec, 404, 'Not found');

    if (which === 'instance') {
      const v = url.searchParams.get('api-version');
      if (!v)
        return error(res, rec, 400, 'Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds', {
          'newest-versions': IMDS_API_VERSIONS.slice(-3).reverse(),
        });
      if (!IMDS_API_VERSIONS.includes(v))
        return error(res, rec, 400, 'Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds', {
          'newest-versions': IMDS_API_VERSIONS.slice(-3).reverse(),
        });
    }

    let active: ImdsFault | undefined;
    if (fault && scope.times > 0 && (scope.path === 'all' || scope.path === which)) {
      active = fault;
      scope.times -= 1;
    }
    const body = which === 'thim' ? thimBody(active?.kind === 'wrong-cert' ? active.thim : thim) : JSON.stringify(instanceDocument(vmId, options.compute));
    switch (active?.kind) {
      case 'status': {
        const msg = active.status === 429 ? 'Too many requests' : active.status === 404 ? 'Not found' : 'Internal server error';
        return error(res, rec, active.status, msg, {}, active.retryAfter !== undefined ? { 'Retry-After': active.retryAfter } : {});
      }
      case 'hang':
        return; // the socket stays open; close() destroys it
      case 'truncate': {
        const buf = Buffer.from(body);
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(buf.length) });
        res.write(buf.subarray(0, buf.length >> 1), () => res.socket?.destroy());
        return;
      }
      case 'bad-json':
        return send(res, rec, 200, body.slice(0, body.length >> 1));
      default:
        return send(res, rec, 200, body);
    }
  });
  // POST /acc/tdquote: Metadata: true, Content-Type application/json, {"report": base64url(1024 bytes)} -> {"quote": base64url}.
  function tdquote(req: http.IncomingMessage, res: http.ServerResponse, rec: ImdsRequestRecord): void {
    if (req.method !== 'POST') return error(res, rec, 405, `Http method not allowed: Path = "/acc/tdquote", Method = "${req.method}"`);
    if (String(req.headers.metadata).toLowerCase() !== 'true') return error(res, rec, 400, 'Bad request. Required metadata header not specified');
    if (!String(req.headers['content-type']).toLowerCase().startsWith('application/json'))
      return error(res, rec, 400, 'Bad request. Content-Type must be application/json');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 16384) chunks.push(c);
    });
    req.on('end', () => {
      let active: ImdsFault | undefined;
      if (fault && scope.times > 0 && (scope.path === 'all' || scope.path === 'tdquote')) {
        active = fault;
        scope.times -= 1;
      }
      if (active?.kind === 'status')
        return error(
          res,
          rec,
          active.status,
          active.status === 429 ? 'Too many requests' : 'Internal server error',
          {},
          active.retryAfter !== undefined ? { 'Retry-After': active.retryAfter } : {},
        );
      if (active?.kind === 'hang') return;
      let report: unknown;
      try {
        report = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { report?: unknown }).report;
      } catch {
        return error(res, rec, 400, 'Bad request. Body is not JSON');
      }
      if (typeof report !== 'string' || Buffer.from(report, 'base64url').length !== 1024)
        return error(res, rec, 400, 'Bad request. "report" must be a base64url TD report of 1024 bytes');
      const quote = tdQuotes.get(report);
      if (!quote) return error(res, rec, 400, 'Bad request. The TD report could not be quoted');
      const body = JSON.stringify({ quote: Buffer.from(quote).toString('base64url') });
      if (active?.kind === 'bad-json') return send(res, rec, 200, body.slice(0, body.length >> 1));
      return send(res, rec, 200, body);
    });
  }
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setFault(f, s = {}) {
      fault = f;
      scope = { path: s.path ?? 'all', times: s.times ?? Infinity };
    },
    setThim(t) {
      thim = t;
    },
    get openConnections() {
      return sockets.size;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Standalone mode.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const vcek = arg('vcek');
  const chain = arg('chain');
  const tcbm = arg('tcbm');
  const opts: ImdsEmulatorOptions = {};
  if (vcek || chain || tcbm) {
    if (!vcek || !chain || !tcbm) {
      process.stderr.write('imds emulator: --vcek, --chain and --tcbm go together\n');
      process.exit(2);
    }
    opts.thim = { vcekPem: readFileSync(vcek, 'utf8'), chainPem: readFileSync(chain, 'utf8'), tcbm };
  }
  const port = arg('port');
  if (port) opts.port = Number(port);
  const vmIdArg = arg('vm-id');
  if (vmIdArg) opts.vmId = vmIdArg;
  const emu = await startImdsEmulator(opts);
  process.stdout.write(`${emu.url}\n`);
  const stop = (): void => {
    void emu.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
