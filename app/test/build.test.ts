import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APP_NODE_FLAGS } from '../../stack/src/app-process.ts';
import { compileApp } from '../../stack/src/build.ts';
import { probeStatus, waitFor } from '../../stack/src/wait.ts';
import { freePort, startTarget, tempDir } from '../../test/support/index.ts';
import { htmlPage } from './helpers.ts';

const APP_DIR = new URL('../', import.meta.url).pathname;
const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> })
  .scripts;

describe('the production build', () => {
  it('is what `npm start` runs, after building it', () => {
    assert.equal(scripts.build, 'exec sh scripts/with-node.sh tsc -p tsconfig.build.json');
    assert.equal(scripts.start, 'npm run build && exec sh scripts/with-node.sh node stack/src/launcher.ts');
  });

  it('compiles to JavaScript that serves, checks on its worker thread and redirects, with no .ts left', async (t) => {
    // Next to app/src, as app/dist is, so the paths the modules resolve from themselves hold.
    const outDir = tempDir(t, '.build-test-', APP_DIR);
    const entry = await compileApp(outDir);
    const files = readdirSync(outDir, { recursive: true, encoding: 'utf8' });
    assert.ok(files.includes('server.js') && files.includes(join('check', 'worker.js')), 'server.js and the check worker are built');
    assert.deepEqual(
      files.filter((file) => file.endsWith('.ts')),
      [],
    );
    assert.doesNotMatch(readFileSync(join(outDir, 'app.js'), 'utf8'), /from '\.[^']*\.ts'/, 'imports point at .js');

    const site = await startTarget(t, htmlPage('Built'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: tempDir(t),
      CHECK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, [...APP_NODE_FLAGS, entry], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    t.after(() => child.kill('SIGKILL'));
    await waitFor(`${url}/readyz`, async () => (await probeStatus(`${url}/readyz`)) === 200, { timeoutMs: 15_000 });

    // The check runs in the pool, whose worker is loaded by path: worker.js from the build.
    const created = await fetch(`${url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${site.url}/`, name: 'built' }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    assert.equal(((await created.json()) as { title: string | null }).title, 'Built');
    const redirect = await fetch(`${url}/built`, { redirect: 'manual' });
    assert.equal(redirect.status, 303);
    assert.equal(redirect.headers.get('location'), `${site.url}/`);
    assert.equal(stderr, '', 'nothing on stderr (no warning, no stack trace)');
  });

  it('is not committed: app/dist is ignored by git and by docker', () => {
    const ignored = (file: string) =>
      readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
        .split('\n')
        .map((line) => line.trim());
    assert.ok(ignored('.gitignore').includes('app/dist/'));
    assert.ok(ignored('.dockerignore').includes('app/dist'));
    assert.ok(existsSync(new URL('../../tsconfig.build.json', import.meta.url)));
  });
});
