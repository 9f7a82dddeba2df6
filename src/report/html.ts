// Renders a VerificationResult as one self-contained HTML file: an audit artefact a person can read,
// print and archive. Pure (no I/O, no clock unless given one). No scripts and no network resources:
// inline CSS only, and a CSP that forbids everything else, so the file behaves the same offline, in a
// mail client or in a browser years later. Every evidence-derived string is escaped (see escape.ts).
import { renderTdxSection } from './html-tdx.js';
import { checkGroupIndex } from '../result/check-groups.js';
import type { CertificateInfo, CheckGroup, CheckResult, CheckStatus, Claims, VerificationResult } from '../result/result.js';
import { escapeHtml as esc } from './escape.js';
import { tcbTable } from './tcb.js';
import { renderGuest } from './guest-html.js';
import { compareText } from '../base/text-order.js';

/** Who the report is about; shown under the title. Keys beyond the known ones are shown as given. */
export interface ReportIdentity {
  readonly vmId?: string;
  readonly vmName?: string;
  readonly resourceId?: string;
  readonly location?: string;
  readonly vmSize?: string;
  readonly [key: string]: string | undefined;
}

export interface HtmlReportOptions {
  /** Document title (default "Attestation report"). */
  readonly title?: string;
  readonly identity?: ReportIdentity;
  /** When the report was rendered; omitted from the report when not given (keeps rendering pure). */
  readonly generatedAt?: Date;
}

const GROUP_LABELS: Readonly<Record<CheckGroup, string>> = {
  structure: 'Report structure',
  signature: 'Report signature',
  chain: 'Certificate chain',
  tcb: 'TCB versions',
  'chip-id': 'Chip identity',
  crl: 'Revocation (CRL)',
  collateral: 'Intel collateral (TCB info, QE identity)',
  'runtime-data': 'Runtime data binding',
  freshness: 'Freshness (report user data / vTPM quote)',
  'ak-certificate': 'vTPM AK certificate',
  'event-log': 'TCG event log',
  policy: 'Policy',
};

const STATUS_LABELS: Readonly<Record<CheckStatus, string>> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };
const STATUS_MARKS: Readonly<Record<CheckStatus, string>> = { pass: '\u2713', fail: '\u2717', warn: '!', skip: '\u2013' };

const COUNT_LABELS: Readonly<Record<CheckStatus, (n: number) => string>> = {
  pass: () => 'passed',
  fail: () => 'failed',
  warn: (n) => (n === 1 ? 'warning' : 'warnings'),
  skip: () => 'skipped',
};

const IDENTITY_LABELS: Readonly<Record<string, string>> = {
  vmName: 'VM name',
  vmId: 'VM id',
  resourceId: 'Resource id',
  location: 'Location',
  vmSize: 'Size',
};

const ROLE_ORDER: readonly CertificateInfo['role'][] = ['VCEK', 'VLEK', 'ASK', 'ASVK', 'ARK', 'PCK', 'PCK-CA', 'SGX-ROOT', 'TCB-SIGNING'];
const ROLE_LABELS: Readonly<Record<CertificateInfo['role'], string>> = {
  VCEK: 'Versioned Chip Endorsement Key',
  VLEK: 'Versioned Loaded Endorsement Key',
  ASK: 'AMD SEV Signing Key',
  ASVK: 'AMD SEV VLEK Signing Key',
  ARK: 'AMD Root Key',
  PCK: 'Intel SGX PCK Certificate',
  'PCK-CA': 'Intel SGX PCK CA',
  'SGX-ROOT': 'Intel SGX Root CA',
  'TCB-SIGNING': 'Intel SGX TCB Signing',
};

const TCB_LABELS: Readonly<Record<string, string>> = {
  fmc: 'FMC',
  bootloader: 'Boot loader',
  tee: 'TEE (PSP OS)',
  snp: 'SNP firmware',
  microcode: 'Microcode',
};

/** A label from a fixed table; never an inherited property (`__proto__`, `constructor`) of a hostile key. */
function label(table: Readonly<Record<string, string>>, key: string, fallback: string): string {
  return Object.hasOwn(table, key) ? (table[key] ?? fallback) : fallback;
}

/** `2026-11-28T14:52:52.000Z` -> `2026-11-28 14:52:52 UTC`; anything unparsable is shown as given. */
function formatTime(value: string | Date | undefined): string {
  if (value === undefined) return '\u2014';
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(t)) return esc(String(value));
  return esc(
    new Date(t)
      .toISOString()
      .replace('T', ' ')
      .replace(/(\.\d+)?Z$/, ' UTC'),
  );
}

function statusBadge(status: CheckStatus): string {
  const s: CheckStatus = Object.hasOwn(STATUS_LABELS, status) ? status : 'fail';
  return `<span class="badge b-${s}"><span aria-hidden="true">${STATUS_MARKS[s]}</span> ${STATUS_LABELS[s]}</span>`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2) ?? String(v);
  } catch {
    return String(v);
  }
}

function claimValue(v: unknown): string {
  if (typeof v === 'string') return `<code>${esc(v)}</code>`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `<code>${esc(String(v))}</code>`;
  if (v === null || v === undefined) return `<code>${String(v)}</code>`;
  // A flat object (guest policy bits, a TCB, CPUID) reads best as a compact key/value list.
  if (!Array.isArray(v) && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > 0 && entries.length <= 24 && entries.every(([, x]) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) {
      return `<dl class="kv">${entries.map(([k, x]) => `<div><dt>${esc(k)}</dt><dd><code>${esc(String(x))}</code></dd></div>`).join('')}</dl>`;
    }
  }
  return `<pre>${esc(jsonText(v))}</pre>`;
}

function countStatuses(checks: readonly CheckResult[]): Record<CheckStatus, number> {
  const n: Record<CheckStatus, number> = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of checks) if (Object.hasOwn(n, c.status)) n[c.status] += 1;
  return n;
}

function sortedChecks(checks: readonly CheckResult[]): CheckResult[] {
  // Stable: the verifier's own order within a group.
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => checkGroupIndex(a.c.group) - checkGroupIndex(b.c.group) || a.i - b.i)
    .map((x) => x.c);
}

/**
 * Whether the evidence is authenticated: its signature verifies with a key whose chain reaches the
 * pinned AMD root. Until both hold, every value read from the evidence is only what its supplier wrote.
 */
interface Authenticity {
  readonly ok: boolean;
  readonly signatureOk: boolean;
  readonly chainOk: boolean;
  /** Why not, one clause per failed or missing check (empty when ok). */
  readonly why: readonly string[];
}

function authenticity(checks: readonly CheckResult[]): Authenticity {
  const held = (g: CheckGroup): boolean => {
    const cs = checks.filter((c) => c.group === g);
    return cs.length > 0 && cs.every((c) => c.status === 'pass');
  };
  const signatureOk = held('signature');
  const chainOk = held('chain');
  const why: string[] = [];
  if (!signatureOk) why.push('the SNP report\u2019s signature did not verify');
  if (!chainOk) why.push('the signing key\u2019s certificate chain to the AMD root pinned in cvm-attest did not verify');
  return { ok: signatureOk && chainOk, signatureOk, chainOk, why };
}

/** A pass that stands on its own even when the evidence is not authenticated (byte structure; a genuine chain). */
function passIsAuthentic(c: CheckResult, a: Authenticity): boolean {
  return a.ok || c.group === 'structure' || (c.group === 'chain' && a.chainOk);
}

const UNAUTH_TAG = '<span class="tag-unauth">unauthenticated</span>';

/** Every warning: the result's list plus any warn check it does not already carry, so count and list agree. */
function allWarnings(result: VerificationResult): string[] {
  const list = [...(result.warnings ?? [])].map(String);
  for (const c of result.checks) {
    const line = `${c.id}: ${c.reason}`;
    if (c.status === 'warn' && !list.includes(line)) list.push(line);
  }
  return list;
}

/** The `vmUniqueId` the paravisor signed into the runtime data (HCL reports whose binding held). */
function attestedVmId(claims: Claims): string | undefined {
  const rt = claims['x-ms-runtime'];
  const cfg = rt !== null && typeof rt === 'object' ? (rt as Record<string, unknown>)['vm-configuration'] : undefined;
  const id = cfg !== null && typeof cfg === 'object' ? (cfg as Record<string, unknown>)['vmUniqueId'] : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function renderHeader(result: VerificationResult, options: HtmlReportOptions, auth: Authenticity): string {
  // [label, value html, full width]
  const rows: [string, string, boolean][] = [];
  const identity = options.identity ?? {};
  const signedVmId = attestedVmId(result.claims);
  let shown = 0;
  for (const [k, v] of Object.entries(identity)) {
    if (typeof v !== 'string' || v === '') continue;
    shown += 1;
    // IMDS names are labels; only the VM id can be tied to the evidence, through the signed runtime data.
    let bound = '';
    if (k === 'vmId' && signedVmId !== undefined) {
      const same = v.toLowerCase() === signedVmId.toLowerCase();
      bound = auth.ok
        ? same
          ? ' <span class="ok">= attested vmUniqueId</span>'
          : ` <span class="bad">\u2260 attested vmUniqueId <code>${esc(signedVmId)}</code></span>`
        : same
          ? ` <span class="muted">= the vmUniqueId in the runtime data</span> ${UNAUTH_TAG}`
          : ` <span class="bad">\u2260 the vmUniqueId in the runtime data <code>${esc(signedVmId)}</code></span> ${UNAUTH_TAG}`;
    }
    rows.push([esc(label(IDENTITY_LABELS, k, k)), `<code>${esc(v)}</code>${bound}`, v.length > 40 || bound !== '']);
  }
  if (shown > 0) {
    const checked = typeof identity.vmId === 'string' && identity.vmId !== '' && signedVmId !== undefined;
    rows.push([
      'Identity source',
      `<span class="muted">Azure IMDS, as the VM saw it: labels, not attested${checked ? `; the VM id is compared with the vmUniqueId ${auth.ok ? 'signed into' : 'claimed by'} the runtime data` : ''}</span>`,
      true,
    ]);
  }
  rows.push(['Evaluated at', formatTime(result.verifiedAt), false]);
  if (options.generatedAt) rows.push(['Report generated', formatTime(options.generatedAt), false]);
  rows.push(['Processor', result.platform === 'TDX' ? 'Intel Xeon (TDX)' : result.product ? esc(`AMD EPYC (${result.product})`) : 'unknown', false]);
  const ev = result.evidence;
  rows.push([
    'Evidence (SHA-256)',
    typeof ev?.sha256 === 'string' ? `<code class="hash">${esc(ev.sha256)}</code>` : '<span class="muted">not recorded in this result</span>',
    true,
  ]);
  if (typeof ev?.tdQuoteSha256 === 'string') rows.push(['TD quote (SHA-256)', `<code class="hash">${esc(ev.tdQuoteSha256)}</code>`, true]);
  rows.push([
    'Quote nonce',
    typeof ev?.nonce === 'string'
      ? `<code class="hash">${esc(ev.nonce)}</code>`
      : `<span class="muted">${ev ? 'none: no vTPM quote was given' : 'not recorded in this result'}</span>`,
    true,
  ]);
  if (result.policy?.hash) rows.push(['Policy (SHA-256)', `<code class="hash">${esc(result.policy.hash)}</code>`, true]);
  return `<header class="doc-head">
<p class="eyebrow">cvm-attest &middot; ${result.platform === 'TDX' ? 'Intel TDX' : 'AMD SEV-SNP'} confidential VM attestation</p>
<h1>${esc(options.title ?? 'Attestation report')}</h1>
<dl class="meta">${rows.map(([k, v, wide]) => `<div${wide ? ' class="wide"' : ''}><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>
</header>`;
}

/**
 * The verdict the report shows: PASS only when the result says pass, every check passed, warned or
 * was skipped, and the signature and chain checks are there and passed, so a malformed or
 * inconsistent result can never be displayed as a pass.
 */
export function shownVerdict(result: VerificationResult): 'pass' | 'fail' {
  const ok = (c: CheckResult): boolean => c.status === 'pass' || c.status === 'warn' || c.status === 'skip';
  return result.verdict === 'pass' && Array.isArray(result.checks) && result.checks.every(ok) && authenticity(result.checks).ok ? 'pass' : 'fail';
}

function renderVerdict(result: VerificationResult, auth: Authenticity): string {
  const n = countStatuses(result.checks);
  n.warn = allWarnings(result).length;
  const pass = shownVerdict(result) === 'pass';
  const failing = result.checks.filter((c) => c.status === 'fail');
  const freshness = result.checks.filter((c) => c.group === 'freshness');
  const fresh = freshness.length > 0 && freshness.every((c) => c.status === 'pass');
  const summary = pass
    ? `The evidence was verified against the pinned ${result.platform === 'TDX' ? 'Intel SGX' : 'AMD'} root and accepted by the policy.`
    : failing.length > 0
      ? `${plural(failing.length, 'check')} failed. The evidence must not be relied on.`
      : 'The verdict is FAIL. The evidence must not be relied on.';
  const notes: string[] = [];
  const replayed = freshness.find((c) => c.status === 'warn');
  if (replayed) {
    notes.push(`Freshness was not established now: ${replayed.reason}`);
  } else if (!fresh) {
    notes.push('Freshness was not established: no vTPM quote over a fresh nonce was verified, so this evidence could have been recorded at any earlier boot.');
  }
  const counts = (['pass', 'fail', 'warn', 'skip'] as const)
    .map(
      (s) =>
        `<li class="c-${s}"><strong>${n[s]}</strong> ${COUNT_LABELS[s](n[s])}${s === 'pass' && !auth.ok && n.pass > 0 ? ' (on unauthenticated evidence)' : ''}</li>`,
    )
    .join('');
  return `<section class="verdict ${pass ? 'v-pass' : 'v-fail'}" aria-label="Verdict">
<div class="verdict-word">${pass ? 'PASS' : 'FAIL'}</div>
<div class="verdict-text">
<p class="verdict-summary">${esc(summary)}</p>
<ul class="counts">${counts}</ul>
${notes.map((t) => `<p class="verdict-note">${esc(t)}</p>`).join('\n')}
</div>
</section>`;
}

function renderUnauthenticated(auth: Authenticity): string {
  if (auth.ok) return '';
  const why = auth.why.join(', and ');
  return `<section class="unauthenticated" role="alert" aria-label="Unauthenticated evidence">
<h2>Evidence NOT AUTHENTICATED</h2>
<p>${esc(why.charAt(0).toUpperCase() + why.slice(1))}. Everything this report shows from the evidence (TCB versions, chip id, guest policy, measurements, runtime data, the policy results and the claims) is only what the evidence says, not what an AMD Secure Processor attested: whoever supplied it could have written every value. Each such part is marked <strong>unauthenticated</strong>.</p>
</section>`;
}

function renderFailures(result: VerificationResult): string {
  const failing = result.checks.filter((c) => c.status === 'fail');
  if (failing.length === 0) return '';
  return `<section class="failures" aria-label="Failed checks">
<h2>Failed checks</h2>
<ul>${failing.map((c) => `<li><code class="check-id">${esc(c.id)}</code> <span class="reason">${esc(c.reason)}</span></li>`).join('')}</ul>
</section>`;
}

function renderChecks(result: VerificationResult, auth: Authenticity): string {
  const rows: string[] = [];
  let group: string | undefined;
  for (const c of sortedChecks(result.checks)) {
    if (c.group !== group) {
      group = c.group;
      rows.push(`<tr class="group-row"><th colspan="3" scope="colgroup">${esc(label(GROUP_LABELS, c.group, c.group))}</th></tr>`);
    }
    // A pass on unauthenticated data is not green: it says what the evidence claims, not what is true.
    const unauth = c.status === 'pass' && !passIsAuthentic(c, auth);
    const badge = unauth ? `<span class="badge b-unauth"><span aria-hidden="true">?</span> PASS</span> ${UNAUTH_TAG}` : statusBadge(c.status);
    rows.push(
      `<tr class="row-${esc(c.status)}${unauth ? ' row-unauth' : ''}"><td class="st">${badge}</td><td><code class="check-id">${esc(c.id)}</code></td><td class="reason">${esc(c.reason)}</td></tr>`,
    );
  }
  const body = rows.length > 0 ? rows.join('\n') : '<tr><td colspan="3" class="empty">No checks were run.</td></tr>';
  return `<section aria-label="Checks">
<h2>Checks</h2>${auth.ok ? '' : '\n<p class="lede unauth-note">A PASS marked unauthenticated holds only for the values the evidence claims: its signature or chain did not verify.</p>'}
<table class="checks">
<colgroup><col class="c-status"><col class="c-id"><col></colgroup>
<thead><tr><th scope="col">Result</th><th scope="col">Check</th><th scope="col">Reason</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
</section>`;
}

function renderTcb(result: VerificationResult, auth: Authenticity): string {
  const t = tcbTable(result.claims ?? {}, result.policy?.minimumTcb);
  if (t.columns.length === 0 && !t.minimum) return '';
  const head = t.columns.map((c) => `<th scope="col">${esc(c.name.charAt(0).toUpperCase() + c.name.slice(1))}</th>`).join('');
  const rows = t.components
    .map((k) => {
      const cells = t.columns
        .map((c) => {
          const v = c.values[k];
          if (v === undefined) return '<td class="num">\u2014</td>';
          return t.below[c.name]?.[k]
            ? `<td class="num below"><span class="below-mark">${v} <span class="tag">below minimum</span></span></td>`
            : `<td class="num">${v}</td>`;
        })
        .join('');
      const min = t.minimum?.[k];
      return `<tr><th scope="row">${esc(label(TCB_LABELS, k, k))}</th>${cells}<td class="num min">${min === undefined ? '\u2014' : min}</td></tr>`;
    })
    .join('\n');
  const note = t.minimum
    ? 'Values below the policy\u2019s minimum are marked. The policy judges REPORTED_TCB (and COMMITTED_TCB when it says so); its verdict is the policy check above.'
    : 'The policy sets no minimum TCB.';
  const source = auth.ok
    ? 'Security patch levels of each firmware component as the AMD Secure Processor reported them.'
    : 'Security patch levels as the evidence claims them, unauthenticated: its signature or certificate chain did not verify, so nothing shows an AMD Secure Processor reported these values.';
  return `<section aria-label="TCB versions"${auth.ok ? '' : ' class="unauth-section"'}>
<h2>TCB versions${auth.ok ? '' : ` ${UNAUTH_TAG}`}</h2>
<p class="lede${auth.ok ? '' : ' unauth-note'}">${esc(source)} ${esc(note)}</p>
<table class="tcb">
<thead><tr><th scope="col">Component</th>${head}<th scope="col">Policy minimum</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

/** What each policy rule means (extension/policy.schema.json); a rule not listed here is shown by name only. */
const RULE_LABELS: Readonly<Record<string, string>> = {
  allowDebug: 'accept a guest policy with DEBUG set',
  maxVmpl: 'highest VMPL accepted',
  allowMigrationAgent: 'accept a guest with a migration agent',
  allowVlek: 'accept reports signed by a VLEK (not only a VCEK)',
  requireRuntimeDataBinding: 'HCL runtime data must hash to REPORT_DATA',
  requireFreshness: 'require a vTPM quote over a fresh nonce',
  minimumTcb: 'minimum REPORTED_TCB per component',
  minimumTcbCommitted: 'the minimum TCB also applies to COMMITTED_TCB',
  minimumGuestSvn: 'minimum guest SVN',
  allowedMeasurements: 'allowed launch measurements',
  allowedHostData: 'allowed HOST_DATA values',
  allowedIdKeyDigests: 'allowed ID key digests',
  allowedFamilyIds: 'allowed family ids',
  allowedImageIds: 'allowed image ids',
  allowedProducts: 'allowed processor products',
  minimumFirmwareVersion: 'minimum SNP firmware version (CURRENT)',
  crl: 'use of AMD CRLs: off, warn or enforce',
};

function ruleValue(v: unknown): string {
  if (Array.isArray(v)) return v.map((x) => `<code>${esc(String(x))}</code>`).join(', ');
  if (v !== null && typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `<code>${esc(k)} ${esc(String(x))}</code>`)
      .join(', ');
  return `<code>${esc(String(v))}</code>`;
}

function renderPolicy(result: VerificationResult): string {
  const rules = result.policy?.rules;
  const hash = result.policy?.hash ? `<p class="lede">SHA-256 of its canonical JSON: <code class="hash">${esc(result.policy.hash)}</code></p>` : '';
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) {
    return `<section aria-label="Policy">
<h2>Policy</h2>
${hash}<p class="empty">This result does not record the policy\u2019s rules, only its hash.</p>
</section>`;
  }
  const rows = Object.entries(rules)
    .map(([k, v]) => `<tr><th scope="row"><code>${esc(k)}</code></th><td>${ruleValue(v)}</td><td class="muted">${esc(label(RULE_LABELS, k, ''))}</td></tr>`)
    .join('\n');
  return `<section aria-label="Policy">
<h2>Policy</h2>
<p class="lede">The rules the evidence was judged by, defaults filled in; a rule not set by the policy file has its default value.</p>
${hash}<table class="rules">
<thead><tr><th scope="col">Rule</th><th scope="col">Value</th><th scope="col">Meaning</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

function validAt(cert: CertificateInfo, at: string): 'yes' | 'no' | 'unknown' {
  const t = Date.parse(at);
  const a = Date.parse(cert.notBefore);
  const b = Date.parse(cert.notAfter);
  if ([t, a, b].some(Number.isNaN)) return 'unknown';
  return a <= t && t <= b ? 'yes' : 'no';
}

function renderCertificates(result: VerificationResult, auth: Authenticity): string {
  const certs = [...(result.certificates ?? [])].sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role));
  if (certs.length === 0) {
    return `<section aria-label="Certificate chain"><h2>Certificate chain</h2><p class="empty">No certificate could be parsed.</p></section>`;
  }
  const cards = certs
    .map((c, i) => {
      const valid = validAt(c, result.verifiedAt);
      const leaf = c.role === 'VCEK' || c.role === 'VLEK';
      // The badge says what this certificate is worth for this report: only a verified chain makes it trusted.
      const anchor =
        c.role === 'SGX-ROOT'
          ? c.pinned
            ? auth.chainOk
              ? '<span class="badge b-pass">Pinned Intel root</span>'
              : '<span class="badge b-skip">Equals the pinned Intel root; the chain to it did not verify</span>'
            : '<span class="badge b-fail">Not the pinned Intel root</span>'
          : c.role === 'ARK'
            ? c.pinned
              ? auth.chainOk
                ? '<span class="badge b-pass">Pinned AMD root</span>'
                : '<span class="badge b-skip">Equals the pinned AMD root; the chain to it did not verify</span>'
              : '<span class="badge b-fail">Not the pinned AMD root</span>'
            : !auth.chainOk
              ? '<span class="badge b-fail">Not verified: no valid chain to the pinned AMD root</span>'
              : leaf && !auth.signatureOk
                ? '<span class="badge b-fail">Did not sign this report</span>'
                : '';
      // Dates alone prove nothing: green only when the whole evidence is authenticated.
      const validity =
        valid === 'yes'
          ? auth.ok
            ? '<span class="ok">valid at evaluation time</span>'
            : '<span class="muted">dates cover the evaluation time</span>'
          : valid === 'no'
            ? '<span class="bad">NOT valid at evaluation time</span>'
            : '<span class="bad">validity unknown</span>';
      const bad = (c.role === 'ARK' && !c.pinned) || (!auth.chainOk && c.role !== 'ARK') || (leaf && !auth.signatureOk);
      const link = i < certs.length - 1 ? '<div class="chain-link" aria-hidden="true">issued by \u25BC</div>' : '';
      return `<article class="cert${bad ? ' cert-bad' : ''}">
<header><span class="role">${esc(c.role)}</span> <span class="role-name">${esc(label(ROLE_LABELS, c.role, ''))}</span> ${anchor}</header>
<dl>
<div><dt>Subject</dt><dd><code>${esc(c.subject)}</code></dd></div>
<div><dt>Issuer</dt><dd><code>${esc(c.issuer)}</code></dd></div>
<div><dt>Serial</dt><dd><code>${esc(c.serialNumber)}</code></dd></div>
<div><dt>Validity</dt><dd>${formatTime(c.notBefore)} \u2192 ${formatTime(c.notAfter)} &middot; ${validity}</dd></div>
<div><dt>SHA-256</dt><dd><code class="hash fp">${esc(c.sha256)}</code></dd></div>
</dl>
</article>${link}`;
    })
    .join('\n');
  return `<section aria-label="Certificate chain">
<h2>Certificate chain</h2>
<p class="lede">${result.platform === 'TDX' ? 'The PCK certificate (which signed the Quoting Enclave\u2019s report) up to Intel\u2019s root, and the TCB signing certificate of the collateral. Only a root whose key equals the Intel SGX Root CA pinned in cvm-attest is trusted.' : 'The report\u2019s signing key up to AMD\u2019s root. Only an ARK equal to the root pinned in cvm-attest is trusted; an ARK supplied with the evidence is never used as an anchor.'} Fingerprints are SHA-256 over each certificate\u2019s DER encoding.</p>${
    !auth.chainOk
      ? '\n<p class="lede unauth-note">The chain did NOT verify: these certificates are shown as supplied, and none of them is trusted.</p>'
      : !auth.signatureOk
        ? '\n<p class="lede unauth-note">The chain verified, but the report\u2019s signature does not verify with its key: the report was altered, or signed by another chip.</p>'
        : ''
  }
<div class="chain">
${cards}
</div>
</section>`;
}

function renderWarnings(result: VerificationResult): string {
  const warnings = allWarnings(result);
  if (warnings.length === 0) return '';
  return `<section class="warnings" aria-label="Warnings">
<h2>Warnings</h2>
<ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>
</section>`;
}

function claimRank(k: string): number {
  if (k === 'x-ms-attestation-type') return 0;
  if (k.startsWith('x-ms-')) return 1;
  if (k.startsWith('cvm-attest-')) return 2;
  return 3;
}

function renderClaims(claims: Claims, auth: Authenticity): string {
  const keys = Object.keys(claims).sort((a, b) => claimRank(a) - claimRank(b) || compareText(a, b));
  if (keys.length === 0) return '';
  const rows = keys.map((k) => `<tr><th scope="row"><code>${esc(k)}</code></th><td>${claimValue(claims[k])}</td></tr>`).join('\n');
  return `<section aria-label="Claims"${auth.ok ? '' : ' class="unauth-section"'}>
<h2>Claims${auth.ok ? '' : ` ${UNAUTH_TAG}`}</h2>${auth.ok ? '' : '\n<p class="lede unauth-note">Unauthenticated: these values are read from evidence whose signature or certificate chain did not verify.</p>'}
<p class="lede"><code>x-ms-*</code> claims use the names and value formats of Microsoft Azure Attestation (MAA) tokens, but were produced locally from the evidence, not by MAA. <code>cvm-attest-*</code> claims are this verifier\u2019s own.</p>
<table class="claims">
<thead><tr><th scope="col">Claim</th><th scope="col">Value</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

function renderFooter(result: VerificationResult): string {
  return `<footer class="doc-foot">
<p><strong>What this report shows.</strong> A PASS means that no check above failed under the policy whose hash is shown: the SEV-SNP report\u2019s signature, its key\u2019s chain to the AMD root pinned in cvm-attest, and every other check listed. It trusts AMD\u2019s silicon and keys and Microsoft\u2019s HCL/vTPM firmware; it does not rely on Microsoft Azure Attestation. The HCL report is written at boot; only a verified vTPM quote over a fresh nonce shows the evidence is current.</p>
<p>This file is a rendering of the verification result evaluated at ${formatTime(result.verifiedAt)}; it is not itself signed. To rely on it elsewhere, verify the evidence again.</p>
</footer>`;
}

const CSS = `
:root{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#c0182a;--fail-bg:#ffebe9;--warn:#8a5a00;--warn-bg:#fff5d6;--skip:#57606a;--skip-bg:#eaeef2;--accent:#0a3069}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;background:#eef1f4;color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans",sans-serif}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:12.5px}
code{overflow-wrap:anywhere;word-break:break-all}
pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all;max-width:100%}
.page{max-width:1040px;margin:24px auto;background:#fff;border:1px solid var(--line);border-radius:6px;padding:32px 40px 24px}
h1{font-size:26px;margin:2px 0 14px;letter-spacing:-.01em}
h2{font-size:17px;margin:30px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--ink);letter-spacing:.01em}
.eyebrow{margin:0;color:var(--accent);font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.08em}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:0 28px;margin:0}
.meta .wide{grid-column:1/-1}
.meta div{display:flex;gap:10px;padding:3px 0;border-bottom:1px dotted var(--line)}
.meta dt{flex:0 0 128px;color:var(--muted)}
.meta dd{margin:0;min-width:0}
.verdict{display:flex;align-items:center;gap:28px;margin:22px 0 8px;padding:18px 24px;border-radius:6px;border:2px solid}
.v-pass{border-color:var(--pass);background:var(--pass-bg)}
.v-fail{border-color:var(--fail);background:var(--fail-bg)}
.verdict-word{font-size:52px;font-weight:800;letter-spacing:.06em;line-height:1;padding-right:28px;border-right:2px solid currentColor}
.v-pass .verdict-word{color:var(--pass)}
.v-fail .verdict-word{color:var(--fail)}
.verdict-summary{margin:0 0 6px;font-size:16px;font-weight:600}
.verdict-note{margin:8px 0 0;color:var(--warn);font-size:13px}
.counts{list-style:none;display:flex;flex-wrap:wrap;gap:6px 18px;margin:0;padding:0;color:var(--muted)}
.counts strong{color:var(--ink)}
.c-fail strong{color:var(--fail)}.c-warn strong{color:var(--warn)}
.failures{margin:14px 0 0;padding:12px 18px;border-left:5px solid var(--fail);background:var(--fail-bg);border-radius:0 6px 6px 0}
.failures h2{margin:0 0 6px;border:0;padding:0;color:var(--fail)}
.failures ul{margin:0;padding-left:18px}
.failures li{margin:3px 0}
table{width:100%;border-collapse:collapse;margin:6px 0}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line)}
thead th{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);border-bottom:1px solid var(--ink);background:#fff}
.checks col.c-status{width:88px}.checks col.c-id{width:230px}
.group-row th{background:var(--soft);color:var(--accent);font-size:12.5px;font-weight:700;padding:5px 10px;border-top:1px solid var(--line)}
tr.row-fail td{background:var(--fail-bg)}
tr.row-fail .reason{color:var(--fail);font-weight:600}
tr.row-warn td{background:var(--warn-bg)}
.check-id{font-weight:600}
.badge{display:inline-block;min-width:62px;padding:1px 8px;border-radius:10px;font-size:11.5px;font-weight:700;letter-spacing:.04em;text-align:center;border:1px solid;white-space:nowrap}
.b-pass{color:var(--pass);background:var(--pass-bg);border-color:var(--pass)}
.b-fail{color:#fff;background:var(--fail);border-color:var(--fail)}
.b-warn{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
.b-skip{color:var(--skip);background:var(--skip-bg);border-color:#afb8c1}
.lede{margin:0 0 8px;color:var(--muted);font-size:13px}
.tcb{width:auto;min-width:60%}
.tcb .num{text-align:right;font-variant-numeric:tabular-nums;min-width:90px}
.tcb .min{color:var(--muted);border-left:1px solid var(--line)}
.tcb td.below{background:var(--fail-bg);color:var(--fail);font-weight:700}
.tag{font-size:10.5px;font-weight:700;text-transform:uppercase;letter-spacing:.04em}
.chain{display:flex;flex-direction:column;align-items:stretch}
.cert{border:1px solid var(--line);border-radius:6px;padding:10px 16px;break-inside:avoid}
.cert-bad{border-color:var(--fail);background:var(--fail-bg)}
.cert header{display:flex;align-items:center;gap:10px;margin-bottom:4px}
.role{font-weight:800;font-size:15px;color:var(--accent)}
.role-name{color:var(--muted);flex:1}
.cert dl{margin:0}
.cert dl div{display:flex;gap:10px;padding:2px 0}
.cert dt{flex:0 0 80px;color:var(--muted)}
.cert dd{margin:0;min-width:0}
.chain-link{align-self:center;color:var(--muted);font-size:12px;margin:3px 0}
.ok{color:var(--pass);font-weight:600}.bad{color:var(--fail);font-weight:700}
dl.guest>div{display:grid;grid-template-columns:15em 1fr;gap:8px;margin:4px 0}dl.guest dt{font-weight:600}dl.guest dd{margin:0;overflow-wrap:anywhere}dl.guest ol{margin:0;padding-left:1.2em}
.hash{letter-spacing:.02em}
.warnings ul{margin:0;padding-left:18px}
.warnings li{margin:3px 0;color:var(--warn)}
.claims th{width:34%;font-weight:400}
.claims th code{font-size:12px}
.kv{display:flex;flex-wrap:wrap;gap:2px 16px;margin:0}
.kv div{display:flex;gap:6px}
.kv dt{color:var(--muted);font-size:12.5px}
.kv dd{margin:0}
.empty{color:var(--muted);font-style:italic}
.unauthenticated{margin:14px 0 0;padding:12px 18px;border:3px solid var(--fail);background:var(--fail-bg);border-radius:6px}
.unauthenticated h2{margin:0 0 6px;border:0;padding:0;color:var(--fail);font-size:18px;letter-spacing:.04em}
.unauthenticated p{margin:0}
.b-unauth{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
.tag-unauth{display:inline-block;margin-left:4px;padding:0 6px;border-radius:3px;background:var(--fail);color:#fff;font-size:10.5px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;vertical-align:middle}
.unauth-note{color:var(--fail);font-weight:600}
.unauth-section table{border-left:4px solid var(--fail)}
.rules th{width:28%;font-weight:400}
.rules td.muted{font-size:12.5px}
.muted{color:var(--muted)}
.doc-foot{margin-top:30px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:12px}
.doc-foot p{margin:4px 0}
@media print{
@page{size:A4;margin:14mm 12mm}
body{background:#fff;font-size:10pt}
.page{margin:0;border:0;padding:0;max-width:none}
h2{break-after:avoid}
tr,.cert,.verdict,.failures{break-inside:avoid}
thead{display:table-header-group}
}
`;

/** Renders the result as a complete, self-contained HTML document (UTF-8). */
export function renderHtmlReport(input: VerificationResult, options: HtmlReportOptions = {}): string {
  // Results may come back from JSON (status files, bundles): tolerate missing lists rather than throw.
  const result: VerificationResult = {
    ...input,
    // A status this renderer does not know is shown as a failure, never silently as a pass.
    checks: ((Array.isArray(input.checks) ? input.checks : []) as readonly CheckResult[]).map((c) =>
      Object.hasOwn(STATUS_LABELS, c.status) ? c : { ...c, status: 'fail' as const, reason: `unknown status "${String(c.status)}": ${c.reason}` },
    ),
    warnings: Array.isArray(input.warnings) ? input.warnings : [],
    certificates: Array.isArray(input.certificates) ? input.certificates : [],
    claims: input.claims !== null && typeof input.claims === 'object' ? input.claims : {},
    policy: input.policy !== null && typeof input.policy === 'object' ? input.policy : { hash: '' },
  };
  const auth = authenticity(result.checks);
  const title = `${options.title ?? 'Attestation report'} \u2014 ${shownVerdict(result) === 'pass' ? 'PASS' : 'FAIL'}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cvm-attest">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main class="page">
${renderHeader(result, options, auth)}
${renderVerdict(result, auth)}
${renderUnauthenticated(auth)}
${renderFailures(result)}
${renderChecks(result, auth)}
${renderPolicy(result)}
${renderTcb(result, auth)}
${renderTdxSection(result, auth.ok)}
${renderCertificates(result, auth)}
${renderGuest(result, !auth.ok)}
${renderWarnings(result)}
${renderClaims(result.claims ?? {}, auth)}
${renderFooter(result)}
</main>
</body>
</html>
`;
}
