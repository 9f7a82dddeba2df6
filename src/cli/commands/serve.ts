// `cvm-attest serve`: the self-hosted remote verifier (src/service). Runs until SIGTERM/SIGINT, then
// drains in-flight requests. Exit 2 for unusable options or files (bad key mode, no TLS off loopback).
import type { CliCommand } from '../command.js';
import { ExitCode } from '../../base/errors.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const command: CliCommand = {
  command: 'serve',
  describe: 'Run the remote verifier: challenge nonces, POST /v1/attest, signed MAA-style tokens, JWKS',
  builder: (y) =>
    y
      .option('listen', {
        type: 'string',
        demandOption: true,
        describe: 'HOST:PORT to listen on (port 0: any free port, see --port-file); plain HTTP only on loopback',
      })
      .option('port-file', { type: 'string', describe: 'write the bound port to this file once serving' })
      .option('signing-key', {
        type: 'string',
        demandOption: true,
        describe: 'token signing key: a PEM file (several keys: the last signs) or a folder of PEM files (the newest signs); mode 0600',
      })
      .option('issuer', {
        type: 'string',
        describe: 'the iss of tokens and base of jwks_uri (default: the listen URL); set it to the public URL behind a load balancer',
      })
      .option('tls-cert', { type: 'string', describe: 'TLS certificate chain (PEM)' })
      .option('tls-key', { type: 'string', describe: 'TLS private key (PEM)' })
      .option('policy', { type: 'string', describe: 'policy JSON file (freshness is required unless it sets "requireFreshness": false)' })
      .option('collateral', {
        type: 'string',
        describe: 'folder of AMD CRLs (PEM, named for the product: crl_genoa.pem...) and Intel TDX collateral (any other file)',
      })
      .option('replay-store', { type: 'string', describe: 'redis://HOST:PORT (or rediss://) shared by all replicas; default: in memory' })
      .option('sinks', { type: 'string', describe: 'sinks settings JSON: each verdict is written to Azure Monitor / syslog by the verifier' })
      .option('token-lifetime', { type: 'number', describe: 'token lifetime in seconds (default 28800 = 8 h)' })
      .example('cvm-attest serve --listen 127.0.0.1:8080 --signing-key key.pem', 'a local verifier on plain HTTP')
      .example(
        'cvm-attest serve --listen 0.0.0.0:8443 --tls-cert tls.pem --tls-key tls.key --signing-key /keys --replay-store redis://redis:6379 --issuer https://verifier.example.com',
        'one replica of a fleet verifier',
      ),
  async run(args) {
    const { runServe } = await import('../../service/run.js');
    await runServe({
      listen: String(args['listen']),
      signingKey: String(args['signing-key']),
      ...(str(args['port-file']) !== undefined ? { portFile: str(args['port-file'])! } : {}),
      ...(str(args['issuer']) !== undefined ? { issuer: str(args['issuer'])! } : {}),
      ...(str(args['tls-cert']) !== undefined ? { tlsCert: str(args['tls-cert'])! } : {}),
      ...(str(args['tls-key']) !== undefined ? { tlsKey: str(args['tls-key'])! } : {}),
      ...(str(args['policy']) !== undefined ? { policy: str(args['policy'])! } : {}),
      ...(str(args['collateral']) !== undefined ? { collateral: str(args['collateral'])! } : {}),
      ...(str(args['replay-store']) !== undefined ? { replayStore: str(args['replay-store'])! } : {}),
      ...(str(args['sinks']) !== undefined ? { sinks: str(args['sinks'])! } : {}),
      ...(typeof args['token-lifetime'] === 'number' ? { tokenLifetime: args['token-lifetime'] } : {}),
    });
    return ExitCode.Pass;
  },
};
export default command;
