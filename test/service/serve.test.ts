// `cvm-attest serve` end to end on loopback: the HTTP contract, nonces, tokens checked by panva/jose
// as a relying party would, key rotation, start-up refusals and the SIGTERM drain. Evidence is the
// real Genoa HCL vector: with a relaxed policy and no quote it passes (token says not fresh); its real
// quote is over its own recorded nonce, so against a service nonce it fails freshness, as it must.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify, SignJWT, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { attestBody, challenge, post, relaxedPolicy, serve, tmp, vector, writeKey, type Served } from './helpers.js';
import { cvmAttest } from '../helpers/cli.js';

const genoa = vector('genoa');

describe('serve: HTTP contract and tokens (relaxed policy, in-memory replay store)', () => {
  let s: Served;
  let dir: string;
  let issuer: string;
  before(async () => {
    dir = tmp();
    writeKey(join(dir, 'key.pem'));
    s = await serve(['--signing-key', join(dir, 'key.pem'), '--policy', relaxedPolicy(dir)]);
    issuer = s.url;
  });
  after(async () => {
    assert.equal(await s.stop(), 0, 'SIGTERM: a clean exit');
  });

  it('POST /v1/challenge: 64 lowercase hex, an expiry minutes ahead, never the same twice', async () => {
    const a = await post(s.url, '/v1/challenge', {});
    const b = await post(s.url, '/v1/challenge', '', {});
    assert.equal(a.status, 200);
    assert.equal(b.status, 200, 'a challenge needs no body');
    assert.match(a.json.nonce, /^[0-9a-f]{64}$/);
    assert.notEqual(a.json.nonce, b.json.nonce);
    const exp = Date.parse(a.json.expiresAt);
    assert.ok(exp > Date.now() + 60_000 && exp < Date.now() + 3600_000, a.json.expiresAt);
    assert.equal(a.headers.get('content-type'), 'application/json');
  });

  it('OIDC discovery names the issuer and jwks_uri; /certs keys carry kid, alg and an x5c certificate for the same key', async () => {
    const d = (await (await fetch(s.url + '/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    assert.equal(d.issuer, issuer);
    assert.equal(d.jwks_uri, `${issuer}/certs`);
    const jwks = (await (await fetch(String(d.jwks_uri))).json()) as { keys: Record<string, any>[] };
    assert.equal(jwks.keys.length, 1);
    const k = jwks.keys[0]!;
    assert.equal(k.alg, 'RS256');
    assert.equal(k.use, 'sig');
    assert.match(k.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(k.d, undefined, 'no private member is published');
    const cert = new X509Certificate(Buffer.from(k.x5c[0], 'base64'));
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    const fromCert = cert.publicKey.export({ format: 'jwk' });
    assert.equal(fromCert.n, k.n);
    assert.equal(fromCert.e, k.e);
  });

  let token = '';
  let nonce = '';
  it('attest (Genoa report, no quote, requireFreshness false): pass, and jose accepts the token with the issuer; it says not fresh', async () => {
    nonce = await challenge(s.url);
    const r = await post(s.url, '/v1/attest', attestBody(nonce, genoa, { instance: { vmId: '00000000-0000-0000-0000-000000000001', name: 'claimed-name' } }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.verdict, 'pass', JSON.stringify(r.json.checks?.filter((c: { status: string }) => c.status === 'fail')));
    assert.equal(r.json.checks.find((c: { id: string }) => c.id === 'freshness').status, 'skip');
    token = r.json.token;
    const JWKS = createRemoteJWKSet(new URL(`${issuer}/certs`));
    const { payload, protectedHeader } = await jwtVerify(token, JWKS, { issuer });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(protectedHeader.jku, `${issuer}/certs`);
    const jwks = (await (await fetch(`${issuer}/certs`)).json()) as { keys: { kid: string }[] };
    assert.equal(protectedHeader.kid, jwks.keys[0]!.kid);
    assert.equal(payload.nonce, nonce);
    assert.equal(payload['x-ms-cvm-attest-fresh'], false);
    assert.equal(payload['x-ms-attestation-type'], 'sevsnpvm');
    assert.equal(payload['x-ms-sevsnpvm-is-debuggable'], false);
    assert.match(String(payload['x-ms-policy-hash']), /^[A-Za-z0-9_-]{43}$/);
    const tee = payload['x-ms-isolation-tee'] as Record<string, unknown>;
    assert.equal(tee['x-ms-sevsnpvm-launchmeasurement'], payload['x-ms-sevsnpvm-launchmeasurement']);
    const runtime = payload['x-ms-runtime'] as { 'vm-configuration': { vmUniqueId: string } };
    assert.equal(runtime['vm-configuration'].vmUniqueId, genoa.vmUniqueId, 'the attested id, not the claimed one');
    assert.equal(payload.exp! - payload.iat!, 8 * 3600);
    assert.equal(payload.nbf, payload.iat);
    assert.match(String(payload.jti), /^[0-9a-f]{64}$/);
    assert.equal(r.json.claims['x-ms-attestation-type'], 'sevsnpvm');
  });

  it('the relying party refuses a token signed by another key (same kid), an expired one and one with a changed claim', async () => {
    const JWKS = createRemoteJWKSet(new URL(`${issuer}/certs`));
    const { kid } = decodeProtectedHeader(token);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = await new SignJWT({ nonce, 'x-ms-attestation-type': 'sevsnpvm' })
      .setProtectedHeader({ alg: 'RS256', kid: kid! })
      .setIssuer(issuer)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(other);
    await assert.rejects(jwtVerify(forged, JWKS, { issuer }), joseErrors.JWSSignatureVerificationFailed);
    const exp = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    await assert.rejects(jwtVerify(token, JWKS, { issuer, currentDate: new Date((exp + 1) * 1000) }), joseErrors.JWTExpired);
    const [h, p, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    claims['x-ms-sevsnpvm-is-debuggable'] = true;
    const changed = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    await assert.rejects(jwtVerify(changed, JWKS, { issuer }), joseErrors.JWSSignatureVerificationFailed);
    await assert.rejects(jwtVerify(token, JWKS, { issuer: 'https://someone-else.example' }), joseErrors.JWTClaimValidationFailed);
    await jwtVerify(token, JWKS, { issuer }); // the original still verifies
  });

  it('a nonce is accepted once; unknown, malformed and missing nonces are refused before any verification', async () => {
    const again = await post(s.url, '/v1/attest', attestBody(nonce, genoa));
    assert.equal(again.status, 400);
    assert.equal(again.json.error.code, 'E_NONCE_USED');
    const n = await challenge(s.url);
    const flipped = n.slice(0, 63) + (n[63] === '0' ? '1' : '0');
    const u = await post(s.url, '/v1/attest', attestBody(flipped, genoa));
    assert.equal(u.status, 400);
    assert.equal(u.json.error.code, 'E_NONCE_UNKNOWN');
    const m = await post(s.url, '/v1/attest', attestBody('ABC', genoa));
    assert.equal(m.status, 400);
    assert.equal(m.json.error.code, 'E_REQUEST_SCHEMA');
    // The genuine nonce whose tampered copy was refused is still good.
    assert.equal((await post(s.url, '/v1/attest', attestBody(n, genoa))).json.verdict, 'pass');
  });

  it('HTTP rules: 415 other content types, 405 other methods (with Allow), 404, 400 bad JSON or schema, 413 over 1 MiB; all typed JSON errors', async () => {
    const n = await challenge(s.url);
    const ct = await post(s.url, '/v1/attest', JSON.stringify(attestBody(n, genoa)), { 'content-type': 'text/plain' });
    assert.equal(ct.status, 415);
    assert.equal(ct.json.error.code, 'E_CONTENT_TYPE');
    const get = await fetch(s.url + '/v1/attest');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(((await get.json()) as any).error.code, 'E_METHOD');
    const put = await fetch(s.url + '/certs', { method: 'PUT' });
    assert.equal(put.status, 405);
    const nf = await fetch(s.url + '/nope');
    assert.equal(nf.status, 404);
    assert.equal(((await nf.json()) as any).error.code, 'E_NOT_FOUND');
    const bad = await post(s.url, '/v1/attest', '{"nonce": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'E_REQUEST_JSON');
    const extra = await post(s.url, '/v1/attest', { ...attestBody(n, genoa), admin: true });
    assert.equal(extra.status, 400);
    assert.equal(extra.json.error.code, 'E_REQUEST_SCHEMA');
    const notB64 = attestBody(n, genoa) as { evidence: Record<string, unknown> };
    notB64.evidence.hclReport = '!!!';
    assert.equal((await post(s.url, '/v1/attest', notB64)).json.error.code, 'E_REQUEST_SCHEMA');
    const big = await post(s.url, '/v1/attest', JSON.stringify({ nonce: n, evidence: { hclReport: 'A'.repeat(1024 * 1024 + 16) } }));
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'E_REQUEST_TOO_LARGE');
    // Garbage bytes that parse as a report-sized input: a typed 400, never a stack trace.
    const garbage = attestBody(await challenge(s.url), genoa) as { evidence: Record<string, unknown> };
    garbage.evidence.hclReport = Buffer.alloc(100, 7).toString('base64');
    const g = await post(s.url, '/v1/attest', garbage);
    assert.equal(g.status, 400);
    assert.equal(g.json.error.code, 'E_REQUEST_EVIDENCE');
    assert.doesNotMatch(JSON.stringify(g.json), /at .*\.(m?js|ts):\d+/);
  });

  it('a body sent without Content-Length that grows past 1 MiB is cut off with 413', async () => {
    const n = await challenge(s.url);
    const chunks = async function* () {
      yield Buffer.from(`{"nonce":"${n}","evidence":{"hclReport":"`);
      for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024, 0x41);
      yield Buffer.from('"}}');
    };
    const res = await fetch(s.url + '/v1/attest', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: ReadableStream.from(chunks()),
      duplex: 'half',
    }).catch((e: Error) => e);
    if (res instanceof Error) return; // the server may close before the client finishes sending: also a refusal
    assert.equal(res.status, 413);
  });

  it('/healthz and /metrics (Prometheus text) report the traffic so far', async () => {
    const h = (await (await fetch(s.url + '/healthz')).json()) as { status: string; replayStore: { kind: string } };
    assert.equal(h.status, 'ok');
    assert.equal(h.replayStore.kind, 'memory');
    const m = await (await fetch(s.url + '/metrics')).text();
    assert.match(m, /cvm_attest_verifications_total\{verdict="pass",platform="sevsnp"\} [1-9]/);
    assert.match(m, /cvm_attest_nonces_total\{result="used"\} [1-9]/);
    assert.match(m, /cvm_attest_nonces_total\{result="unknown"\} [1-9]/);
    assert.match(m, /cvm_attest_attest_duration_seconds_bucket\{le="\+Inf"\} [1-9]/);
    assert.match(m, /# TYPE cvm_attest_attest_duration_seconds histogram/);
  });

  it('logs are JSON lines without tokens or evidence; nothing else is printed (no library warnings on stderr)', () => {
    assert.equal(s.stderr(), '');
    const lines = s.stdout().trim().split('\n');
    for (const l of lines) JSON.parse(l);
    assert.ok(lines.some((l) => JSON.parse(l).message === 'attestation'));
    assert.ok(!s.stdout().includes(token.split('.')[2]!), 'no token signature in the log');
    assert.ok(!s.stdout().includes(genoa.hclReport.toString('base64').slice(100, 160)), 'no evidence in the log');
  });
});

describe('serve: default policy requires freshness', () => {
  let s: Served;
  before(async () => {
    const dir = tmp();
    s = await serve(['--signing-key', writeKey(join(dir, 'key.pem')), '--token-lifetime', '600'], { CVM_ATTEST_NONCE_LIFETIME_SECONDS: '2' });
  });
  after(async () => void (await s.stop()));

  it("the Genoa vector's real quote (over its own recorded nonce) fails against a service nonce: replayed, no token", async () => {
    const r = await post(s.url, '/v1/attest', attestBody(await challenge(s.url), genoa, { quote: true }));
    assert.equal(r.status, 200);
    assert.equal(r.json.verdict, 'fail');
    const f = r.json.checks.find((c: { id: string }) => c.id === 'freshness');
    assert.equal(f.status, 'fail');
    assert.match(f.reason, /not the expected .*replayed or foreign quote/);
    assert.equal(r.json.token, undefined);
  });

  it('without a quote the default policy fails the evidence (policy.freshness)', async () => {
    const r = await post(s.url, '/v1/attest', attestBody(await challenge(s.url), genoa));
    assert.equal(r.json.verdict, 'fail');
    assert.equal(r.json.checks.find((c: { id: string }) => c.id === 'policy.freshness').status, 'fail');
  });

  it('an expired nonce is refused (E_NONCE_EXPIRED)', async () => {
    const n = await challenge(s.url);
    await new Promise((r) => setTimeout(r, 3100));
    const r = await post(s.url, '/v1/attest', attestBody(n, genoa));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'E_NONCE_EXPIRED');
  });
});

describe('serve: slow clients', () => {
  let s: Served;
  before(async () => {
    const dir = tmp();
    s = await serve(['--signing-key', writeKey(join(dir, 'key.pem'))], { CVM_ATTEST_REQUEST_TIMEOUT_MS: '1500' });
  });
  after(async () => void (await s.stop()));

  const slow = (payload: string): Promise<{ ms: number; answer: string }> =>
    new Promise((resolve) => {
      const t0 = Date.now();
      const sock = connect(s.port, '127.0.0.1', () => sock.write(payload));
      let answer = '';
      sock.on('data', (c: Buffer) => (answer += c.toString()));
      sock.on('close', () => resolve({ ms: Date.now() - t0, answer }));
      sock.on('error', () => {});
    });

  it('headers that never finish: the connection is closed (408) within the timeout, not held', async () => {
    const r = await slow('POST /v1/attest HTTP/1.1\r\nHost: x\r\n');
    assert.ok(r.ms < 5000, `${r.ms} ms`);
  });

  it('a body that stops half way: the request times out with an answer, the server stays up', async () => {
    const r = await slow('POST /v1/attest HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"nonce":');
    assert.ok(r.ms < 5000, `${r.ms} ms`);
    assert.match(r.answer, /^HTTP\/1\.1 (408|400)/);
    assert.equal((await fetch(s.url + '/healthz')).status, 200);
  });
});

describe('serve: keys', () => {
  it('refuses a signing key readable by others (exit 2, E_SIGNING_KEY_MODE), plain HTTP off loopback, and a bad --listen', async () => {
    const dir = tmp();
    const loose = writeKey(join(dir, 'loose.pem'), 'rsa', 0o644);
    const r = await cvmAttest(['serve', '--listen', '127.0.0.1:0', '--signing-key', loose], { timeoutMs: 20_000 });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must be 0600.*\[E_SIGNING_KEY_MODE\]/);
    const good = writeKey(join(dir, 'good.pem'));
    const off = await cvmAttest(['serve', '--listen', '0.0.0.0:0', '--signing-key', good], { timeoutMs: 20_000 });
    assert.equal(off.code, 2);
    assert.match(off.stderr, /plain HTTP is allowed only on loopback/);
    const bad = await cvmAttest(['serve', '--listen', 'nonsense', '--signing-key', good], { timeoutMs: 20_000 });
    assert.equal(bad.code, 2);
    assert.doesNotMatch(r.stderr + off.stderr + bad.stderr, /\n\s+at /, 'no stack trace');
  });

  it('rotation: a folder of keys publishes all, the newest signs; a token by the older key still verifies', async () => {
    const dir = tmp();
    const keys = join(dir, 'keys');
    mkdirSync(keys);
    writeKey(join(keys, 'a-old.pem'));
    writeKey(join(keys, 'b-new.pem'));
    utimesSync(join(keys, 'b-new.pem'), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    utimesSync(join(keys, 'a-old.pem'), new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    const s = await serve(['--signing-key', keys, '--policy', relaxedPolicy(dir)]);
    try {
      const jwks = (await (await fetch(s.url + '/certs')).json()) as { keys: { kid: string }[] };
      assert.equal(jwks.keys.length, 2);
      const r = await post(s.url, '/v1/attest', attestBody(await challenge(s.url), genoa));
      const { kid } = decodeProtectedHeader(r.json.token);
      const newest = createPublicKey(readFileSync(join(keys, 'b-new.pem'))).export({ format: 'jwk' });
      const jwksFull = (await (await fetch(s.url + '/certs')).json()) as { keys: { kid: string; n: string }[] };
      assert.equal(jwksFull.keys.find((k) => k.kid === kid)!.n, newest.n, 'the most recently modified key signs');
      const JWKS = createRemoteJWKSet(new URL(s.url + '/certs'));
      await jwtVerify(r.json.token, JWKS, { issuer: s.url });
      const old = await import('node:crypto').then((c) => c.createPrivateKey(readFileSync(join(keys, 'a-old.pem'))));
      const oldKid = jwksFull.keys.find((k) => k.kid !== kid)!.kid;
      const before = await new SignJWT({ nonce: 'x' })
        .setProtectedHeader({ alg: 'RS256', kid: oldKid })
        .setIssuer(s.url)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(old);
      await jwtVerify(before, JWKS, { issuer: s.url });
    } finally {
      await s.stop();
    }
  });

  it('a PEM with several keys: the last signs; an EC P-256 key signs ES256; CVM_ATTEST_TOKEN_ALG=PS256 for RSA', async () => {
    const dir = tmp();
    writeKey(join(dir, 'k1.pem'));
    writeKey(join(dir, 'k2.pem'), 'ec');
    writeFileSync(join(dir, 'both.pem'), readFileSync(join(dir, 'k1.pem'), 'utf8') + readFileSync(join(dir, 'k2.pem'), 'utf8'), { mode: 0o600 });
    const s = await serve(['--signing-key', join(dir, 'both.pem'), '--policy', relaxedPolicy(dir)]);
    try {
      const r = await post(s.url, '/v1/attest', attestBody(await challenge(s.url), genoa));
      assert.equal(decodeProtectedHeader(r.json.token).alg, 'ES256');
      const { payload } = await jwtVerify(r.json.token, createRemoteJWKSet(new URL(s.url + '/certs')), { issuer: s.url, algorithms: ['ES256'] });
      assert.equal(payload['x-ms-attestation-type'], 'sevsnpvm');
      const jwks = (await (await fetch(s.url + '/certs')).json()) as { keys: { alg: string; x5c: string[]; n?: string; x?: string }[] };
      assert.deepEqual(
        jwks.keys.map((k) => k.alg),
        ['RS256', 'ES256'],
      );
      for (const k of jwks.keys) {
        const cert = new X509Certificate(Buffer.from(k.x5c[0]!, 'base64'));
        assert.ok(cert.verify(cert.publicKey));
        const j = cert.publicKey.export({ format: 'jwk' });
        assert.equal(k.alg === 'ES256' ? j.x : j.n, k.alg === 'ES256' ? k.x : k.n, 'the certificate is for the published key');
      }
    } finally {
      await s.stop();
    }
    const ps = await serve(['--signing-key', join(dir, 'k1.pem'), '--policy', relaxedPolicy(dir), '--issuer', 'https://verifier.example'], {
      CVM_ATTEST_TOKEN_ALG: 'PS256',
    });
    try {
      const r = await post(ps.url, '/v1/attest', attestBody(await challenge(ps.url), genoa));
      const h = decodeProtectedHeader(r.json.token);
      assert.equal(h.alg, 'PS256');
      assert.equal(h.jku, 'https://verifier.example/certs');
      await jwtVerify(r.json.token, createRemoteJWKSet(new URL(ps.url + '/certs')), { issuer: 'https://verifier.example', algorithms: ['PS256'] });
    } finally {
      await ps.stop();
    }
  });
});

describe('serve: SIGTERM drains in-flight requests', () => {
  it('requests already received are answered, then the process exits 0', async () => {
    const dir = tmp();
    const s = await serve(['--signing-key', writeKey(join(dir, 'key.pem')), '--policy', relaxedPolicy(dir)]);
    const nonces = await Promise.all(Array.from({ length: 6 }, () => challenge(s.url)));
    const inflight = nonces.map((n) => post(s.url, '/v1/attest', attestBody(n, genoa)));
    await new Promise((r) => setTimeout(r, 30));
    s.proc.kill('SIGTERM');
    const answers = await Promise.allSettled(inflight);
    const ok = answers.filter((a) => a.status === 'fulfilled' && a.value.json.verdict === 'pass').length;
    assert.equal(await s.exited, 0);
    assert.ok(ok >= 1, `${ok} of 6 answered`);
    for (const a of answers)
      if (a.status === 'fulfilled') assert.ok(a.value.json.verdict === 'pass' || a.value.json.error?.code === 'E_SHUTTING_DOWN', JSON.stringify(a.value.json));
    assert.match(s.stdout(), /"message":"draining"/);
  });
});
