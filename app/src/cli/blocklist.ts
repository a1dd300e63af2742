/**
 * `npm run blocklist -- add HOST…`, `remove HOST`, `list`, `import FILE`: the blocklist kept in the
 * store, changed directly (every process reads it within BLOCKLIST_REFRESH_MS). In the image:
 * `node app/dist/cli/blocklist.js …` (docs/keys-and-access.md).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DomainError } from '../errors.ts';
import { normalizeHost } from '../services/blocklist.ts';
import type { BookmarkStore } from '../store/types.ts';
import { COMMAND_ACTOR, RefusedError, runCommand, UsageError } from './command.ts';

const USAGE = `Usage:
  blocklist add HOST [HOST…]   refuse new links to these hosts and their subdomains; 410 for existing ones
  blocklist remove HOST        take a host off the list
  blocklist list               the hosts, when and by whom they were added
  blocklist import FILE        one host per line; '#' starts a comment; all or nothing`;

/**
 * The hosts of a blocklist file: one a line, blank lines and `#` comments skipped. Every line is
 * checked before anything is added; a bad one names its line and nothing is added.
 */
export function parseHostList(text: string, file: string): string[] {
  const hosts: string[] = [];
  const problems: string[] = [];
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    const entry = line.replace(/#.*$/, '').trim();
    if (entry === '') continue;
    try {
      hosts.push(normalizeHost(entry));
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      problems.push(`${file}:${index + 1}: ${error.message}`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n');
    throw new RefusedError(`${problems.length} line(s) are not hosts; nothing was added:\n${shown}${problems.length > 10 ? '\n…' : ''}`);
  }
  return hosts;
}

function hostsOf(entries: readonly string[]): string[] {
  try {
    return entries.map(normalizeHost);
  } catch (error) {
    if (error instanceof DomainError) throw new RefusedError(`${error.message} Nothing was added.`);
    throw error;
  }
}

async function run(store: BookmarkStore, args: string[], out: (line: string) => void): Promise<void> {
  const [command, ...rest] = args;
  const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
  if (command === 'add') {
    if (positionals.length === 0) throw new UsageError('add takes one or more hosts');
    const hosts = [...new Set(hostsOf(positionals))];
    const added = await store.access.addBlockedHosts(hosts, COMMAND_ACTOR, hosts.length === 1 ? (hosts[0] ?? '') : `${hosts.length} hosts`);
    out(`Added ${added} host(s) (${hosts.length - added} listed already); every process refuses their links within BLOCKLIST_REFRESH_MS.`);
    return;
  }
  if (command === 'remove') {
    const [entry, extra] = positionals;
    if (entry === undefined || extra !== undefined) throw new UsageError('remove takes one host');
    const [host = ''] = hostsOf([entry]);
    if (!(await store.access.removeBlockedHost(host, COMMAND_ACTOR))) throw new RefusedError(`'${host}' is not on the blocklist`);
    out(`Removed '${host}'.`);
    return;
  }
  if (command === 'list') {
    if (positionals.length > 0) throw new UsageError('list takes no arguments');
    const hosts = await store.access.listBlockedHosts();
    if (hosts.length === 0) out('The blocklist is empty.');
    for (const entry of hosts) out([entry.host, `added ${entry.addedAt.toISOString()}`, `by ${entry.addedBy}`].join('\t'));
    return;
  }
  if (command === 'import') {
    const [file, extra] = positionals;
    if (file === undefined || extra !== undefined) throw new UsageError('import takes one file');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new RefusedError(`cannot read '${file}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const hosts = [...new Set(parseHostList(text, file))];
    const added = hosts.length === 0 ? 0 : await store.access.addBlockedHosts(hosts, COMMAND_ACTOR, `${hosts.length} hosts from ${file}`);
    out(`Imported ${hosts.length} host(s) from ${file}: ${added} new, ${hosts.length - added} listed already.`);
    return;
  }
  throw new UsageError(command === undefined ? 'no command given' : `unknown command '${command}'`);
}

await runCommand('blocklist', USAGE, run);
