import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/index.ts';
import { findExecutable } from '../src/executables.ts';
import { aptGetForNginx, aptInstallNginx, ensureNginx } from '../src/nginx-install.ts';
import { NginxMissingError } from '../src/nginx-process.ts';

// Installing nginx for real would change this shared machine, so what is tested is the decision
// (who may install, with which apt-get) and that a refusal is the one-line NginxMissingError;
// apt-get itself is not run: a failing stand-in shows how a failure is reported.

function executable(dir: string, name: string, mode = 0o755, body = 'exit 1'): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

describe('findExecutable', () => {
  it('takes PATH in order, then the other folders, and skips files it may not run', (t) => {
    const [first, second, other] = [tempDir(t), tempDir(t), tempDir(t)];
    executable(first, 'tool', 0o644);
    const inSecond = executable(second, 'tool');
    const inOther = executable(other, 'tool');
    assert.equal(findExecutable('tool', { PATH: `${first}:${second}` }, [other]), inSecond);
    assert.equal(findExecutable('tool', { PATH: first }, [other]), inOther);
    assert.equal(findExecutable('tool', { PATH: first }, []), undefined);
    assert.equal(findExecutable('tool', {}, []), undefined);
  });
});

describe('getting nginx for `npm start`', () => {
  it('lets root install it with the apt-get on PATH, unless NGINX_BIN names one or LINKYARD_NO_INSTALL forbids it', (t) => {
    const bin = tempDir(t);
    const aptGet = executable(bin, 'apt-get');
    assert.equal(aptGetForNginx({ PATH: bin }, 0), aptGet);
    assert.equal(aptGetForNginx({ PATH: bin }, 1000), undefined, 'not root');
    assert.equal(aptGetForNginx({ PATH: bin }, undefined), undefined, 'no uids (Windows)');
    assert.equal(aptGetForNginx({ PATH: bin, NGINX_BIN: join(bin, 'nginx') }, 0), undefined);
    assert.equal(aptGetForNginx({ PATH: bin, LINKYARD_NO_INSTALL: '1' }, 0), undefined);
    assert.equal(aptGetForNginx({ PATH: tempDir(t) }, 0), undefined, 'no apt-get');
  });

  it('uses the nginx there is, and refuses in one line when it may not install one', async (t) => {
    const dir = tempDir(t);
    const nginx = executable(dir, 'nginx');
    const lines: string[] = [];
    const sink = (source: string, line: string) => lines.push(`${source} | ${line}`);
    assert.equal(await ensureNginx({ NGINX_BIN: nginx }, 0, sink), nginx);

    const missing = ensureNginx({ NGINX_BIN: join(dir, 'no-nginx-here'), PATH: process.env.PATH }, 0, sink);
    await assert.rejects(missing, (error: unknown) => {
      assert.ok(error instanceof NginxMissingError);
      assert.match(error.message, /^linkyard: nginx is missing [^\n]*`sudo apt-get install nginx-light`[^\n]*NGINX_BIN[^\n]*$/);
      return true;
    });
    assert.deepEqual(lines, [], 'apt-get was not run');
  });

  it("shows apt-get's lines as they come and reports its failure in one line naming the fix", async (t) => {
    const aptGet = executable(
      tempDir(t),
      'apt-get',
      0o755,
      'echo "Reading package lists..."; echo "E: Could not resolve deb.debian.org" >&2; exit 100',
    );
    const lines: string[] = [];
    await assert.rejects(
      aptInstallNginx(aptGet, (source, line) => lines.push(`${source} | ${line}`)),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(
          error.message,
          /^apt-get update failed \(exit 100; its lines are above\): install nginx yourself \(apt-get install nginx-light\) or point NGINX_BIN at one$/,
        );
        return true;
      },
    );
    // stdout and stderr are two pipes: their lines may come in either order.
    assert.equal(lines[0], 'apt | apt-get update -q');
    assert.deepEqual(
      lines.slice(1).sort(),
      ['apt | E: Could not resolve deb.debian.org', 'apt | Reading package lists...'],
      'stopped after the failed update',
    );
  });
});
