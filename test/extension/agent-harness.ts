// Node side of test/agent/harness.py: spawns Debian's python3 on the unpacked real agent and sends it
// JSON-line commands. Also builds the extension zips with scripts/package.mjs.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(fileURLToPath(import.meta.url), '../../..');
export const HANDLER = 'CvmAttest.Security.SnpAttestation';

/**
 * Unpacks the agent (scripts/fetch-waagent.sh, cached) and returns its PYTHONPATH. A missing python3
 * or python3-distro is an error, never a skip: `npm test` installs them (scripts/test-setup.mjs).
 */
export function agentPythonPath(): string {
  if (!existsSync('/usr/bin/python3')) throw new Error('Debian python3 is not installed (scripts/apt-packages.txt; `npm test` installs it)');
  const d = spawnSync('/usr/bin/python3', ['-c', 'import distro'], { encoding: 'utf8' });
  if (d.status !== 0) throw new Error('python3-distro is not installed (scripts/apt-packages.txt; `npm test` installs it)');
  const r = spawnSync('sh', [join(root, 'scripts/fetch-waagent.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fetch-waagent.sh failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').pop() as string;
}

/** Builds the package zip for `version` into outDir (the real `npm run package` script). */
export function buildPackage(version: string, outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(root, 'scripts/package.mjs'), '--version', version, '--out', outDir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => {
      out += c;
    });
    p.stderr.on('data', (c) => {
      err += c;
    });
    p.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.endsWith('.zip') && existsSync(last)) resolve(last);
      else reject(new Error(`package.mjs failed (${code}): ${err}`));
    });
  });
}

export interface AgentHarness {
  call<T = Record<string, unknown>>(req: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
  readonly child: ChildProcessWithoutNullStreams;
}

export function startAgentHarness(pythonPath: string, env: NodeJS.ProcessEnv = {}): AgentHarness {
  const child = spawn('/usr/bin/python3', [join(root, 'test/agent/harness.py')], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env['HOME'] ?? '/root', ...env, PYTHONPATH: pythonPath, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr = (stderr + c).slice(-4000);
  });
  const rl = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  rl.on('line', (l) => waiting.shift()?.(l));
  child.on('close', () => {
    for (const w of waiting.splice(0)) w(JSON.stringify({ ok: false, error: `harness exited: ${stderr}` }));
  });
  return {
    child,
    call<T>(req: Record<string, unknown>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        waiting.push((line) => {
          const r = JSON.parse(line) as { ok: boolean; result?: T; error?: string; trace?: string };
          if (r.ok) resolve(r.result as T);
          else reject(new Error(`harness ${String(req['op'])}: ${r.error}\n${r.trace ?? ''}`));
        });
        child.stdin.write(JSON.stringify(req) + '\n');
      });
    },
    async close() {
      if (child.exitCode === null) {
        child.stdin.write('{"op":"quit"}\n');
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            r(undefined);
          }, 3000);
          child.once('close', () => {
            clearTimeout(t);
            r(undefined);
          });
        });
      }
    },
  };
}

/** The status upload's entry for our handler. */
export interface HandlerAggregate {
  handlerVersion: string;
  handlerName: string;
  status: string;
  code: number;
  formattedMessage?: { message: string };
  runtimeSettingsStatus?: {
    sequenceNumber: number;
    settingsStatus: {
      status: {
        status: string;
        code: number;
        operation?: string;
        formattedMessage?: { message: string };
        substatus?: { name: string; status: string; formattedMessage?: { message: string } }[];
      };
    };
  };
}

export function handlerStatus(upload: unknown): HandlerAggregate | undefined {
  const u = upload as { aggregateStatus?: { handlerAggregateStatus?: HandlerAggregate[] } };
  return u.aggregateStatus?.handlerAggregateStatus?.find((h) => h.handlerName === HANDLER);
}

/** Reports until our extension's status for seq is not transitioning (or fails at the deadline). */
export async function settleStatus(agent: AgentHarness, seq: number, timeoutMs: number): Promise<HandlerAggregate> {
  const deadline = Date.now() + timeoutMs;
  let last: HandlerAggregate | undefined;
  for (;;) {
    const r = await agent.call<{ upload: unknown }>({ op: 'report' });
    last = handlerStatus(r.upload);
    const s = last?.runtimeSettingsStatus;
    if (s && s.sequenceNumber === seq && s.settingsStatus.status.status !== 'transitioning') return last as HandlerAggregate;
    if (Date.now() > deadline) assert.fail(`status for seq ${seq} still not final: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
