/** A store with something in every table a move copies, written through the store's own API. */

import { Client } from 'pg';
import type { Owner } from '../../../test/support/index.ts';
import { hashSecret } from '../../src/auth/keys.ts';
import { DAY_MS, HOUR_MS, type VisitRollupRows } from '../../src/store/stats-types.ts';
import type { BookmarkStore } from '../../src/store/types.ts';
import { testDatabaseUrl, uniqueSchema } from '../store/pg-env.ts';

/** Values whose order differs between byte, UTF-16 and locale collations. */
const AWKWARD = ['Zürich', 'zebra', 'Ängelholm', 'a', '😀 emoji', 'ﬀ ligature', 'B', 'quote \' and " and \\'];

export async function fillStore(store: BookmarkStore, links: number): Promise<void> {
  const now = Date.now();
  const hour = Math.floor(now / HOUR_MS);
  for (let i = 0; i < links; i++) {
    await store.create({
      name: `link-${i}`,
      uri: `https://example.com/${i}?q=${AWKWARD[i % AWKWARD.length]}`,
      title: i % 3 === 0 ? null : `Title ${AWKWARD[i % AWKWARD.length]} ${i}`,
      checkStatus: i % 5 === 0 ? 404 : 200,
      createdBy: i % 4 === 0 ? 'alice' : null,
      expiresAt: i % 7 === 0 ? new Date(now + 30 * DAY_MS + i) : null,
      maxVisits: i % 11 === 0 ? 1000 + i : null,
      forwardQuery: i % 2 === 0,
    });
  }
  // Visits with rollups over several days, so that folding makes daily rows too.
  for (let batch = 0; batch < 4; batch++) {
    const counts = new Map<string, number>();
    const rollups: VisitRollupRows = { hours: [], dimensions: [] };
    for (let i = batch; i < links; i += 3) {
      const name = `link-${i}`;
      counts.set(name, 1 + (i % 5));
      rollups.hours.push({ name, hour: hour - batch * 200, visits: 1 + (i % 5), bots: i % 2 });
      for (const [index, value] of AWKWARD.entries()) {
        if ((i + index) % 3 === 0)
          rollups.dimensions.push({
            name,
            day: Math.floor((now - batch * 200 * HOUR_MS) / DAY_MS),
            dimension: 'referrer',
            value,
            visits: 1 + index,
          });
      }
    }
    await store.addVisits(counts, `batch-${batch}`, rollups);
  }
  await store.foldHours(hour - 100);
  // Re-check state: some links failing since a while, one checked fine again.
  for (let i = 1; i < links; i += 10) {
    await store.recordRecheck(
      `link-${i}`,
      `https://example.com/${i}?q=${AWKWARD[i % AWKWARD.length]}`,
      { ok: false, error: 'connect ECONNREFUSED' },
      new Date(now - 2 * DAY_MS),
    );
    await store.recordRecheck(
      `link-${i}`,
      `https://example.com/${i}?q=${AWKWARD[i % AWKWARD.length]}`,
      { ok: false, error: 'timeout' },
      new Date(now - DAY_MS + i),
    );
  }
  await store.recordRecheck('link-2', 'https://example.com/2?q=Ängelholm', { ok: true, status: 200 }, new Date(now - 3 * HOUR_MS));
  await store.access.createKey({ name: 'alice', role: 'author', hash: hashSecret('alice-secret') }, 'command');
  await store.access.createKey({ name: 'bob', role: 'admin', hash: hashSecret('bob-secret') }, 'command');
  await store.access.createSession({ hash: hashSecret('session-1'), keyName: 'alice', expiresAt: new Date(now + DAY_MS) });
  await store.access.addBlockedHosts(['bad.example', 'worse.example'], 'command', '2 hosts');
  await store.access.setLinkDisabled('link-3', true, 'command');
  await store.access.setLinkDisabled(`link-${links - 1}`, true, 'command');
  await store.access.revokeKey('bob', 'command');
  // The newest link deleted: the next id must still not be its (a disabled row may name it).
  await store.delete(`link-${links - 1}`);
}

/** A schema of its own in the test database, and the URL that selects it; dropped when `owner` is done. */
export async function postgresSchemaUrl(owner: Owner): Promise<string> {
  const schema = uniqueSchema();
  const client = new Client({ connectionString: testDatabaseUrl });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  owner.after(async () => {
    const cleanup = new Client({ connectionString: testDatabaseUrl });
    await cleanup.connect();
    await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await cleanup.end();
  });
  // %20, not URLSearchParams' '+': libpq (pg_dump) reads '+' as itself.
  return `${testDatabaseUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}
