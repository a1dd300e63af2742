import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTarget, tempDir } from '../../../test/support/index.ts';
import { openCountryLookup } from '../../src/stats/geoip.ts';
import { htmlPage, startApp } from '../helpers.ts';
import { writeCountryMmdb } from './mmdb.ts';

const NETWORKS = { '203.0.113.0/24': 'NL', '198.51.100.0/25': 'JP', '192.0.2.128/25': 'BR' };

describe('GeoIP countries', () => {
  it('reads an MMDB country database with the maxmind reader', async (t) => {
    const file = join(tempDir(t), 'countries.mmdb');
    writeCountryMmdb(file, NETWORKS);
    const countryOf = await openCountryLookup(file);
    assert.equal(countryOf('203.0.113.7'), 'NL');
    assert.equal(countryOf('198.51.100.1'), 'JP');
    assert.equal(countryOf('198.51.100.200'), undefined, 'outside the /25');
    assert.equal(countryOf('192.0.2.200'), 'BR');
    assert.equal(countryOf('10.0.0.1'), undefined);
    assert.equal(countryOf('2001:db8::1'), undefined, 'an IPv6 client of an IPv4 database: no country, no error');
    assert.equal(countryOf('not an address'), undefined);
  });

  it('counts the country of the address the app trusts (X-Forwarded-For from a trusted proxy), and keeps only the code', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'countries.mmdb');
    writeCountryMmdb(file, NETWORKS);
    const target = await startTarget(t, htmlPage('x'));
    const stats = { enabled: true, flushMs: 60_000, hourlyDays: 35, geoipDbFile: file };
    const first = await startApp(t, { visitsFlushMs: 60_000, stats });
    const created = await fetch(`${first.url}/api/bookmarks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `${target.url}/`, name: 'abroad' }),
    });
    assert.equal(created.status, 201);
    const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
    for (const client of ['203.0.113.7', '203.0.113.8', '198.51.100.1', '10.1.2.3']) {
      const answer = await fetch(`${first.url}/abroad`, {
        redirect: 'manual',
        headers: { 'user-agent': firefox, 'x-forwarded-for': client },
      });
      assert.equal(answer.status, 303);
    }
    await first.app.close();
    const second = await startApp(t, { dataDir: first.config.dataDir, stats });
    const body = (await (await fetch(`${second.url}/api/bookmarks/abroad/stats`)).json()) as {
      top: { country: { value: string; visits: number }[] };
    };
    assert.deepEqual(body.top.country, [
      { value: 'NL', visits: 2 },
      { value: 'JP', visits: 1 },
    ]);
  });

  it('stops start-up when the file cannot be read', async (t) => {
    const stats = { enabled: true, flushMs: 1000, hourlyDays: 35, geoipDbFile: join(tempDir(t), 'missing.mmdb') };
    await assert.rejects(startApp(t, { stats }), /ENOENT|missing\.mmdb/);
  });
});
