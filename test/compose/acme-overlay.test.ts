import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { tempDir } from '../support/index.ts';
import { assertBoundedLogs, dockerCompose, environment, list, map, service } from './compose-files.ts';

// docker-compose.acme.yml, merged by `docker compose config` as `up` merges it: what decides that a
// renewal reaches nginx (the volume, not secrets) and that nginx starts before a certificate exists.
// The real thing against pebble: test/containers/compose-acme.e2e.ts (npm run test:compose).

const FILES = ['-f', 'docker-compose.yml', '-f', 'docker-compose.tls.yml', '-f', 'docker-compose.acme.yml'];

describe('docker-compose.acme.yml on top of the HTTPS overlay', () => {
  it('gives nginx the certificate from the letsencrypt volume, not secrets, and runs certbot in the acme profile', async (t) => {
    const noEnvFile = join(tempDir(t, 'linkyard-compose-'), 'empty.env');
    writeFileSync(noEnvFile, '');
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' };
    const result = await dockerCompose(['--env-file', noEnvFile, ...FILES, '--profile', 'acme', 'config'], { env });
    if (result === undefined) {
      t.skip('NOTICE: Docker Compose v2 is not installed: the ACME overlay is not checked');
      return;
    }
    assert.equal(result.code, 0, `docker compose config failed:\n${result.stderr}`);
    const merged = map(parse(result.stdout), 'docker compose config output');
    const nginx = service(merged, 'nginx');
    const volumes = list(nginx.volumes, 'nginx volumes').map((volume) => map(volume, 'volume'));
    const at = (target: string) => volumes.filter((volume) => volume.target === target);
    assert.deepEqual(
      at('/etc/nginx/templates/https').map((volume) => String(volume.source).replace(/.*\/proxy\//, 'proxy/')),
      ['proxy/compose/acme'],
      'the ACME templates replace the secrets ones',
    );
    assert.deepEqual(
      at('/etc/letsencrypt').map(({ source, read_only }) => [source, read_only]),
      [['letsencrypt', true]],
    );
    assert.equal(nginx.secrets, undefined, 'no certificate secrets (a secret keeps the old file after a renewal)');
    assert.equal(
      map(nginx.depends_on, 'nginx depends_on')['tls-check'],
      undefined,
      'nginx does not wait for files certbot has yet to make',
    );
    assert.equal(map(merged.services, 'services')['tls-check'], undefined);

    const certbot = service(merged, 'certbot');
    assert.equal(certbot.image, 'certbot/certbot');
    assert.deepEqual(certbot.profiles, ['acme']);
    const certbotVolumes = list(certbot.volumes, 'certbot volumes').map((volume) => map(volume, 'volume'));
    assert.deepEqual(
      certbotVolumes.filter(({ type }) => type === 'volume').map(({ source, target, read_only }) => [source, target, read_only ?? false]),
      [
        ['letsencrypt', '/etc/letsencrypt', false],
        ['acme-webroot', '/srv/acme', false],
      ],
    );
    assert.equal(environment(certbot, 'certbot').LINKYARD_ACME_RENEW_SECONDS, '43200');
    assertBoundedLogs({ services: { certbot } });
  });
});
