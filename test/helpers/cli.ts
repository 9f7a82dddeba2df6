// Runs cvm-attest (or another Node entry point) in a child process and collects its exit code and output:
// the built CLI (bin/cvm-attest.js, after `node scripts/build.mjs`) or the source through tsx (src/cli/main.ts).
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/cvm-attest.js');
export const MAIN = join(ROOT, 'src/cli/main.ts');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed at timeoutMs. */
  killed: boolean;
}

export interface RunOptions {
  /** Added to process.env (NODE_NO_WARNINGS=1 is always set). */
  env?: Record<string, string>;
  /** Written to stdin; without it stdin is empty. */
  input?: string | Uint8Array;
  /** SIGKILL after this long (the result says killed). */
  timeoutMs?: number;
  cwd?: string;
}

export interface CliOptions extends RunOptions {
  /** Run src/cli/main.ts through tsx instead of the built bin/cvm-attest.js. */
  source?: boolean;
  /** Node flags before the entry point, e.g. --max-old-space-size=512. */
  nodeArgs?: readonly string[];
}

const envOf = (o: RunOptions): NodeJS.ProcessEnv => ({ ...process.env, NODE_NO_WARNINGS: '1', ...o.env });
const cliArgv = (args: readonly string[], o: CliOptions): string[] => [...(o.nodeArgs ?? []), ...(o.source ? ['--import', 'tsx', MAIN] : [BIN]), ...args];

/** `node <argv>` to completion. */
export function runNode(argv: readonly string[], o: RunOptions = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, argv, { cwd: o.cwd ?? ROOT, env: envOf(o), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const t =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            killed = true;
            p.kill('SIGKILL');
          }, o.timeoutMs);
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.on('error', () => {
      /* the child may exit without reading stdin */
    });
    p.stdin.end(o.input);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

/** `node <argv>`, synchronously. */
export function runNodeSync(argv: readonly string[], o: RunOptions = {}): Run {
  const r = spawnSync(process.execPath, argv, {
    cwd: o.cwd ?? ROOT,
    env: envOf(o),
    input: o.input ?? '',
    encoding: 'utf8',
    timeout: o.timeoutMs,
    killSignal: 'SIGKILL',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, killed: r.error !== undefined && r.signal === 'SIGKILL' };
}

/** `cvm-attest <args>` to completion. */
export const cvmAttest = (args: readonly string[], o: CliOptions = {}): Promise<Run> => runNode(cliArgv(args, o), o);

/** `cvm-attest <args>`, synchronously. */
export const cvmAttestSync = (args: readonly string[], o: CliOptions = {}): Run => runNodeSync(cliArgv(args, o), o);
