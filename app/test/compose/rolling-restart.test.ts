import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APP_SERVICES, ROOT, run, services, readCompose } from './compose-files.ts';

// Checked statically here (`npm test` may run without Docker); it runs for real under k6 load in
// app/test/containers/compose-operations.e2e.ts. Its nginx half, mark-upstream.sh, also runs in
// nginx-config.test.ts.

const SCRIPT = 'proxy/compose/rolling-restart.sh';
const MARK_UPSTREAM = 'proxy/compose/mark-upstream.sh';
const script = readFileSync(join(ROOT, SCRIPT), 'utf8');

describe('the compose rolling restart', () => {
  it('is what `npm run compose:rolling-restart` runs', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(scripts['compose:rolling-restart'], `bash ${SCRIPT}`);
    assert.ok(existsSync(join(ROOT, MARK_UPSTREAM)));
  });

  it('parses (bash -n, sh -n)', async () => {
    const bash = await run('bash', ['-n', SCRIPT]);
    assert.equal(bash?.code, 0, bash?.stderr);
    const sh = await run('sh', ['-n', MARK_UPSTREAM]);
    assert.equal(sh?.code, 0, sh?.stderr);
  });

  it('passes shellcheck', async (t) => {
    const result = await run('shellcheck', ['--external-sources', SCRIPT, MARK_UPSTREAM]);
    if (result === undefined) {
      t.skip('NOTICE: shellcheck is not installed: the scripts are not linted (apt-get install shellcheck)');
      return;
    }
    assert.equal(result.code, 0, result.stdout);
  });

  it('restarts exactly the compose app services, one at a time, waiting for each to be healthy', () => {
    const listed = /^all_apps=\(([^)]*)\)$/m.exec(script)?.[1]?.split(/\s+/);
    assert.deepEqual(listed, [...APP_SERVICES]);
    assert.deepEqual(Object.keys(services(readCompose())).filter((name) => /^app\d+$/.test(name)), [...APP_SERVICES]);
    const up = script.split('\n').find((line) => /^\s*(if ! )?docker compose up\b/.test(line));
    assert.ok(up !== undefined);
    for (const flag of ['--no-deps', '--force-recreate', '--wait']) assert.ok(up.includes(flag), `docker compose up ${flag}`);
    // A --timeout (-t) would replace stop_grace_period and could SIGKILL an app mid-drain.
    assert.doesNotMatch(up, /\s(--timeout|-t)\s/);
    // Out of nginx's rotation before the container is replaced, back in after.
    const order = ['mark "$app" down', up.trim(), 'mark "$app" up'].map((step) => script.indexOf(step));
    assert.ok(order.every((index) => index >= 0), 'marks down, replaces, marks up');
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'in that order');
  });
});
