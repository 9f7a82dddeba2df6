// `cvm-attest serve` with Intel TDX evidence over HTTP: the real DCesv5 HCL report and TD quote, the
// Intel collateral from the service's --collateral folder or from the request. The service's nonce is
// random, so no recorded vTPM quote answers it: with a relaxed policy (requireFreshness false) and no
// quote the evidence passes and the token says not fresh; the real quote against a service nonce fails.
// At the real clock the Intel collateral is past its nextUpdate: a warning, as by default.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { parseTdQuote } from '../../src/platform/tdx/quote.js';
import { challenge, FIX, post, relaxedPolicy, serve, tmp, writeKey, type Served } from './helpers.js';
import { cvmAttest } from '../helpers/cli.js';
import { COLLATERAL_NAMES, collateral, tdQuote, tdxHcl, vtpmQuote } from '../tdx/helpers.js';

type Check = { id: string; status: string; reason: string };

function tdxBody(nonce: string, o: { collateral?: Record<string, string>; quote?: boolean } = {}): Record<string, unknown> {
  const q = vtpmQuote();
  return {
    nonce,
    evidence: {
      hclReport: tdxHcl().toString('base64'),
      tdQuote: tdQuote().toString('base64'),
      ...(o.collateral ? { collateral: o.collateral } : {}),
      ...(o.quote
        ? { quote: { message: Buffer.from(q.message).toString('base64'), signature: Buffer.from(q.signature).toString('base64'), pcrs: q.pcrs } }
        : {}),
    },
  };
}
const asMembers = (names: readonly string[]): Record<string, string> =>
  Object.fromEntries(
    collateral()
      .filter((f) => names.includes(f.name))
      .map((f) => [f.name, Buffer.from(f.bytes).toString('base64')]),
  );
const find = (checks: Check[], id: string): Check => checks.find((c) => c.id === id) ?? assert.fail(`no check ${id}`);

describe('serve: Intel TDX evidence (relaxed policy, --collateral folder)', () => {
  let s: Served;
  let dir: string;
  before(async () => {
    dir = tmp();
    writeKey(join(dir, 'key.pem'));
    const col = join(dir, 'collateral');
    mkdirSync(col);
    for (const n of COLLATERAL_NAMES) copyFileSync(join(FIX, 'intel', n), join(col, n));
    s = await serve(['--signing-key', join(dir, 'key.pem'), '--policy', relaxedPolicy(dir), '--collateral', col]);
  });
  after(async () => {
    assert.equal(await s.stop(), 0, 'SIGTERM: a clean exit');
  });

  it('HCL report + TD quote, collateral from the service: pass; jose accepts the token; MAA TDX claims; not fresh', async () => {
    const nonce = await challenge(s.url);
    const r = await post(s.url, '/v1/attest', tdxBody(nonce));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const checks = r.json.checks as Check[];
    assert.equal(r.json.verdict, 'pass', JSON.stringify(checks.filter((c) => c.status === 'fail')));
    for (const id of ['signature.quote', 'chain', 'signature.qe-report', 'collateral', 'tcb', 'tcb.qe-identity', 'runtime-data.td-report', 'runtime-data'])
      assert.equal(find(checks, id).status, 'pass', id);
    assert.equal(find(checks, 'collateral.freshness').status, 'warn', 'the real collateral is stale now: a warning by default');
    assert.equal(find(checks, 'freshness').status, 'skip');
    assert.equal(find(checks, 'ak-certificate').status, 'skip');
    const body = parseTdQuote(tdQuote()).body;
    const JWKS = createRemoteJWKSet(new URL(`${s.url}/certs`));
    const { payload } = await jwtVerify(r.json.token as string, JWKS, { issuer: s.url });
    assert.equal(payload['x-ms-attestation-type'], 'tdxvm');
    assert.equal(payload.tdx_mrtd, Buffer.from(body.mrTd).toString('hex'));
    assert.equal(payload.tdx_rtmr0, Buffer.from(body.rtmr[0]).toString('hex'));
    assert.equal(payload.attester_tcb_status, 'OutOfDate');
    assert.equal(payload.tdx_td_attributes_debug, false);
    assert.equal(payload.nonce, nonce);
    assert.equal(payload['x-ms-cvm-attest-fresh'], false);
    assert.equal(payload['cvm-attest-fresh-by'], null);
    assert.equal((payload['x-ms-isolation-tee'] as Record<string, unknown>)['x-ms-attestation-type'], 'tdxvm');
  });

  it("the request's collateral is used when it brings some: without the QE identity the TCB cannot be judged (fail, no token)", async () => {
    const partial = await post(
      s.url,
      '/v1/attest',
      tdxBody(await challenge(s.url), { collateral: asMembers(COLLATERAL_NAMES.filter((n) => !n.startsWith('qeidentity'))) }),
    );
    assert.equal(partial.status, 200, JSON.stringify(partial.json));
    assert.equal(partial.json.verdict, 'fail');
    assert.equal(find(partial.json.checks as Check[], 'tcb.qe-identity').status, 'fail');
    assert.equal(partial.json.token, undefined);
    const full = await post(s.url, '/v1/attest', tdxBody(await challenge(s.url), { collateral: asMembers(COLLATERAL_NAMES) }));
    assert.equal(full.json.verdict, 'pass', JSON.stringify((full.json.checks as Check[]).filter((c) => c.status === 'fail')));
  });

  it('the real vTPM quote (over its own recorded nonce) fails freshness against a service nonce: no token', async () => {
    const r = await post(s.url, '/v1/attest', tdxBody(await challenge(s.url), { quote: true }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.verdict, 'fail');
    assert.equal(find(r.json.checks as Check[], 'freshness').status, 'fail');
    assert.equal(r.json.token, undefined);
  });

  it('a TD quote without its HCL report, or collateral that is not base64, is refused by the schema', async () => {
    const noHcl = tdxBody(await challenge(s.url)) as { evidence: Record<string, unknown> };
    delete noHcl.evidence.hclReport;
    const a = await post(s.url, '/v1/attest', noHcl);
    assert.equal(a.status, 400);
    assert.equal(a.json.error.code, 'E_REQUEST_SCHEMA');
    const b = await post(s.url, '/v1/attest', tdxBody(await challenge(s.url), { collateral: { 'tcb.json': '{"tcbInfo": {}}' } }));
    assert.equal(b.status, 400);
    assert.equal(b.json.error.code, 'E_REQUEST_SCHEMA');
  });

  it('/metrics counts TDX verdicts under platform="tdx"', async () => {
    const m = await (await fetch(s.url + '/metrics')).text();
    assert.match(m, /cvm_attest_verifications_total\{verdict="pass",platform="tdx"\} [1-9]/);
    assert.match(m, /cvm_attest_verifications_total\{verdict="fail",platform="tdx"\} [1-9]/);
    assert.doesNotMatch(m, /platform="sevsnp"/, 'no SNP evidence was sent');
  });
});

describe('serve: --collateral refuses a file that is no collateral at start-up', () => {
  it('exits with a usage error naming the file', async () => {
    const dir = tmp();
    const col = join(dir, 'collateral');
    mkdirSync(col);
    writeFileSync(join(col, 'notes.txt'), 'not collateral');
    const r = await cvmAttest(['serve', '--listen', '127.0.0.1:0', '--signing-key', writeKey(join(dir, 'key.pem')), '--collateral', col], {
      timeoutMs: 30_000,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--collateral .*notes\.txt/);
  });
});
