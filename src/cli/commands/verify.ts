// `cvm-attest verify`: offline verification of evidence files against the pinned AMD roots.
// Exit 0 = pass, 1 = evaluated and failed, 2 = unusable input or usage (one line naming the file).
import type { Options } from 'yargs';
import { parseArgs } from 'node:util';
import type { CliCommand } from '../command.js';
import { CvmAttestError, ExitCode, InputError, ParseError } from '../../base/errors.js';
import { writeFileAtomicSync } from '../../io/atomic-file.js';
import { escapeText, escapeTextCapped } from '../../base/text-escape.js';
import { verifyEvidenceSync, type VerifyOptions } from '../../verify/verify-evidence.js';
import type { VerificationResult } from '../../result/result.js';
import { loadVerifyOptions, readInput, str, type VerifyFiles } from '../verify-inputs.js';
import { tdxHclBytes } from '../../platform/tdx/hcl.js';

/** Writes the HTML report atomically (temp file, rename): a reader never sees half a report. */
function writeReport(path: string, html: string): void {
  try {
    writeFileAtomicSync(path, html, { mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new InputError('E_OUT', `cannot write the HTML report to ${path} (${code})`, { cause: e });
  }
}

/**
 * verifyEvidenceSync (the process verifies once: WebCrypto's faster key import does not pay for its own
 * loading here) with a ParseError rewritten to name the file it is about.
 */
export function runVerify(options: VerifyOptions, files: VerifyFiles): VerificationResult {
  try {
    return verifyEvidenceSync(options);
  } catch (e) {
    const input = e instanceof ParseError ? e.input : undefined;
    const file =
      input === 'evidence'
        ? files.evidence
        : input === 'vcek'
          ? files.vcek
          : input === 'chain'
            ? files.chain
            : input === 'crl'
              ? files.crl
              : input === 'td-quote'
                ? files.tdQuote
                : undefined;
    if (e instanceof ParseError && input && file) {
      const what = input === 'vcek' ? 'VCEK' : input === 'crl' ? 'CRL' : input === 'td-quote' ? 'TD quote' : input;
      throw new ParseError(e.code, `${what} file ${escapeTextCapped(file, 300)}: ${e.message.replace(/^(VCEK|certificate chain): /, '')}`, { cause: e });
    }
    throw e;
  }
}

/**
 * --now: an ISO 8601 date or date-time, checked field by field (Date would roll 2026-02-31 over to
 * March 3 and read 24:00 as the next day).
 */
export function parseNow(s: string | undefined): Date | undefined {
  if (s === undefined) return undefined;
  const bad = (): never => {
    throw new InputError('E_USAGE', `--now must be a valid ISO 8601 time (e.g. 2026-01-31T12:00:00Z), got "${escapeTextCapped(s, 60)}"`);
  };
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))?)?$/.exec(s);
  if (!m) return bad();
  const [y, mo, d, h = '0', mi = '0', sec = '0'] = [m[1]!, m[2]!, m[3]!, m[4], m[5], m[6]];
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > days || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return bad();
  if (m[8] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return bad();
  const date = new Date(s);
  if (Number.isNaN(date.getTime())) return bad();
  return date;
}

/** The options of `verify`, shared by yargs (help, slow path) and the fast path. */
const OPTIONS = {
  bundle: {
    type: 'string',
    describe: 'evidence bundle folder from `cvm-attest collect` (replaces --evidence/--vcek/--chain/--quote-*; --nonce = the nonce you chose)',
  },
  evidence: { type: 'string', describe: 'HCL report (vTPM NV 0x01400001 dump), bare 1184-byte SNP report, or hex text of one' },
  vcek: { type: 'string', describe: 'VCEK/VLEK: PEM, DER, PEM bundle (with ASK/ARK) or an IMDS THIM JSON body' },
  chain: { type: 'string', describe: 'ASK/ASVK and ARK, PEM (optional: the AMD chains are built in; a supplied ARK must equal the pinned one)' },
  crl: { type: 'string', describe: 'AMD CRL (PEM or DER) signed by the ARK' },
  policy: { type: 'string', describe: 'policy JSON file (schema: extension/policy.schema.json; default: built-in safe policy)' },
  'quote-msg': { type: 'string', describe: 'vTPM quote: TPMS_ATTEST bytes' },
  'quote-sig': { type: 'string', describe: 'vTPM quote: signature (raw RSASSA or TPMT_SIGNATURE)' },
  nonce: { type: 'string', describe: 'the nonce you chose, hex (1-64 bytes): the quote must carry it, or the report its zero-padded user-data' },
  pcrs: { type: 'string', describe: 'JSON array of SHA-256 PCR values (hex) indexed by PCR number' },
  'td-quote': {
    type: 'string',
    describe: 'Intel TDX: the TD quote IMDS returned for the HCL report (binary, base64url or IMDS JSON); required for a TDX HCL report',
  },
  collateral: {
    type: 'string',
    array: true,
    describe: 'Intel TDX: collateral FILE or DIR, repeatable (TCB info, QE identity, CRLs, issuer chains; recognised by content)',
  },
  'ak-cert': { type: 'string', describe: 'vTPM AK certificate: NV 0x01C101D0 dump (DER, trailing bytes allowed) or PEM' },
  'ak-chain': { type: 'string', describe: 'more "Global Virtual TPM CA" intermediates, PEM (used only if the pinned Azure root signed them)' },
  'event-log': { type: 'string', describe: 'TCG event log (binary_bios_measurements), replayed against the quoted PCRs' },
  now: { type: 'string', describe: 'verification time, ISO 8601 (default: now)' },
  replayed: { type: 'boolean', default: false, describe: 'the evidence is replayed from a capture: freshness is at best a warning' },
  format: {
    choices: ['text', 'json', 'html'] as const,
    default: 'text',
    describe: 'text checklist, the result object as JSON, or a self-contained HTML report',
  },
  out: { type: 'string', describe: 'with --format html: write the report to FILE instead of stdout' },
} as const satisfies Record<string, Options>;

const command: CliCommand = {
  command: 'verify',
  describe: 'Verify evidence (HCL or SNP report, VCEK, quote) offline against pinned AMD roots',
  builder: (y) =>
    y
      .options(OPTIONS)
      .example('cvm-attest verify --evidence hcl-report.bin --vcek vcek.pem', 'verify an HCL report with its VCEK')
      .example(
        'cvm-attest verify --evidence hcl-report.bin --vcek thim.json --quote-msg quote.msg --quote-sig quote.sig --nonce 6368616c6c656e6765 --pcrs pcrs.json',
        'with a fresh vTPM quote',
      )
      .example(
        'cvm-attest verify --evidence hcl-report.bin --vcek vcek.pem --nonce 0a1b2c...',
        'fresh by the report itself: its user-data (NV 0x01400002) must be the nonce',
      )
      .example('cvm-attest verify --bundle ./evidence --nonce 0a1b2c...', 'an evidence bundle from `cvm-attest collect`, quote checked against your nonce')
      .example('cvm-attest verify --evidence report.bin --vcek vcek.der --policy policy.json --format json', 'custom policy, JSON output')
      .example(
        'cvm-attest verify --evidence hcl-report.bin --td-quote td-quote.bin --collateral ./collateral',
        "an Intel TDX CVM: its TD quote and Intel's collateral",
      )
      .example('cvm-attest verify --evidence hcl-report.bin --vcek vcek.pem --format html --out report.html', 'an HTML attestation report to archive or print'),
  async run(args) {
    const files: VerifyFiles = {};
    for (const [k, opt] of [
      ['evidence', 'evidence'],
      ['vcek', 'vcek'],
      ['chain', 'chain'],
      ['crl', 'crl'],
      ['policy', 'policy'],
      ['quoteMsg', 'quote-msg'],
      ['quoteSig', 'quote-sig'],
      ['nonce', 'nonce'],
      ['pcrs', 'pcrs'],
      ['akCert', 'ak-cert'],
      ['akChain', 'ak-chain'],
      ['eventLog', 'event-log'],
    ] as const) {
      const v = str(args, opt);
      if (v !== undefined) files[k] = v;
    }
    const tdQuote = str(args, 'td-quote');
    if (tdQuote !== undefined) files.tdQuote = tdQuote;
    const col = args['collateral'];
    if (col !== undefined) {
      const list = (Array.isArray(col) ? col : [col]).map(String);
      if (list.length === 0 || list.some((x) => x === '')) throw new InputError('E_USAGE', '--collateral needs a value');
      files.collateral = list;
    }
    const now = parseNow(str(args, 'now'));
    const out = str(args, 'out');
    if (out !== undefined && args['format'] !== 'html') throw new InputError('E_USAGE', '--out is for --format html (text and json go to stdout)');
    const bundle = str(args, 'bundle');
    // Without the report's certificate every check fails for want of it: say so once, as a usage error.
    // (A TDX HCL report has no VCEK: its TD quote and collateral take its place.)
    if (
      bundle === undefined &&
      files.evidence !== undefined &&
      files.vcek === undefined &&
      files.tdQuote === undefined &&
      files.collateral === undefined &&
      !tdxHclBytes(readInput(files.evidence, 'evidence'))
    ) {
      throw new InputError(
        'E_USAGE',
        'no VCEK given: pass --vcek FILE (PEM, DER or the IMDS THIM JSON), or --bundle DIR from `cvm-attest collect`, or run `cvm-attest attest` on the VM to fetch it from IMDS',
      );
    }
    const result =
      bundle !== undefined
        ? await (await import('../bundle-verify.js')).verifyBundleDir(bundle, files, now)
        : runVerify({ ...loadVerifyOptions(files), ...(now ? { now } : {}), replayed: args['replayed'] === true }, files);
    if (args['format'] === 'json') process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else if (args['format'] === 'html') {
      const { renderHtmlReport } = await import('../../report/html.js');
      const html = renderHtmlReport(result, { generatedAt: new Date() });
      if (out === undefined) process.stdout.write(html);
      else writeReport(out, html);
    } else {
      const { renderText } = await import('../render-text.js');
      process.stdout.write(renderText(result));
    }
    return result.verdict === 'pass' ? ExitCode.Pass : ExitCode.Fail;
  },
};
export default command;

/**
 * `verify` without yargs, whose loading alone costs several times Node's own start-up: parses plain
 * `--name value` / `--name=value` / boolean flags with node:util and runs the command. Returns
 * undefined (the caller falls back to yargs) for help, negated booleans or anything it does not know,
 * so it never changes what the command accepts.
 */
export async function fast(argv: readonly string[]): Promise<number | undefined> {
  if (argv.some((a) => a === '--help' || a === '-h' || a.startsWith('--no-') || a === '--')) return undefined;
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(OPTIONS))
    options[name] = { type: 'type' in o && o.type === 'boolean' ? 'boolean' : 'string', ...('array' in o ? { multiple: true } : {}) };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, tokens: true });
    const names = parsed.tokens.flatMap((t) => (t.kind === 'option' && t.name !== 'collateral' ? [t.name] : []));
    if (new Set(names).size !== names.length) return undefined; // repeated option: let yargs report it
    values = parsed.values;
  } catch {
    return undefined;
  }
  const args: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(OPTIONS)) {
    const v = values[name];
    if (v !== undefined) args[name] = v;
    else if ('default' in o) args[name] = o.default;
    if ('choices' in o && args[name] !== undefined && !(o.choices as readonly unknown[]).includes(args[name])) return undefined;
  }
  return command.run(args);
}

/**
 * Entry of the CommonJS verify bundle (dist/bundle/verify.cjs) that bin/cvm-attest.js loads for
 * `verify`: no ESM loader, no yargs. Prints errors as the CLI does and resolves to the exit code, or to
 * undefined when the arguments need the full CLI (help, negations, unknown options).
 */
export async function fastVerify(argv: readonly string[]): Promise<number | undefined> {
  try {
    return await fast(argv);
  } catch (e) {
    if (e instanceof CvmAttestError) {
      process.stderr.write(`cvm-attest: ${escapeText(e.message)} [${e.code}]\n`);
      return e.exitCode;
    }
    process.stderr.write(`cvm-attest: internal error: ${escapeText(e instanceof Error ? e.message : String(e))}\n`);
    return ExitCode.Internal;
  }
}
