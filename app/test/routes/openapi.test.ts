import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startApp } from '../helpers.ts';
import { OPENAPI_FILE } from '../openapi-document.ts';

describe('the OpenAPI document', () => {
  it('is served at /api/openapi.json, describes the JSON API only, and equals docs/openapi.json (else: npm run openapi)', async (t) => {
    const { url } = await startApp(t);
    const response = await fetch(`${url}/api/openapi.json`);
    assert.equal(response.status, 200);
    const served = (await response.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(served.openapi, '3.1.0');
    assert.deepEqual(Object.keys(served.paths['/api/bookmarks/{name}'] ?? {}).sort(), ['delete', 'get', 'patch']);
    assert.ok(
      Object.keys(served.paths).every((path) => path.startsWith('/api/')),
      'no page, redirect or health routes',
    );
    const committed = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as unknown;
    assert.deepEqual(served, committed, 'docs/openapi.json is stale: run `npm run openapi` and commit it');
  });
});
