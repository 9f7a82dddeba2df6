// The HTML report of a TDX result: the TD section (measurements, TCB status, advisories, collateral
// dates), Intel's certificates, and hostile strings escaped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtmlReport } from '../../src/report/html.js';
import { tdxResult } from './helpers.js';

describe('HTML report, Intel TDX', () => {
  it('shows the TD measurements, TCB status with advisories and the collateral dates', () => {
    const r = tdxResult();
    const html = renderHtmlReport(r, { generatedAt: new Date('2025-03-01T00:00:00Z') });
    assert.match(html, /Intel TDX trust domain/);
    assert.ok(html.includes(String(r.claims.tdx_mrtd)));
    assert.match(html, /TCB status <strong class="below">OutOfDate<\/strong> for FMSPC <code>00806f050000<\/code>/);
    assert.match(html, /INTEL-SA-00960/);
    assert.match(html, /TCB info \(FMSPC 00806f050000, evaluation data 17\)<\/th><td>2025-02-13T03:50:41.000Z<\/td><td>2025-03-15T03:50:41.000Z/);
    assert.match(html, /Pinned Intel root/);
    assert.match(html, /Intel Xeon \(TDX\)/);
    assert.ok(html.includes(`TD quote (SHA-256)</dt><dd><code class="hash">${r.evidence!.tdQuoteSha256}</code>`));
    assert.ok(html.includes(`<code class="hash">${r.evidence!.sha256}</code>`));
    assert.doesNotMatch(html, /not recorded in this result/);
  });
  it('escapes what comes from evidence', () => {
    const r = tdxResult();
    const hostile = { ...r, claims: { ...r.claims, tdx_mrtd: '<script>alert(1)</script>' }, tdx: { ...r.tdx!, advisoryIds: ['"><img src=x>'] } };
    const html = renderHtmlReport(hostile);
    assert.ok(!html.includes('<script>alert'));
    assert.ok(!html.includes('<img src=x>'));
    assert.ok(html.includes('&lt;script&gt;'));
  });
});
