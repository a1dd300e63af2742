import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { findGroupWrapper, pipedOutput, spawnInOwnGroup } from '../src/process-group.ts';
import { autogroup, groupAndSession } from './helpers.ts';

async function output(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('spawnInOwnGroup', () => {
  it('leads a process group of its own in our session (and autogroup), under the pid it was started as', async () => {
    const child = spawnInOwnGroup(process.execPath, ['-e', 'console.log(process.pid); setTimeout(() => {}, 10_000)'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const { pid } = child;
      assert.ok(pid !== undefined, 'the command was started');
      const [line] = (await once(pipedOutput(child).stdout, 'data')) as [Buffer];
      assert.equal(Number(line.toString()), pid, 'perl execs the command: the pid is the one we signal');
      const ours = groupAndSession('self');
      const its = groupAndSession(pid);
      assert.equal(its.group, pid, 'a group of its own: a Ctrl-C to ours does not reach it');
      assert.notEqual(its.group, ours.group);
      assert.equal(its.session, ours.session, 'our session, so the scheduler does not split the CPU between us');
      assert.equal(autogroup(pid), autogroup('self'));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('passes the command its arguments as they are, options included', async () => {
    const child = spawnInOwnGroup(
      process.execPath,
      ['-e', 'console.log(JSON.stringify(process.argv.slice(1)))', '--', '-p', 'two words', '$HOME'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const { code, stdout } = await output(child);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), ['-p', 'two words', '$HOME']);
  });

  it('fails like a command that cannot run, saying which', async () => {
    const child = spawnInOwnGroup('/nonexistent/linkyard-no-such-command', ['x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { code, stderr } = await output(child);
    assert.notEqual(code, 0);
    assert.match(stderr, /linkyard-no-such-command/);
  });

  it('finds no wrapper where there is no perl, so the child gets a session of its own instead', () => {
    assert.deepEqual(findGroupWrapper({ PATH: '/nonexistent' }), []);
    assert.notDeepEqual(findGroupWrapper(process.env), [], 'perl is on this machine');
  });
});
