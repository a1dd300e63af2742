/**
 * The OpenAPI document the app serves, as committed in docs/openapi.json: `npm run openapi`
 * writes it after a change to a route's schema (app/test/routes/openapi.test.ts compares the two).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

export const OPENAPI_FILE = new URL('../../docs/openapi.json', import.meta.url).pathname;

export async function renderOpenApi(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'linkyard-openapi-'));
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: dataDir }));
  try {
    await app.ready();
    const response = await app.inject({ method: 'GET', url: '/api/openapi.json' });
    return `${JSON.stringify(response.json(), null, 2)}\n`;
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  writeFileSync(OPENAPI_FILE, await renderOpenApi());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}
