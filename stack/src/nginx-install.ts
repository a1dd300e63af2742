import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { findExecutable } from './executables.ts';
import { findNginx, NginxMissingError } from './nginx-process.ts';
import { type LineSink, pipeLines } from './output.ts';

/**
 * `npm install && npm start` on a fresh Debian machine gets what the stack lacks, nginx included:
 * when there is no nginx, root installs nginx-light (the smallest Debian nginx, all the stack
 * uses) with apt-get, its output shown as it goes, and the start carries on.
 */

/**
 * The apt-get that may install nginx for the stack, or undefined when it may not. Not when the
 * user named an nginx (NGINX_BIN): a wrong path there is theirs to fix. Not when installing is
 * forbidden (LINKYARD_NO_INSTALL, which scripts/with-node.sh honours too). Only as root: sudo
 * would stop a start halfway to ask for a password.
 */
export function aptGetForNginx(env: NodeJS.ProcessEnv, uid: number | undefined): string | undefined {
  if (env.NGINX_BIN || env.LINKYARD_NO_INSTALL || uid !== 0) return undefined;
  return findExecutable('apt-get', env);
}

/** `apt-get update`, then `apt-get install nginx-light`; rejects with one line naming the fix. */
export async function aptInstallNginx(aptGet: string, sink: LineSink): Promise<void> {
  const steps = [
    ['update', '-q'],
    ['install', '-y', '-q', '--no-install-recommends', 'nginx-light'],
  ];
  for (const args of steps) {
    sink('apt', `apt-get ${args.join(' ')}`);
    const child = spawn(aptGet, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'pipe', 'pipe'] });
    pipeLines(child.stdout, 'apt', sink);
    pipeLines(child.stderr, 'apt', sink);
    // 'close', not 'exit': every line it wrote is shown before the next step. A spawn error rejects.
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    if (code !== 0) {
      const outcome = signal !== null ? `killed by ${signal}` : `exit ${code}`;
      throw new Error(
        `apt-get ${args[0]} failed (${outcome}; its lines are above): install nginx yourself (apt-get install nginx-light) or point NGINX_BIN at one`,
      );
    }
  }
}

/** The nginx to run: the one there is, else nginx-light from apt-get when allowed; else NginxMissingError. */
export async function ensureNginx(env: NodeJS.ProcessEnv, uid: number | undefined, sink: LineSink): Promise<string> {
  try {
    return findNginx(env);
  } catch (error) {
    const aptGet = error instanceof NginxMissingError ? aptGetForNginx(env, uid) : undefined;
    if (aptGet === undefined) throw error;
    sink('stack', 'nginx is missing: installing nginx-light with apt-get');
    await aptInstallNginx(aptGet, sink);
    return findNginx(env);
  }
}
