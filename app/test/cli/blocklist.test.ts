import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../../test/support/index.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run <command> -- args` against a data folder of its own. */
function command(name: 'blocklist' | 'audit' | 'keys', dataDir: string, ...args: string[]): Promise<Run> {
  const script = new URL(`../../src/cli/${name}.ts`, import.meta.url).pathname;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '' } },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    );
  });
}

const hostsOf = async (dataDir: string) =>
  (await command('blocklist', dataDir, 'list')).stdout
    .trim()
    .split('\n')
    .map((line) => line.split('\t')[0]);

describe('npm run blocklist and npm run audit', () => {
  it('adds, imports (comments skipped, all or nothing), lists and removes hosts; the audit trail shows who and when', async (t) => {
    const dataDir = tempDir(t);
    assert.match((await command('blocklist', dataDir, 'list')).stdout, /^The blocklist is empty/);
    const added = await command('blocklist', dataDir, 'add', 'Spam.Example', 'phish.example.');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^Added 2 host\(s\) \(0 listed already\)/);

    const good = join(tempDir(t), 'hosts.txt');
    writeFileSync(good, '# known spam\nspam.example\n\n  bad.example   # since May\nworse.example\n');
    const imported = await command('blocklist', dataDir, 'import', good);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /Imported 3 host\(s\) .*: 2 new, 1 listed already/);
    assert.deepEqual(await hostsOf(dataDir), ['bad.example', 'phish.example', 'spam.example', 'worse.example']);

    const bad = join(tempDir(t), 'bad.txt');
    writeFileSync(bad, 'fine.example\nhttps://not-a-host.example/\n*.wild.example\n');
    const refused = await command('blocklist', dataDir, 'import', bad);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /2 line\(s\) are not hosts; nothing was added/);
    assert.match(refused.stderr, /bad\.txt:2: /);
    assert.match(refused.stderr, /bad\.txt:3: /);
    assert.ok(!(await hostsOf(dataDir)).includes('fine.example'), 'nothing half-applied');

    assert.equal((await command('blocklist', dataDir, 'remove', 'bad.example')).code, 0);
    const audit = await command('audit', dataDir, '--limit', '2');
    assert.equal(audit.code, 0, audit.stderr);
    const lines = audit.stdout.trim().split('\n');
    assert.deepEqual(
      lines.slice(0, 2).map((line) => line.split('\t').slice(1, 4)),
      [
        ['command', 'blocklist.remove', 'bad.example'],
        ['command', 'blocklist.add', `3 hosts from ${good}`],
      ],
    );
    assert.match(lines[2] ?? '', /^More: --cursor \S+$/);
    const cursor = (lines[2] ?? '').split(' ').at(-1) ?? '';
    const older = (await command('audit', dataDir, '--cursor', cursor)).stdout.trim().split('\n');
    assert.deepEqual(
      older.map((line) => line.split('\t').slice(1, 5)),
      [['command', 'blocklist.add', '2 hosts', '2 new of 2']],
    );
  });

  it('refuses bad input with a clear error and changes nothing', async (t) => {
    const dataDir = tempDir(t);
    const cases: [string, string[], number, RegExp][] = [
      ['blocklist', ['add', 'spam.example', 'https://x.example/'], 1, /is not a host name.*Nothing was added/],
      ['blocklist', ['add'], 2, /one or more hosts/],
      ['blocklist', ['remove', 'never.example'], 1, /not on the blocklist/],
      ['blocklist', ['remove', 'not a host'], 1, /is not a host name/],
      ['blocklist', ['import', join(dataDir, 'missing.txt')], 1, /cannot read .*ENOENT/],
      ['blocklist', ['frob'], 2, /unknown command 'frob'/],
      ['audit', ['--limit', '0'], 2, /--limit must be a whole number from 1 to 500/],
      ['audit', ['--cursor', 'forged'], 1, /--cursor 'forged' is not one this command printed/],
      ['audit', ['--colour'], 2, /Unknown option '--colour'/],
    ];
    for (const [name, args, code, message] of cases) {
      const run = await command(name as 'blocklist' | 'audit', dataDir, ...args);
      assert.equal(run.code, code, `${name} ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, `${name} ${args.join(' ')}`);
    }
    assert.match((await command('blocklist', dataDir, 'list')).stdout, /^The blocklist is empty/);
    assert.match((await command('audit', dataDir)).stdout, /^The audit trail is empty/);
  });
});
