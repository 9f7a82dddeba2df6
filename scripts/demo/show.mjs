// Printing for the demo: the extension status as the Azure portal shows it, the verdict's checks
// from the worker's last result, and records as Azure Monitor received them.

/** The portal's words for an extension status (Extensions + applications blade). */
export function portalStatus(s) {
  switch (s) {
    case 'success':
      return 'Provisioning succeeded';
    case 'transitioning':
      return 'Transitioning';
    case 'warning':
      return 'Provisioning succeeded (warning)';
    case 'error':
      return 'Provisioning failed';
    default:
      return `Unknown (${s})`;
  }
}

const cut = (s, n) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/** One status entry: top line, then the substatus list (checks are shown separately). */
export function formatPortal(entry, { indent = '   ', withSubstatus = true } = {}) {
  const st = entry.status;
  const out = [`${indent}${portalStatus(st.status).padEnd(24)} code ${st.code}  ${st.operation}  ${entry.timestampUTC}`];
  out.push(`${indent}  message: ${st.formattedMessage.message}`);
  if (withSubstatus && st.substatus?.length) {
    out.push(`${indent}  substatus (${st.substatus.length}):`);
    for (const s of st.substatus) {
      out.push(`${indent}    ${s.status.padEnd(8)} ${s.name.padEnd(20)} ${cut(s.formattedMessage.message.replace(/\s+/g, ' '), 110)}`);
    }
  }
  return out.join('\n');
}

/**
 * The worker's last result (state/last-result.json), through the extension's own reader
 * (src/extension/last-result.ts: loaded after the demo registered tsx), not re-parsed portal strings.
 */
export async function lastResultOf(extDir) {
  const { readLastResult } = await import('../../src/extension/last-result.ts');
  return readLastResult(`${extDir}/state`);
}

export function formatChecks(checks, indent = '   ') {
  const w = Math.max(...checks.map((c) => c.id.length), 8);
  return checks.map((c) => `${indent}[${c.status === 'fail' ? 'FAIL' : c.status}] ${c.id.padEnd(w)}  ${c.reason}`).join('\n');
}

/** A record as received, one column per line (compact JSON, long values shortened; Claims counted). */
export function formatRecord(rec, indent = '     ') {
  const w = Math.max(...Object.keys(rec).map((k) => k.length));
  return Object.entries(rec)
    .map(([k, v]) => {
      let text;
      if (k === 'Claims' && v && typeof v === 'object') text = `{ ${Object.keys(v).length} claims: ${Object.keys(v).slice(0, 3).join(', ')}, ... }`;
      else text = typeof v === 'string' ? v : JSON.stringify(v);
      return `${indent}${k.padEnd(w)}  ${cut(text, 120)}`;
    })
    .join('\n');
}
