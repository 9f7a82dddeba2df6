// Property tests of the sinks' parsers and formatters: settings, persisted alert state, CEF/RFC 5424.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseSinksSettings } from '../../src/sinks/settings.js';
import { evaluateAlerts } from '../../src/sinks/alert-rules.js';
import { loadAlertState } from '../../src/sinks/alert-state.js';
import type { SecurityAlert } from '../../src/sinks/alert-catalogue.js';
import { formatCef, formatRfc5424 } from '../../src/sinks/syslog.js';
import { buildRecord, RECORD_COLUMNS } from '../../src/sinks/record.js';
import { validateRecord } from '../emulators/logs-ingestion.js';
import { InputError } from '../../src/base/errors.js';
import { IDENTITY, makeResult, tempDir } from './helpers.js';

const settings = { enabled: true, evidenceUnavailableAfter: 2, certificateExpiryDays: 30 };
const AM = { endpoint: 'https://x.ingest.monitor.azure.com', dcrImmutableId: 'dcr-0123456789abcdef0123456789abcdef' };

describe('sinks fuzz', () => {
  test('settings: any JSON is either accepted or an InputError naming sinks.*', () => {
    const shaped = fc.record(
      {
        azureMonitor: fc.option(
          fc.record(
            {
              endpoint: fc.oneof(fc.constant(AM.endpoint), fc.string()),
              dcrImmutableId: fc.oneof(fc.constant(AM.dcrImmutableId), fc.string()),
              timeoutMs: fc.option(fc.oneof(fc.integer(), fc.double(), fc.string())),
              identity: fc.option(fc.dictionary(fc.constantFrom('clientId', 'objectId', 'resourceId', 'x'), fc.string())),
              spool: fc.option(fc.jsonValue()),
            },
            { requiredKeys: [] },
          ),
          { nil: undefined },
        ),
        alerts: fc.option(fc.jsonValue(), { nil: undefined }),
        syslog: fc.option(fc.oneof(fc.jsonValue(), fc.record({ target: fc.jsonValue(), facility: fc.string(), socket: fc.string() }, { requiredKeys: [] })), {
          nil: undefined,
        }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), shaped), (raw) => {
        try {
          const s = parseSinksSettings(raw);
          if (s.azureMonitor) assert.match(s.azureMonitor.endpoint, /^https:\/\//);
        } catch (e) {
          assert.ok(e instanceof InputError, String(e));
          assert.match(e.message, /^invalid setting sinks\./);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('alert state: whatever the state file holds, loading and evaluating never throws', async () => {
    const t = await tempDir();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.jsonValue(),
            fc.record({
              v: fc.constant(1),
              collectionFailures: fc.oneof(fc.integer(), fc.constant(Number.NaN) as fc.Arbitrary<number>),
              tcbByChip: fc.jsonValue(),
              active: fc.jsonValue(),
              chipId: fc.jsonValue(),
              measurement: fc.jsonValue(),
            }),
          ),
          async (doc) => {
            await writeFile(join(t.dir, 'alerts-state.json'), JSON.stringify(doc) ?? 'null');
            const st = await loadAlertState(t.dir);
            const chipId = typeof st.chipId === 'string' ? st.chipId : '11'.repeat(64);
            for (const o of [
              { result: makeResult({ chipId, reportedTcb: { bootloader: 0, tee: 0, snp: 0, microcode: 0 } }), identity: IDENTITY },
              { error: new Error('x') },
            ]) {
              const r = evaluateAlerts(st, o, { settings, recordId: 'r' });
              assert.ok(Array.isArray(r.alerts));
              JSON.stringify(r.state);
            }
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      await t.cleanup();
    }
  });

  test('CEF and RFC 5424: one line, header fields never split, whatever the text', () => {
    const base = evaluateAlerts(
      { v: 1, collectionFailures: 0, tcbByChip: {}, active: {} },
      { result: makeResult({ failed: [{ id: 'x', group: 'policy', status: 'fail', reason: 'r' }] }), identity: IDENTITY },
      { settings, recordId: 'r' },
    ).alerts[0]!;
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom('\u001b', '\u0007', '\u0000', '\u009b', '\u202e', '\r', '\n', '|', '\\', '='),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
    });
    fc.assert(
      fc.property(text, text, text, (name, desc, version) => {
        const a: SecurityAlert = { ...base, AlertName: name, Description: desc, CompromisedEntity: desc };
        const cef = formatCef(a, version);
        assert.ok(!/[\r\n]/.test(cef));
        assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(cef), 'no raw control character');
        // Header: seven unescaped '|' (CEF escapes \\ and \| there); the extension follows.
        const header: string[] = [];
        let cur = '';
        let i = 0;
        for (; i < cef.length && header.length < 7; i++) {
          const ch = cef[i]!;
          if (ch === '\\') {
            cur += cef[++i] ?? '';
            continue;
          }
          if (ch === '|') {
            header.push(cur);
            cur = '';
            continue;
          }
          cur += ch;
        }
        // Decoded, a control character reads as the text \xHH / \uHHHH.
        const shown = (x: string): string =>
          x
            .replace(/[\r\n]+/g, ' ')
            .replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) =>
              c.charCodeAt(0) <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
            );
        assert.deepEqual(header.slice(0, 6), ['CEF:0', 'cvm-attest', 'cvm-attest', shown(version), a.AlertType, shown(name)]);
        assert.ok(cef.slice(i).startsWith('rt='), 'extension starts after the 7th separator');
        // In the extension, '=' inside values is escaped: every bare '=' follows a key.
        const ext = cef.slice(i).replace(/\\\\/g, '').replace(/\\=/g, '');
        for (const m of ext.matchAll(/=/g)) assert.match(ext.slice(0, m.index), /(^| )[A-Za-z0-9]+$/);
        const line = formatRfc5424(a, { facility: 'local4', appName: 'cvm-attest' }, version, 'host with space');
        assert.match(line, /^<16[2-6]>1 \S+ \S+ cvm-attest \d+ CvmAttest_\S+ - CEF:0\|/);
        assert.ok(!/[\r\n]/.test(line));
      }),
      { numRuns: 1000 },
    );
  });

  test('records: any claim values still validate against the stream declaration', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            'x-ms-sevsnpvm-vmpl',
            'x-ms-sevsnpvm-is-debuggable',
            'cvm-attest-reported-tcb',
            'cvm-attest-report-version',
            'cvm-attest-hcl-header-version',
            'x-ms-sevsnpvm-launchmeasurement',
            'cvm-attest-chip-id',
          ),
          fc.jsonValue(),
        ),
        fc.string(),
        (claims, verifiedAt) => {
          const r = makeResult();
          const rec = buildRecord({ result: { ...r, verifiedAt, claims: { ...r.claims, ...claims } }, identity: IDENTITY });
          assert.equal(validateRecord(JSON.parse(JSON.stringify(rec)), RECORD_COLUMNS), undefined);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
