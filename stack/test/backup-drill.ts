import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openTables, parseLocation } from '../../app/src/data/location.ts';
import { columnIndex, TABLES } from '../../app/src/data/tables.ts';
import { httpRequest, runLoad } from '../../app/test/client.ts';
import { eventually } from '../../test/support/index.ts';
import { startStack } from '../src/stack.ts';

/**
 * Issue 24's backup drill, shared by backup-drill.test.ts (SQLite, in `npm test`) and
 * backup-drill-postgres.drill.ts (PostgreSQL, `npm run test:drills`): a backup taken while links
 * are created and followed through nginx, restored into a new store, holds every link
 * acknowledged before the backup began with at least the visits it had then, and passes the
 * restore's integrity checks.
 */

const CLI = (name: string) => new URL(`../../app/src/cli/${name}.ts`, import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function command(name: 'backup' | 'restore', env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI(name), ...args], { env: { ...process.env, DATABASE_URL: '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** Every link's visits, read from the store itself (a SQLite file or a PostgreSQL URL). */
async function visitsIn(where: string): Promise<Map<string, number>> {
  const tables = await openTables(parseLocation(where));
  try {
    const bookmarks = TABLES[0];
    assert.equal(bookmarks?.name, 'bookmarks');
    const rows = await tables.rows(bookmarks, undefined, undefined);
    const name = columnIndex(bookmarks, 'name');
    const visits = columnIndex(bookmarks, 'visits');
    return new Map(rows.map((row) => [String(row[name]), Number(row[visits])]));
  } finally {
    await tables.close();
  }
}

/** A store: the environment that selects it (for the stack and the commands), and where to read it directly. */
export interface StoreUnderTest {
  env: Record<string, string>;
  where: string;
}

/** Runs the drill on the store `source` (the stack in `dir`), restoring into `target`. */
export async function drill(
  t: TestContext,
  dir: string,
  source: StoreUnderTest,
  target: StoreUnderTest,
  options: { refusesSecondRestore: boolean },
): Promise<void> {
  const backupFile = join(dir, 'backup');
  const begun = performance.now();
  const mark = (what: string) => t.diagnostic(`${what} at ${Math.round(performance.now() - begun)} ms`);
  const stack = await startStack({
    instances: 2,
    port: 0,
    stateDir: join(dir, 'state'),
    dataDir: join(dir, 'data'),
    env: {
      CHECK_ALLOW_PRIVATE: 'false',
      CHECK_MODE: 'inline',
      LOG_LEVEL: 'warn',
      VISITS_FLUSH_MS: '100',
      STATS_FLUSH_MS: '100',
      ...source.env,
    },
    rateLimit: '100000r/s',
    accessLog: false,
    quiet: true,
  });
  t.after(() => stack.stop());
  mark('stack ready');

  const acknowledged: string[] = [];
  let backupRunning = false;
  let createdDuringBackup = 0;
  let stopLoad: () => void = () => {};
  const loadDone = new Promise<void>((resolve) => {
    stopLoad = resolve;
  });
  // Half creates, half redirects to links already made: a steady mix of both kinds of write.
  const load = runLoad(4, loadDone, async (loop, iteration, agent) => {
    if (iteration % 2 === 0 || acknowledged.length === 0) {
      const name = `w${loop}-${iteration}`;
      const created = await httpRequest(`${stack.url}/api/bookmarks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, uri: `${stack.url}/?drill=${name}` }),
        agent,
      });
      if (created.status !== 201) return `create ${name}: ${created.status} ${created.body}`;
      acknowledged.push(name);
      if (backupRunning) createdDuringBackup++;
      return undefined;
    }
    const name = acknowledged[(iteration * 7919) % acknowledged.length];
    const followed = await httpRequest(`${stack.url}/${name}`, { agent });
    return followed.status === 303 ? undefined : `GET /${name}: ${followed.status}`;
  });

  // Under way: links made, and visits flushed to the store.
  let visitsBefore = new Map<string, number>();
  const underWay = await eventually(async () => {
    visitsBefore = await visitsIn(source.where);
    return acknowledged.length >= 40 && [...visitsBefore.values()].some((visits) => visits > 0);
  }, 30_000);
  assert.ok(underWay, `${acknowledged.length} links acknowledged, none with visits in the store yet`);
  mark('under way');
  // What the store held before the backup began: visits only grow, so the backup's must be at least these.
  const before = [...acknowledged];
  visitsBefore = await visitsIn(source.where);
  backupRunning = true;
  const started = performance.now();
  const backup = await command('backup', source.env, '--output', backupFile);
  const backupMs = performance.now() - started;
  backupRunning = false;
  await sleep(300);
  stopLoad();
  const result = await load;
  await stack.stop();
  assert.equal(backup.code, 0, backup.stderr + backup.stdout);
  assert.deepEqual(result.failures, []);
  t.diagnostic(
    `${result.requests} requests; ${before.length} links acknowledged before the backup began, ` +
      `${createdDuringBackup} while \`npm run backup\` ran (${Math.round(backupMs)} ms, process start included)`,
  );
  assert.ok(createdDuringBackup > 0, 'links were created while the backup ran');

  mark('stopped');
  const restore = await command('restore', target.env, backupFile);
  mark('restored');
  assert.equal(restore.code, 0, restore.stderr + restore.stdout);
  assert.match(restore.stdout, /Restored in .*schema version \d+/);
  const restored = await visitsIn(target.where);
  const missing = before.filter((name) => !restored.has(name));
  assert.deepEqual(missing, [], 'links acknowledged before the backup began, missing from the restored store');
  const fewer = before.filter((name) => (restored.get(name) ?? 0) < (visitsBefore.get(name) ?? 0));
  assert.deepEqual(fewer, [], 'links with fewer visits than before the backup began');

  if (options.refusesSecondRestore) {
    // A second restore into the now non-empty store is refused, changing nothing.
    const again = await command('restore', target.env, backupFile);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /restore only into an empty store/);
    assert.deepEqual(await visitsIn(target.where), restored);
  }
}
