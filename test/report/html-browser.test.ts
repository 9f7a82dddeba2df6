// The HTML report as a person sees it: rendered by headless Chromium (Debian's /usr/bin/chromium through
// playwright-core) from results of the real verifier on real vectors. Checks the visible text, that the
// page loads nothing but itself, and that injected markup stays inert. One browser for the whole file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { renderHtmlReport } from '../../src/report/html.js';
import type { VerificationResult } from '../../src/result/result.js';
import { parsePolicy, verifyEvidence } from '../../src/index.js';
import { hostileResult, HOSTILE } from './hostile-result.js';
import { fixture } from '../helpers/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let dir: string;
let context: BrowserContext;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (listed in scripts/apt-packages.txt)`);
  dir = mkdtempSync(join(tmpdir(), 'cvm-attest-html-'));
  // A fresh profile: nothing cached or configured from earlier runs can change what loads.
  context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport: { width: 1100, height: 900 },
    offline: true,
  });
});

after(async () => {
  await context?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  url: string;
  requests: string[];
  csp: string[];
  dialogs: string[];
}

/** Writes the report to a file and opens it as a person would (file:// URL), recording every request. */
async function open(html: string, name: string): Promise<Opened> {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, html);
  const url = pathToFileURL(file).href;
  const page = await context.newPage();
  const requests: string[] = [];
  const csp: string[] = [];
  const dialogs: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) csp.push(m.text());
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, url, requests, csp, dialogs };
}

async function text(page: Page, selector: string): Promise<string> {
  return page.locator(selector).innerText();
}

/** Screenshot to a temp PNG (for a person to judge the design; never committed). */
async function screenshot(page: Page, name: string): Promise<string> {
  const png = join(tmpdir(), `cvm-attest-report-${name}.png`);
  await page.screenshot({ path: png, fullPage: true });
  return png;
}

function assertOnlyItself(o: Opened): void {
  assert.deepEqual(o.requests, [o.url], 'the page requested nothing but its own file');
  assert.deepEqual(o.csp, [], 'nothing tried to load and was refused by the CSP');
}

test('a passing Genoa HCL report: PASS, every check, the chain with fingerprints, the pinned root', async (t) => {
  const result = await verifyEvidence({
    evidence: fixture('azure-hcl/genoa/hcl-report.bin'),
    vcek: fixture('azure-hcl/genoa/vcek.pem'),
    now: new Date('2026-11-28T12:00:00Z'),
  });
  assert.equal(result.verdict, 'pass', JSON.stringify(result.checks));
  const runtime = result.claims['x-ms-runtime'] as { 'vm-configuration': { vmUniqueId: string } };
  const vmId = runtime['vm-configuration'].vmUniqueId;
  const o = await open(
    renderHtmlReport(result, { identity: { vmName: 'genoa-vector', vmId: vmId.toLowerCase() }, generatedAt: new Date('2026-11-28T12:00:01Z') }),
    'pass',
  );
  const { page } = o;
  assert.equal(await text(page, '.verdict-word'), 'PASS');
  assert.equal(await page.title(), 'Attestation report \u2014 PASS');
  assert.equal(await page.locator('.failures').count(), 0, 'no failures section on a pass');
  const body = await text(page, 'body');
  // Every check the verifier ran is shown with its status and reason.
  assert.equal(await page.locator('table.checks tbody tr:not(.group-row)').count(), result.checks.length);
  for (const c of result.checks) {
    const row = page.locator('table.checks tbody tr', { has: page.locator('code.check-id', { hasText: new RegExp(`^${c.id.replace(/[.]/g, '\\.')}$`) }) });
    assert.equal(await row.count(), 1, c.id);
    const cells = await row.locator('td').allInnerTexts();
    assert.match(cells[0] ?? '', new RegExp(c.status, 'i'), c.id);
    assert.equal(cells[2], c.reason, c.id);
  }
  // The chain: each certificate's fingerprint is visible, and the ARK is marked as the pinned root.
  assert.ok(result.certificates.length >= 3, 'VCEK, ASK and ARK');
  for (const cert of result.certificates) assert.ok(body.includes(cert.sha256), `${cert.role} fingerprint visible`);
  const ark = result.certificates.find((c) => c.role === 'ARK');
  assert.equal(ark?.pinned, true);
  assert.match(await page.locator('.cert', { has: page.locator('.role', { hasText: /^ARK$/ }) }).innerText(), /Pinned AMD root/);
  assert.ok(body.includes('AMD EPYC (Genoa)'));
  assert.match(await text(page, '.meta'), new RegExp(`${vmId.toLowerCase()} = attested vmUniqueId`));
  assert.ok(body.includes('2026-11-28 12:00:00 UTC'), 'evaluation time');
  assert.equal(await page.locator('.cert .bad').count(), 0, 'every certificate valid at the evaluation time');
  // The TCB table shows the reported TCB of every component.
  assert.ok((await page.locator('table.tcb tbody tr').count()) >= 4);
  assertOnlyItself(o);
  t.diagnostic(`screenshot: ${await screenshot(page, 'pass')}`);
  await page.close();
});

test('real debug-enabled evidence: FAIL, the failing policy check and its reason stand out', async (t) => {
  const result = await verifyEvidence({
    evidence: fixture('negative/debug-enabled-report.bin'),
    vcek: fixture('negative/debug-enabled-vcek.der'),
    now: new Date('2026-11-28T12:00:00Z'),
  });
  assert.equal(result.verdict, 'fail');
  const failing = result.checks.filter((c) => c.status === 'fail');
  const debug = failing.find((c) => c.group === 'policy' && /debug/i.test(c.id));
  assert.ok(debug, `a failing policy debug check: ${JSON.stringify(failing)}`);
  const o = await open(renderHtmlReport(result), 'fail');
  const { page } = o;
  assert.equal(await text(page, '.verdict-word'), 'FAIL');
  // The verdict is in the first screenful.
  const box = await page.locator('.verdict').boundingBox();
  assert.ok(box && box.y + box.height < 900, 'verdict above the fold');
  // The failure summary names the check and its reason, before the full table.
  const failures = await text(page, '.failures');
  assert.ok(failures.includes(debug.id) && failures.includes(debug.reason), failures);
  const fy = (await page.locator('.failures').boundingBox())?.y ?? Infinity;
  const ty = (await page.locator('table.checks').boundingBox())?.y ?? -Infinity;
  assert.ok(fy < ty, 'failures listed before the checks table');
  // In the table, the failing row is highlighted in red.
  const row = page.locator('table.checks tr.row-fail', { hasText: debug.id });
  assert.equal(await row.count(), 1);
  const bg = await page.evaluate(`[...document.querySelectorAll('table.checks tr.row-fail')]
    .filter((r) => r.querySelector('code.check-id')?.textContent === ${JSON.stringify(debug.id)})
    .map((r) => getComputedStyle(r.cells[2]).backgroundColor)`);
  assert.deepEqual(bg, ['rgb(255, 235, 233)'], 'the failing row is red');
  assert.match(await row.innerText(), /FAIL/);
  assertOnlyItself(o);
  t.diagnostic(`screenshot: ${await screenshot(page, 'fail')}`);
  await page.close();
});

test('fresh evidence with a stale CRL and a minimum TCB: no freshness notice, the warning, TCB against the minimum', async () => {
  // milan-v3-a: its quote's extraData is the vector's nonce (`challenge`) and its PCR values are published.
  const milan = (f: string): Buffer => fixture(`azure-hcl/milan-v3-a/${f}`);
  const result = await verifyEvidence({
    evidence: milan('hcl-report.bin'),
    vcek: milan('vcek.pem'),
    crl: fixture('amd/crl_milan.pem'),
    quote: {
      message: milan('quote.msg'),
      signature: milan('quote.sig'),
      nonce: Buffer.from(milan('nonce.hex').toString('ascii').trim(), 'hex'),
      pcrs: JSON.parse(milan('pcrs.json').toString('utf8')) as string[],
    },
    // This vector's REPORTED_TCB has snp 24: a minimum of 25 must be shown as not met.
    policy: parsePolicy({ minimumTcb: { snp: 25, microcode: 219 } }),
    now: new Date('2026-11-28T12:00:00Z'),
  });
  const byId = new Map(result.checks.map((c) => [c.id, c]));
  assert.equal(byId.get('freshness')?.status, 'pass');
  assert.equal(byId.get('crl')?.status, 'warn', 'the published Milan CRL is past its nextUpdate');
  assert.equal(byId.get('policy.minimum-tcb')?.status, 'fail');
  const o = await open(renderHtmlReport(result), 'fresh');
  const { page } = o;
  assert.equal(await text(page, '.verdict-word'), 'FAIL');
  assert.equal(await page.locator('.verdict-note').count(), 0, 'no "freshness not established" notice');
  assert.match(await text(page, '.failures'), /policy\.minimum-tcb/);
  // The stale CRL is a warning: a WARN row and the warnings list.
  assert.match(await page.locator('table.checks tr.row-warn', { hasText: 'crl' }).innerText(), /WARN[\s\S]*stale/);
  assert.match(await text(page, '.warnings'), /crl: the CRL is stale/);
  // TCB: SNP firmware 24 in the reported column is marked below the minimum 25; microcode 219 is not.
  const snp = await page
    .locator('table.tcb tr', { has: page.locator('th', { hasText: 'SNP firmware' }) })
    .locator('td')
    .allInnerTexts();
  assert.match(snp[0] ?? '', /^24\s+below minimum$/i);
  assert.equal(snp[snp.length - 1], '25');
  const mc = await page
    .locator('table.tcb tr', { has: page.locator('th', { hasText: 'Microcode' }) })
    .locator('td.below')
    .count();
  assert.equal(mc, 0);
  assertOnlyItself(o);
  await page.close();
});

test('injected markup in evidence-derived strings renders as inert text, even without the CSP', async () => {
  const html = renderHtmlReport(hostileResult(), { title: HOSTILE.script, identity: { vmName: HOSTILE.img, vmId: HOSTILE.attr } });
  const noCsp = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '');
  assert.notEqual(noCsp, html, 'CSP removed for this variant');
  for (const [name, doc] of [
    ['hostile', html],
    ['hostile-nocsp', noCsp],
  ] as const) {
    const o = await open(doc, name);
    const { page } = o;
    // Runs in the page (a string: this project's TypeScript has no DOM types).
    const created = await page.evaluate(`({
      elements: document.querySelectorAll('script, img, svg, iframe, object, embed, a, link, base, form, body style').length,
      handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => /^on/i.test(a.name))).length,
      pwned: window.__pwned ?? null,
      styles: document.querySelectorAll('style').length,
    })`);
    assert.deepEqual(created, { elements: 0, handlers: 0, pwned: null, styles: 1 }, name);
    // Hover everything, in case an attribute break-out added a mouse handler.
    await page.mouse.move(200, 200);
    await page.mouse.move(600, 400);
    const body = await text(page, 'body');
    for (const s of Object.values(HOSTILE)) assert.ok(body.includes(s), `shown as text: ${s}`);
    assert.equal(await text(page, '.verdict-word'), 'FAIL');
    assert.deepEqual(o.dialogs, []);
    assertOnlyItself(o);
    await page.close();
  }
});

/** Background colour of the pass badge: never to be used on data the verifier could not authenticate. */
const GREEN_BG = 'rgb(218, 251, 225)';

async function passBadgesOutside(page: Page, allowedIds: readonly string[]): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll('table.checks tbody tr:not(.group-row)')]
    .filter((r) => getComputedStyle(r.querySelector('.badge')).backgroundColor === ${JSON.stringify(GREEN_BG)})
    .map((r) => r.querySelector('code.check-id').textContent)
    .filter((id) => !${JSON.stringify(allowedIds)}.includes(id))`) as Promise<string[]>;
}

test('tampered evidence (the signature fails): a banner, and nothing derived from the evidence is shown as verified', async () => {
  // The genoa HCL report with REPORTED_TCB.SNP raised to 99 after signing (HCL header 0x20 + SNP report
  // 0x180 + byte 6): what a forger would do to pass a minimum TCB. The chain is genuine, the signature is not.
  const forged = Buffer.from(fixture('azure-hcl/genoa/hcl-report.bin'));
  forged[0x20 + 0x180 + 6] = 99;
  const result = await verifyEvidence({
    evidence: forged,
    vcek: fixture('azure-hcl/genoa/vcek.pem'),
    policy: parsePolicy({ minimumTcb: { snp: 20 } }),
    now: new Date('2026-11-28T12:00:00Z'),
  });
  const status = (g: string): string[] => result.checks.filter((c) => c.group === g).map((c) => c.status);
  assert.deepEqual(status('signature'), ['fail']);
  assert.deepEqual(status('chain'), ['pass']);
  assert.ok(
    result.checks.some((c) => c.group === 'policy' && c.status === 'pass'),
    'policy checks passed on the forged values',
  );
  const runtime = result.claims['x-ms-runtime'] as { 'vm-configuration': { vmUniqueId: string } };
  const vmId = runtime['vm-configuration'].vmUniqueId.toLowerCase();
  const o = await open(renderHtmlReport(result, { identity: { vmId } }), 'forged');
  const { page } = o;
  assert.equal(await text(page, '.verdict-word'), 'FAIL');
  // The banner, right under the verdict, before any evidence-derived section.
  const banner = await text(page, '.unauthenticated');
  assert.match(banner, /NOT AUTHENTICATED/);
  assert.match(banner, /signature/i);
  const by = (await page.locator('.unauthenticated').boundingBox())?.y ?? Infinity;
  assert.ok(by < ((await page.locator('table.checks').boundingBox())?.y ?? -Infinity), 'banner before the checks');
  assert.ok(by < 900, 'banner in the first screenful');
  // Only the structure and the (genuine) chain may be green; every other pass row says it is unauthenticated.
  assert.deepEqual(await passBadgesOutside(page, ['structure', 'chain']), []);
  for (const c of result.checks.filter((x) => x.status === 'pass' && x.group !== 'structure' && x.group !== 'chain')) {
    const row = page.locator('table.checks tbody tr', { has: page.locator('code.check-id', { hasText: new RegExp(`^${c.id.replace(/[.]/g, '\\.')}$`) }) });
    assert.match(await row.locator('td').first().innerText(), /unauthenticated/i, c.id);
  }
  // The TCB table: the forged 99 is not presented as what the AMD Secure Processor reported.
  const tcb = await text(page, 'section[aria-label="TCB versions"]');
  assert.doesNotMatch(tcb, /as the AMD Secure Processor reported them/);
  assert.match(tcb, /unauthenticated/i);
  assert.match(tcb, /\b99\b/);
  // The VCEK: genuine, but it did not sign this report; nothing in the chain section is green.
  const vcek = await page.locator('.cert', { has: page.locator('.role', { hasText: /^VCEK$/ }) }).innerText();
  assert.doesNotMatch(vcek, /valid at evaluation time/);
  assert.match(vcek, /did not sign this report/i);
  assert.equal(await page.locator('section[aria-label="Certificate chain"] .ok').count(), 0, 'no green statement in the chain');
  // The VM id is not "attested", and the claims say where they come from.
  assert.doesNotMatch(await text(page, '.meta'), /= attested vmUniqueId/);
  assert.match(await text(page, 'section[aria-label="Claims"]'), /unauthenticated/i);
  assertOnlyItself(o);
  await page.close();
});

test('a VCEK that does not chain to the pinned AMD root: marked not verified, no pinned-root or validity badge in green', async () => {
  const result = await verifyEvidence({
    evidence: fixture('azure-hcl/genoa/hcl-report.bin'),
    vcek: fixture('negative/debug-enabled-vcek.der'),
    now: new Date('2026-11-28T12:00:00Z'),
  });
  assert.deepEqual(
    result.checks.filter((c) => c.group === 'chain').map((c) => c.status),
    ['fail'],
  );
  const o = await open(renderHtmlReport(result), 'bad-chain');
  const { page } = o;
  assert.match(await text(page, '.unauthenticated'), /certificate chain/i);
  assert.deepEqual(await passBadgesOutside(page, ['structure']), []);
  const vcek = await page.locator('.cert', { has: page.locator('.role', { hasText: /^VCEK$/ }) }).innerText();
  assert.doesNotMatch(vcek, /valid at evaluation time/);
  assert.match(vcek, /not verified/i);
  assert.equal(await page.locator('section[aria-label="Certificate chain"] .ok, section[aria-label="Certificate chain"] .b-pass').count(), 0);
  assert.doesNotMatch(await text(page, 'section[aria-label="TCB versions"]'), /as the AMD Secure Processor reported them/);
  assertOnlyItself(o);
  await page.close();
});

test('the evidence digest, the quote nonce, the policy rules and a warning count that matches the list', async () => {
  const milan = (f: string): Buffer => fixture(`azure-hcl/milan-v3-a/${f}`);
  const nonce = milan('nonce.hex').toString('ascii').trim().toLowerCase();
  const evidence = milan('hcl-report.bin');
  const result = await verifyEvidence({
    evidence,
    vcek: milan('vcek.pem'),
    crl: fixture('amd/crl_milan.pem'),
    quote: {
      message: milan('quote.msg'),
      signature: milan('quote.sig'),
      nonce: Buffer.from(nonce, 'hex'),
      pcrs: JSON.parse(milan('pcrs.json').toString('utf8')) as string[],
    },
    policy: parsePolicy({ minimumTcb: { snp: 20 }, allowedProducts: ['Milan'] }),
    now: new Date('2026-11-28T12:00:00Z'),
  });
  // A warning that is not a check's (as attest adds for a cached certificate): the count covers it too.
  const withExtra: VerificationResult = { ...result, warnings: [...result.warnings, 'certificate cache: the cached VCEK was used'] };
  const o = await open(renderHtmlReport(withExtra), 'facts');
  const { page } = o;
  const meta = await text(page, '.meta');
  assert.ok(meta.includes(createHash('sha256').update(evidence).digest('hex')), 'SHA-256 of the evidence bytes');
  assert.ok(meta.includes(nonce), 'the quote nonce');
  const listed = await page.locator('.warnings li').count();
  assert.equal(listed, 2, 'the stale CRL and the cache warning');
  assert.match(await text(page, '.counts'), new RegExp(`\\b${listed} warnings\\b`));
  const rules = await text(page, 'section[aria-label="Policy"]');
  for (const re of [/minimumTcb\s+snp 20/, /allowedProducts\s+Milan/, /allowDebug\s+false/, /crl\s+warn/, /maxVmpl\s+0/]) assert.match(rules, re);
  assert.ok(rules.includes(result.policy.hash));
  // A pass on authenticated evidence carries no banner.
  assert.equal(await page.locator('.unauthenticated').count(), 0);
  assertOnlyItself(o);
  await page.close();
});
