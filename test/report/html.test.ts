// The HTML report as a string: escaping, self-containment, fail-closed verdict, TCB marking.
// (What a person sees in a browser is checked in html-browser.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeHtml, revealInvisible } from '../../src/report/escape.js';
import { renderHtmlReport, shownVerdict } from '../../src/report/html.js';
import { tcbTable } from '../../src/report/tcb.js';
import type { CheckGroup, CheckStatus, VerificationResult } from '../../src/result/result.js';
import { hostileResult, HOSTILE } from './hostile-result.js';

/** Like assert.doesNotMatch, without dumping the whole document on failure. */
function assertAbsent(html: string, re: RegExp, what = String(re)): void {
  const m = re.exec(html);
  assert.equal(m, null, `${what} found: ${m ? html.slice(Math.max(0, m.index - 40), m.index + 80) : ''}`);
}

test('escapeHtml escapes the five HTML metacharacters', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(escapeHtml(42), '42');
});

test('invisible and direction-changing characters are made visible', () => {
  // U+202E (right-to-left override) would make "gpj.exe" read as "exe.jpg"; NUL and lone surrogates vanish.
  assert.equal(revealInvisible('a\u202Eb\u0000c\u200Bd'), 'a\\u{202E}b\\u{0000}c\\u{200B}d');
  assert.equal(revealInvisible('x\uD800y'), 'x\\u{D800}y');
  assert.equal(revealInvisible('tab\tnl\n\u00e9\u{1F600}'), 'tab\tnl\n\u00e9\u{1F600}');
});

test('hostile strings from the evidence never reach the markup unescaped', () => {
  const html = renderHtmlReport(hostileResult(), { title: HOSTILE.script, identity: { vmName: HOSTILE.img } });
  // Escaped text keeps words like `onerror=` but never a `<` that opens a tag.
  assertAbsent(html, /<(script|img|iframe|svg|a|object|embed|link|base|form)\b/i);
  assert.equal(html.match(/<style\b/gi)?.length, 1, "only the report's own style element");
  assertAbsent(html, /<[^>]*\son[a-z]+\s*=/i, 'an element with an event handler attribute');
  assert.ok(html.includes('&lt;script&gt;'), 'the script text is shown, escaped');
  assert.ok(html.includes('&quot;&gt;&lt;img'), 'the attribute break-out is shown, escaped');
});

test('the report is self-contained: a CSP that forbids everything but inline style, no resource references', () => {
  const html = renderHtmlReport(hostileResult());
  assert.ok(/^<!DOCTYPE html>/.test(html), 'expected /^<!DOCTYPE html>/');
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`));
  // The CSP must come before anything that could load.
  assert.ok(html.indexOf('Content-Security-Policy') < html.indexOf('<style>'));
  for (const ref of [/<[^>]*\s(src|href|action|srcset|background)\s*=/i, /url\(/i, /@import/i, /<link\b/i, /<script\b/i]) {
    assertAbsent(html, ref);
  }
  const css = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
  assert.ok(css.length > 1000);
  assertAbsent(css, /url\(|@import|@font-face|https?:/i);
});

test('the shown verdict fails closed', () => {
  const base = hostileResult();
  const authentic = [
    { id: 'signature', group: 'signature', status: 'pass', reason: 'ok' },
    { id: 'chain', group: 'chain', status: 'pass', reason: 'ok' },
  ] as const;
  assert.equal(shownVerdict({ ...base, verdict: 'pass', checks: authentic }), 'pass');
  // A "pass" without a passing signature and chain check is not shown as one.
  assert.equal(shownVerdict({ ...base, verdict: 'pass', checks: [authentic[0]] }), 'fail');
  assert.equal(shownVerdict({ ...base, verdict: 'pass', checks: [authentic[1]] }), 'fail');
  // A result that claims pass while a check failed is shown as FAIL, as is an unknown verdict.
  const inconsistent: VerificationResult = { ...base, verdict: 'pass', checks: [{ id: 'policy.debug', group: 'policy', status: 'fail', reason: 'debug' }] };
  assert.equal(shownVerdict(inconsistent), 'fail');
  assert.ok(/<div class="verdict-word">FAIL<\/div>/.test(renderHtmlReport(inconsistent)), 'expected /<div class="verdict-word">FAIL</div>/');
  assert.equal(shownVerdict({ ...base, verdict: 'PASS' as unknown as 'pass', checks: [] }), 'fail');
  // An unknown check status counts as a failure, and inherited property names are not labels.
  const odd: VerificationResult = {
    ...base,
    verdict: 'pass',
    checks: [{ id: 'x', group: '__proto__' as CheckGroup, status: 'ok' as CheckStatus, reason: 'r' }],
  };
  assert.equal(shownVerdict(odd), 'fail');
  const oddHtml = renderHtmlReport(odd);
  assert.ok(oddHtml.includes('<div class="verdict-word">FAIL</div>'));
  assert.ok(oddHtml.includes('unknown status &quot;ok&quot;: r'));
  assert.ok(oddHtml.includes('<th colspan="3" scope="colgroup">__proto__</th>'));
});

test('a result read back from JSON with missing lists still renders', () => {
  const partial = { verdict: 'fail', product: undefined, verifiedAt: 'not a date' } as unknown as VerificationResult;
  const html = renderHtmlReport(partial);
  assert.ok(/No checks were run/.test(html), 'expected /No checks were run/');
  assert.ok(/No certificate could be parsed/.test(html), 'expected /No certificate could be parsed/');
  assert.ok(/not a date/.test(html), 'expected /not a date/');
});

test('TCB table: components in report order, values below the minimum marked', () => {
  const t = tcbTable(
    {
      'cvm-attest-launch-tcb': { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
      'cvm-attest-reported-tcb': { bootloader: 3, tee: 0, snp: 14, microcode: 209, note: 'ignored' },
      'cvm-attest-committed-tcb': { bootloader: 3, tee: 0, snp: 14, microcode: 209 },
      'cvm-attest-product': 'Milan',
    },
    { snp: 10, microcode: 200 },
  );
  assert.deepEqual(
    t.columns.map((c) => c.name),
    ['reported', 'committed', 'launch'],
  );
  assert.deepEqual(t.components, ['bootloader', 'tee', 'snp', 'microcode']);
  assert.equal(t.below.reported?.snp, false);
  assert.equal(t.below.launch?.snp, true);
  assert.equal(t.below.launch?.microcode, true);
  assert.equal(t.below.launch?.bootloader, false, 'no minimum for bootloader');
  // The nested form, and Turin's FMC first.
  const turin = tcbTable({ 'cvm-attest-tcb': { reported: { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 } } }, undefined);
  assert.deepEqual(turin.components, ['fmc', 'bootloader', 'tee', 'snp', 'microcode']);
});

test('the TCB section shows the minimum and marks the component below it', () => {
  const r: VerificationResult = {
    ...hostileResult(),
    claims: { 'cvm-attest-reported-tcb': { bootloader: 3, tee: 0, snp: 8, microcode: 115 } },
    policy: { hash: 'ab'.repeat(32), minimumTcb: { snp: 10 } },
  };
  const html = renderHtmlReport(r);
  assert.ok(
    /<th scope="row">SNP firmware<\/th><td class="num below">.*8 <span class="tag">below minimum<\/span>.*<td class="num min">10<\/td>/.test(html),
    'expected /<th scope="row">SNP firmware</th><td class="num below">.*8 <span class="tag">below minimum</span>.*<td class="num min">10</td>/',
  );
  assert.ok(/<th scope="row">Boot loader<\/th><td class="num">3<\/td>/.test(html), 'expected /<th scope="row">Boot loader</th><td class="num">3</td>/');
});

/**
 * The document's markup with the text taken out: the sequence of tags, attributes included (except
 * the header's `wide` class, which depends on a value's length by design).
 */
function tags(html: string): string[] {
  return (html.match(/<[^>]*>/g) ?? []).map((t) => t.replace(' class="wide"', ''));
}

/** A result whose every evidence-derived string is `s` (dates stay valid so the layout is the same). */
function resultWith(s: string): VerificationResult {
  const h = hostileResult();
  return {
    ...h,
    checks: h.checks.map((c) => ({ ...c, id: `${c.group}.${s}`, reason: s })),
    claims: { 'x-ms-attestation-type': s, [`cvm-attest-${s}`]: s, 'x-ms-runtime': { keys: [{ kid: s }], nested: { deep: [s] } } },
    warnings: [s, s],
    certificates: h.certificates.map((c) => ({ ...c, subject: s, issuer: s, serialNumber: s, sha256: s, notBefore: '2022-01-01T00:00:00Z' })),
    policy: { hash: s },
  };
}

test('property: no string in the evidence changes the markup, only the text', () => {
  const nasty = fc.constantFrom(
    '<',
    '>',
    '&',
    '"',
    "'",
    '<script>',
    '</style>',
    '<!--',
    ']]>',
    '\u202E',
    '\u0000',
    '\uD800',
    '&amp;',
    '`',
    '=',
    ' on',
    '</td></tr></table>',
  );
  const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), nasty);
  const reference = tags(renderHtmlReport(resultWith('x'), { title: 'x', identity: { vmName: 'x' } }));
  fc.assert(
    // Non-empty: an empty policy hash or VM name is left out of the header, by design.
    fc.property(
      fc
        .array(piece, { minLength: 1, maxLength: 8 })
        .map((a) => a.join(''))
        .filter((x) => x !== ''),
      (s) => {
        const html = renderHtmlReport(resultWith(s), { title: s, identity: { vmName: s } });
        assert.deepEqual(tags(html), reference);
      },
    ),
    { numRuns: 300 },
  );
});

test('the verdict says whether freshness was established, and why not', () => {
  const base = hostileResult();
  const withFreshness = (status: CheckStatus, reason: string): string =>
    renderHtmlReport({ ...base, verdict: 'pass', checks: [{ id: 'freshness', group: 'freshness', status, reason }] });
  assert.ok(!withFreshness('pass', 'quote ok').includes('class="verdict-note"'), 'no notice when a fresh quote was verified');
  assert.ok(withFreshness('skip', 'no quote given').includes('no vTPM quote over a fresh nonce was verified'));
  assert.ok(withFreshness('warn', 'evidence replayed from a capture').includes('Freshness was not established now: evidence replayed from a capture'));
  assert.ok(renderHtmlReport({ ...base, checks: [] }).includes('no vTPM quote over a fresh nonce was verified'), 'no freshness check at all');
});

test('the VM id from IMDS is checked against the attested vmUniqueId; other identity fields are labels', () => {
  const base = hostileResult();
  const authentic = [
    { id: 'signature', group: 'signature', status: 'pass', reason: 'ok' },
    { id: 'chain', group: 'chain', status: 'pass', reason: 'ok' },
  ] as const;
  const withRuntime = (vmId: string, checks: VerificationResult['checks'] = authentic): string =>
    renderHtmlReport(
      { ...base, checks, claims: { 'x-ms-runtime': { 'vm-configuration': { vmUniqueId: '390CBCF5-6C67-4D9B-98EF-C3F1699CC8FC' } } } },
      { identity: { vmName: 'cvm-1', vmId } },
    );
  // Evidence whose chain did not verify attests nothing: the id is compared, never called attested.
  const unauth = withRuntime('390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc', [authentic[0], { id: 'chain', group: 'chain', status: 'fail', reason: 'no chain' }]);
  assert.ok(!unauth.includes('attested vmUniqueId'));
  assert.ok(unauth.includes('= the vmUniqueId in the runtime data</span> <span class="tag-unauth">unauthenticated</span>'));
  assert.ok(withRuntime('390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc').includes('<span class="ok">= attested vmUniqueId</span>'));
  const other = withRuntime('00000000-0000-0000-0000-000000000000');
  assert.ok(other.includes('<span class="bad">\u2260 attested vmUniqueId <code>390CBCF5-6C67-4D9B-98EF-C3F1699CC8FC</code></span>'));
  assert.ok(other.includes('labels, not attested'));
  assert.ok(!renderHtmlReport(base).includes('Identity source'), 'no identity, no caption');
});

test('the warning count is the number of warnings listed, whatever their source', () => {
  const base = hostileResult();
  // Two warnings from the result's list, one warn check that list does not carry: three listed, "3 warnings".
  const html = renderHtmlReport({ ...base, checks: [...base.checks, { id: 'crl', group: 'crl', status: 'warn', reason: 'stale' }] });
  const listed = /<section class="warnings"[\s\S]*?<\/section>/.exec(html)?.[0].match(/<li>/g)?.length;
  assert.equal(listed, 3);
  assert.ok(html.includes('<li class="c-warn"><strong>3</strong> warnings</li>'));
  // No warning anywhere: "0 warnings" and no section.
  const none = renderHtmlReport({ ...base, warnings: [] });
  assert.ok(none.includes('<strong>0</strong> warnings'));
  assert.ok(!none.includes('class="warnings"'));
});

test('policy rules, evidence digest and nonce are listed (escaped); an older result without them says so', () => {
  const html = renderHtmlReport(hostileResult());
  assert.ok(html.includes('<section aria-label="Policy">'));
  assert.ok(/<th scope="row"><code>allowDebug<\/code><\/th><td><code>false<\/code><\/td>/.test(html));
  assert.ok(/<th scope="row"><code>minimumTcb<\/code><\/th><td><code>snp 10<\/code><\/td>/.test(html));
  const old = renderHtmlReport({ ...hostileResult(), policy: { hash: 'ab'.repeat(32) }, evidence: undefined });
  assert.ok(old.includes('does not record the policy\u2019s rules, only its hash'));
  assert.ok(/Evidence \(SHA-256\)<\/dt><dd><span class="muted">not recorded in this result/.test(old));
});
