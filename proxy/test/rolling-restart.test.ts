import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APP_SERVICES, ROOT, readCompose, run, services } from '../../test/compose/compose-files.ts';

// Checked statically here (`npm test` may run without Docker); it runs for real under k6 load in
// test/containers/compose-operations.e2e.ts. What nginx does meanwhile (an app that drains is
// routed around, with no reload) runs against the compose nginx config in nginx-config.test.ts.

const SCRIPT = 'proxy/compose/rolling-restart.sh';
const script = readFileSync(join(ROOT, SCRIPT), 'utf8');

describe('the compose rolling restart', () => {
  it('is what `npm run compose:rolling-restart` runs', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(scripts['compose:rolling-restart'], `bash ${SCRIPT}`);
    assert.ok(existsSync(join(ROOT, SCRIPT)));
  });

  it('parses (bash -n)', async () => {
    const bash = await run('bash', ['-n', SCRIPT]);
    assert.equal(bash?.code, 0, bash?.stderr);
  });

  it('passes shellcheck', async (t) => {
    const result = await run('shellcheck', ['--external-sources', SCRIPT]);
    if (result === undefined) {
      t.skip('NOTICE: shellcheck is not installed: the scripts are not linted (apt-get install shellcheck)');
      return;
    }
    assert.equal(result.code, 0, result.stdout);
  });

  it('restarts exactly the compose app services, one at a time, waiting for each to be healthy', () => {
    const listed = /^all_apps=\(([^)]*)\)$/m.exec(script)?.[1]?.split(/\s+/);
    assert.deepEqual(listed, [...APP_SERVICES]);
    assert.deepEqual(
      Object.keys(services(readCompose())).filter((name) => /^app\d+$/.test(name)),
      [...APP_SERVICES],
    );
    const up = script.split('\n').find((line) => /^\s*(if ! )?docker compose up\b/.test(line));
    assert.ok(up !== undefined);
    for (const flag of ['--no-deps', '--force-recreate', '--wait']) assert.ok(up.includes(flag), `docker compose up ${flag}`);
    // A --timeout (-t) would replace stop_grace_period and could SIGKILL an app mid-drain.
    assert.doesNotMatch(up, /\s(--timeout|-t)\s/);
  });

  it('never reloads nginx, and gives it time to resolve each new container before the next', () => {
    const commands = script
      .split('\n')
      .filter((line) => !/^\s*#/.test(line))
      .join('\n');
    // A reload closes nginx's clients' idle keep-alive connections: the resets this avoids.
    assert.doesNotMatch(commands, /nginx -s|docker compose (exec|restart|kill)[^\n]*nginx|SIGHUP|kill -HUP/);
    const upstream = readFileSync(join(ROOT, 'proxy/compose/env/upstream.conf.template'), 'utf8');
    const resolverValid = Number(/^resolver \S+ valid=(\d+)s/m.exec(upstream)?.[1]);
    assert.ok(resolverValid > 0, 'the compose upstream re-resolves its servers');
    const resolveSeconds = Number(/RESOLVE_SECONDS:-(\d+)/.exec(script)?.[1]);
    assert.ok(resolveSeconds > resolverValid, `waits ${resolveSeconds} s, longer than the resolver's valid=${resolverValid}s`);
    // The app it just replaced refused connections while it drained: nginx counts it failed for
    // fail_timeout (to the second). Stopping the next one sooner could leave no server nginx
    // would try, and nginx answers 502 by itself then.
    const failTimeouts = [...upstream.matchAll(/fail_timeout=(\d+)s/g)].map((match) => Number(match[1]));
    assert.ok(
      failTimeouts.length > 0 && failTimeouts.every((seconds) => resolveSeconds > seconds + 1),
      `waits ${resolveSeconds} s, longer than fail_timeout ${failTimeouts.join(', ')} s and a second`,
    );
    const up = commands.indexOf('docker compose up');
    const wait = commands.indexOf('sleep "$RESOLVE_SECONDS"');
    assert.ok(up >= 0 && wait > up, 'after each container is replaced');
  });
});
