// Escaping for text output. Strings from evidence or the host (runtime data, certificate subjects,
// bundle warnings, IMDS names and errors, file names) are shown in a terminal, a log or a status: a raw
// ESC, BEL, CR or bidi override there could redraw the screen or fake a verdict line. Every such
// character becomes a visible escape, so the text reads as exactly what the input held. Pure.

/**
 * C0 controls (newline and tab included: one field must stay one line), DEL, C1 controls, the bidi
 * marks/embeddings/overrides/isolates, zero-width characters, line/paragraph separators, BOM and lone
 * surrogates.
 */
const UNSAFE =
  /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Replaces every control or direction-changing character with `\xNN` / `\u{NNNN}`. */
export function escapeText(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return s.replace(UNSAFE, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16).toUpperCase().padStart(4, '0')}}`;
  });
}

/** escapeText, then cut to `max` characters (with an ellipsis), for echoing untrusted input in one line. */
export function escapeTextCapped(value: unknown, max: number): string {
  const e = escapeText(value);
  return e.length > max ? `${e.slice(0, max)}...` : e;
}
