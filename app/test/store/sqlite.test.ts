import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { accessContract } from './access-contract.ts';
import { storeContract } from './contract.ts';

const dir = await mkdtemp(join(tmpdir(), 'linkyard-store-'));
after(() => rm(dir, { recursive: true, force: true }));
let files = 0;

const HOLD_LOCK_SCRIPT = new URL('./fixtures/hold-write-lock.ts', import.meta.url).pathname;
const HOLD_MS = 600;

function freshFile(): string {
  files += 1;
  return join(dir, `${files}.sqlite`);
}

describe('SqliteStore', () => {
  const harness = {
    async fresh() {
      const file = freshFile();
      return { open: () => new SqliteStore({ file }), workerSpec: { engine: 'sqlite', file } as const };
    },
  };
  storeContract(harness);
  accessContract(harness);

  test('the file is in WAL mode and records its schema version', async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();

    const observer = new Database(file, { readonly: true });
    t.after(() => observer.close());
    assert.equal(observer.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(observer.pragma('user_version', { simple: true }), 5);
  });

  test('a writer waits while another process holds the write lock instead of failing', { timeout: 30_000 }, async (t) => {
    const file = freshFile();
    const store = new SqliteStore({ file });
    t.after(() => store.close());
    await store.migrate();

    const holder = spawn(process.execPath, [HOLD_LOCK_SCRIPT, file, String(HOLD_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => holder.kill('SIGKILL'));
    const [line] = await once(createInterface({ input: holder.stdout }), 'line');
    assert.equal(line, 'locked');

    const started = Date.now();
    const outcome = await store.create({ name: 'a', uri: 'https://example.com/', title: null, checkStatus: 200 });
    const waited = Date.now() - started;
    assert.equal(outcome.kind, 'created');
    assert.ok(waited >= HOLD_MS / 2, `create returned after ${waited} ms, before the lock was released`);
  });
});
