import assert from 'node:assert/strict';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { exportStream } from '../../src/services/export.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { NOT_CHECKED } from '../../src/store/types.ts';
import { makeKey } from '../auth/keys-support.ts';
import { fill, sampleLinks } from '../cli/transfer-support.ts';
import { startApp } from '../helpers.ts';

function get(url: string, path: string, key?: string, method = 'GET') {
  return fetch(`${url}${path}`, { method, headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
}

describe('GET /api/export, and imported links on the page', () => {
  it('streams every link to an admin key as NDJSON or CSV; refuses others and bad formats', async (t) => {
    const { url, config } = await startApp(t);
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const alice = await makeKey(t, config.dataDir, 'alice', 'author');
    // Beside the app's own connection, as another process would write: more links than one page of the store.
    const store = new SqliteStore({ file: join(config.dataDir, 'linkyard.sqlite') });
    t.after(() => store.close());
    await store.migrate();
    await fill(store, sampleLinks(1200));

    const anonymous = await get(url, '/api/export?format=ndjson');
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: string }).error, 'UNAUTHORIZED');
    const author = await get(url, '/api/export?format=ndjson', alice);
    assert.equal(author.status, 403);
    assert.equal(((await author.json()) as { error: string }).error, 'FORBIDDEN');
    for (const query of ['', '?format=', '?format=xml', '?format=NDJSON', '?format=csv&format=ndjson']) {
      const refused = await get(url, `/api/export${query}`, root);
      assert.equal(refused.status, 400, query);
      assert.equal(((await refused.json()) as { error: string }).error, 'INVALID_REQUEST', query);
    }
    assert.equal((await get(url, '/api/export?format=csv', root, 'POST')).status, 405);

    const ndjson = await get(url, '/api/export?format=ndjson', root);
    assert.equal(ndjson.status, 200);
    assert.equal(ndjson.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    assert.equal(ndjson.headers.get('content-disposition'), 'attachment; filename="linkyard-links.ndjson"');
    assert.equal(ndjson.headers.get('cache-control'), 'no-store');
    assert.equal(ndjson.headers.get('transfer-encoding'), 'chunked', 'streamed as read, not gathered first');
    assert.equal(ndjson.headers.get('content-length'), null);
    const body = await ndjson.text();
    assert.equal(body, await text(exportStream(store, 'ndjson')), 'what the export command writes');
    assert.equal(body.split('\n').length, 1200 + 3);

    const csv = await get(url, '/api/export?format=csv', root);
    assert.equal(csv.status, 200);
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    const rows = parse(await csv.text(), { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 1200);
    assert.equal(rows.find((row) => row.name === 'link-11')?.title, `'=HYPERLINK("https://evil.example/11","click")`);

    const audit = (await (await get(url, '/api/audit?limit=2', root)).json()) as {
      items: { actor: string; action: string; subject: string }[];
    };
    assert.deepEqual(
      audit.items.map((entry) => [entry.actor, entry.action, entry.subject]),
      [
        ['root', 'links.export', 'csv export'],
        ['root', 'links.export', 'ndjson export'],
      ],
    );
  });

  it('stops reading when the client goes away, and the app goes on serving', async (t) => {
    const { url, config } = await startApp(t);
    const root = await makeKey(t, config.dataDir, 'root', 'admin');
    const store = new SqliteStore({ file: join(config.dataDir, 'linkyard.sqlite') });
    t.after(() => store.close());
    await store.migrate();
    await fill(store, sampleLinks(5000));

    const controller = new AbortController();
    const response = await fetch(`${url}/api/export?format=ndjson`, {
      headers: { authorization: `Bearer ${root}` },
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    const first = await reader?.read();
    assert.ok(first?.value !== undefined && first.value.length > 0);
    controller.abort();
    await assert.rejects(reader?.read() ?? Promise.reject(new Error('no body')));

    const again = await get(url, '/api/export?format=ndjson', root);
    assert.equal(again.status, 200);
    assert.equal((await again.text()).split('\n').at(-2), '{"end":{"links":5000}}');
  });

  it('a link imported without a check shows "Not checked" on the page and its stats page, not an HTTP status', async (t) => {
    const { url, config } = await startApp(t);
    const store = new SqliteStore({ file: join(config.dataDir, 'linkyard.sqlite') });
    t.after(() => store.close());
    await store.migrate();
    const [link] = [...sampleLinks(1)];
    if (link === undefined) throw new Error('no sample link');
    await store.importLinks([{ ...link, name: 'unchecked', checkStatus: NOT_CHECKED }], { overwrite: false });
    const page = await (await fetch(`${url}/`)).text();
    assert.match(page, /<span class="badge">Not checked<\/span><span class="note">Imported<\/span>/);
    assert.doesNotMatch(page, /HTTP 0/);
    const stats = await (await fetch(`${url}/unchecked+`)).text();
    assert.match(stats, /<span class="badge">Not checked<\/span>/);
  });
});
