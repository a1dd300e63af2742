import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../src/errors.ts';
import { hostAndParents, normalizeHost } from '../../src/services/blocklist.ts';

describe('blocklist entries', () => {
  it('are host names, normalised as URL gives a link’s host', () => {
    assert.equal(normalizeHost('Spam.Example'), 'spam.example');
    assert.equal(normalizeHost(' spam.example. '), 'spam.example');
    assert.equal(normalizeHost('bücher.example'), 'xn--bcher-kva.example');
    assert.equal(normalizeHost('203.0.113.7'), '203.0.113.7');
    assert.equal(normalizeHost('localhost'), 'localhost');
  });

  it('refuse anything that is not a host, with INVALID_HOST', () => {
    for (const entry of [
      '',
      '  ',
      'https://spam.example/',
      'spam.example:8080',
      'spam.example/path',
      '*.spam.example',
      'user@spam.example',
      'spam..example',
      '-spam.example',
      'spam example',
      '[::1]',
      'a'.repeat(64),
    ]) {
      assert.throws(
        () => normalizeHost(entry),
        (error: unknown) => error instanceof DomainError && error.code === 'INVALID_HOST',
        JSON.stringify(entry),
      );
    }
  });

  it('match a link’s host and its parent domains, so a listed host blocks its subdomains', () => {
    assert.deepEqual(hostAndParents('https://a.b.spam.example/x?y'), ['a.b.spam.example', 'b.spam.example', 'spam.example', 'example']);
    assert.deepEqual(hostAndParents('http://203.0.113.7:8080/'), ['203.0.113.7']);
    assert.deepEqual(hostAndParents('http://[::1]/'), ['[::1]']);
  });
});
