/**
 * What the operator commands share (keys, blocklist, audit, backup, restore, move): the app's own configuration from
 * the environment, the store opened directly (never a route), and errors said in a line.
 */
import { ConfigError, loadConfig } from '../config.ts';
import { openStore } from '../store/open.ts';
import type { BookmarkStore } from '../store/types.ts';

/** What the audit trail records as the actor of a change made by a command. */
export const COMMAND_ACTOR = 'command';

/** A mistake in what was asked: said on stderr with the usage, exit code 2. */
export class UsageError extends Error {}
/** Asked well, but refused (a name taken, a name unknown): said on stderr, exit code 1, nothing changed. */
export class RefusedError extends Error {}

export type Run = (store: BookmarkStore, args: string[], out: (line: string) => void) => Promise<void>;

/** Runs `run` with the store and sets the exit code: 0 done, 1 refused or failed, 2 misused. */
export async function runCommand(name: string, usage: string, run: Run): Promise<void> {
  let store: BookmarkStore;
  try {
    store = await openStore(loadConfig());
  } catch (error) {
    process.stderr.write(
      `${name}: ${error instanceof ConfigError ? error.message : `cannot open the store: ${(error as Error).message}`}\n`,
    );
    process.exitCode = 1;
    return;
  }
  try {
    await runTool(name, usage, (args, out) => run(store, args, out));
  } finally {
    await store.close();
  }
}

/**
 * For the commands that open what they need themselves (backup, restore, move): the arguments and
 * an output line writer in, the exit code set as runCommand's are.
 */
export async function runTool(
  name: string,
  usage: string,
  run: (args: string[], out: (line: string) => void) => Promise<void>,
): Promise<void> {
  try {
    await run(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
    process.exitCode = 0;
  } catch (error) {
    const misused = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    const message = error instanceof ConfigError ? error.message : (error as Error).message;
    process.stderr.write(`${name}: ${message}\n${misused ? `\n${usage}\n` : ''}`);
    process.exitCode = misused ? 2 : 1;
  }
}

/** Progress for long commands: at most one line a second on stderr (stdout carries the result). */
export function progressLine(name: string, everyMs = 1000): (line: string) => void {
  let last = 0;
  return (line) => {
    const now = performance.now();
    if (now - last < everyMs) return;
    last = now;
    process.stderr.write(`${name}: ${line}\n`);
  };
}
