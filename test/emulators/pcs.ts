// An Intel PCS v4 emulator on 127.0.0.1 (random port) serving the real collateral of
// test/fixtures/intel with the real wire contract: GET only; TCB info by `fmspc` (404 for one it does
// not know, 400 without), the TD QE identity, the PCK CRL by `ca` (DER with encoding=der, else PEM)
// and the Root CA CRL; issuer chains as URL-encoded PEM in TCB-Info-Issuer-Chain,
// SGX-Enclave-Identity-Issuer-Chain and SGX-PCK-CRL-Issuer-Chain; Request-ID on every answer.
//
//   const pcs = await startPcsEmulator();  pcs.url; pcs.requests; pcs.setStatus(503, 2); await pcs.close();
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { fixture as read } from '../helpers/fixtures.js';

export interface PcsEmulator {
  readonly url: string;
  readonly requests: { method: string; path: string; status: number }[];
  /** The next `times` requests answer `status` (e.g. 503). */
  setStatus(status: number, times: number): void;
  close(): Promise<void>;
}

function pemOf(der: Buffer, label = 'CERTIFICATE'): string {
  return `-----BEGIN ${label}-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

export async function startPcsEmulator(): Promise<PcsEmulator> {
  const root = read('intel/Intel_SGX_Provisioning_Certification_RootCA.pem').toString('utf8');
  const tcbChain = read('intel/tcb_signing_cert.pem').toString('utf8') + root;
  // The Platform CA comes with every quote of this FMSPC: take it from the real one.
  const quote = read('azure-tdx/td-quote.bin').toString('latin1');
  const pcks = quote.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  const crlChain = `${pcks[1]}\n${root}`;
  const tcb: Record<string, Buffer> = { '00806f050000': read('intel/tcbinfov3_00806f050000.json') };
  const requests: PcsEmulator['requests'] = [];
  const sockets = new Set<Socket>();
  let forced: { status: number; times: number } | undefined;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://pcs');
    const rec = { method: req.method ?? '', path: url.pathname + url.search, status: 0 };
    requests.push(rec);
    const send = (status: number, body: Buffer | string, headers: Record<string, string> = {}): void => {
      rec.status = status;
      res.writeHead(status, { 'Request-ID': randomUUID().replace(/-/g, ''), 'Content-Length': String(Buffer.byteLength(body)), ...headers });
      res.end(body);
    };
    if (forced && forced.times > 0) {
      forced.times--;
      return send(forced.status, '', { 'Error-Code': 'ServiceUnavailable', 'Error-Message': 'emulated failure' });
    }
    if (req.method !== 'GET') return send(405, '');
    const p = url.pathname;
    if (p === '/tdx/certification/v4/tcb') {
      const fmspc = url.searchParams.get('fmspc');
      if (!fmspc || !/^[0-9a-fA-F]{12}$/.test(fmspc))
        return send(400, '', { 'Error-Code': 'InvalidRequestSyntax', 'Error-Message': 'fmspc parameter is missing or invalid' });
      const body = tcb[fmspc.toLowerCase()];
      if (!body) return send(404, '');
      return send(200, body, { 'Content-Type': 'application/json', 'TCB-Info-Issuer-Chain': encodeURIComponent(tcbChain), 'TCB-Evaluation-Data-Number': '17' });
    }
    if (p === '/tdx/certification/v4/qe/identity')
      return send(200, read('intel/qeidentityv2_apiv4.json'), {
        'Content-Type': 'application/json',
        'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(tcbChain),
      });
    if (p === '/sgx/certification/v4/pckcrl') {
      const ca = url.searchParams.get('ca');
      if (ca !== 'platform' && ca !== 'processor')
        return send(400, '', { 'Error-Code': 'InvalidRequestSyntax', 'Error-Message': 'ca parameter is missing or invalid' });
      if (ca === 'processor') return send(404, '');
      const der = read('intel/pck_platform_crl.der');
      const der2 = url.searchParams.get('encoding') === 'der';
      return send(200, der2 ? der : pemOf(der, 'X509 CRL'), {
        'Content-Type': der2 ? 'application/pkix-crl' : 'application/x-pem-file',
        'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(crlChain),
      });
    }
    if (p === '/sgx/certification/v4/rootcacrl') return send(200, read('intel/intel_root_ca_crl.der'), { 'Content-Type': 'application/pkix-crl' });
    return send(404, '');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setStatus(status, times) {
      forced = { status, times };
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
