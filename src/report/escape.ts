// HTML escaping for reports. Every string that reaches a report may come from the evidence (runtime-data
// JSON, certificate subjects) and so from an attacker: escape it, and make invisible characters visible
// so a report cannot be made to read differently from what the evidence says (bidi overrides, NULs).

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * C0/C1 controls except tab and newline, the bidi embeddings/overrides/isolates, zero-width and
 * line/paragraph separators, BOM, and lone surrogates.
 */
const INVISIBLE =
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Replaces invisible or direction-changing characters with a visible `\u{XXXX}` marker. */
export function revealInvisible(s: string): string {
  return s.replace(INVISIBLE, (c) => `\\u{${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}}`);
}

/** Escapes text for an HTML element body or a double-quoted attribute value. */
export function escapeHtml(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return revealInvisible(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}
