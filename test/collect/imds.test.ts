// IMDS client against the IMDS emulator (real HTTP on loopback): contract, each injected fault,
// retries, timeouts, abort, size caps; and the strict THIM/instance body parsers.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fc from 'fast-check';
import { startImdsEmulator, defaultThim, type ImdsEmulator } from '../emulators/imds.js';
import { fetchThimCertificates, fetchInstanceIdentity, imdsGet, resolveImdsEndpoint, ImdsError, THIM_PATH } from '../../src/collect/imds.js';
import { parseThimResponse, ImdsResponseError, formatTcbm } from '../../src/input/thim.js';
import { parseInstanceMetadata, bindIdentity } from '../../src/collect/identity.js';
import { parseRetryAfter, backoffDelay } from '../../src/collect/retry.js';
import { CvmAttestError, InputError, ExitCode } from '../../src/base/errors.js';

const fast = { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, timeoutMs: 1000, connectTimeoutMs: 500 };

function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<CvmAttestError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CvmAttestError, `expected a CvmAttestError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, resolved instead`);
}

describe('IMDS emulator contract', () => {
  let imds: ImdsEmulator;
  before(async () => {
    imds = await startImdsEmulator();
  });
  after(() => imds.close());

  test('400 with IMDS error JSON without the Metadata header', async () => {
    const r = await rawGet(imds.url + THIM_PATH);
    assert.equal(r.status, 400);
    assert.match((JSON.parse(r.body) as { error: string }).error, /Required metadata header not specified/);
  });
  test('400 for proxied requests (X-Forwarded-For)', async () => {
    const r = await rawGet(imds.url + THIM_PATH, { Metadata: 'true', 'X-Forwarded-For': '10.0.0.1' });
    assert.equal(r.status, 400);
  });
  test('instance metadata needs an api-version', async () => {
    const r = await rawGet(imds.url + '/metadata/instance', { Metadata: 'true' });
    assert.equal(r.status, 400);
    const j = JSON.parse(r.body) as { error: string; 'newest-versions': string[] };
    assert.match(j.error, /api-version/);
    assert.ok(j['newest-versions'].length > 0);
  });
  test('unknown path is 404', async () => {
    assert.equal((await rawGet(imds.url + '/metadata/nothing', { Metadata: 'true' })).status, 404);
  });
});

describe('IMDS client', () => {
  let imds: ImdsEmulator;
  before(async () => {
    imds = await startImdsEmulator({ vmId: '390CBCF5-6C67-4D9B-98EF-C3F1699CC8FC' });
  });
  after(() => imds.close());
  const opts = (): typeof fast & { endpoint: string } => ({ ...fast, endpoint: imds.url });

  test('fetches THIM certificates with the Metadata header', async () => {
    imds.setFault(undefined);
    const n = imds.requests.length;
    const c = await fetchThimCertificates(opts());
    const fx = defaultThim();
    assert.equal(formatTcbm(c.tcbm), fx.tcbm.toUpperCase());
    assert.equal(c.cacheControlSeconds, 86400);
    assert.equal(c.vcekPem.trim(), fx.vcekPem.trim());
    assert.equal(imds.requests.length, n + 1);
    assert.equal(imds.requests[n]?.headers.metadata, 'true');
  });

  test('fetches the instance identity', async () => {
    imds.setFault(undefined);
    const id = await fetchInstanceIdentity(opts());
    assert.equal(id.vmId, '390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc');
    assert.equal(id.vmSize, 'Standard_DC2as_v5');
    assert.match(id.resourceId, /^\/subscriptions\/.+\/virtualMachines\/cvm-01$/);
    assert.deepEqual(id.securityProfile, { securityType: 'ConfidentialVM', secureBootEnabled: true, virtualTpmEnabled: true, encryptionAtHost: false });
    assert.match(imds.requests.at(-1)?.path ?? '', /api-version=20\d\d-/);
    assert.equal(bindIdentity(id, '390CBCF5-6C67-4D9B-98EF-C3F1699CC8FC').boundToReport, true);
    assert.equal(bindIdentity(id, 'BAEFD3E1-184B-4C4C-AB88-0BDAD260505F').boundToReport, false);
  });

  test('ignores HTTP_PROXY / http_proxy (never a proxy)', async () => {
    imds.setFault(undefined);
    const saved = { a: process.env.HTTP_PROXY, b: process.env.http_proxy };
    process.env.HTTP_PROXY = 'http://127.0.0.1:9';
    process.env.http_proxy = 'http://127.0.0.1:9';
    try {
      await fetchThimCertificates({ ...opts(), attempts: 1 });
    } finally {
      if (saved.a === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved.a;
      if (saved.b === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved.b;
    }
  });

  test('500 once: retried, then succeeds', async () => {
    imds.setFault({ kind: 'status', status: 500 }, { times: 1 });
    const n = imds.requests.length;
    await fetchThimCertificates(opts());
    assert.deepEqual(
      imds.requests.slice(n).map((r) => r.status),
      [500, 200],
    );
  });

  test('500 always: bounded retries then E_IMDS_SERVER (exit 3)', async () => {
    imds.setFault({ kind: 'status', status: 500 });
    const n = imds.requests.length;
    const retries: string[] = [];
    const e = await rejectsWith(fetchThimCertificates({ ...opts(), onRetry: (m) => retries.push(m) }), 'E_IMDS_SERVER');
    assert.equal(e.exitCode, ExitCode.Collection);
    assert.equal(imds.requests.length - n, 3);
    assert.equal(retries.length, 2);
    assert.match(e.message, /HTTP 500: Internal server error/);
  });

  test('429 with Retry-After: waits what the server asks', async () => {
    imds.setFault({ kind: 'status', status: 429, retryAfter: '1' }, { times: 1 });
    const t0 = Date.now();
    await fetchThimCertificates({ ...opts(), retryAfterCapMs: 5000 });
    const took = Date.now() - t0;
    assert.ok(took >= 950, `honoured Retry-After: 1 (took ${took} ms)`);
  });

  test('429 with a huge Retry-After: the wait is capped', async () => {
    imds.setFault({ kind: 'status', status: 429, retryAfter: '3600' }, { times: 1 });
    const t0 = Date.now();
    await fetchThimCertificates({ ...opts(), retryAfterCapMs: 150 });
    const took = Date.now() - t0;
    assert.ok(took >= 140 && took < 1500, `capped wait (took ${took} ms)`);
  });

  test('429 always: E_IMDS_THROTTLED after the attempts', async () => {
    imds.setFault({ kind: 'status', status: 429, retryAfter: '0' });
    await rejectsWith(fetchThimCertificates(opts()), 'E_IMDS_THROTTLED');
  });

  test('404: not retried, clear E_IMDS_NOT_FOUND', async () => {
    imds.setFault({ kind: 'status', status: 404 });
    const n = imds.requests.length;
    const e = await rejectsWith(fetchThimCertificates(opts()), 'E_IMDS_NOT_FOUND');
    assert.equal(imds.requests.length - n, 1);
    assert.match(e.message, /not an Azure confidential VM/);
    assert.equal((e as ImdsError).status, 404);
  });

  test('hang past the timeout: E_IMDS_TIMEOUT within the bounded time, never a hang', async () => {
    imds.setFault({ kind: 'hang' });
    const t0 = Date.now();
    await rejectsWith(fetchThimCertificates({ ...opts(), timeoutMs: 200, attempts: 2 }), 'E_IMDS_TIMEOUT');
    const took = Date.now() - t0;
    assert.ok(took >= 400 && took < 2000, `two 200 ms attempts (took ${took} ms)`);
  });

  test('hang once then answer: retried', async () => {
    imds.setFault({ kind: 'hang' }, { times: 1 });
    const c = await fetchThimCertificates({ ...opts(), timeoutMs: 200 });
    assert.equal(c.cacheControlSeconds, 86400);
  });

  test('truncated body (connection cut): retried as a network error', async () => {
    imds.setFault({ kind: 'truncate' }, { times: 1 });
    const n = imds.requests.length;
    await fetchThimCertificates(opts());
    assert.equal(imds.requests.length - n, 2);
  });

  test('truncated body always: E_IMDS_UNREACHABLE', async () => {
    imds.setFault({ kind: 'truncate' });
    const e = await rejectsWith(fetchThimCertificates(opts()), 'E_IMDS_UNREACHABLE');
    assert.match(e.message, /before the response was complete/);
  });

  test('complete but invalid JSON: E_IMDS_BAD_RESPONSE, not retried', async () => {
    imds.setFault({ kind: 'bad-json' });
    const n = imds.requests.length;
    const e = await rejectsWith(fetchThimCertificates(opts()), 'E_IMDS_BAD_RESPONSE');
    assert.match(e.message, /not valid JSON/);
    assert.equal(imds.requests.length - n, 1);
    await rejectsWith(fetchInstanceIdentity(opts()), 'E_IMDS_BAD_RESPONSE');
  });

  test('AbortSignal stops a hanging request at once', async () => {
    imds.setFault({ kind: 'hang' });
    const t0 = Date.now();
    await rejectsWith(fetchThimCertificates({ ...opts(), timeoutMs: 10_000, signal: AbortSignal.timeout(100) }), 'E_IMDS_ABORTED');
    assert.ok(Date.now() - t0 < 1500);
  });

  test('AbortSignal stops a retry wait', async () => {
    imds.setFault({ kind: 'status', status: 429, retryAfter: '30' });
    const t0 = Date.now();
    await rejectsWith(fetchThimCertificates({ ...opts(), retryAfterCapMs: 30_000, signal: AbortSignal.timeout(150) }), 'E_IMDS_ABORTED');
    assert.ok(Date.now() - t0 < 1500);
    imds.setFault(undefined);
  });
});

test('nothing listening: E_IMDS_UNREACHABLE after retries', async () => {
  const emu = await startImdsEmulator();
  const url = emu.url;
  await emu.close();
  const e = await rejectsWith(imdsGet(THIM_PATH, 1000, { ...fast, endpoint: url }), 'E_IMDS_UNREACHABLE');
  assert.equal(e.exitCode, ExitCode.Collection);
});

test('responses above the size cap are refused', async () => {
  const big = 'x'.repeat(200_000);
  const server = http.createServer((_req, res) => {
    res.writeHead(200);
    res.end(big);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    await rejectsWith(fetchThimCertificates({ ...fast, endpoint: `http://127.0.0.1:${port}` }), 'E_IMDS_BAD_RESPONSE');
  } finally {
    server.close();
  }
});

test('endpoint resolution: option, env, default; only plain http URLs', () => {
  assert.equal(resolveImdsEndpoint(undefined, {}).host, '169.254.169.254');
  assert.equal(resolveImdsEndpoint(undefined, { CVM_ATTEST_IMDS_ENDPOINT: 'http://127.0.0.1:1234' }).port, '1234');
  assert.equal(resolveImdsEndpoint('http://127.0.0.1:99', { CVM_ATTEST_IMDS_ENDPOINT: 'http://127.0.0.1:1234' }).port, '99');
  for (const bad of ['not a url', 'https://127.0.0.1', 'http://127.0.0.1/metadata', 'http://u:p@127.0.0.1']) {
    assert.throws(() => resolveImdsEndpoint(bad, {}), InputError, bad);
  }
});

test('Retry-After parsing and backoff bounds', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.equal(parseRetryAfter(new Date(1_000).toUTCString(), 4_000), 0);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (n, r) => {
      const d = backoffDelay(n, { baseDelayMs: 100, maxDelayMs: 1000, random: () => r });
      return d >= 0 && d <= Math.min(1000, 100 * 2 ** (n - 1));
    }),
  );
});

describe('THIM body parser (strict)', () => {
  const good = (): Record<string, unknown> => {
    const t = defaultThim();
    return { vcekCert: t.vcekPem, tcbm: t.tcbm, certificateChain: t.chainPem, cacheControl: '86400' };
  };
  const bad = (o: unknown, re: RegExp): void => {
    assert.throws(
      () => parseThimResponse(JSON.stringify(o)),
      (e: unknown) => e instanceof ImdsResponseError && re.test(e.message),
    );
  };
  test('the real body parses', () => {
    const c = parseThimResponse(JSON.stringify(good()));
    assert.equal(c.tcbm, 0x7308000000000003n);
  });
  test('each broken field is named', () => {
    bad([], /not a JSON object/);
    bad({ ...good(), vcekCert: undefined }, /"vcekCert" is missing/);
    bad({ ...good(), tcbm: 7308 }, /"tcbm" is a number/);
    bad({ ...good(), tcbm: '7308' }, /tcbm .* not 16 hex digits/);
    bad({ ...good(), cacheControl: 'max-age=1' }, /cacheControl/);
    bad({ ...good(), certificateChain: defaultThim().vcekPem }, /must hold 2 certificates/);
    bad({ ...good(), vcekCert: defaultThim().chainPem }, /exactly one certificate/);
    bad({ ...good(), vcekCert: 'garbage' + defaultThim().vcekPem }, /outside PEM/);
    bad({ ...good(), vcekCert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, /DER certificate/);
  });
  test('cacheControl is clamped to 30 days', () => {
    assert.equal(parseThimResponse(JSON.stringify({ ...good(), cacheControl: '999999999' })).cacheControlSeconds, 30 * 24 * 3600);
  });
  test('fuzz: arbitrary bytes or mutated bodies only ever raise ImdsResponseError', () => {
    const body = JSON.stringify(good());
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
          fc.tuple(fc.nat(body.length - 1), fc.nat(body.length)).map(([i, j]) => body.slice(0, i) + body.slice(i + 1, Math.max(i + 1, j))),
          fc.json(),
        ),
        (input) => {
          try {
            parseThimResponse(input);
          } catch (e) {
            if (!(e instanceof ImdsResponseError)) throw e;
          }
          try {
            parseInstanceMetadata(input);
          } catch (e) {
            if (!(e instanceof ImdsResponseError)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

test('instance metadata parser: required compute fields', () => {
  assert.throws(() => parseInstanceMetadata('{"compute":{}}'), /compute.vmId is missing/);
  assert.throws(() => parseInstanceMetadata('{"network":{}}'), /no "compute" object/);
  assert.throws(() => parseInstanceMetadata(JSON.stringify({ compute: { vmId: 'x' } })), /compute.vmId is not a GUID/);
});
