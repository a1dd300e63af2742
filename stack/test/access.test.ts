import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { type Stack, startStack } from '../src/stack.ts';
import { bookmarksApi, runAppCommand } from './helpers.ts';

const KEY_CACHE_MS = 1500;
const BLOCKLIST_REFRESH_MS = 1500;
/** Far longer than the bound below: a change to the blocklist must let the redirect cache go. */
const REDIRECT_CACHE_MS = 60_000;
/** A revoked key must be refused everywhere within KEY_CACHE_MS; this much more for the polling and a loaded machine. */
const SLACK_MS = 1000;

/** Polls `base` until `path` answers `status`; how long that took after `since`, or Infinity past `boundMs` + SLACK_MS. */
async function answersWithin(base: string, path: string, status: number, since: number, boundMs: number): Promise<number> {
  for (;;) {
    const answer = (await fetch(`${base}${path}`, { redirect: 'manual' })).status;
    if (answer === status) return Date.now() - since;
    if (Date.now() - since > boundMs + SLACK_MS) return Number.POSITIVE_INFINITY;
    await sleep(50);
  }
}

describe('keys, roles and the blocklist across the native stack (nginx + 3 app processes)', { timeout: 120_000 }, () => {
  let stack: Stack;
  let dataDir: string;
  const fixtures = new SuiteCleanups();

  before(async () => {
    const dir = tempDir(fixtures, 'linkyard-keys-');
    dataDir = join(dir, 'data');
    stack = await startStack({
      instances: 3,
      port: 0,
      stateDir: join(dir, 'state'),
      dataDir,
      env: {
        LOG_LEVEL: 'warn',
        KEY_CACHE_MS: String(KEY_CACHE_MS),
        BLOCKLIST_REFRESH_MS: String(BLOCKLIST_REFRESH_MS),
        REDIRECT_CACHE_MS: String(REDIRECT_CACHE_MS),
      },
      quiet: true,
    });
  });

  after(async () => {
    await stack?.stop();
    await fixtures.run();
  });

  it('through nginx, an author cannot delete another author’s link (403) and can delete its own', async () => {
    const alice = await runAppCommand('keys', dataDir, 'create', '--name', 'alice', '--role', 'author');
    const bob = await runAppCommand('keys', dataDir, 'create', '--name', 'bob', '--role', 'author');
    const created = await bookmarksApi(stack.url, 'POST', '', alice, { uri: `${stack.url}/?alice`, name: 'alices' });
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { createdBy: string }).createdBy, 'alice');
    const forbidden = await bookmarksApi(stack.url, 'DELETE', '/alices', bob);
    assert.equal(forbidden.status, 403);
    assert.equal(((await forbidden.json()) as { error: string }).error, 'FORBIDDEN');
    assert.equal((await bookmarksApi(stack.url, 'DELETE', '/alices', alice)).status, 204);
  });

  it(`a key revoked with the command is refused by every process within KEY_CACHE_MS (${KEY_CACHE_MS} ms)`, async () => {
    const carol = await runAppCommand('keys', dataDir, 'create', '--name', 'carol', '--role', 'admin');
    // Every process looks the key up and keeps it: a DELETE of a name nobody has is a 404, not a 401.
    for (const base of stack.appUrls) assert.equal((await bookmarksApi(base, 'DELETE', '/nothing-here', carol)).status, 404, base);

    await runAppCommand('keys', dataDir, 'revoke', 'carol');
    const revokedAt = Date.now();
    const refusedAfter = await Promise.all(
      stack.appUrls.map(async (base) => {
        for (;;) {
          const status = (await bookmarksApi(base, 'DELETE', '/nothing-here', carol)).status;
          if (status === 401) return Date.now() - revokedAt;
          assert.equal(status, 404, base);
          if (Date.now() - revokedAt > KEY_CACHE_MS + SLACK_MS) return Number.POSITIVE_INFINITY;
          await sleep(50);
        }
      }),
    );
    for (const [index, elapsed] of refusedAfter.entries()) {
      assert.ok(elapsed <= KEY_CACHE_MS + SLACK_MS, `process ${index} still took the key ${elapsed} ms after it was revoked`);
    }
    assert.equal((await bookmarksApi(stack.url, 'DELETE', '/nothing-here', carol)).status, 401, 'and through nginx');
  });

  it(`a link disabled on one process, or to a host blocked with the command, is 410 on every process within BLOCKLIST_REFRESH_MS (${BLOCKLIST_REFRESH_MS} ms), though each remembers it for REDIRECT_CACHE_MS`, async () => {
    const root = await runAppCommand('keys', dataDir, 'create', '--name', 'root', '--role', 'admin');
    for (const name of ['to-disable', 'to-block']) {
      assert.equal((await bookmarksApi(stack.url, 'POST', '', root, { uri: `${stack.url}/?${name}`, name })).status, 201);
      // Each process reads it now and remembers it for REDIRECT_CACHE_MS.
      for (const base of stack.appUrls) assert.equal((await fetch(`${base}/${name}`, { redirect: 'manual' })).status, 303, base);
    }

    const [first, ...others] = stack.appUrls;
    assert.ok(first !== undefined);
    const disabled = await fetch(`${first}/api/bookmarks/to-disable/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${root}` },
    });
    assert.equal(disabled.status, 204);
    const disabledAt = Date.now();
    assert.equal((await fetch(`${first}/to-disable`, { redirect: 'manual' })).status, 410, 'at once where it was disabled');
    const disabledAfter = await Promise.all(
      others.map((base) => answersWithin(base, '/to-disable', 410, disabledAt, BLOCKLIST_REFRESH_MS)),
    );
    for (const [index, elapsed] of disabledAfter.entries()) {
      assert.ok(elapsed <= BLOCKLIST_REFRESH_MS + SLACK_MS, `process ${index + 1} redirected the disabled link ${elapsed} ms after`);
    }

    await runAppCommand('blocklist', dataDir, 'add', '127.0.0.1');
    const blockedAt = Date.now();
    const blockedAfter = await Promise.all(
      stack.appUrls.map((base) => answersWithin(base, '/to-block', 410, blockedAt, BLOCKLIST_REFRESH_MS)),
    );
    for (const [index, elapsed] of blockedAfter.entries()) {
      assert.ok(elapsed <= BLOCKLIST_REFRESH_MS + SLACK_MS, `process ${index} redirected to the blocked host ${elapsed} ms after`);
    }
    const refused = await bookmarksApi(stack.url, 'POST', '', root, { uri: `${stack.url}/?later`, name: 'later' });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: string }).error, 'HOST_BLOCKED');

    await runAppCommand('blocklist', dataDir, 'remove', '127.0.0.1');
    const unblockedAt = Date.now();
    for (const base of stack.appUrls)
      assert.ok((await answersWithin(base, '/to-block', 303, unblockedAt, BLOCKLIST_REFRESH_MS)) < Number.POSITIVE_INFINITY);
  });
});
