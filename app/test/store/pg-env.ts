/** Where the PostgreSQL tests connect, and whether they can. */
import type { TestContext } from 'node:test';
import { Client, escapeIdentifier } from 'pg';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.href;
}

async function unreachableBecause(): Promise<string | undefined> {
  const client = new Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

const reason = await unreachableBecause();

/**
 * A skip notice for describe() when PostgreSQL is down on a developer machine. In CI the suites run
 * anyway, so a missing database fails loudly instead of passing as skipped.
 */
export const postgresSkip: string | false =
  reason !== undefined && process.env.CI !== 'true' ? `PostgreSQL not reachable at ${redacted(testDatabaseUrl)} (${reason})` : false;

let schemas = 0;

/** A schema name no other test run uses. */
export function uniqueSchema(): string {
  schemas += 1;
  return `linkyard_test_${process.pid}_${Date.now().toString(36)}_${schemas}`;
}

/** A connection for a test of its own schema (not created: the store's migration does that), dropped after the test. */
export async function scratchSchema(t: TestContext): Promise<{ schema: string; admin: Client }> {
  const schema = uniqueSchema();
  const admin = new Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  t.after(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
    await admin.end();
  });
  return { schema, admin };
}
