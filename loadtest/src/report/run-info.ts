import { availableParallelism, machine, totalmem } from 'node:os';

/**
 * Where a result came from, as the team's rule allows it: the command, the hardware class and the
 * date. Numbers from different classes of machine are not comparable; nothing about the session is kept.
 */
export interface RunInfo {
  /** The command line that made the result (`npm run bench -- --legs stats`). */
  command: string;
  /** The day the run began, UTC (YYYY-MM-DD). */
  date: string;
  cpus: number;
  /** The machine's architecture as `uname -m` says it (x86_64, aarch64). */
  arch: string;
  memoryGiB: number;
}

export function runInfo(command: string): RunInfo {
  return {
    command,
    date: new Date().toISOString().slice(0, 10),
    cpus: availableParallelism(),
    arch: machine(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

/** `npm run <script> -- <args>` as one would type it again, an argument quoted when the shell needs it. */
export function npmCommand(script: string, args: readonly string[]): string {
  const quoted = args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`));
  return quoted.length === 0 ? `npm run ${script}` : `npm run ${script} -- ${quoted.join(' ')}`;
}

export function describeRun(info: RunInfo): string {
  return `\`${info.command}\` — ${info.cpus}-core ${info.arch}, ${info.memoryGiB} GiB, ${info.date}; load generator, nginx and apps share the machine`;
}
