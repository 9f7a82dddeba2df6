// The HTML report's "Guest" section: how freshness was shown, the vTPM AK certificate, and the boot
// state replayed from the TCG event log. Reads claims and checks defensively (a result may come back
// from JSON) and escapes every value: they come from evidence.
import type { CheckResult, VerificationResult } from '../result/result.js';
import { escapeHtml as esc } from './escape.js';

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const badge = (c: CheckResult | undefined): string => {
  const s = c?.status ?? 'skip';
  const cls = s === 'pass' ? 'b-pass' : s === 'fail' ? 'b-fail' : s === 'warn' ? 'b-warn' : 'b-skip';
  return `<span class="badge ${cls}">${esc(s.toUpperCase())}</span>`;
};
const row = (k: string, v: string): string => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`;
const code = (v: string): string => `<code>${esc(v)}</code>`;

/** `unauthenticated`: the report's signature or chain did not verify, so what follows is only what the evidence claims. */
export function renderGuest(result: VerificationResult, unauthenticated = false): string {
  const checks: readonly CheckResult[] = Array.isArray(result.checks) ? result.checks : [];
  const c = result.claims ?? {};
  const fresh = checks.find((x) => x.group === 'freshness');
  const akCheck = checks.find((x) => x.group === 'ak-certificate');
  const logCheck = checks.find((x) => x.group === 'event-log');
  if (!fresh && !akCheck && !logCheck) return '';
  const by = str(c['cvm-attest-fresh-by']);
  const rows: string[] = [];
  rows.push(
    row('Freshness', `${badge(fresh)} ${by ? `fresh by <strong>${esc(by)}</strong>` : 'not shown fresh'}${fresh ? ` &middot; ${esc(fresh.reason)}` : ''}`),
  );
  const ak = obj(c['cvm-attest-ak-certificate']);
  rows.push(row('vTPM AK certificate', `${badge(akCheck)} ${akCheck ? esc(akCheck.reason) : 'not checked'}`));
  if (ak) {
    for (const [k, label] of [
      ['subject', 'AK subject'],
      ['issuer', 'AK issuer'],
      ['notBefore', 'AK valid from'],
      ['notAfter', 'AK valid until'],
      ['sha256', 'AK certificate SHA-256'],
    ] as const) {
      const v = str(ak[k]);
      if (v) rows.push(row(label, code(v)));
    }
  }
  rows.push(row('TCG event log', `${badge(logCheck)} ${logCheck ? esc(logCheck.reason) : 'not checked'}`));
  const pcrs = c['x-ms-azurevm-attested-pcrs'];
  if (Array.isArray(pcrs)) rows.push(row('Quoted PCRs', esc(pcrs.filter((x) => typeof x === 'number').join(', '))));
  const log = obj(c['cvm-attest-event-log']);
  if (log) {
    const sb = log.secureBoot;
    rows.push(row('Secure Boot', sb === true ? '<span class="ok">on</span>' : sb === false ? '<span class="bad">OFF</span>' : 'not measured'));
    const dbg = log.firmwareDebugMode;
    if (typeof dbg === 'boolean') rows.push(row('Firmware debug mode', dbg ? '<span class="bad">ON</span>' : '<span class="ok">off</span>'));
    const vars = obj(log.secureBootVariables) ?? {};
    for (const k of ['PK', 'KEK', 'db', 'dbx']) {
      const v = str(vars[k]);
      if (v) rows.push(row(`${k} (SHA-256)`, `<code class="hash">${esc(v)}</code>`));
    }
    const apps = Array.isArray(log.bootApplications) ? log.bootApplications.filter((x): x is string => typeof x === 'string') : [];
    rows.push(
      row('Boot applications (PCR 4)', apps.length ? `<ol>${apps.map((a) => `<li><code class="hash">${esc(a)}</code></li>`).join('')}</ol>` : 'none measured'),
    );
    const cmd = str(log.kernelCmdline);
    rows.push(row('Kernel command line (PCR 8)', cmd !== undefined ? code(cmd) : 'not measured in the quoted PCRs'));
  }
  const tag = unauthenticated ? ' <span class="tag-unauth">unauthenticated</span>' : '';
  const unauthNote = unauthenticated
    ? ' The evidence is unauthenticated (its signature or certificate chain did not verify): these are only the values it claims.'
    : '';
  return `<section aria-label="Guest"${unauthenticated ? ' class="unauth-section"' : ''}>
<h2>Guest${tag}</h2>
<p class="lede${unauthenticated ? ' unauth-note' : ''}">What the evidence proves about the guest beyond the platform: freshness (the report\u2019s own user data, or a vTPM quote, over the verifier\u2019s nonce), Azure\u2019s certificate for the vTPM attestation key, and the boot state taken from the TCG event log only as far as it replays to the quoted PCRs.${unauthNote}</p>
<dl class="guest">
${rows.join('\n')}
</dl>
</section>`;
}
