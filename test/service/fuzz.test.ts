// fast-check against the running service: arbitrary JSON bodies, mutations of a valid request and raw
// bytes always get a typed JSON 4xx answer (never a 5xx, a stack trace or a hang), and the service
// stays healthy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { join } from 'node:path';
import { attestBody, challenge, relaxedPolicy, serve, tmp, vector, writeKey, type Served } from './helpers.js';

const genoa = vector('genoa');

describe('serve: fuzzed request bodies', () => {
  let s: Served;
  before(async () => {
    const dir = tmp();
    s = await serve(['--signing-key', writeKey(join(dir, 'key.pem')), '--policy', relaxedPolicy(dir)]);
  });
  after(async () => void (await s.stop()));

  const send = async (body: string | Uint8Array): Promise<{ status: number; json: any }> => {
    const res = await fetch(s.url + '/v1/attest', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    return { status: res.status, json: JSON.parse(text) };
  };
  const typed = (r: { status: number; json: any }): void => {
    assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `status ${r.status}: ${JSON.stringify(r.json)}`);
    if (r.status !== 200) {
      assert.match(r.json.error.code, /^E_[A-Z_]+$/);
      assert.equal(typeof r.json.error.message, 'string');
      assert.doesNotMatch(r.json.error.message, /\n\s+at /);
    }
  };

  it('arbitrary JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (v) => typed(await send(JSON.stringify(v)))),
      { numRuns: 60 },
    );
  });

  it('arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (b) => typed(await send(b))),
      { numRuns: 60 },
    );
  });

  it('a valid request with one member replaced by an arbitrary value, or evidence bytes flipped', async () => {
    const paths = [
      'nonce',
      'evidence',
      'evidence.hclReport',
      'evidence.vcek',
      'evidence.chain',
      'evidence.quote',
      'evidence.tdQuote',
      'evidence.collateral',
      'evidence.instance',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 2 }), async (path, value) => {
        const body = attestBody(await challenge(s.url), genoa, { quote: true }) as Record<string, any>;
        const [a, b] = path.split('.');
        if (b === undefined) body[a!] = value;
        else body[a!][b] = value;
        typed(await send(JSON.stringify(body)));
      }),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 32, max: 32 + 1184 - 1 }) /* the SNP report inside the HCL report */,
        fc.integer({ min: 1, max: 255 }),
        async (at, x) => {
          const report = Buffer.from(genoa.hclReport);
          report[at]! ^= x;
          const r = await send(JSON.stringify(attestBody(await challenge(s.url), { ...genoa, hclReport: report })));
          typed(r);
          // A flipped bit never passes: either the bytes are unusable (400) or a check fails.
          if (r.status === 200) assert.equal(r.json.verdict, 'fail', `byte ${at} ^ ${x} passed`);
        },
      ),
      { numRuns: 40 },
    );
    assert.equal((await fetch(s.url + '/healthz')).status, 200);
  });
});
