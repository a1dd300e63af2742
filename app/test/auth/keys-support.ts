/** Keys for tests, made in the app's own store file as `npm run keys` makes them. */
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { generateKey, hashSecret } from '../../src/auth/keys.ts';
import type { Role } from '../../src/store/access-types.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

export async function makeKey(t: TestContext, dataDir: string, name: string, role: Role): Promise<string> {
  const store = new SqliteStore({ file: join(dataDir, 'linkyard.sqlite') });
  t.after(() => store.close());
  await store.migrate();
  const key = generateKey();
  const outcome = await store.access.createKey({ name, role, hash: hashSecret(key) }, 'command');
  if (outcome !== 'created') throw new Error(`key '${name}' exists`);
  await store.close();
  return key;
}

export async function revokeKey(t: TestContext, dataDir: string, name: string): Promise<void> {
  const store = new SqliteStore({ file: join(dataDir, 'linkyard.sqlite') });
  t.after(() => store.close());
  await store.migrate();
  if (!(await store.access.revokeKey(name, 'command'))) throw new Error(`no key '${name}'`);
  await store.close();
}
