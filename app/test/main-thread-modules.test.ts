/**
 * What the request thread loads: in pool mode the checking code (undici, htmlparser2) lives in the
 * worker only, and the PostgreSQL driver loads only with DATABASE_URL. Watched with Node's module
 * hooks in a fresh process, through a real check. What each costs: docs/decisions/0007-uri-checks-in-a-worker-pool.md
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTarget, tempDir } from '../../test/support/index.ts';
import { htmlPage } from './helpers.ts';

const APP = new URL('../src/app.ts', import.meta.url).href;
const CONFIG = new URL('../src/config.ts', import.meta.url).href;

/** The bare package names the main thread imported while building the app and creating one bookmark. */
async function packagesLoaded(mode: 'pool' | 'inline', dataDir: string, uri: string): Promise<string[]> {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) { if (!/^[./]|^node:|^file:/.test(specifier)) seen.add(specifier.split('/')[0]); return next(specifier, context); } });
    const { buildApp } = await import(${JSON.stringify(APP)});
    const { loadConfig } = await import(${JSON.stringify(CONFIG)});
    const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: ${JSON.stringify(dataDir)}, CHECK_MODE: '${mode}', CHECK_ALLOW_PRIVATE: 'true' }));
    const response = await app.inject({ method: 'POST', url: '/api/bookmarks', payload: { uri: ${JSON.stringify(uri)}, name: 'watched' } });
    if (response.statusCode !== 201) throw new Error('creation answered ' + response.statusCode + ': ' + response.body);
    await app.close();
    console.log(JSON.stringify([...seen].sort()));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  return JSON.parse(stdout) as string[];
}

describe('modules on the request thread', () => {
  it('pool mode: no undici, htmlparser2 or pg on the main thread, though a check ran', async (t) => {
    const site = await startTarget(t, htmlPage('Watched'));
    const loaded = await packagesLoaded('pool', tempDir(t), `${site.url}/`);
    assert.ok(loaded.includes('fastify') && loaded.includes('piscina') && loaded.includes('better-sqlite3'), loaded.join(', '));
    for (const name of ['undici', 'htmlparser2', 'pg']) assert.ok(!loaded.includes(name), `${name} loaded: ${loaded.join(', ')}`);
  });

  it('inline mode: the checking code is loaded by the first check, on the main thread', async (t) => {
    const site = await startTarget(t, htmlPage('Watched'));
    const loaded = await packagesLoaded('inline', tempDir(t), `${site.url}/`);
    assert.ok(loaded.includes('undici') && loaded.includes('htmlparser2'), loaded.join(', '));
    assert.ok(!loaded.includes('pg'));
  });
});
