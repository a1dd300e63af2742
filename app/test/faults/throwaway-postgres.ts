/**
 * A PostgreSQL cluster of the test's own, made with the server binaries that are installed:
 * `initdb` into a temp folder, `pg_ctl` on a free loopback port. The test may stop and start it
 * at will without touching the machine's cluster; cleanup stops it and deletes the folder.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../../test/support/index.ts';

const run = promisify(execFile);

/** The newest installed server's bin folder (Debian's layout), or undefined. */
function serverBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((version) => join(root, version, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
}

/**
 * PostgreSQL refuses to run as root; as root the binaries run as the `postgres` user. Returns the
 * uid/gid to give the folder to, or undefined when we are not root.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('running as root, and there is no postgres user to run PostgreSQL as');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Why a throwaway cluster cannot be made here, or false when it can. Under CI=true missing
 * binaries are not a reason (the test runs, and fails loudly): CI installs PostgreSQL.
 */
export const throwawayPostgresSkip: string | false = (() => {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (serverBinDir() === undefined && process.env.CI !== 'true') return 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin';
  try {
    serverUser();
  } catch (error) {
    return (error as Error).message;
  }
  return false;
})();

export interface ThrowawayPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  /** `pg_ctl stop -m fast`: sessions are ended, the server shuts down cleanly. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * SIGSTOP of the server and every backend: connections stay open and nothing answers, as with
   * a frozen host or a network partition. Only deadlines get a client out of that.
   */
  freeze(): void;
  /** SIGCONT: the server carries on where it stopped. */
  thaw(): void;
  /** Stops it (immediately, if still running) and deletes its folder. Idempotent. */
  destroy(): Promise<void>;
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = serverBinDir();
  if (bin === undefined) throw new Error('no PostgreSQL server binaries');
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-pg-'));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const port = await freePort();

  const pg = (tool: string, args: string[]) =>
    user === undefined
      ? run(join(bin, tool), args, { timeout: 60_000 })
      : run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { timeout: 60_000 });
  const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`;
  const pgCtl = (...args: string[]) => pg('pg_ctl', ['-D', data, '-w', '-t', '30', ...args]);

  /** Processes stopped by freeze(), to continue before any shutdown. */
  let frozen: number[] = [];
  const postmasterPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);

  // Whatever ends the test process, the server does not outlive it: SIGQUIT is PostgreSQL's
  // immediate shutdown, and the only kind that can be sent from a synchronous 'exit' handler.
  const killNow = () => {
    try {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
      const pid = postmasterPid();
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killNow);

  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', killNow);
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    if (existsSync(join(data, 'postmaster.pid'))) await pgCtl('-m', 'immediate', 'stop').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await pgCtl('-l', join(dir, 'server.log'), '-o', serverOptions, 'start');
  } catch (error) {
    await destroy();
    throw error;
  }
  /** The server and its children (backends, checkpointer, walwriter…), from /proc. */
  const serverPids = (): number[] => {
    const postmaster = postmasterPid();
    const children = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          // Field 4 of /proc/<pid>/stat is the parent; the name before it may hold spaces, in parentheses.
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
        } catch {
          return false;
        }
      })
      .map(Number);
    return [postmaster, ...children];
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    freeze: () => {
      // The server first, so that it forks no backend that would escape.
      frozen = serverPids();
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    },
    thaw: () => {
      for (const pid of frozen.toReversed()) process.kill(pid, 'SIGCONT');
      frozen = [];
    },
    stop: async () => {
      await pgCtl('-m', 'fast', 'stop');
    },
    start: async () => {
      await pgCtl('-l', join(dir, 'server.log'), '-o', serverOptions, 'start');
    },
    destroy,
  };
}
