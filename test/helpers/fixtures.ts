// The real vectors in test/fixtures (see PROVENANCE.md): their paths, bytes and text, for every test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, '../fixtures');
export const fixturePath = (p: string): string => join(FIXTURES, p);
export const fixture = (p: string): Buffer => readFileSync(fixturePath(p));
export const text = (p: string): string => readFileSync(fixturePath(p), 'utf8');
