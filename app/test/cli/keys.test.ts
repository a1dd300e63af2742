import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { compileApp } from '../../../stack/src/build.ts';
import { tempDir } from '../../../test/support/index.ts';
import { KEY_PATTERN } from '../../src/auth/keys.ts';

const SCRIPT = new URL('../../src/cli/keys.ts', import.meta.url).pathname;
const APP_DIR = new URL('../../', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The command as `npm run keys --` runs it, against a data folder of its own. */
function keys(dataDir: string, ...args: string[]): Promise<Run> {
  return run(SCRIPT, dataDir, args);
}

/** `script` (the source, or the built one) with `args`. */
function run(script: string, dataDir: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '' } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
      },
    );
  });
}

describe('npm run keys', () => {
  it('creates a key shown once, lists it without the key, revokes it', async (t) => {
    const dataDir = tempDir(t);
    const created = await keys(dataDir, 'create', '--name', 'alice', '--role', 'author');
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, KEY_PATTERN);

    const listed = await keys(dataDir, 'list');
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, /^alice\tauthor\tcreated \S+\tlast used never\n$/);
    assert.ok(!listed.stdout.includes(key), 'the key itself is never shown again');

    const revoked = await keys(dataDir, 'revoke', 'alice');
    assert.equal(revoked.code, 0);
    assert.match((await keys(dataDir, 'list')).stdout, /^No keys yet/);
  });

  it('refuses bad input with a clear error and changes nothing', async (t) => {
    const dataDir = tempDir(t);
    assert.equal((await keys(dataDir, 'create', '--name', 'alice', '--role', 'admin')).code, 0);
    const cases: [string[], number, RegExp][] = [
      [['create', '--name', 'alice', '--role', 'admin'], 1, /exists already/],
      [['create', '--name', 'bob', '--role', 'owner'], 2, /--role must be one of admin, author/],
      [['create', '--name', 'bad name', '--role', 'author'], 2, /--name 'bad name'/],
      [['create', '--name', 'form', '--role', 'author'], 2, /reserved/],
      [['create', '--role', 'author'], 2, /--name ''/],
      [['create', '--name', 'x', '--role', 'author', '--colour', 'red'], 2, /Unknown option '--colour'/],
      [['revoke', 'nobody'], 1, /no key named 'nobody'/],
      [['revoke'], 2, /one key name/],
      [['frobnicate'], 2, /unknown command 'frobnicate'/],
      [[], 2, /no command given/],
    ];
    for (const [args, code, message] of cases) {
      const run = await keys(dataDir, ...args);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.equal(run.stdout, '', `${args.join(' ')} prints no key`);
    }
    const listed = (await keys(dataDir, 'list')).stdout.trim().split('\n');
    assert.deepEqual(
      listed.map((line) => line.split('\t').slice(0, 2).join(' ')),
      ['alice admin'],
    );
  });

  it('is in the production build as app/dist/cli/keys.js, which the image runs (`docker compose exec app node app/dist/cli/keys.js`)', async (t) => {
    const outDir = tempDir(t, '.build-test-', APP_DIR);
    const built = join(dirname(await compileApp(outDir)), 'cli', 'keys.js');
    const dataDir = tempDir(t);
    const created = await run(built, dataDir, ['create', '--name', 'ops', '--role', 'admin']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout.trim(), KEY_PATTERN);
    assert.match((await keys(dataDir, 'list')).stdout, /^ops\tadmin\t/);
  });

  it('says what is wrong with the configuration instead of a stack trace', async () => {
    const broken = await new Promise<Run>((resolve) => {
      execFile(process.execPath, [SCRIPT, 'list'], { env: { ...process.env, DATABASE_URL: 'mysql://x' } }, (error, stdout, stderr) =>
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
      );
    });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^keys: DATABASE_URL: expected a postgres/);
  });
});
