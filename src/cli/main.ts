// CLI entry. Commands are loaded lazily: only the module of the command being run is imported, so
// `verify` never pays for the Azure SDK or the extension code.
import { CvmAttestError, ExitCode } from '../base/errors.js';
import type { CliCommand } from './command.js';
import { escapeText } from '../base/text-escape.js';

/** A command module; `fast` (optional) runs it without yargs, or returns undefined to use yargs. */
type CommandModule = { default: CliCommand; fast?: (argv: readonly string[]) => Promise<number | undefined> };
type Loader = () => Promise<CommandModule>;

/** name -> [one-line description for the top-level help, loader]. */
const commands: Record<string, [string, Loader]> = {
  verify: ['Verify evidence (HCL or SNP report, VCEK, quote) offline against pinned AMD roots', () => import('./commands/verify.js')],
  collect: ['Collect evidence from the vTPM and IMDS into a bundle folder', () => import('./commands/collect.js')],
  attest: ['Collect, verify and print the result on this VM', () => import('./commands/attest.js')],
  status: ['Show the last attestation result, the worker and the sinks on this VM', () => import('./commands/status.js')],
  serve: ['Run the remote verifier service: nonces, attestation, signed tokens (JWKS, OIDC discovery)', () => import('./commands/serve.js')],
  handler: ['Azure VM extension handler entry point (install|enable|disable|uninstall|update|worker)', () => import('./commands/handler.js')],
};

function printError(e: unknown): number {
  if (e instanceof CvmAttestError) {
    // Messages quote input (file names, policy keys, IMDS text): one escaped line, whatever they hold.
    process.stderr.write(`cvm-attest: ${escapeText(e.message)} [${e.code}]\n`);
    return e.exitCode;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`cvm-attest: internal error: ${escapeText(msg)}\n`);
  if (process.env.CVM_ATTEST_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  return ExitCode.Internal;
}

/**
 * package.json's version: the build (scripts/build.mjs, scripts/package.mjs) writes it in as
 * process.env.CVM_ATTEST_VERSION; run from source, package.json two folders up is read.
 */
async function version(): Promise<string> {
  const built = process.env.CVM_ATTEST_VERSION;
  if (built) return built;
  const { createRequire } = await import('node:module');
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${await version()}\n`);
    return ExitCode.Pass;
  }
  const name = argv.find((a) => !a.startsWith('-'));
  const entry = name !== undefined ? commands[name] : undefined;
  // Fast path: loading yargs costs more than Node's own start-up, so a command may parse plain arguments itself.
  if (entry && argv[0] === name) {
    const fast = await entry[1]().then(
      (m) => m.fast,
      () => undefined,
    );
    const code = await fast?.(argv.slice(1));
    if (code !== undefined) return code;
  }
  const { default: yargs } = await import('yargs');
  const width = Math.min(110, process.stdout.columns || 100);
  const y = yargs(argv)
    .scriptName('cvm-attest')
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(width)
    .fail((msg, err) => {
      // yargs' own messages can span lines ("Invalid values:\n  Argument: ..."): one line, one hint.
      const text = String(msg ?? '')
        .replace(/\s*\n\s*/g, ' ')
        .replace(/\s*\(see --help\)\s*$/, '');
      throw err ?? new CvmAttestError('E_USAGE', `${text} (see --help)`, ExitCode.Input);
    });
  // Examples as an epilogue, each command on lines of its own, never cut mid-command (yargs would cut a
  // long one across its narrow first column): a command too long for the width is continued with
  // shell line continuations, so it still pastes as is; the description follows, indented.
  const examples: [string, string][] = [];
  const example = (cmd: string, description: string): typeof y => {
    examples.push([cmd, description]);
    return y;
  };
  y.example = example as unknown as typeof y.example;
  const fit = (cmd: string): string => {
    const lines = [''];
    for (const word of cmd.split(' ')) {
      const last = lines[lines.length - 1]!;
      if (last && 2 + last.length + 1 + word.length + 2 > width - 4) lines.push(word);
      else lines[lines.length - 1] = last ? `${last} ${word}` : word;
    }
    return lines.join(' \\\n      ');
  };
  const flushExamples = (b: typeof y): typeof y =>
    examples.length ? b.epilogue(`Examples:\n${examples.map(([c, d]) => `  ${fit(c)}\n      ${d}`).join('\n')}`) : b;
  let code: number = ExitCode.Input;
  if (entry) {
    let mod: CommandModule;
    try {
      mod = await entry[1]();
    } catch (e) {
      throw new CvmAttestError('E_USAGE', `command '${name}' is not available in this build`, ExitCode.Input, { cause: e });
    }
    const cmd = mod.default;
    y.command(
      cmd.command,
      cmd.describe,
      (b) => flushExamples(cmd.builder(b)),
      async (args) => {
        code = await cmd.run(args);
      },
    );
  } else {
    for (const [n, [describe]] of Object.entries(commands)) y.command(n, describe);
    y.option('version', { type: 'boolean', describe: "print the version (package.json's) and exit" });
    y.example('npm run demo', 'see the whole product work on two simulated VMs (from a clone of the repository)')
      .example('cvm-attest attest', 'on an Azure Confidential VM: collect and verify, print the verdict')
      .example('cvm-attest verify --evidence hcl-report.bin --vcek vcek.pem', 'verify captured evidence offline')
      .example('cvm-attest <command> --help', 'options and examples of one command');
    flushExamples(y);
    y.demandCommand(1, 'name a command (see --help)');
  }
  await y.parseAsync();
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = printError(e);
  },
);
