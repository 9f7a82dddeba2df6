// Fuzz assertion shared by the parser tests: on any input a parser returns or throws a typed ParseError
// with an E_ code, never anything else.
import assert from 'node:assert/strict';
import { ParseError } from '../../src/base/errors.js';

export function onlyParseError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ParseError)) throw new Error(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.match(e.code, /^E_[A-Z0-9_]+$/);
  }
}
