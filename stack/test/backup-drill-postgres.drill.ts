import { describe, it } from 'node:test';
import { Client } from 'pg';
import { findTool } from '../../app/src/data/postgres-backup.ts';
import { postgresSchemaUrl } from '../../app/test/data/fixture.ts';
import { postgresSkip, testDatabaseUrl } from '../../app/test/store/pg-env.ts';
import { tempDir } from '../../test/support/index.ts';
import { drill } from './backup-drill.ts';

// The backup drill on PostgreSQL (pg_dump of the server's version): outside `npm test`'s globs for
// its time (about 20 s on the 2-core VM); `npm run test:drills` runs it.

describe('backup under load, restore into a new store', { timeout: 120_000 }, () => {
  it('on PostgreSQL (pg_dump of the server version)', { skip: postgresSkip }, async (t) => {
    const admin = new Client({ connectionString: testDatabaseUrl });
    await admin.connect();
    const database = `linkyard_restore_${process.pid}`;
    t.after(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    });
    const version = await admin.query<{ major: string }>(`SELECT (current_setting('server_version_num')::int / 10000)::text AS major`);
    try {
      await findTool('pg_dump', Number(version.rows[0]?.major), undefined);
    } catch (error) {
      t.skip(`no pg_dump matching the server: ${(error as Error).message}`);
      return;
    }
    const url = await postgresSchemaUrl(t);
    await admin.query(`CREATE DATABASE ${database}`);
    const restoreUrl = new URL(url);
    restoreUrl.pathname = `/${database}`;
    const dir = tempDir(t, 'linkyard-backup-pg-');
    await drill(
      t,
      dir,
      { env: { DATABASE_URL: url }, where: url },
      { env: { DATABASE_URL: restoreUrl.href }, where: restoreUrl.href },
      { refusesSecondRestore: false },
    );
  });
});
