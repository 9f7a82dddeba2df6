// A TPM 2.0 simulator (Debian's swtpm) provisioned like an Azure Confidential VM's vTPM, for tests,
// benches and demos. Importable (startSimulator / stopSimulator) and a CLI:
//   node --import tsx scripts/swtpm-sim.ts start --dir D [--hcl FILE] [--no-provision]
//   node --import tsx scripts/swtpm-sim.ts stop --dir D
// Each start is a fresh TPM (the state folder is wiped).
// swtpm listens on a unix socket inside the caller's own folder, so parallel tests never clash.
// Provisioning uses tpm2-tools (not our own encoder), so tests cross-check our TPM code against them.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The real 2048-byte HCL dump that fits libtpms's 2048-byte NV index limit. */
export const DEFAULT_HCL_REPORT = join(ROOT, 'test/fixtures/negative/hcl-report-foreign-vcek.bin');

export const HCL_NV_INDEX = '0x01400001';
export const AK_HANDLE = '0x81000003';
export const EK_HANDLE = '0x81010001';
/** Azure's attributes for the HCL report index (defined by the paravisor in the platform hierarchy). */
export const AZURE_NV_ATTRIBUTES = 'authread|authwrite|ownerread|platformcreate|no_da';
export const AZURE_AK_ATTRIBUTES = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign';
export const DEFAULT_INDEX_PASSWORD = 'hcl-index-password';

export interface StartOptions {
  /** Folder for the socket, state, pid file and keys (created if missing); default a new temp folder. */
  readonly dir?: string;
  /** Bytes written to NV 0x01400001; default the real 2048-byte dump (DEFAULT_HCL_REPORT). */
  readonly hclReport?: Uint8Array;
  /** Define the NV index, EK and AK (default true). false leaves a blank TPM. */
  readonly provision?: boolean;
  /** Override the NV index attributes (tests of wrong authorization). */
  readonly nvAttributes?: string;
  readonly indexPassword?: string;
  /** Run TPM2_Startup when swtpm starts (default true). false leaves the TPM un-started, as after power-on; implies no provisioning. */
  readonly startup?: boolean;
}

export interface Simulator {
  /** For our collector: 'swtpm:path=<dir>/tpm.sock'. */
  readonly transport: string;
  /** For tpm2-tools (TPM2TOOLS_TCTI). */
  readonly tcti: string;
  readonly dir: string;
  readonly pid: number;
  /** SPKI PEM of the AK at 0x81000003 ('' when not provisioned). */
  readonly akPublicPem: string;
  readonly indexPassword: string;
  /** Runs a tpm2-tools command against this simulator; resolves to stdout (rejects with stderr). */
  tpm2(tool: string, args: readonly string[]): Promise<Buffer>;
  stop(): Promise<void>;
}

function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Buffer> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.toString().trim() || err.message}`));
      else res(stdout);
    });
  });
}

const onPath = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

/** Installs Debian's swtpm and tpm2-tools when missing (needs root and the Debian registry). */
export function ensureTools(): void {
  if (onPath('swtpm') && onPath('tpm2_nvdefine')) return;
  if (process.getuid?.() !== 0) throw new Error('swtpm / tpm2-tools are missing: install the Debian packages swtpm swtpm-tools tpm2-tools (as root)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): number | null =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'swtpm', 'swtpm-tools', 'tpm2-tools'], { stdio: 'inherit', env }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (install() !== 0) throw new Error('apt-get could not install swtpm / tpm2-tools');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const paths = (dir: string) => ({
  sock: join(dir, 'tpm.sock'),
  ctrl: join(dir, 'tpm.sock.ctrl'),
  state: join(dir, 'state'),
  pid: join(dir, 'swtpm.pid'),
  hcl: join(dir, 'hcl-report.bin'),
  ek: join(dir, 'ek.pem'),
  akCtx: join(dir, 'ak.ctx'),
  ak: join(dir, 'ak.pem'),
});

/** Starts swtpm in `dir` and (by default) provisions it like an Azure CVM vTPM. */
export async function startSimulator(opts: StartOptions = {}): Promise<Simulator> {
  ensureTools();
  const dir = resolve(opts.dir ?? (await mkdtemp(join(tmpdir(), 'swtpm-'))));
  const p = paths(dir);
  if (Buffer.byteLength(p.ctrl) > 100) throw new Error(`socket path ${p.ctrl} is too long for a unix socket: use a shorter --dir`);
  if (existsSync(p.pid) && pidIsSwtpm(Number(readFileSync(p.pid, 'utf8').trim()))) throw new Error(`a simulator already runs in ${dir}: stop it first`);
  // Every start is a fresh TPM: stale state would make provisioning fail (index already defined).
  await rm(p.state, { recursive: true, force: true });
  await mkdir(p.state, { recursive: true, mode: 0o700 });
  await run('swtpm', [
    'socket',
    '--tpm2',
    '--server',
    `type=unixio,path=${p.sock}`,
    '--ctrl',
    `type=unixio,path=${p.ctrl}`,
    '--tpmstate',
    `dir=${p.state}`,
    '--flags',
    opts.startup === false ? 'not-need-init' : 'not-need-init,startup-clear',
    '--pid',
    `file=${p.pid}`,
    '--daemon',
  ]);
  await waitFor(() => existsSync(p.pid) && existsSync(p.sock), 5000, 'swtpm to start');
  const pid = Number((await readFile(p.pid, 'utf8')).trim());
  const tcti = `swtpm:path=${p.sock}`;
  const tpm2 = (tool: string, args: readonly string[]): Promise<Buffer> => run(tool, args, { TPM2TOOLS_TCTI: tcti });
  const indexPassword = opts.indexPassword ?? DEFAULT_INDEX_PASSWORD;
  let akPublicPem = '';
  const sim: Simulator = {
    transport: `swtpm:path=${p.sock}`,
    tcti,
    dir,
    pid,
    get akPublicPem() {
      return akPublicPem;
    },
    indexPassword,
    tpm2,
    stop: () => stopSimulator(dir),
  };
  if (opts.provision === false || opts.startup === false) return sim;
  try {
    const hcl = opts.hclReport ?? new Uint8Array(await readFile(DEFAULT_HCL_REPORT));
    await writeFile(p.hcl, hcl);
    await tpm2('tpm2_nvdefine', [HCL_NV_INDEX, '-C', 'p', '-s', String(hcl.length), '-a', opts.nvAttributes ?? AZURE_NV_ATTRIBUTES, '-p', indexPassword]);
    await tpm2('tpm2_nvwrite', [HCL_NV_INDEX, '-C', HCL_NV_INDEX, '-P', indexPassword, '-i', p.hcl]);
    await tpm2('tpm2_createek', ['-c', EK_HANDLE, '-G', 'rsa', '-u', p.ek, '-f', 'pem']);
    await tpm2('tpm2_createprimary', ['-C', 'e', '-G', 'rsa2048:rsassa-sha256:null', '-g', 'sha256', '-a', AZURE_AK_ATTRIBUTES, '-c', p.akCtx]);
    await tpm2('tpm2_evictcontrol', ['-C', 'o', '-c', p.akCtx, AK_HANDLE]);
    await tpm2('tpm2_flushcontext', ['-t']); // no resource manager in front of swtpm: flush transients
    await tpm2('tpm2_readpublic', ['-c', AK_HANDLE, '-o', p.ak, '-f', 'pem']);
    akPublicPem = await readFile(p.ak, 'utf8');
  } catch (e) {
    await stopSimulator(dir);
    throw e;
  }
  return sim;
}

function pidIsSwtpm(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'swtpm';
  } catch {
    return false;
  }
}

/** Stops the swtpm whose pid file is in `dir` (only if that pid really is swtpm). SIGTERM, then SIGKILL after 5 s. */
export async function stopSimulator(dir: string): Promise<void> {
  const pidFile = paths(resolve(dir)).pid;
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!pidIsSwtpm(pid)) return; // already gone, or the pid was reused by something else: never kill that
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(() => !existsSync(`/proc/${pid}`) || !pidIsSwtpm(pid), 5000, 'swtpm to exit');
  } catch {
    if (pidIsSwtpm(pid)) process.kill(pid, 'SIGKILL');
    await waitFor(() => !pidIsSwtpm(pid), 2000, 'swtpm to die');
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const flag = (name: string): string | undefined => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const dir = flag('--dir');
  if ((cmd !== 'start' && cmd !== 'stop') || !dir) {
    process.stderr.write('usage: swtpm-sim.ts start --dir D [--hcl FILE] [--no-provision] | stop --dir D\n');
    return 2;
  }
  if (cmd === 'stop') {
    await stopSimulator(dir);
    return 0;
  }
  const hcl = flag('--hcl');
  const sim = await startSimulator({ dir, ...(hcl ? { hclReport: new Uint8Array(await readFile(hcl)) } : {}), provision: !rest.includes('--no-provision') });
  process.stdout.write(JSON.stringify({ transport: sim.transport, tcti: sim.tcti, dir: sim.dir, pid: sim.pid, akPublicPem: sim.akPublicPem }, null, 2) + '\n');
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`swtpm-sim: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
