import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSinks } from '../../../src/sinks/index.js';

const settings = JSON.parse(process.argv[2]!) as unknown;
const sinks = await createSinks(settings, { stateDir: mkdtempSync(join(tmpdir(), 'lazy-')) });
await sinks.deliver({ error: Object.assign(new Error('no TPM'), { code: 'TPM_UNAVAILABLE' }) });
if (process.argv[3] === 'flush') await sinks.flush({ timeoutMs: 300 });
