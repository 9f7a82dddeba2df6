// The pure TPM 2.0 encoder/decoder: byte-exact commands, response-code decoding, real quotes, and
// fuzzing (arbitrary bytes in -> a value or a typed error out, never anything else).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CvmAttestError, InputError } from '../../src/base/errors.js';
import {
  decodeGetCapabilityProperties,
  decodeNvRead,
  decodeNvReadPublic,
  decodePcrRead,
  decodeQuote,
  decodeReadPublic,
  encodeGetCapabilityProperties,
  encodeNvRead,
  encodeNvReadPublic,
  encodePcrRead,
  encodeQuote,
  encodeReadPublic,
  encodeStartup,
  nvReadCtx,
  quoteCtx,
  responseSizeFromHeader,
} from '../../src/collect/tpm/commands.js';
import { hclReportSize } from '../../src/collect/tpm/hcl-header.js';
import { parsePcrsJson } from '../../src/collect/tpm/file-replay.js';
import { decodeResponseCode, tpmRcErrorCode, TpmResponseError } from '../../src/tpm/response-codes.js';
import { parsePublicArea, parseQuoteAttest } from '../../src/tpm/structures.js';
import { parseTransport } from '../../src/collect/tpm/transport.js';
import { fixture as fx } from '../helpers/fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('command encoding (byte-exact, per the TPM 2.0 spec)', () => {
  it('NV_ReadPublic, NV_Read with owner auth and a password session, Startup, GetCapability', () => {
    assert.equal(hex(encodeNvReadPublic(0x01400001)), '800100000' + '00e' + '00000169' + '01400001');
    assert.equal(
      hex(encodeNvRead(0x40000001, 0x01400001, 1024, 0)),
      '8002' + '00000023' + '0000014e' + '40000001' + '01400001' + '00000009' + '40000009' + '0000' + '01' + '0000' + '0400' + '0000',
    );
    assert.equal(
      hex(encodeNvRead(0x01400001, 0x01400001, 16, 32, Buffer.from('pw'))),
      '8002' + '00000025' + '0000014e' + '01400001' + '01400001' + '0000000b' + '40000009' + '0000' + '01' + '0002' + '7077' + '0010' + '0020',
    );
    assert.equal(hex(encodeStartup()), '8001' + '0000000c' + '00000144' + '0000');
    assert.equal(hex(encodeGetCapabilityProperties(0x117, 22)), '8001' + '00000016' + '0000017a' + '00000006' + '00000117' + '00000016');
  });

  it('Quote and PCR_Read carry a SHA-256 selection bitmap (PCRs 0-7 = ff0000)', () => {
    const nonce = Buffer.from('challenge');
    const q = encodeQuote(0x81000003, nonce, [0, 1, 2, 3, 4, 5, 6, 7]);
    const body = '81000003' + '00000009' + '40000009' + '0000' + '01' + '0000' + '0009' + hex(nonce) + '0010' + '00000001' + '000b' + '03' + 'ff0000';
    assert.equal(hex(q), '8002' + (10 + body.length / 2).toString(16).padStart(8, '0') + '00000158' + body);
    assert.equal(hex(encodePcrRead([0, 7, 8, 23])), '8001' + '00000014' + '0000017e' + '00000001' + '000b' + '03' + '810180');
    assert.equal(hex(encodeReadPublic(0x81000003)), '8001' + '0000000e' + '00000173' + '81000003');
    assert.throws(
      () => encodeQuote(0x81000003, new Uint8Array(65), [0]),
      (e: unknown) => e instanceof CvmAttestError,
    );
  });
});

describe('response codes', () => {
  const cases: [number, string, Partial<ReturnType<typeof decodeResponseCode>>][] = [
    [0x18b, 'TPM_RC_HANDLE', { format: 'format-1', handle: 1 }],
    [0x28b, 'TPM_RC_HANDLE', { handle: 2 }],
    [0x98e, 'TPM_RC_AUTH_FAIL', { format: 'format-1', session: 1 }],
    [0x9a2, 'TPM_RC_BAD_AUTH', { session: 1 }],
    [0x1c4, 'TPM_RC_VALUE', { parameter: 1 }],
    [0x2d5, 'TPM_RC_SIZE', { parameter: 2 }],
    [0x14a, 'TPM_RC_NV_UNINITIALIZED', { format: 'format-0' }],
    [0x149, 'TPM_RC_NV_AUTHORIZATION', { format: 'format-0' }],
    [0x146, 'TPM_RC_NV_RANGE', {}],
    [0x100, 'TPM_RC_INITIALIZE', {}],
    [0x101, 'TPM_RC_FAILURE', {}],
    [0x143, 'TPM_RC_COMMAND_CODE', {}],
    [0x921, 'TPM_RC_LOCKOUT', { format: 'warning' }],
    [0x922, 'TPM_RC_RETRY', { format: 'warning' }],
    [0x90a, 'TPM_RC_TESTING', { format: 'warning' }],
    [0x910, 'TPM_RC_REFERENCE_H0', { format: 'warning' }],
    [0x01e, 'TPM_1.2_RC_1E', { format: 'tpm1.2' }],
    [0x000a0008, 'LAYER_A_RC_8', { format: 'layer' }],
  ];
  for (const [rc, name, extra] of cases) {
    it(`0x${rc.toString(16)} is ${name}`, () => {
      const d = decodeResponseCode(rc);
      assert.equal(d.name, name);
      for (const [k, v] of Object.entries(extra)) assert.equal((d as unknown as Record<string, unknown>)[k], v, k);
    });
  }

  it('errors name the command, the handle and a hint', () => {
    const resp = Buffer.from('80010000000a0000028b', 'hex');
    assert.throws(
      () => decodeNvRead(resp, nvReadCtx(0x40000001, 0x01400001)),
      (e: unknown) =>
        e instanceof TpmResponseError &&
        e.code === 'E_TPM_RC_HANDLE' &&
        /TPM2_NV_Read failed: TPM_RC_HANDLE \(0x28B\) on handle 2 \(nvIndex 0x01400001\)/.test(e.message),
    );
    assert.throws(
      () => decodeQuote(Buffer.from('80010000000a000009a2', 'hex'), quoteCtx(0x81000003)),
      (e: unknown) => e instanceof TpmResponseError && /on session 1/.test(e.message) && /wrong/.test(e.message),
    );
  });

  it('every response code is an E_TPM_RC_ error code, the names outside TPM 2.0 too', () => {
    assert.equal(tpmRcErrorCode('TPM_RC_HANDLE'), 'E_TPM_RC_HANDLE');
    assert.equal(tpmRcErrorCode(decodeResponseCode(0x000a0008).name), 'E_TPM_RC_LAYER_A_RC_8');
    assert.equal(tpmRcErrorCode(decodeResponseCode(0x01e).name), 'E_TPM_RC_TPM_1_2_RC_1E');
  });

  it('decodeResponseCode never throws for any 32-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (rc) => typeof decodeResponseCode(rc).name === 'string'),
      { numRuns: 5000 },
    );
  });
});

describe('real vTPM quotes (Azure, test/fixtures/azure-hcl)', () => {
  for (const dir of ['genoa', 'milan-v3-a', 'milan-v3-b', 'milan-v2']) {
    it(`${dir}: TPMS_ATTEST decodes; extraData; pcrDigest matches pcrs.json where published`, () => {
      const att = parseQuoteAttest(fx(`azure-hcl/${dir}/quote.msg`));
      if (dir === 'genoa') {
        // Fixture fact: this quote's extraData is a 48-byte value, not the "challenge" in its nonce.hex.
        assert.equal(att.extraData.length, 48);
      } else {
        assert.equal(hex(att.extraData), fx(`azure-hcl/${dir}/nonce.hex`).toString().trim());
      }
      assert.equal(att.quote.pcrSelect.length, 1);
      assert.equal(att.quote.pcrSelect[0]!.hashAlg, 0x000b);
      if (dir === 'milan-v2') return; // no PCR values published for this one
      const pcrs = JSON.parse(fx(`azure-hcl/${dir}/pcrs.json`).toString()) as string[];
      const h = createHash('sha256');
      for (const i of att.quote.pcrSelect[0]!.pcrs) h.update(Buffer.from(pcrs[i]!, 'hex'));
      assert.equal(h.digest('hex'), hex(att.quote.pcrDigest));
    });
  }

  it('a quote with trailing bytes or a wrong magic is refused', () => {
    const msg = fx('azure-hcl/genoa/quote.msg');
    assert.throws(
      () => parseQuoteAttest(Buffer.concat([msg, Buffer.from([0])])),
      (e: unknown) => e instanceof CvmAttestError && e.code === 'E_TPM_TRAILING',
    );
    const bad = Buffer.from(msg);
    bad[0] = 0;
    assert.throws(
      () => parseQuoteAttest(bad),
      (e: unknown) => e instanceof CvmAttestError && e.code === 'E_TPM_ATTEST_MAGIC',
    );
  });
});

describe('HCL header (minimal check)', () => {
  it('report_size of the real dumps', () => {
    assert.equal(hclReportSize(fx('negative/hcl-report-foreign-vcek.bin'), 2048), 1819);
    const genoa = fx('azure-hcl/genoa/hcl-report.bin');
    assert.equal(hclReportSize(genoa, genoa.length), genoa.readUInt32LE(8));
  });
  it('refuses a missing signature and a report_size beyond the index', () => {
    const d = Buffer.from(fx('negative/hcl-report-foreign-vcek.bin'));
    assert.throws(
      () => hclReportSize(d, 1000),
      (e: unknown) => e instanceof CvmAttestError && e.code === 'E_HCL_REPORT_SIZE',
    );
    d[0] = 0x48 ^ 1;
    assert.throws(
      () => hclReportSize(d, 2048),
      (e: unknown) => e instanceof CvmAttestError && e.code === 'E_HCL_SIGNATURE',
    );
    assert.throws(
      () => hclReportSize(new Uint8Array(4), 2048),
      (e: unknown) => e instanceof CvmAttestError && e.code === 'E_HCL_HEADER',
    );
  });
});

describe('parseTransport', () => {
  it('accepts the four forms and canonicalises them', () => {
    assert.deepEqual(parseTransport('device:/dev/tpmrm0'), { kind: 'device', path: '/dev/tpmrm0', spec: 'device:/dev/tpmrm0' });
    assert.deepEqual(parseTransport('swtpm:host=127.0.0.1,port=2321'), {
      kind: 'swtpm',
      host: '127.0.0.1',
      port: 2321,
      spec: 'swtpm:host=127.0.0.1,port=2321',
    });
    assert.deepEqual(parseTransport('swtpm:port=2400'), { kind: 'swtpm', host: '127.0.0.1', port: 2400, spec: 'swtpm:host=127.0.0.1,port=2400' });
    assert.deepEqual(parseTransport('swtpm:path=/tmp/s/tpm.sock'), { kind: 'swtpm', path: '/tmp/s/tpm.sock', spec: 'swtpm:path=/tmp/s/tpm.sock' });
    assert.deepEqual(parseTransport(' file:./x.bin '), { kind: 'file', path: './x.bin', spec: 'file:./x.bin' });
  });
  it('refuses anything else with an InputError', () => {
    for (const s of [
      '',
      'device',
      'device:',
      'file:',
      'swtpm:',
      'swtpm:port=0',
      'swtpm:port=65536',
      'swtpm:port=12a',
      'swtpm:host=,port=1',
      'swtpm:path=',
      'swtpm:path=a,port=1',
      'swtpm:port=1,port=2',
      'tcp:1',
      'mssim:host=a',
    ]) {
      assert.throws(
        () => parseTransport(s),
        (e: unknown) => e instanceof InputError && e.code === 'E_TPM_TRANSPORT',
        JSON.stringify(s),
      );
    }
  });
});

describe('fuzz: decoders take arbitrary bytes and throw only typed errors', () => {
  const only = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof CvmAttestError)) throw e;
    }
  };
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['responseSizeFromHeader', (b) => responseSizeFromHeader(b)],
    ['GetCapability', (b) => decodeGetCapabilityProperties(b)],
    ['NV_ReadPublic', (b) => decodeNvReadPublic(b, 0x01400001)],
    ['NV_Read', (b) => decodeNvRead(b, nvReadCtx(0x40000001, 0x01400001))],
    ['PCR_Read', (b) => decodePcrRead(b)],
    ['ReadPublic', (b) => decodeReadPublic(b, 0x81000003)],
    ['Quote', (b) => decodeQuote(b, quoteCtx(0x81000003))],
    ['TPMS_ATTEST', (b) => parseQuoteAttest(b)],
    ['TPMT_PUBLIC', (b) => parsePublicArea(b)],
    ['HCL header', (b) => hclReportSize(b, 2048)],
  ];
  // A well-formed success header over a random body reaches the structure decoders, not just the header check.
  const framed = (tag: number) =>
    fc.uint8Array({ maxLength: 600 }).map((body) => {
      const b = Buffer.alloc(10 + body.length);
      b.writeUInt16BE(tag, 0);
      b.writeUInt32BE(b.length, 2);
      b.writeUInt32BE(0, 6);
      Buffer.from(body).copy(b, 10);
      return new Uint8Array(b);
    });
  for (const [name, decode] of decoders) {
    it(name, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 700 }), (b) => only(() => decode(b))),
        { numRuns: 2000 },
      );
      fc.assert(
        fc.property(fc.oneof(framed(0x8001), framed(0x8002)), (b) => only(() => decode(b))),
        { numRuns: 2000 },
      );
    });
  }
  it('pcrs.json text (file: replay) parses or fails typed', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc
            .array(
              fc.oneof(
                fc.string(),
                fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
              ),
              { maxLength: 30 },
            )
            .map((a) => JSON.stringify(a)),
        ),
        (t) => only(() => parsePcrsJson(t, 'pcrs.json')),
      ),
      { numRuns: 2000 },
    );
  });

  it('mutations of a real quote decode or fail typed', () => {
    const msg = fx('azure-hcl/genoa/quote.msg');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: msg.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: msg.length }), (at, v, cut) => {
        const b = Buffer.from(msg);
        b[at] = v;
        only(() => parseQuoteAttest(b.subarray(0, cut)));
        only(() => parseQuoteAttest(b));
      }),
      { numRuns: 3000 },
    );
  });
});
