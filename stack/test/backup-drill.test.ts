import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/index.ts';
import { drill } from './backup-drill.ts';

// The backup drill on SQLite (VACUUM INTO); on PostgreSQL: backup-drill-postgres.drill.ts.

describe('backup under load, restore into a new store', { timeout: 120_000 }, () => {
  it('on SQLite (VACUUM INTO)', async (t) => {
    const dir = tempDir(t, 'linkyard-backup-');
    const data = join(dir, 'data');
    const restored = join(dir, 'restored');
    await drill(
      t,
      dir,
      { env: { DATA_DIR: data }, where: join(data, 'linkyard.sqlite') },
      { env: { DATA_DIR: restored }, where: join(restored, 'linkyard.sqlite') },
      { refusesSecondRestore: true },
    );
  });
});
