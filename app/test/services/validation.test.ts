import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../src/errors.ts';
import { validateName, validateUri } from '../../src/services/validation.ts';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof DomainError ? error.code : 'not a DomainError';
  }
}

describe('validation', () => {
  it('accepts 1–64 of [A-Za-z0-9_-] and refuses the rest and the reserved', () => {
    for (const name of ['a', 'Z9', 'with-dash_and_underscore', 'x'.repeat(64)]) assert.equal(validateName(name), name);
    for (const name of ['', 'x'.repeat(65), 'sp ace', 'slash/', 'dot.ted', 'ümlaut', '%41'])
      assert.equal(
        codeOf(() => validateName(name)),
        'INVALID_NAME',
        name,
      );
    for (const name of ['static', 'API', 'healthz', 'readyz', 'metrics', 'nginx_status'])
      assert.equal(
        codeOf(() => validateName(name)),
        'RESERVED_NAME',
        name,
      );
  });

  it('keeps absolute http(s) URIs, normalised, and refuses other schemes and oversize', () => {
    assert.equal(validateUri(' https://Example.COM '), 'https://example.com/');
    assert.equal(validateUri('http://example.com/a?b=c#d'), 'http://example.com/a?b=c#d');
    for (const uri of [
      'javascript:alert(1)',
      'data:text/plain,x',
      'file:///etc/passwd',
      'ftp://x/',
      'mailto:a@b',
      '/relative',
      'example.com',
    ]) {
      assert.equal(
        codeOf(() => validateUri(uri)),
        'INVALID_URI',
        uri,
      );
    }
    assert.equal(
      codeOf(() => validateUri(`http://example.com/${'a'.repeat(2048)}`)),
      'INVALID_URI',
    );
  });
});
