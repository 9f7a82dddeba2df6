// `cvm-attest collect --out DIR`: read the vTPM and IMDS into an evidence bundle (docs/collector.md)
// that `cvm-attest verify --bundle DIR` checks offline on any machine.
import type { CliCommand } from '../command.js';
import { ExitCode, InputError } from '../../base/errors.js';
import { collectorOptions, collectOptionsFrom } from '../collector-options.js';
import { prepareOutDir } from '../../io/out-dir.js';
import { escapeText as e } from '../../base/text-escape.js';

const command: CliCommand = {
  command: 'collect',
  describe: 'Collect evidence from the vTPM and IMDS into a bundle folder',
  builder: (y) =>
    collectorOptions(y)
      .option('out', { type: 'string', demandOption: true, describe: 'bundle folder to write (created if needed; bundle files in it are replaced)' })
      .example('cvm-attest collect --out ./evidence', 'HCL report, a fresh quote, VCEK + chain and VM identity into ./evidence')
      .example('cvm-attest collect --nonce 0a1b2c... --out ./evidence', 'quote over a nonce a remote verifier chose')
      .example('cvm-attest collect --no-quote --out ./evidence', 'without a quote (the report alone is written at boot: not fresh)')
      .example('cvm-attest verify --bundle ./evidence', 'then verify it offline, anywhere'),
  async run(args) {
    const out = args['out'];
    if (Array.isArray(out)) throw new InputError('E_USAGE', '--out is given twice: give it once');
    if (typeof out !== 'string' || out === '') throw new InputError('E_USAGE', '--out needs a folder');
    const options = collectOptionsFrom(args);
    // Before anything is collected: a bad --out is an input error now, not after a TPM quote.
    const dir = prepareOutDir(out, '--out folder');
    const { collectEvidence } = await import('../../collect/collector.js');
    const { writeBundle } = await import('../../collect/bundle.js');
    const evidence = await collectEvidence(options);
    const manifest = await writeBundle(dir, evidence);
    for (const w of evidence.warnings) process.stderr.write(`warning: ${e(w)}\n`);
    const files = Object.keys(manifest.files).join(', ');
    process.stdout.write(
      `bundle written to ${e(dir)}\n  files: ${files}, manifest.json\n  tpm: ${e(evidence.transport)}${evidence.replayed ? ' (replayed, not fresh)' : ''}\n  certificates: ${e(evidence.certificateSource)}\n`,
    );
    if (evidence.instance)
      process.stdout.write(
        `  vm: ${e(evidence.instance.name)} (${e(evidence.instance.vmId)})${evidence.instance.boundToReport === false ? ' NOT the vmUniqueId in the report' : ''}\n`,
      );
    return ExitCode.Pass;
  },
};
export default command;
