// IMDS managed-identity token emulator: the exact protocol ManagedIdentityCredential (msal-node)
// speaks to 169.254.169.254, served on 127.0.0.1. Point the SDK at it with
// AZURE_POD_IDENTITY_AUTHORITY_HOST=<url> (msal fixes that endpoint for the life of the process at the
// first token request, so use one emulator per process). Tokens are unsigned JWTs whose `aud` is the
// requested resource, so the Logs Ingestion emulator can check the audience.
// Standalone: `node --import tsx test/emulators/imds-token.ts [--port N]` prints {"url":...}.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

export type ImdsFault = 'down-reset' | 'down-500' | 'hang' | 'bad-json';

export interface ImdsTokenRequest {
  readonly path: string;
  readonly resource: string | null;
  readonly clientId: string | null;
  readonly objectId: string | null;
  readonly msiResId: string | null;
  readonly metadataHeader: boolean;
  readonly status: number;
}

export interface ImdsTokenEmulator {
  /** Base URL for AZURE_POD_IDENTITY_AUTHORITY_HOST. */
  readonly url: string;
  readonly port: number;
  /** Every request seen, in order. */
  readonly requests: readonly ImdsTokenRequest[];
  /** Tokens issued (access_token strings). */
  readonly issued: readonly string[];
  /** Simulates IMDS being down (`null` = healthy again). */
  setFault(fault: ImdsFault | null): void;
  close(): Promise<void>;
}

export interface ImdsTokenEmulatorOptions {
  readonly port?: number;
  /** Token lifetime in seconds (default one day: msal caches process-wide until 5 min before expiry). */
  readonly expiresInSeconds?: number;
}

const TOKEN_PATHS = new Set(['/metadata/identity/oauth2/token', '/metadata/identity/oauth2/token/']);

export function makeUnsignedJwt(payload: Record<string, unknown>): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

export async function startImdsTokenEmulator(opts: ImdsTokenEmulatorOptions = {}): Promise<ImdsTokenEmulator> {
  const requests: ImdsTokenRequest[] = [];
  const issued: string[] = [];
  const sockets = new Set<Socket>();
  let fault: ImdsFault | null = null;
  const lifetime = opts.expiresInSeconds ?? 86_400;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const q = u.searchParams;
    const entry = (status: number): ImdsTokenRequest => ({
      path: u.pathname,
      resource: q.get('resource'),
      clientId: q.get('client_id'),
      objectId: q.get('object_id'),
      msiResId: q.get('msi_res_id') ?? q.get('mi_res_id'),
      metadataHeader: req.headers.metadata === 'true',
      status,
    });
    if (fault === 'down-reset') {
      requests.push(entry(0));
      req.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      requests.push(entry(0));
      return;
    }
    const send = (status: number, body: unknown): void => {
      requests.push(entry(status));
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (fault === 'down-500') return send(500, { error: 'unknown', error_description: 'IMDS emulator: injected failure' });
    if (fault === 'bad-json') return send(200, '{"access_token": ');
    if (req.method !== 'GET' || !TOKEN_PATHS.has(u.pathname)) return send(404, { error: 'not_found', error_description: `no route ${u.pathname}` });
    if (req.headers.metadata !== 'true') return send(400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    if (!q.get('api-version')) return send(400, { error: 'invalid_request', error_description: "Required query variable 'api-version' is missing" });
    const resource = q.get('resource');
    if (!resource) return send(400, { error: 'invalid_request', error_description: "Required query variable 'resource' is missing" });
    const now = Math.floor(Date.now() / 1000);
    const token = makeUnsignedJwt({
      aud: resource,
      iss: 'https://imds-emulator.invalid/',
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: q.get('client_id') ?? 'system-assigned',
      oid: q.get('object_id') ?? '00000000-0000-0000-0000-000000000001',
      xms_mirid: q.get('msi_res_id') ?? q.get('mi_res_id') ?? undefined,
    });
    issued.push(token);
    return send(200, {
      access_token: token,
      refresh_token: '',
      expires_in: String(lifetime),
      expires_on: String(now + lifetime),
      ext_expires_in: String(lifetime),
      not_before: String(now),
      resource,
      token_type: 'Bearer',
      client_id: q.get('client_id') ?? 'system-assigned',
    });
  };

  const server: Server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    issued,
    setFault(f) {
      fault = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--port');
  const emu = await startImdsTokenEmulator({ port: i > 0 ? Number(process.argv[i + 1]) : 0 });
  process.stdout.write(`${JSON.stringify({ url: emu.url })}\n`);
  const stop = (): void => {
    void emu.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
