// The HTML report's Guest section: fresh-by, the AK certificate, and the replayed boot state, every
// evidence string escaped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { renderHtmlReport } from '../../src/report/html.js';
import { akCertificateDer } from '../../src/guest/ak-certificate.js';
import { verifyEvidenceSync } from '../../src/verify/verify-evidence.js';
import { fixture } from '../helpers/fixtures.js';
import { padded, withAkPub, withUserData } from '../verify/derive-report.js';

const txt = fixture('azure-vtpm/azure_ak_certificates.txt').toString('utf8');
const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(txt)![0];
const der = Buffer.from(akCertificateDer(Buffer.from(pem)));
const jwk = new X509Certificate(der).publicKey.export({ format: 'jwk' }) as { n: string; e: string };
const NONCE = Buffer.from('0123456789abcdef', 'hex');

describe('HTML report: Guest section', () => {
  const hcl = withUserData(withAkPub(fixture('azure-hcl/genoa/hcl-report.bin'), jwk), padded(NONCE));
  const r = verifyEvidenceSync({
    evidence: hcl,
    vcek: fixture('azure-hcl/genoa/vcek.pem'),
    akCertificate: der,
    nonce: NONCE,
    now: new Date('2026-06-01T00:00:00Z'),
  });

  it('shows fresh by report, the AK certificate subject/issuer/validity, and the event-log state', () => {
    const withLog = {
      ...r,
      claims: {
        ...r.claims,
        'x-ms-azurevm-attested-pcrs': [0, 7],
        'cvm-attest-event-log': {
          secureBoot: true,
          firmwareDebugMode: false,
          secureBootVariables: { PK: 'aa'.repeat(32) },
          bootApplications: ['bb'.repeat(32)],
          kernelCmdline: 'ro quiet',
        },
      },
    };
    const html = renderHtmlReport(withLog);
    // The derived report fails its AMD signature: the section says its values are unauthenticated.
    assert.match(html, /<h2>Guest <span class="tag-unauth">unauthenticated<\/span><\/h2>/);
    assert.match(
      renderHtmlReport({ ...withLog, checks: withLog.checks.map((c) => (c.group === 'signature' ? { ...c, status: 'pass' as const } : c)) }),
      /<h2>Guest<\/h2>/,
    );
    assert.match(html, /fresh by <strong>report<\/strong>/);
    assert.match(html, /AK subject<\/dt><dd><code>CN=66f962d2e762\.ConfidentialVM\.Azure\.windows\.net<\/code>/);
    assert.match(html, /AK issuer<\/dt><dd><code>CN=Global Virtual TPM CA - 03<\/code>/);
    assert.match(html, /Secure Boot<\/dt><dd><span class="ok">on<\/span>/);
    assert.match(html, /Kernel command line \(PCR 8\)<\/dt><dd><code>ro quiet<\/code>/);
    assert.match(html, new RegExp(`<code class="hash">${'bb'.repeat(32)}</code>`));
  });

  it('escapes hostile evidence strings', () => {
    const hostile = {
      ...r,
      claims: {
        ...r.claims,
        'cvm-attest-fresh-by': '<img src=x>',
        'cvm-attest-event-log': { secureBoot: false, bootApplications: ['<b>'], kernelCmdline: '</code><script>alert(1)</script>' },
        'cvm-attest-ak-certificate': { subject: '<svg onload=1>' },
      },
    };
    const html = renderHtmlReport(hostile);
    assert.doesNotMatch(html, /<script>alert|<img src=x>|<svg onload|<li><code class="hash"><b>/);
    assert.match(html, /&lt;\/code&gt;&lt;script&gt;/);
    assert.match(html, /<span class="bad">OFF<\/span>/);
  });
});
