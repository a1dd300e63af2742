import { existsSync, readFileSync } from 'node:fs';

/** /proc/<pid>/stat's process group and session (fields 5 and 6, after the parenthesised command). */
export function groupAndSession(pid: number | 'self'): { group: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [, , group, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { group: Number(group), session: Number(session) };
}

/** The CPU group Linux's autogroup scheduler puts the process in, where the kernel has autogroup. */
export function autogroup(pid: number | 'self'): string | undefined {
  const path = `/proc/${pid}/autogroup`;
  return existsSync(path) ? readFileSync(path, 'utf8').split(' ')[0] : undefined;
}
