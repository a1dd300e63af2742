/**
 * `npm run keys -- create --name N --role author|admin`, `list`, `revoke N`: the one way keys are
 * made and ended, talking to the store directly with the app's own configuration (environment),
 * never through a route. In the image: `node app/dist/cli/keys.js …` (docs/keys-and-access.md).
 */
import { parseArgs } from 'node:util';
import { generateKey, hashSecret, KEY_NAME_PATTERN, RESERVED_KEY_NAMES } from '../auth/keys.ts';
import { ROLES, type Role } from '../store/access-types.ts';
import type { BookmarkStore } from '../store/types.ts';
import { COMMAND_ACTOR, RefusedError, runCommand, UsageError } from './command.ts';

const USAGE = `Usage:
  keys create --name NAME --role author|admin   prints the new key, once
  keys list                                     names, roles, created and last used
  keys revoke NAME                              the key stops working within KEY_CACHE_MS`;

async function run(store: BookmarkStore, args: string[], out: (line: string) => void): Promise<void> {
  const [command, ...rest] = args;
  if (command === 'create') {
    const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, role: { type: 'string' } }, strict: true });
    const name = values.name ?? '';
    if (!KEY_NAME_PATTERN.test(name))
      throw new UsageError(`--name '${name}': use 1–64 letters, digits, '.', '-' or '_', starting with a letter or digit`);
    if (RESERVED_KEY_NAMES.has(name)) throw new UsageError(`--name '${name}' is reserved (it names anonymous or command-line changes)`);
    const role = ROLES.find((candidate) => candidate === values.role);
    if (role === undefined) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got '${values.role ?? ''}'`);
    const key = generateKey();
    if ((await store.access.createKey({ name, role: role satisfies Role, hash: hashSecret(key) }, COMMAND_ACTOR)) === 'taken') {
      throw new RefusedError(`a key named '${name}' exists already; revoke it first or pick another name`);
    }
    out(key);
    return;
  }
  if (command === 'list') {
    parseArgs({ args: rest, options: {}, strict: true });
    const keys = await store.access.listKeys();
    if (keys.length === 0) out('No keys yet: create one with `keys create --name NAME --role admin`.');
    for (const key of keys) {
      out(
        [key.name, key.role, `created ${key.createdAt.toISOString()}`, `last used ${key.lastUsedAt?.toISOString() ?? 'never'}`].join('\t'),
      );
    }
    return;
  }
  if (command === 'revoke') {
    const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
    const [name, extra] = positionals;
    if (name === undefined || extra !== undefined) throw new UsageError('revoke takes one key name');
    if (!(await store.access.revokeKey(name, COMMAND_ACTOR))) throw new RefusedError(`no key named '${name}' (see \`keys list\`)`);
    out(`Revoked '${name}'; every process refuses it within KEY_CACHE_MS.`);
    return;
  }
  throw new UsageError(command === undefined ? 'no command given' : `unknown command '${command}'`);
}

await runCommand('keys', USAGE, run);
