/**
 * `npm run keys -- create --name N --role author|admin`, `list`, `revoke N`: the one way keys are
 * made and ended, talking to the store directly with the app's own configuration (environment),
 * never through a route. In the image: `node app/dist/cli/keys.js …` (docs/keys-and-access.md).
 */
import { parseArgs } from 'node:util';
import { generateKey, hashSecret, KEY_NAME_PATTERN, RESERVED_KEY_NAMES } from '../auth/keys.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { ROLES, type Role } from '../store/access-types.ts';
import { openStore } from '../store/open.ts';
import type { BookmarkStore } from '../store/types.ts';

/** What the audit trail records as the actor of a change made here. */
export const COMMAND_ACTOR = 'command';

const USAGE = `Usage:
  keys create --name NAME --role author|admin   prints the new key, once
  keys list                                     names, roles, created and last used
  keys revoke NAME                              the key stops working within KEY_CACHE_MS`;

/** A mistake in what was asked: said on stderr with the usage, exit code 2. */
export class UsageError extends Error {}
/** Asked well, but refused (a name taken, a name unknown): said on stderr, exit code 1, nothing changed. */
export class RefusedError extends Error {}

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

async function main(): Promise<number> {
  let store: BookmarkStore;
  try {
    store = await openStore(loadConfig());
  } catch (error) {
    process.stderr.write(`keys: ${error instanceof ConfigError ? error.message : `cannot open the store: ${(error as Error).message}`}\n`);
    return 1;
  }
  try {
    await run(store, process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
    return 0;
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      process.stderr.write(`keys: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`keys: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

process.exitCode = await main();
