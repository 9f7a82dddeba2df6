// `cvm-attest attest`: collect on this VM, verify, print. Exit 0 pass, 1 fail, 2 bad input,
// 3 evidence could not be collected (no TPM, IMDS unreachable with nothing cached).
import type { CliCommand } from '../command.js';
import { ExitCode, InputError } from '../../base/errors.js';
import { collectorOptions, collectOptionsFrom } from '../collector-options.js';

const command: CliCommand = {
  command: 'attest',
  describe: 'Collect, verify and print the result on this VM',
  builder: (y) =>
    collectorOptions(y)
      .option('policy', { type: 'string', describe: 'policy JSON file (default: the built-in policy)' })
      .option('format', {
        choices: ['text', 'json'] as const,
        default: 'text',
        describe: 'output: text for people, json = the verify result object plus "identity"',
      })
      .option('verifier', {
        type: 'string',
        describe: 'remote verifier (cvm-attest serve) URL: ask it for a nonce, quote over it, submit; exit code from its verdict',
      })
      .option('token-out', { type: 'string', describe: 'with --verifier: write the token (on pass) to this file, mode 0600' })
      .example('cvm-attest attest', 'on an Azure CVM: vTPM + IMDS, verified against pinned AMD roots')
      .example('cvm-attest attest --policy policy.json --format json', 'machine-readable result with the VM identity')
      .example('cvm-attest attest --tpm swtpm:path=/tmp/swtpm.sock --imds-endpoint http://127.0.0.1:8080', 'against a TPM simulator and an IMDS emulator')
      .example('cvm-attest attest --tpm file:./evidence', 'replay captured evidence (not fresh)'),
  async run(args) {
    const { parsePolicy } = await import('../../index.js');
    const policyPath = args['policy'];
    if (Array.isArray(policyPath)) throw new InputError('E_USAGE', '--policy is given twice: give it once');
    const { readPolicyJson } = await import('../verify-inputs.js');
    const policy = typeof policyPath === 'string' ? parsePolicy(readPolicyJson(policyPath)) : undefined;
    if (typeof args['verifier'] === 'string') {
      const { runRemoteAttest } = await import('../remote-attest.js');
      return runRemoteAttest(args, collectOptionsFrom(args), policy);
    }
    if (args['token-out'] !== undefined) throw new InputError('E_USAGE', '--token-out needs --verifier');
    const { attest } = await import('../../collect/attest.js');
    const outcome = await attest({ ...collectOptionsFrom(args), ...(policy ? { policy } : {}) });
    const { result, identity } = outcome;
    if (args['format'] === 'json') {
      process.stdout.write(JSON.stringify({ ...result, identity: identity ?? null }, null, 2) + '\n');
    } else {
      const { renderText, renderIdentity } = await import('../render-text.js');
      process.stdout.write(`${renderText(result)}\n${renderIdentity(identity)}`);
    }
    return result.verdict === 'pass' ? ExitCode.Pass : ExitCode.Fail;
  },
};
export default command;
