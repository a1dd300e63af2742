import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PostgresStore } from '../../src/store/postgres.ts';
import { ReadBatch } from '../../src/store/read-batch.ts';
import { postgresSkip, testDatabaseUrl, uniqueSchema } from './pg-env.ts';

describe('ReadBatch', () => {
  it("gathers one turn's keys into one read, at most maxKeys a read, each caller answered its own key's value", async () => {
    const reads: string[][] = [];
    const batch = new ReadBatch<number>(async (keys) => {
      reads.push(keys);
      return new Map(keys.filter((key) => key !== 'missing').map((key) => [key, key.length]));
    }, 3);
    const answers = await Promise.all(['a', 'bb', 'a', 'missing', 'cccc', 'ddddd'].map((key) => batch.read(key)));
    assert.deepEqual(answers, [1, 2, 1, undefined, 4, 5]);
    assert.deepEqual(reads, [
      ['a', 'bb', 'missing'],
      ['cccc', 'ddddd'],
    ]);
    // A later turn is a read of its own.
    assert.equal(await batch.read('bb'), 2);
    assert.deepEqual(reads.at(-1), ['bb']);
  });

  it("fails every caller of a read that fails with that read's error, and the next turn reads again", async () => {
    let fail = true;
    const batch = new ReadBatch<string>(async (keys) => {
      if (fail) throw new Error('the store is away');
      return new Map(keys.map((key) => [key, key]));
    }, 10);
    const answers = await Promise.allSettled([batch.read('x'), batch.read('y'), batch.read('x')]);
    assert.deepEqual(
      answers.map((answer) => (answer.status === 'rejected' ? String(answer.reason) : answer.value)),
      Array(3).fill('Error: the store is away'),
    );
    fail = false;
    assert.equal(await batch.read('x'), 'x');
  });
});

describe('PostgresStore.resolveTarget, read together', { skip: postgresSkip }, () => {
  it('answers concurrent reads of many names, some missing, some repeated, as reads one at a time do', async (t) => {
    const store = new PostgresStore({ connectionString: testDatabaseUrl, schema: uniqueSchema() });
    t.after(() => store.close());
    await store.migrate();
    const expiresAt = new Date(Date.now() + 86_400_000);
    for (let i = 0; i < 30; i++) {
      await store.create({
        name: `n${i}`,
        uri: `https://example.com/${i}`,
        title: null,
        checkStatus: 200,
        ...(i % 3 === 0 ? { expiresAt } : {}),
        ...(i % 4 === 0 ? { maxVisits: 10 + i } : {}),
        forwardQuery: i % 5 === 0,
      });
    }
    await store.addVisits(
      new Map([
        ['n1', 3],
        ['n8', 2],
      ]),
      'batch-1',
    );
    const names = [...Array.from({ length: 30 }, (_, i) => `n${i}`), 'n1', 'n8', 'missing', 'n7', 'also-missing'];
    const together = await Promise.all(names.map((name) => store.resolveTarget(name)));
    const alone = [];
    for (const name of names) alone.push(await store.resolveTarget(name));
    assert.deepEqual(together, alone);
    assert.deepEqual(together[1], { uri: 'https://example.com/1', expiresAt: null, maxVisits: null, visits: 3, forwardQuery: false });
    assert.deepEqual(together[0], {
      uri: 'https://example.com/0',
      expiresAt: expiresAt.getTime(),
      maxVisits: 10,
      visits: 0,
      forwardQuery: true,
    });
    assert.equal(together[names.indexOf('missing')], undefined);
    // A name deleted is not found by the next read.
    await store.delete('n2');
    assert.equal(await store.resolveTarget('n2'), undefined);
  });
});
