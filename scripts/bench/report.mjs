// HTML report: time to render a real verification result (Genoa HCL vector) and the report's size.
// Rendering runs once per attestation in the worker, so it must stay a small fraction of verifying.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { verifyEvidenceSync } from '../../src/index.ts';
import { renderHtmlReport } from '../../src/report/html.ts';

const fx = (p) => readFileSync(new URL(`../../test/fixtures/${p}`, import.meta.url));
const options = { evidence: fx('azure-hcl/genoa/hcl-report.bin'), vcek: fx('azure-hcl/genoa/vcek.pem'), now: new Date('2026-11-28T12:00:00Z') };
const result = verifyEvidenceSync(options);

function median(f, n) {
  for (let i = 0; i < 50; i++) f();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(n / 2)];
}

const render = median(() => renderHtmlReport(result, { generatedAt: new Date() }), 500);
const verify = median(() => verifyEvidenceSync(options), 200);
const html = renderHtmlReport(result);
console.log(`render HTML report (real Genoa result): ${render.toFixed(3)} ms median`);
console.log(`verify the same evidence (cached VCEK):  ${verify.toFixed(3)} ms median (for scale)`);
console.log(`report size: ${(Buffer.byteLength(html) / 1024).toFixed(1)} KiB, self-contained`);
