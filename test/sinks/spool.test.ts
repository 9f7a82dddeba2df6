import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Spool } from '../../src/sinks/spool.js';
import { InputError } from '../../src/base/errors.js';
import { tempDir } from './helpers.js';

const rec = (id: string, size = 10): { stream: string; id: string; record: Record<string, unknown> } => ({
  stream: 'Custom-A',
  id,
  record: { RecordId: id, pad: 'p'.repeat(size) },
});

describe('spool', () => {
  test('oldest first, acknowledged records leave, the rest survive a reopen with their ids', async () => {
    const t = await tempDir();
    try {
      const s = await Spool.open({ dir: t.dir });
      await s.append([rec('a'), rec('b'), rec('c')]);
      assert.deepEqual(
        (await s.list()).map((e) => e.id),
        ['a', 'b', 'c'],
      );
      await s.ack(['b', 'zz']);
      const again = await Spool.open({ dir: t.dir });
      const list = await again.list();
      assert.deepEqual(
        list.map((e) => e.id),
        ['a', 'c'],
      );
      assert.deepEqual(list[1]!.record, { RecordId: 'c', pad: 'p'.repeat(10) });
      await again.append([rec('d')]);
      assert.deepEqual(
        (await again.list()).map((e) => e.id),
        ['a', 'c', 'd'],
        'order kept across processes',
      );
    } finally {
      await t.cleanup();
    }
  });

  test('bounded in count: the oldest are dropped and counted, durably', async () => {
    const t = await tempDir();
    try {
      const s = await Spool.open({ dir: t.dir, maxRecords: 5 });
      const r = await s.append(['1', '2', '3', '4', '5', '6', '7', '8'].map((x) => rec(`r${x}`)));
      assert.equal(r.dropped, 3);
      assert.equal(s.depth, 5);
      assert.equal(s.dropped, 3);
      assert.deepEqual(
        (await s.list()).map((e) => e.id),
        ['r4', 'r5', 'r6', 'r7', 'r8'],
      );
      const again = await Spool.open({ dir: t.dir, maxRecords: 2 });
      assert.equal(again.dropped, 6, 'count persisted and the smaller bound applied on open');
      assert.deepEqual(
        (await again.list()).map((e) => e.id),
        ['r7', 'r8'],
      );
    } finally {
      await t.cleanup();
    }
  });

  test('bounded in bytes', async () => {
    const t = await tempDir();
    try {
      const s = await Spool.open({ dir: t.dir, maxBytes: 5000 });
      for (let i = 0; i < 10; i++) await s.append([rec(`b${i}`, 1000)]);
      assert.ok(s.bytes <= 5000, `${s.bytes} bytes`);
      assert.ok(s.depth >= 3 && s.depth <= 4);
      assert.equal(s.dropped + s.depth, 10);
      assert.equal((await s.list()).at(-1)!.id, 'b9');
      const tooBig = await s.append([rec('huge', 10_000)]);
      assert.equal(tooBig.dropped, 1, 'a record larger than the whole spool is dropped and counted');
    } finally {
      await t.cleanup();
    }
  });

  test('stray temp files are removed; an unreadable record is dropped and counted', async () => {
    const t = await tempDir();
    try {
      const s = await Spool.open({ dir: t.dir });
      await s.append([rec('good1'), rec('bad'), rec('good2')]);
      const bad = (await readdir(t.dir)).find((n) => n.endsWith('-bad.json'))!;
      await writeFile(join(t.dir, bad), '{"v":1,"id":"bad","stre');
      await writeFile(join(t.dir, '.tmp-123-abc'), 'partial');
      const again = await Spool.open({ dir: t.dir });
      assert.deepEqual(
        (await again.list()).map((e) => e.id),
        ['good1', 'good2'],
      );
      assert.equal(again.dropped, 1);
      assert.ok(!(await readdir(t.dir)).some((n) => n.startsWith('.tmp-')));
    } finally {
      await t.cleanup();
    }
  });

  test('discard removes and counts, durably', async () => {
    const t = await tempDir();
    try {
      const s = await Spool.open({ dir: t.dir });
      await s.append([rec('a'), rec('b')]);
      await s.discard(['a', 'nope']);
      const again = await Spool.open({ dir: t.dir });
      assert.equal(again.dropped, 1);
      assert.deepEqual(
        (await again.list()).map((e) => e.id),
        ['b'],
      );
    } finally {
      await t.cleanup();
    }
  });

  test('bad limits are an InputError', async () => {
    await assert.rejects(Spool.open({ dir: '/nonexistent/x', maxRecords: 0 }), InputError);
  });

  test('matches a model queue under random appends, acks and reopens (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 4 }), size: fc.integer({ min: 0, max: 300 }) }),
            fc.record({ op: fc.constant('ack' as const), pick: fc.array(fc.nat(), { maxLength: 3 }) }),
            fc.record({ op: fc.constant('reopen' as const) }),
          ),
          { maxLength: 25 },
        ),
        async (ops) => {
          const t = await tempDir();
          try {
            const max = 8;
            let s = await Spool.open({ dir: t.dir, maxRecords: max });
            let model: string[] = [];
            let dropped = 0;
            let k = 0;
            for (const o of ops) {
              if (o.op === 'append') {
                const ids = Array.from({ length: o.n }, () => `id${k++}`);
                await s.append(ids.map((id) => rec(id, o.size)));
                model.push(...ids);
                while (model.length > max) {
                  model.shift();
                  dropped++;
                }
              } else if (o.op === 'ack') {
                const gone = o.pick.map((i) => model[i % Math.max(1, model.length)]).filter((x): x is string => x !== undefined);
                await s.ack(gone);
                model = model.filter((x) => !gone.includes(x));
              } else {
                s = await Spool.open({ dir: t.dir, maxRecords: max });
              }
            }
            assert.deepEqual(
              (await s.list()).map((e) => e.id),
              model,
            );
            assert.equal(s.dropped, dropped);
          } finally {
            await t.cleanup();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test('kill -9 while appending: every acknowledged-as-durable record is there, no torn file', async () => {
    const t = await tempDir();
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./child-spool-writer.ts', import.meta.url)), t.dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await new Promise<void>((resolve) => {
        const i = setInterval(() => {
          if (out.split('\n').length > 150) {
            clearInterval(i);
            resolve();
          }
        }, 5);
      });
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const lines = out.split('\n').filter(Boolean);
      const durable = lines.filter((l) => !l.startsWith('ack '));
      const acked = new Set(lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4)));
      const s = await Spool.open({ dir: t.dir });
      const ids = new Set((await s.list()).map((e) => e.id));
      assert.equal(s.dropped, 0, 'nothing unreadable');
      for (const id of durable) if (!acked.has(id)) assert.ok(ids.has(id), `${id} was reported durable and must survive`);
      for (const n of await readdir(t.dir)) if (n.endsWith('.json') && n !== 'state.json') JSON.parse(await readFile(join(t.dir, n), 'utf8'));
    } finally {
      await t.cleanup();
    }
  });
});
