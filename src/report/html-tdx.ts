// The HTML report's Intel TDX section: the TD's measurements, the TCB status with Intel's advisory ids
// and the dates of the collateral that judged it. Every value comes from evidence or collateral: escaped.
import type { VerificationResult } from '../result/result.js';
import { escapeHtml as esc } from './escape.js';

export function renderTdxSection(result: VerificationResult, authenticated = true): string {
  if (result.platform !== 'TDX') return '';
  const c = result.claims ?? {};
  const t = result.tdx;
  const s = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '\u2014');
  const rows: [string, string][] = [
    ['MRTD', s(c.tdx_mrtd)],
    ['RTMR0', s(c.tdx_rtmr0)],
    ['RTMR1', s(c.tdx_rtmr1)],
    ['RTMR2', s(c.tdx_rtmr2)],
    ['RTMR3', s(c.tdx_rtmr3)],
    ['MRCONFIGID', s(c.tdx_mrconfigid)],
    ['MROWNER', s(c.tdx_mrowner)],
    ['MROWNERCONFIG', s(c.tdx_mrownerconfig)],
    ['MRSEAM (TDX module)', s(c.tdx_mrseam)],
    ['TEE_TCB_SVN', s(c.tdx_tee_tcb_svn)],
    ['TD attributes', `${s(c.tdx_td_attributes)}${c.tdx_td_attributes_debug === true ? ' (DEBUG: the host can read and change TD memory)' : ''}`],
    ['XFAM', s(c.tdx_xfam)],
  ];
  const measurements = rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td><code class="hash">${esc(v)}</code></td></tr>`).join('\n');
  const advisories = t?.advisoryIds.length ? t.advisoryIds.map((a) => `<code>${esc(a)}</code>`).join(', ') : 'none';
  const status = t?.tcbStatus ?? 'undetermined';
  const collateral = (t?.collateral ?? [])
    .map((d) => `<tr><th scope="row">${esc(d.what)}</th><td>${esc(d.issueDate ?? '\u2014')}</td><td>${esc(d.nextUpdate ?? '\u2014')}</td></tr>`)
    .join('\n');
  return `<section aria-label="Intel TDX">
<h2>Intel TDX trust domain</h2>${authenticated ? '' : '\n<p class="lede unauth-note">The quote or its chain did NOT verify: these values are shown as supplied, not attested.</p>'}
<p class="lede">TCB status <strong class="${status === 'UpToDate' ? 'ok' : 'below'}">${esc(status)}</strong>${t?.fmspc ? ` for FMSPC <code>${esc(t.fmspc)}</code>` : ''}${t?.tdxModule ? `, TDX module ${esc(t.tdxModule)}` : ''}${t?.qeTcbStatus ? `, Quoting Enclave ${esc(t.qeTcbStatus)}` : ''}. Intel advisories: ${advisories}.</p>
<table class="claims">
<tbody>
${measurements}
</tbody>
</table>
<h3>Collateral</h3>
${collateral ? `<table class="claims">\n<thead><tr><th scope="col">Signed by Intel</th><th scope="col">Issued</th><th scope="col">Next update</th></tr></thead>\n<tbody>\n${collateral}\n</tbody>\n</table>` : '<p class="empty">No collateral was verified.</p>'}
</section>`;
}
