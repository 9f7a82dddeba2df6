// `npm run demo`: the cvm-attest VM extension at work on three simulated Azure Confidential VMs, on
// real evidence, with no Azure, no root, no TPM and no network beyond 127.0.0.1.
//
// Real: the extension's handlers and worker (this checkout's build, run unchanged through the
// package's bin/handler.sh, the way the Azure VM agent runs them), the evidence (an HCL report
// from a real Azure CVM, a real debug-enabled SNP report, their VCEKs and AMD's ASK/ARK), the Azure
// SDK clients (@azure/monitor-ingestion, @azure/identity), openssl for protected settings.
// Played by local stand-ins: the Azure VM agent (scripts/demo/vm.mjs: folder layout, settings file,
// env vars, shell), IMDS (test/emulators/imds.ts), the managed-identity token endpoint
// (test/emulators/imds-token.ts) and Azure Monitor Logs Ingestion (test/emulators/logs-ingestion.ts,
// TLS, validating every record against the DCR in extension/azure/azuredeploy.json).
//
// Options: --keep (leave the simulated VMs' folders for `cvm-attest status --dir`; workers are still
// stopped), --reports-dir DIR (where the HTML reports are copied; default $TMPDIR/cvm-attest-demo-reports).
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { register } from 'tsx/esm/api';
import {
  layOutExtension,
  makeTenantCertificate,
  installTenantCertificate,
  writeSettings,
  runHandler,
  readStatusEntry,
  waitForFinalStatus,
  workerPid,
  readHeartbeat,
} from './demo/vm.mjs';
import { formatPortal, lastResultOf, formatChecks, formatRecord, portalStatus } from './demo/show.mjs';

const t0 = Date.now();
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const HELP = `Usage: node scripts/demo.mjs [--keep] [--reports-dir DIR]   (npm run demo builds first, then runs this)

Runs the cvm-attest VM extension on two simulated Azure Confidential VMs, on real evidence: VM 1 (a
real Azure HCL report, Genoa) passes, VM 2 (a real SNP report with DEBUG on, Milan) fails and raises
alerts. No Azure, no root, no TPM, no network beyond 127.0.0.1. Exit 0 when both verdicts are as expected.

Options:
  --keep              keep the simulated VMs' folders (workers still stopped) for
                      \`cvm-attest status --dir DIR\`; their paths are printed at the end
  --reports-dir DIR   where the two HTML reports are copied (default: $TMPDIR/cvm-attest-demo-reports)
  -h, --help          show this help
`;
let opts;
try {
  ({ values: opts } = parseArgs({
    options: { keep: { type: 'boolean', default: false }, 'reports-dir': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  }));
} catch (e) {
  // An unknown option or a missing value: one line and the usage exit code, never a stack trace.
  process.stderr.write(`demo: ${e.message.split('\n')[0]} (see --help)\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const reportsDir = opts['reports-dir'] ?? join(tmpdir(), 'cvm-attest-demo-reports');
const fx = (p) => join(repo, 'test/fixtures', p);
const rel = (p) => relative(repo, p);
const say = (s = '') => process.stdout.write(`${s}\n`);
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(2)} s`;

// The emulators are TypeScript test helpers: load them through tsx (a dev dependency).
register();
const { startImdsEmulator } = await import('../test/emulators/imds.ts');
const { startImdsTokenEmulator } = await import('../test/emulators/imds-token.ts');
const { startLogsIngestionEmulator } = await import('../test/emulators/logs-ingestion.ts');
const { startPcsEmulator } = await import('../test/emulators/pcs.ts');

const root = mkdtempSync(join(tmpdir(), 'cvm-attest-demo-'));
const closers = [];
const vms = [];
let failed = false;

/**
 * The two VMs: the real Azure HCL report (Genoa) and a real SNP report with DEBUG on (Milan). The
 * worker verifies with the real clock (it has no clock setting): the VCEKs are valid until
 * 2032-01-24 (Genoa) and 2029-09-24 (Milan, debug); from 2029-08-25 VM 2 also raises
 * CertificateExpiringSoon, and after 2029-09-24 it fails on the chain as well as on debug.
 */
const VM_SPECS = [
  {
    label: 'VM 1',
    vmName: 'cvm-01',
    vmId: '390cbcf5-6c67-4d9b-98ef-c3f1699cc8fc',
    expect: 'pass',
    what: "a real Azure CVM's HCL report (Genoa), as the vTPM holds it in NV index 0x01400001",
    tpm: fx('azure-hcl/genoa/hcl-report.bin'),
    thim: {
      vcekPem: readFileSync(fx('azure-hcl/genoa/vcek.pem'), 'utf8'),
      chainPem: readFileSync(fx('amd/ask_ark_genoa.pem'), 'utf8'),
      tcbm: '541700000000000A',
    },
    thimWhat: 'the VCEK of that chip + ASK/ARK Genoa (AMD KDS)',
  },
  {
    label: 'VM 2',
    vmName: 'cvm-02',
    vmId: '5d3c1f0e-8a4b-4c6d-9e2f-0a1b2c3d4e5f',
    expect: 'fail',
    what: 'a real SNP report with the guest policy DEBUG bit set (Milan): the host can read guest memory',
    tpm: fx('negative/debug-enabled-report.bin'),
    thim: {
      vcekPem: new X509Certificate(readFileSync(fx('negative/debug-enabled-vcek.der'))).toString(),
      chainPem: readFileSync(fx('amd/ask_ark_milan.pem'), 'utf8'),
      tcbm: '4405000000000002',
    },
    thimWhat: 'the VCEK of that chip + ASK/ARK Milan (AMD KDS)',
  },
  {
    label: 'VM 3',
    vmName: 'cvm-03',
    vmId: '6332533d-5649-4d02-8aa7-8f64b7c3ee21',
    expect: 'pass',
    tdx: true,
    what: "a real Azure DCesv5 Intel TDX CVM's HCL report (its TD report inside)",
    tpm: fx('azure-tdx/hcl-report.bin'),
    thimWhat: 'POST /acc/tdquote answers the TD quote that VM got; collateral from the Intel PCS emulator (real, stale since 2025-03-15: a warning)',
  },
];

async function cleanUp() {
  // The agent's removal sequence: disable (stops the worker), uninstall (removes its state).
  for (const vm of vms) {
    if (!vm.enabled) continue;
    const d = await runHandler(vm, 'disable', { seq: vm.seq, env: vm.env }).catch((e) => ({ code: -1, output: String(e) }));
    if (d.code !== 0) {
      failed = true;
      say(`   disable on ${vm.label} exited ${d.code}: ${d.output}`);
    }
    const pid = workerPid(vm);
    if (pid !== undefined) {
      failed = true;
      say(`   ${vm.label}: worker ${pid} still recorded after disable`);
    }
    if (!opts.keep) await runHandler(vm, 'uninstall', { seq: vm.seq, env: vm.env }).catch(() => undefined);
  }
  for (const c of closers.reverse()) await c().catch(() => undefined);
  if (!opts.keep) rmSync(root, { recursive: true, force: true });
}

// Ctrl-C or SIGTERM: stop waiting, then clean up as usual (the workers run in their own sessions,
// so only `disable` stops them).
let interrupted = false;
let step = 2;
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    interrupted = true;
  });

try {
  say('cvm-attest demo: the VM extension on three simulated Azure Confidential VMs, on real AMD SEV-SNP and Intel TDX evidence');
  say('(real handlers, worker, Azure SDK and evidence; the Azure agent, IMDS and Azure Monitor are local stand-ins on 127.0.0.1)');
  say();
  say('1. What was set up');
  const li = await startLogsIngestionEmulator();
  closers.push(() => li.close());
  const token = await startImdsTokenEmulator();
  closers.push(() => token.close());
  const streams = Object.keys(li.streams);
  say(`   Azure Monitor     Logs Ingestion emulator ${li.endpoint} (TLS, its CA trusted through NODE_EXTRA_CA_CERTS)`);
  say(`                     DCR ${li.dcrImmutableId}, streams ${streams.join(', ')} (from extension/azure/azuredeploy.json)`);
  say(`   managed identity  IMDS token emulator ${token.url} (AZURE_POD_IDENTITY_AUTHORITY_HOST)`);
  const cert = makeTenantCertificate(join(root, 'platform'));
  say(`   tenant cert       ${cert.thumbprint} (openssl; protected settings are CMS-encrypted to it, as the platform does)`);

  for (const spec of VM_SPECS) {
    const vmRoot = join(root, spec.vmName);
    const vm = { ...spec, ...layOutExtension({ root: vmRoot, repo }), seq: 0, enabled: false };
    vms.push(vm);
    installTenantCertificate(cert, vm.lib);
    const imds = await startImdsEmulator({
      thim: spec.thim,
      vmId: spec.vmId,
      compute: {
        name: spec.vmName,
        osProfile: { adminUsername: 'azureuser', computerName: spec.vmName, disablePasswordAuthentication: 'true' },
        resourceId: `/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourceGroups/cvm-rg/providers/Microsoft.Compute/virtualMachines/${spec.vmName}`,
      },
    });
    closers.push(() => imds.close());
    let pcs;
    if (spec.tdx) {
      pcs = await startPcsEmulator();
      closers.push(() => pcs.close());
    }
    const publicSettings = { intervalMinutes: 60, statusOnFailure: 'error', sinks: { alerts: { enabled: true } } };
    const protectedSettings = { sinks: { azureMonitor: { endpoint: li.endpoint, dcrImmutableId: li.dcrImmutableId } } };
    writeSettings(vm, vm.seq, publicSettings, protectedSettings, cert);
    // The agent's environment, plus what points the real parts at the stand-ins (absent on Azure).
    vm.env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: vmRoot,
      CVM_ATTEST_TPM: `file:${spec.tpm}`,
      CVM_ATTEST_IMDS_ENDPOINT: imds.url,
      NODE_EXTRA_CA_CERTS: li.caFile,
      AZURE_POD_IDENTITY_AUTHORITY_HOST: token.url,
      NO_PROXY: '127.0.0.1,localhost',
      ...(pcs ? { CVM_ATTEST_PCS_ENDPOINT: pcs.url } : {}),
    };
    say(`   ${spec.label} (${spec.vmName})    extension folder ${vm.extDir}`);
    say(`                     laid out as the agent does: HandlerManifest.json, bin/handler.sh, HandlerEnvironment.json, config/0.settings, status/`);
    say(`                     vTPM:  file:${rel(spec.tpm)} - ${spec.what}`);
    say(`                     IMDS:  ${imds.url} - ${spec.tdx ? '' : 'THIM: '}${spec.thimWhat}; instance metadata vmId ${spec.vmId}`);
    if (pcs) say(`                     PCS:   ${pcs.url} - Intel PCS v4 emulator (CVM_ATTEST_PCS_ENDPOINT)`);
    say(`                     settings: public ${JSON.stringify(publicSettings)}`);
    say('                               protected (encrypted) {"sinks":{"azureMonitor":{"endpoint":"<emulator>","dcrImmutableId":"<DCR>"}}}');
  }
  say('   agent env         ConfigSequenceNumber, AZURE_GUEST_AGENT_EXTENSION_PATH/_VERSION/_SUPPORTED_FEATURES as the agent sets them,');
  say('                     plus CVM_ATTEST_TPM, CVM_ATTEST_IMDS_ENDPOINT, NODE_EXTRA_CA_CERTS, AZURE_POD_IDENTITY_AUTHORITY_HOST:');
  say('                     they point the real parts at the stand-ins above (on Azure none is set)');

  for (const vm of vms) {
    say();
    say(
      `${step++}. ${vm.label}: install + enable -> status, as the portal shows it (${vm.expect === 'pass' ? 'genuine evidence' : 'failing evidence: debug enabled'})`,
    );
    vm.enabled = true; // from here on, clean-up runs disable (harmless if no worker started)
    for (const op of ['install', 'enable']) {
      const r = await runHandler(vm, op, { seq: vm.seq, env: vm.env });
      say(`   agent> ${vm.manifest[`${op}Command`].padEnd(22)} exit ${r.code} (${r.ms} ms)${r.output.trim() ? `: ${r.output.trim()}` : ''}`);
      if (r.code !== 0) throw new Error(`${op} failed on ${vm.label}`);
    }
    const first = readStatusEntry(vm, vm.seq);
    say(first ? formatPortal(first) : `   ${portalStatus('transitioning')} (no status file yet)`);
    const final = await waitForFinalStatus(vm, vm.seq, { stop: () => interrupted });
    if (interrupted) throw new Error('interrupted');
    if (!final) throw new Error(`${vm.label}: no final status within 20 s (see ${vm.logDir})`);
    say(formatPortal(final));
    const pid = workerPid(vm);
    say(pid ? `   worker detached: pid ${pid} (own session: outlives the agent's command; sleeps until the next run)` : '   UNEXPECTED: no worker recorded');
    if (!pid) failed = true;
    const hb = readHeartbeat(vm);
    if (hb) say(`   heartbeat: ${hb.status} - ${hb.formattedMessage?.message}`);

    const last = await lastResultOf(vm.extDir); // written before the final status
    const verdict = last && last.verdict !== 'none' ? last.verdict.toUpperCase() : final.status.status.toUpperCase();
    say();
    say(`${step++}. ${vm.label}: verdict ${verdict}`);
    const checks = last?.checks ?? [];
    say(formatChecks(checks));
    if (verdict.toLowerCase() !== vm.expect) {
      failed = true;
      say(`   UNEXPECTED: expected ${vm.expect.toUpperCase()}`);
    }

    say();
    say(`${step++}. ${vm.label}: what Azure Monitor received (Logs Ingestion emulator; its address was only in the protected settings)`);
    const records = li.received(streams[0]).filter((r) => r.VmId === vm.vmId);
    const alerts = streams[1] ? li.received(streams[1]).filter((r) => r.VmId === vm.vmId) : [];
    if (records.length === 0) {
      failed = true;
      say(`   UNEXPECTED: no record on ${streams[0]}`);
    }
    for (const r of records) {
      say(`   ${streams[0]} record (table ${streams[0].replace(/^Custom-/, '')}_CL):`);
      say(formatRecord(r));
    }
    if (alerts.length === 0) say(`   ${streams[1]}: no alert${vm.expect === 'pass' ? ' (none expected: the VM passed)' : ''}`);
    for (const a of alerts) {
      say(`   ${streams[1]} alert: ${a.AlertSeverity} ${a.AlertType} - ${a.AlertName}`);
      say(
        formatRecord(
          {
            Description: a.Description,
            CompromisedEntity: a.CompromisedEntity,
            RemediationSteps: a.RemediationSteps,
            RecordId: a.RecordId,
            SystemAlertId: a.SystemAlertId,
          },
          '       ',
        ),
      );
    }
    if (vm.expect === 'fail' && alerts.length === 0) failed = true;

    say();
    say(`${step++}. ${vm.label}: \`cvm-attest status\` on the VM, and the HTML report`);
    const status = execFileSync(process.execPath, [join(repo, 'bin/cvm-attest.js'), 'status', '--dir', vm.extDir], { encoding: 'utf8' });
    say(
      status
        .trimEnd()
        .split('\n')
        .filter((l) => !/^\s{4}\[(pass|FAIL|warn|skip)\] /.test(l))
        .map((l) => `   ${l}`)
        .join('\n'),
    ); // the checks were shown above
    const html = [join(vm.extDir, 'state/report.html')].find((p) => existsSync(p));
    if (html) {
      mkdirSync(reportsDir, { recursive: true });
      const out = join(reportsDir, `${vm.vmName}-${verdict.toLowerCase()}.html`);
      copyFileSync(html, out);
      say(`   HTML report: ${out} (copied from the worker's ${html.slice(vm.extDir.length + 1)}; open it in a browser)`);
    } else {
      failed = true;
      say(`   UNEXPECTED: the worker wrote no HTML report (state/ holds: ${readdirSync(join(vm.extDir, 'state')).join(', ')})`);
    }
    if (interrupted) throw new Error('interrupted');
  }
} catch (e) {
  failed = true;
  say(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
  for (const vm of interrupted ? [] : vms) {
    try {
      for (const f of readdirSync(vm.logDir)) say(`--- ${join(vm.logDir, f)}\n${readFileSync(join(vm.logDir, f), 'utf8').slice(-3000)}`);
    } catch {
      /* no logs */
    }
  }
} finally {
  say();
  say(`${step}. Clean-up: disable on each VM (stops its worker), uninstall, emulators closed, ${opts.keep ? `${root} KEPT (--keep)` : `${root} removed`}`);
  await cleanUp();
  if (opts.keep) for (const vm of vms) say(`   cvm-attest status --dir ${vm.extDir}`);
  say(`   done in ${elapsed()}${failed ? ' - WITH PROBLEMS (see above)' : ''}`);
}
process.exitCode = failed ? 1 : 0;
