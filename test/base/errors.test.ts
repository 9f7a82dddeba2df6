// The typed errors: a ParseError names its input once (the innermost caller that knows wins) and
// stays the same error, so its stack and cause survive the rethrow.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode, InputError, ParseError } from '../../src/base/errors.js';

describe('ParseError input', () => {
  it('is unset until a caller names it, then stays the first name given', () => {
    const cause = new Error('inner');
    const e = new ParseError('E_DER', 'bad DER', { cause });
    assert.equal(e.input, undefined);
    assert.equal(e.withInput('vcek'), e, 'the same error, not a copy');
    assert.equal(e.input, 'vcek');
    e.withInput('chain');
    assert.equal(e.input, 'vcek', 'an outer caller does not rename it');
    assert.equal(e.cause, cause);
    assert.equal(e.code, 'E_DER');
    assert.equal(e.exitCode, ExitCode.Input);
  });

  it('can be named by the constructor', () => {
    assert.equal(new ParseError('E_CRL', 'bad CRL', { input: 'crl' }).input, 'crl');
  });

  it('is not an enumerable field, so error JSON is unchanged', () => {
    const e = new ParseError('E_CRL', 'bad CRL', { input: 'crl' });
    assert.deepEqual(Object.keys(e).sort(), Object.keys(new InputError('E_FILE', 'x')).sort());
  });
});
