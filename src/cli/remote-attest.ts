// `attest --verifier URL [--token-out FILE]`: the remote verdict (and the local one beside it).
// Exit 0 remote pass, 1 remote fail, 2 refused request or bad options, 3 verifier/TPM unavailable.
import { ExitCode } from '../base/errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import type { CollectOptions } from '../collect/collector.js';
import type { Policy } from '../policy/policy.js';

export async function runRemoteAttest(args: Record<string, unknown>, collect: CollectOptions, policy: Policy | undefined): Promise<number> {
  const { attestRemotely } = await import('../remote/attest-remote.js');
  const { remote, local } = await attestRemotely({ endpoint: String(args['verifier']) }, { ...collect, ...(policy ? { policy } : {}) });
  const tokenOut = typeof args['token-out'] === 'string' ? args['token-out'] : undefined;
  if (tokenOut && remote.token) await writeFileAtomic(tokenOut, remote.token + '\n', { mode: 0o600 });
  if (args['format'] === 'json') {
    process.stdout.write(
      JSON.stringify(
        {
          remote: { verdict: remote.verdict, fresh: remote.fresh ?? false, jti: remote.jti ?? null, checks: remote.checks, claims: remote.claims },
          local: local.result,
          identity: local.identity ?? null,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    const failed = remote.checks.filter((c) => c.status === 'fail');
    let text = `remote verdict: ${remote.verdict.toUpperCase()}${remote.jti ? ` (token jti ${remote.jti}${remote.fresh ? ', fresh' : ', NOT fresh'})` : ''}\n`;
    for (const c of failed) text += `  fail ${c.id}: ${c.reason}\n`;
    text += `local verdict:  ${local.result.verdict.toUpperCase()}\n`;
    if (tokenOut) text += remote.token ? `token written to ${tokenOut}\n` : `no token (the verifier issues one only on pass): ${tokenOut} not written\n`;
    process.stdout.write(text);
  }
  return remote.verdict === 'pass' ? ExitCode.Pass : ExitCode.Fail;
}
