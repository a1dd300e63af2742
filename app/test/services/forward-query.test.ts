import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withForwardedQuery } from '../../src/services/forward-query.ts';

describe('withForwardedQuery', () => {
  it('appends the request’s parameters after the target’s own; the target’s own win', () => {
    const cases: [string, string, string][] = [
      ['https://t.example/a', 'utm_source=x', 'https://t.example/a?utm_source=x'],
      ['https://t.example/a?id=1', 'utm_source=x&b=2', 'https://t.example/a?id=1&utm_source=x&b=2'],
      ['https://t.example/a?id=1', 'id=2&c=3', 'https://t.example/a?id=1&c=3'],
      ['https://t.example/a?id=1', 'id=2', 'https://t.example/a?id=1'],
      ['https://t.example/a?', 'x=1', 'https://t.example/a?x=1'],
      ['https://t.example/a?id=1#top', 'x=1', 'https://t.example/a?id=1&x=1#top'],
      ['https://t.example/a#top', 'x=1', 'https://t.example/a?x=1#top'],
      // The target's own query is kept as written; the request's is re-encoded, so '#' cannot reach the fragment.
      ['https://t.example/a?q=a%20b', 'n=%23frag&s=a+b', 'https://t.example/a?q=a%20b&n=%23frag&s=a+b'],
      ['https://t.example/a', 'flag', 'https://t.example/a?flag='],
      ['https://t.example/a', '', 'https://t.example/a'],
    ];
    for (const [target, query, expected] of cases) assert.equal(withForwardedQuery(target, query), expected, `${target} + ${query}`);
  });
});
