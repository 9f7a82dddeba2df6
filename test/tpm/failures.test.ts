// Failure paths of the TPM collector: each must end in a clear typed error, never a hang.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { Simulator } from '../../scripts/swtpm-sim.js';
import { CollectionError, CvmAttestError, ExitCode, InputError } from '../../src/base/errors.js';
import { quote, readHclNvIndex, readTpmEvidence, TpmResponseError } from '../../src/collect/tpm/index.js';
import { startTestSimulator, withTempDir } from './sim-helpers.js';

/** Asserts the promise rejects with a CollectionError of one of `codes`, and returns it. */
async function collectionError(p: Promise<unknown>, codes: string[]): Promise<CollectionError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CollectionError, `expected a CollectionError, got ${String(e)}`);
    assert.ok(codes.includes(e.code), `code ${e.code} (${e.message}) not one of ${codes.join(', ')}`);
    assert.equal(e.exitCode, ExitCode.Collection);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('no TPM and bad transports', () => {
  it('device:/nonexistent gives E_TPM_NO_DEVICE naming the path', async () => {
    const e = await collectionError(readTpmEvidence({ transport: 'device:/nonexistent/tpmrm0' }), ['E_TPM_NO_DEVICE']);
    assert.match(e.message, /\/nonexistent\/tpmrm0/);
  });

  it('a device that answers nothing (/dev/null: end-of-file) fails at once', async () => {
    await collectionError(readTpmEvidence({ transport: 'device:/dev/null', timeoutMs: 2000 }), ['E_TPM_CONNECTION_CLOSED']);
  });

  it('a socket nobody listens on gives E_TPM_UNREACHABLE', async () => {
    const { dir, cleanup } = await withTempDir('cvm-tpm-');
    try {
      await collectionError(readTpmEvidence({ transport: `swtpm:path=${join(dir, 'none.sock')}` }), ['E_TPM_UNREACHABLE']);
    } finally {
      await cleanup();
    }
  });

  it('a malformed transport string is an InputError', async () => {
    for (const t of ['tpm0', 'device:', 'swtpm:port=99999', 'swtpm:host=a,path=b', 'swtpm:foo=1', 'mssim:host=x']) {
      await assert.rejects(readTpmEvidence({ transport: t }), (e: unknown) => e instanceof InputError && e.code === 'E_TPM_TRANSPORT', t);
    }
  });
});

describe('misbehaving TPM endpoints (hand-built edge cases)', () => {
  let server: Server;
  let dir: string;
  let cleanup: () => Promise<void>;
  let behave: (s: Socket, cmd: Buffer) => void = () => undefined;
  const sockets = new Set<Socket>();

  before(async () => {
    ({ dir, cleanup } = await withTempDir('cvm-tpm-'));
    server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.on('data', (d) => behave(s, d));
    });
    await new Promise<void>((r) => server.listen(join(dir, 'fake.sock'), r));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await cleanup();
  });
  const transport = (): string => `swtpm:path=${join(dir, 'fake.sock')}`;

  it('a TPM that never answers times out (E_TPM_TIMEOUT), no hang', async () => {
    behave = () => undefined;
    const t0 = Date.now();
    await collectionError(readHclNvIndex(transport(), { timeoutMs: 300 }), ['E_TPM_TIMEOUT']);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('an AbortSignal stops the wait (E_TPM_ABORTED)', async () => {
    behave = () => undefined;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await collectionError(readHclNvIndex(transport(), { signal: ac.signal, timeoutMs: 10_000 }), ['E_TPM_ABORTED']);
  });

  it('bytes that are not a TPM response give E_TPM_PROTOCOL', async () => {
    behave = (s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n');
    await collectionError(readHclNvIndex(transport()), ['E_TPM_PROTOCOL']);
  });

  it('half a response then a closed connection gives E_TPM_CONNECTION_CLOSED', async () => {
    behave = (s) => s.end(Buffer.from('80010000004000000000', 'hex'));
    await collectionError(readHclNvIndex(transport()), ['E_TPM_CONNECTION_CLOSED']);
  });

  it('transient TPM_RC_RETRY is retried; then the real answer counts', async () => {
    let n = 0;
    behave = (s) => s.write(Buffer.from(++n <= 2 ? '80010000000a00000922' : '80010000000a00000101', 'hex'));
    await collectionError(readHclNvIndex(transport()), ['E_TPM_RC_FAILURE']);
    assert.equal(n, 3, 'two retries, then the failure-mode answer');
    n = -100; // always busy: gives up after 5 retries with the decoded warning
    behave = (s) => (n++, s.write(Buffer.from('80010000000a00000922', 'hex')));
    const e = await collectionError(readHclNvIndex(transport()), ['E_TPM_RC_RETRY']);
    assert.equal(n, -100 + 6);
    assert.match(e.message, /try again/);
  });

  it('a TPM in failure mode: the response code is decoded', async () => {
    behave = (s) => s.write(Buffer.from('80010000000a00000101', 'hex'));
    const e = await collectionError(readHclNvIndex(transport()), ['E_TPM_RC_FAILURE']);
    assert.match(e.message, /TPM2_GetCapability failed: TPM_RC_FAILURE \(0x101\).*failure mode/);
  });
});

describe('swtpm killed or frozen mid-read', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startTestSimulator();
  });
  after(async () => sim?.stop());

  it('a frozen TPM (SIGSTOP) mid-read times out, then works again once resumed', async () => {
    let stopped = false;
    const t0 = Date.now();
    try {
      await collectionError(
        readHclNvIndex(sim.transport, {
          maxChunk: 64,
          timeoutMs: 400,
          onChunk: (off) => {
            if (off >= 256 && !stopped) {
              stopped = true;
              process.kill(sim.pid, 'SIGSTOP');
            }
          },
        }),
        ['E_TPM_TIMEOUT'],
      );
    } finally {
      process.kill(sim.pid, 'SIGCONT');
    }
    assert.ok(stopped);
    assert.ok(Date.now() - t0 < 3000);
    const r = await readHclNvIndex(sim.transport);
    assert.equal(r.hclReport.length, 1819);
  });

  it('kill -9 while reading gives a clear CollectionError at once, then E_TPM_UNREACHABLE', async () => {
    let killed = false;
    const t0 = Date.now();
    const e = await collectionError(
      readHclNvIndex(sim.transport, {
        maxChunk: 16,
        wholeIndex: true,
        timeoutMs: 30_000,
        onChunk: (off) => {
          if (off >= 256 && !killed) {
            killed = true;
            process.kill(sim.pid, 'SIGKILL');
          }
        },
      }),
      ['E_TPM_CONNECTION_CLOSED'],
    );
    assert.ok(killed);
    assert.ok(Date.now() - t0 < 5000, 'no wait for the 30 s timeout');
    assert.match(e.message, /TPM2_NV_Read/);
    await collectionError(readTpmEvidence({ transport: sim.transport }), ['E_TPM_UNREACHABLE']);
  });
});

describe('NV index absent, unwritten, not an HCL report, wrong authorization', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startTestSimulator({ provision: false });
  });
  after(async () => sim?.stop());

  it('NV index absent: TPM_RC_HANDLE naming 0x01400001 and what it means', async () => {
    const e = await collectionError(readTpmEvidence({ transport: sim.transport }), ['E_TPM_RC_HANDLE']);
    assert.ok(e instanceof TpmResponseError);
    assert.equal(e.rc, 0x18b);
    assert.match(e.message, /TPM2_NV_ReadPublic failed: TPM_RC_HANDLE \(0x18B\) on handle 1 \(nvIndex 0x01400001\)/);
    assert.match(e.message, /not an Azure Confidential VM/);
  });

  it('AK absent: the quote fails with TPM_RC_HANDLE naming 0x81000003', async () => {
    const e = await collectionError(quote(sim.transport), ['E_TPM_RC_HANDLE']);
    assert.match(e.message, /TPM2_Quote failed: TPM_RC_HANDLE .*signHandle 0x81000003/);
  });

  it('an index without OWNERREAD: TPM_RC_NV_AUTHORIZATION for an owner read', async () => {
    await sim.tpm2('tpm2_nvdefine', ['0x01400001', '-C', 'p', '-s', '64', '-a', 'authread|authwrite|platformcreate|no_da', '-p', 'pw']);
    const e = await collectionError(readHclNvIndex(sim.transport), ['E_TPM_RC_NV_AUTHORIZATION']);
    assert.match(e.message, /no OWNERREAD/);
    await sim.tpm2('tpm2_nvundefine', ['0x01400001', '-C', 'p']);
  });

  it('an index never written: TPM_RC_NV_UNINITIALIZED', async () => {
    await sim.tpm2('tpm2_nvdefine', ['0x01400001', '-C', 'p', '-s', '64', '-a', 'authread|authwrite|ownerread|platformcreate|no_da', '-p', 'pw']);
    const e = await collectionError(readHclNvIndex(sim.transport), ['E_TPM_RC_NV_UNINITIALIZED']);
    assert.match(e.message, /never written/);
  });

  it('an index holding no HCL report: E_HCL_SIGNATURE', async () => {
    const f = join(sim.dir, 'junk.bin');
    await writeFile(f, Buffer.alloc(64, 0xff));
    await sim.tpm2('tpm2_nvwrite', ['0x01400001', '-C', '0x01400001', '-P', 'pw', '-i', f]);
    const e = await collectionError(readHclNvIndex(sim.transport), ['E_HCL_SIGNATURE']);
    assert.match(e.message, /HCLA/);
  });

  it('a wrong index password: TPM_RC_BAD_AUTH on session 1 (no_da index)', async () => {
    const e = await collectionError(readHclNvIndex(sim.transport, { auth: 'index', password: 'wrong' }), ['E_TPM_RC_BAD_AUTH']);
    assert.match(e.message, /TPM_RC_BAD_AUTH \(0x9A2\) on session 1/);
  });

  it('an owner password we do not have: decoded authorization failure; the right one passes authorization', async () => {
    await sim.tpm2('tpm2_changeauth', ['-c', 'o', 'owner-secret']);
    const e = await collectionError(readHclNvIndex(sim.transport), ['E_TPM_RC_AUTH_FAIL', 'E_TPM_RC_BAD_AUTH']);
    assert.match(e.message, /session 1.*owner authorization/i);
    // With the owner password, authorization passes and the (junk) content is what fails.
    await collectionError(readHclNvIndex(sim.transport, { password: 'owner-secret' }), ['E_HCL_SIGNATURE']);
  });
});

describe('error objects', () => {
  it('are CvmAttestErrors with a stable code (no stack trace needed)', async () => {
    try {
      await readTpmEvidence({ transport: 'device:/nonexistent' });
    } catch (e) {
      assert.ok(e instanceof CvmAttestError);
      assert.equal(typeof e.code, 'string');
      return;
    }
    assert.fail('expected an error');
  });
});
