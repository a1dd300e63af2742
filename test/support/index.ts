/**
 * The repository's test support, one of each: temporary folders, local HTTP targets, free ports and
 * polling until something holds. Each fixture is cleaned up by its owner when the test (or suite)
 * ends, whatever failed: register it before the step that can throw.
 *
 * node:test runs after() hooks in the order they were added, so what uses a folder (a stack, say)
 * must be stopped by a hook added before the folder's: `t.after(() => stack?.stop())` first, then
 * `tempDir(t)`, then start the stack.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../stack/src/ports.ts';
import { waitFor } from '../../stack/src/wait.ts';

/** Whoever cleans a fixture up when it is done: a TestContext, or a suite's SuiteCleanups. */
export interface Owner {
  after(cleanup: () => unknown): void;
}

/**
 * Clean-ups for what a suite makes in before() (a SuiteContext has no after()): `run()` them from
 * the suite's after(), once what uses them has stopped. They run in the order added, as t.after's do;
 * every one runs even if an earlier one failed.
 */
export class SuiteCleanups implements Owner {
  readonly #cleanups: Array<() => unknown> = [];

  after(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const cleanup of this.#cleanups.splice(0)) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'suite clean-ups failed');
  }
}

/** A fresh folder (under the OS temp folder, or `parent`), deleted with its contents when `owner` is done. */
export function tempDir(owner: Owner, prefix = 'linkyard-test-', parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, prefix));
  owner.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface LocalTarget {
  /** `http://127.0.0.1:<port>` or `http://[::1]:<port>`, no trailing slash. */
  url: string;
  port: number;
  server: Server;
}

/** A local HTTP server on loopback (a site to bookmark, or to check), closed with every connection when `owner` is done. */
export async function startTarget(
  owner: Owner,
  handler: RequestListener,
  { host = '127.0.0.1', port = 0 }: { host?: '127.0.0.1' | '::1'; port?: number } = {},
): Promise<LocalTarget> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  owner.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const bound = (server.address() as AddressInfo).port;
  return { url: host === '::1' ? `http://[::1]:${bound}` : `http://127.0.0.1:${bound}`, port: bound, server };
}

/** A loopback port that was free a moment ago: for configs that must know their address up front, or a URI nothing answers. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  return port;
}

/**
 * Whether `condition` comes to hold within `timeoutMs` (polled every 10 ms): for
 * `assert.ok(await eventually(…), message)`, whose message can tell the state it ended in.
 * A condition that throws fails the test with its error.
 */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 1000): Promise<boolean> {
  let conditionFailed = false;
  const watched = async () => {
    try {
      return await condition();
    } catch (error) {
      conditionFailed = true;
      throw error;
    }
  };
  try {
    await waitFor('the condition', watched, { timeoutMs, intervalMs: 10 });
    return true;
  } catch (error) {
    if (conditionFailed) throw error;
    return false;
  }
}

/**
 * A person's browser, for requests that must count as visits: Node's fetch names itself `node`
 * (and light-my-request, Headless Chrome likewise) and stats count those as bots, apart from visits.
 */
export const PERSON_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
