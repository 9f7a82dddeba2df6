// A simulated Azure Linux VM for the demo: the folders the Azure VM agent (WALinuxAgent) creates for
// an extension, and the agent's way of running its handler commands. Nothing here is cvm-attest
// code: it plays the agent's part so that the real handlers and worker run unchanged.
//
//   <root>/var/lib/waagent/<THUMBPRINT>.crt|.prv            the agent's certificate for protected settings
//   <root>/var/lib/waagent/<Publisher.Type>-<version>/      the unpacked extension package:
//       HandlerManifest.json, bin/handler.sh, bin/cvm-attest.mjs, runtime/node
//       HandlerEnvironment.json, config/<seq>.settings, status/, heartbeat.log (written here)
//   <root>/var/log/azure/<Publisher.Type>/                  the extension's log folder
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Lays out one VM's extension folder as the agent does after downloading and unzipping the package.
 * The package's bin/cvm-attest.mjs is this checkout's CLI build and runtime/node this Node.js (the
 * real zip carries a one-file bundle and a Node binary: `npm run package`).
 */
export function layOutExtension({ root, repo, version = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version }) {
  // The folder is <name>-<version>, version = package.json's (as the zip `npm run package` builds).
  const manifestText = readFileSync(join(repo, 'HandlerManifest.json'), 'utf8');
  const manifest = JSON.parse(manifestText);
  const name = manifest[0].name;
  const lib = join(root, 'var/lib/waagent');
  const extDir = join(lib, `${name}-${version}`);
  const logDir = join(root, 'var/log/azure', name);
  for (const d of [join(extDir, 'bin'), join(extDir, 'runtime'), join(extDir, 'config'), join(extDir, 'status'), logDir])
    mkdirSync(d, { recursive: true, mode: 0o755 });
  writeFileSync(join(extDir, 'HandlerManifest.json'), manifestText);
  copyFileSync(join(repo, 'extension/bin/handler.sh'), join(extDir, 'bin/handler.sh'));
  chmodSync(join(extDir, 'bin/handler.sh'), 0o755); // the agent adds u+x to every file it unzips
  const cli = join(repo, 'dist/bundle/cli.mjs');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm run demo does)`);
  symlinkSync(cli, join(extDir, 'bin/cvm-attest.mjs'));
  symlinkSync(process.execPath, join(extDir, 'runtime/node'));
  // Written by the agent before it runs any handler command.
  writeFileSync(
    join(extDir, 'HandlerEnvironment.json'),
    JSON.stringify([
      {
        name,
        version: 1.0,
        handlerEnvironment: {
          logFolder: logDir,
          configFolder: join(extDir, 'config'),
          statusFolder: join(extDir, 'status'),
          heartbeatFile: join(extDir, 'heartbeat.log'),
          eventsFolder: join(logDir, 'events'),
          deploymentid: '',
          rolename: '',
          instance: '',
          hostResolverAddress: '',
        },
      },
    ]),
  );
  return { name, version, lib, extDir, logDir, manifest: manifest[0].handlerManifest };
}

/**
 * The tenant certificate the platform encrypts protected settings to; the agent stores it as
 * <THUMBPRINT>.crt/.prv in its library folder. Created once per demo with openssl.
 */
export function makeTenantCertificate(dir) {
  mkdirSync(dir, { recursive: true });
  const crt = join(dir, 'tenant.crt');
  const prv = join(dir, 'tenant.prv');
  execFileSync(
    'openssl',
    ['req', '-x509', '-nodes', '-newkey', 'rsa:2048', '-subj', '/CN=Windows Azure CRP Certificate Generator', '-days', '1', '-keyout', prv, '-out', crt],
    { stdio: 'ignore' },
  );
  const thumbprint = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-fingerprint', '-sha1'], { encoding: 'utf8' })
    .trim()
    .split('=')[1]
    .replaceAll(':', '')
    .toUpperCase();
  return { crt, prv, thumbprint };
}

export function installTenantCertificate(cert, lib) {
  copyFileSync(cert.crt, join(lib, `${cert.thumbprint}.crt`));
  copyFileSync(cert.prv, join(lib, `${cert.thumbprint}.prv`));
  chmodSync(join(lib, `${cert.thumbprint}.prv`), 0o600);
}

/** Encrypts protected settings the way the platform does: CMS EnvelopedData (DER, base64) to the tenant certificate. */
export function encryptProtectedSettings(obj, cert) {
  return execFileSync('openssl', ['cms', '-encrypt', '-binary', '-outform', 'DER', '-aes256', cert.crt], { input: JSON.stringify(obj) }).toString('base64');
}

/** config/<seq>.settings as the agent writes it. */
export function writeSettings(vm, seq, publicSettings, protectedSettings, cert) {
  const handlerSettings = protectedSettings
    ? { protectedSettingsCertThumbprint: cert.thumbprint, protectedSettings: encryptProtectedSettings(protectedSettings, cert), publicSettings }
    : { protectedSettingsCertThumbprint: null, protectedSettings: null, publicSettings };
  const file = join(vm.extDir, 'config', `${seq}.settings`);
  writeFileSync(file, JSON.stringify({ runtimeSettings: [{ handlerSettings }] }));
  return file;
}

/**
 * Runs a handler command the way the agent does: the manifest's command joined to the extension
 * folder, through a shell, cwd = the extension folder, with the agent's environment variables.
 * Resolves to { code, output, ms }.
 */
export function runHandler(vm, operation, { seq, env = {} }) {
  const cmd = vm.manifest[`${operation}Command`];
  if (typeof cmd !== 'string') throw new Error(`HandlerManifest.json has no ${operation}Command`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // The agent joins the command to the folder unquoted (its folders have no spaces); quoting the
    // path keeps the demo working under a TMPDIR that has some.
    const [file, ...rest] = cmd.split(' ');
    const line = [`'${join(vm.extDir, file).replaceAll("'", "'\\''")}'`, ...rest].join(' ');
    const child = spawn('/bin/sh', ['-c', line], {
      cwd: vm.extDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        AZURE_GUEST_AGENT_EXTENSION_PATH: vm.extDir,
        AZURE_GUEST_AGENT_EXTENSION_VERSION: vm.version,
        ConfigSequenceNumber: String(seq),
        AZURE_GUEST_AGENT_EXTENSION_SUPPORTED_FEATURES: JSON.stringify([{ Key: 'ExtensionTelemetryPipeline', Value: '1.0' }]),
      },
    });
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    // The agent's timeouts: enable 300 s, others 900 s. The demo is far stricter.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output: output.slice(0, 3200), ms: Date.now() - started });
    });
  });
}

/** status/<seq>.status's one entry, or undefined while absent (the agent shows that as transitioning). */
export function readStatusEntry(vm, seq) {
  try {
    const doc = JSON.parse(readFileSync(join(vm.extDir, 'status', `${seq}.status`), 'utf8'));
    return Array.isArray(doc) ? doc[0] : undefined;
  } catch {
    return undefined;
  }
}

export function readHeartbeat(vm) {
  try {
    return JSON.parse(readFileSync(join(vm.extDir, 'heartbeat.log'), 'utf8'))[0]?.heartbeat;
  } catch {
    return undefined;
  }
}

/** Polls the status file until it leaves `transitioning` (what the agent reports to the portal). */
export async function waitForFinalStatus(vm, seq, { timeoutMs = 20_000, stop = () => false } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = readStatusEntry(vm, seq);
    if (e && e.status?.status !== 'transitioning') return e;
    if (Date.now() > deadline || stop()) return undefined;
    await new Promise((r) => setTimeout(r, 40));
  }
}

/** The worker's recorded pid (state/worker.json), if any. */
export function workerPid(vm) {
  try {
    const r = JSON.parse(readFileSync(join(vm.extDir, 'state/worker.json'), 'utf8'));
    return Number.isInteger(r.pid) ? r.pid : undefined;
  } catch {
    return undefined;
  }
}
