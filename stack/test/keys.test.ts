import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SuiteCleanups, tempDir } from '../../test/support/index.ts';
import { type Stack, startStack } from '../src/stack.ts';

const KEYS_SCRIPT = new URL('../../app/src/cli/keys.ts', import.meta.url).pathname;
const KEY_CACHE_MS = 1500;
/** A revoked key must be refused everywhere within KEY_CACHE_MS; this much more for the polling and a loaded machine. */
const SLACK_MS = 1000;

function keys(dataDir: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [KEYS_SCRIPT, ...args], { env: { ...process.env, DATA_DIR: dataDir } }, (error, stdout, stderr) =>
      error === null ? resolve(stdout.trim()) : reject(new Error(`keys ${args.join(' ')}: ${stderr}`)),
    );
  });
}

function api(base: string, method: string, path: string, key: string, body?: unknown) {
  return fetch(`${base}/api/bookmarks${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('keys across the native stack (nginx + 3 app processes)', { timeout: 120_000 }, () => {
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
      env: { LOG_LEVEL: 'warn', KEY_CACHE_MS: String(KEY_CACHE_MS) },
      quiet: true,
    });
  });

  after(async () => {
    await stack?.stop();
    await fixtures.run();
  });

  it('through nginx, an author cannot delete another author’s link (403) and can delete its own', async () => {
    const alice = await keys(dataDir, 'create', '--name', 'alice', '--role', 'author');
    const bob = await keys(dataDir, 'create', '--name', 'bob', '--role', 'author');
    const created = await api(stack.url, 'POST', '', alice, { uri: `${stack.url}/?alice`, name: 'alices' });
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { createdBy: string }).createdBy, 'alice');
    const forbidden = await api(stack.url, 'DELETE', '/alices', bob);
    assert.equal(forbidden.status, 403);
    assert.equal(((await forbidden.json()) as { error: string }).error, 'FORBIDDEN');
    assert.equal((await api(stack.url, 'DELETE', '/alices', alice)).status, 204);
  });

  it(`a key revoked with the command is refused by every process within KEY_CACHE_MS (${KEY_CACHE_MS} ms)`, async () => {
    const carol = await keys(dataDir, 'create', '--name', 'carol', '--role', 'admin');
    // Every process looks the key up and keeps it: a DELETE of a name nobody has is a 404, not a 401.
    for (const base of stack.appUrls) assert.equal((await api(base, 'DELETE', '/nothing-here', carol)).status, 404, base);

    await keys(dataDir, 'revoke', 'carol');
    const revokedAt = Date.now();
    const refusedAfter = await Promise.all(
      stack.appUrls.map(async (base) => {
        for (;;) {
          const status = (await api(base, 'DELETE', '/nothing-here', carol)).status;
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
    assert.equal((await api(stack.url, 'DELETE', '/nothing-here', carol)).status, 401, 'and through nginx');
  });
});
