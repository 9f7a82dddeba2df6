// `cvm-attest handler <install|enable|disable|uninstall|update|worker>`: the Azure VM extension entry
// points (bin/handler.sh in the package runs them). Paths come from HandlerEnvironment.json in the
// extension folder; see docs/extension.md.
import { resolve } from 'node:path';
import type { CliCommand } from '../command.js';
import { CvmAttestError, ExitCode } from '../../base/errors.js';

const OPERATIONS = ['install', 'enable', 'disable', 'uninstall', 'update', 'worker'] as const;
type Operation = (typeof OPERATIONS)[number];

function extensionDirFrom(args: Record<string, unknown>): string {
  const fromArg = typeof args['extension-dir'] === 'string' ? args['extension-dir'] : undefined;
  return resolve(fromArg ?? process.env['CVM_ATTEST_EXTENSION_DIR'] ?? process.env['AZURE_GUEST_AGENT_EXTENSION_PATH'] ?? process.cwd());
}

const command: CliCommand = {
  command: 'handler <operation>',
  describe: 'Azure VM extension handler entry point (run by the Azure VM agent through bin/handler.sh)',
  builder: (y) =>
    y
      .positional('operation', { choices: OPERATIONS, describe: 'handler operation' })
      .option('extension-dir', {
        type: 'string',
        describe: 'extension folder holding HandlerEnvironment.json (default: $AZURE_GUEST_AGENT_EXTENSION_PATH, else cwd)',
      })
      .option('seq', { type: 'number', describe: 'worker: the configuration sequence number it serves' })
      .example('bin/handler.sh enable', 'what the Azure VM agent runs (HandlerManifest.json), in the extension folder with ConfigSequenceNumber set')
      .example(
        'sudo ConfigSequenceNumber=0 cvm-attest handler enable --extension-dir "$EXT"',
        'the same by hand (support); EXT = /var/lib/waagent/CvmAttest.Security.SnpAttestation-<version>',
      )
      .example('cvm-attest status', 'then see what the worker reported'),
  async run(args) {
    const op = args['operation'] as Operation;
    const { loadHandlerEnvironment } = await import('../../extension/handler-environment.js');
    const { createExtLogger } = await import('../../extension/logger.js');
    const h = await import('../../extension/handlers.js');
    const env = loadHandlerEnvironment(extensionDirFrom(args));
    const logger = createExtLogger({ logFolder: env.logFolder, operation: op, level: process.env['CVM_ATTEST_LOG_LEVEL'] ?? 'info' });
    const { makeContext } = await import('../../extension/handler-context.js');
    const ctx = makeContext(env, logger);
    let code: number = ExitCode.Internal;
    try {
      switch (op) {
        case 'install':
          code = await h.install(ctx);
          break;
        case 'enable':
          code = await h.enable(ctx);
          break;
        case 'disable':
          code = await h.disable(ctx);
          break;
        case 'uninstall':
          code = await h.uninstall(ctx);
          break;
        case 'update':
          code = await h.update(ctx);
          break;
        case 'worker': {
          const seq = args['seq'];
          if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) throw new CvmAttestError('E_USAGE', 'handler worker needs --seq N', ExitCode.Input);
          const { runWorker } = await import('../../extension/worker.js');
          const { engine } = await import('../../extension/engine.js');
          code = await runWorker(ctx, { seq, engine });
          break;
        }
      }
    } catch (e) {
      logger.error(`handler ${op} failed`, { error: e instanceof Error ? e.message : String(e), code: e instanceof CvmAttestError ? e.code : undefined });
      await logger.close();
      throw e;
    }
    await logger.close();
    // The worker may leave sockets or timers of an aborted run behind: do not linger on them.
    if (op === 'worker') process.exit(code);
    return code;
  },
};

/**
 * Without yargs for the exact forms the agent and the worker spawn use (`<operation> [--extension-dir DIR]
 * [--seq N]`): yargs costs the long-lived worker ~5 MB of resident memory and every handler call its
 * load time. Anything else (help, a typo) returns undefined and goes to yargs, which explains it.
 */
export async function fast(argv: readonly string[]): Promise<number | undefined> {
  const [op, ...rest] = argv;
  if (!OPERATIONS.includes(op as Operation)) return undefined;
  const args: Record<string, unknown> = { operation: op };
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? rest[++i];
    if (value === undefined || (flag !== '--extension-dir' && flag !== '--seq') || flag.slice(2) in args) return undefined;
    if (flag === '--seq') {
      if (!/^\d{1,9}$/.test(value)) return undefined;
      args['seq'] = Number(value);
    } else args['extension-dir'] = value;
  }
  return command.run(args);
}

export default command;
