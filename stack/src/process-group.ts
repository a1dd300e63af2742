import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { findExecutable } from './executables.ts';

/**
 * Starts nginx or an app process as the leader of a process group of its own, in the launcher's
 * session. Its own group: a Ctrl-C in the terminal goes to the terminal's foreground group, so it
 * reaches the launcher only, which then stops nginx before the apps and no request is sent to a
 * process that is already gone (nginx's own SIGINT handling is a fast, not graceful, shutdown).
 *
 * The launcher's session, not one of its own as Node's `detached` would make (it calls setsid(),
 * and Node has no setpgid()): Linux's autogroup scheduler shares the CPU between sessions first, so
 * in sessions of their own a task with work to do waited behind whole sessions.
 * Why and the figures: docs/decisions/0002-process-groups-not-sessions.md
 *
 * perl (in every Debian and macOS base system) calls setpgid() and execs the command, so the
 * child keeps the pid the launcher signals. Without a perl that can, the child gets `detached`:
 * its own group still, in a session of its own.
 */
const OWN_GROUP_PROGRAM = 'setpgrp(0, 0) or die "setpgrp: $!\\n"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\\n"';

/** The command prefix that runs a command in a process group of its own; found on first use. */
let wrapper: readonly string[] | undefined;

export function spawnInOwnGroup(file: string, args: readonly string[], options: Omit<SpawnOptions, 'detached'>): ChildProcess {
  wrapper ??= findGroupWrapper(process.env);
  const [perl, ...perlArgs] = wrapper;
  if (perl === undefined) return spawn(file, args, { ...options, detached: true });
  return spawn(perl, [...perlArgs, file, ...args], options);
}

/**
 * The stdout and stderr of a child spawned with both `'pipe'`: Node types them nullable for every
 * stdio setting, so a spawn that did not pipe them fails here, by name, rather than on first use.
 */
export function pipedOutput(child: ChildProcess): { stdout: Readable; stderr: Readable } {
  const { stdout, stderr } = child;
  if (stdout === null || stderr === null) throw new Error(`pid ${child.pid}: stdout and stderr are not piped`);
  return { stdout, stderr };
}

/** perl and the arguments that run OWN_GROUP_PROGRAM, or nothing where there is no perl that can. */
export function findGroupWrapper(env: NodeJS.ProcessEnv): readonly string[] {
  const perl = findExecutable('perl', env, []);
  if (perl === undefined) return [];
  // `--` ends perl's own options, so the command's (`-p`, `-e`…) reach it.
  const prefix = [perl, '-e', OWN_GROUP_PROGRAM, '--'];
  const tried = spawnSync(perl, [...prefix.slice(1), process.execPath, '-e', ''], { stdio: 'ignore', timeout: 10_000 });
  return tried.status === 0 ? prefix : [];
}
