import { execFile } from 'node:child_process';
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

/** The app's commands (`npm run keys`, `blocklist`, `audit`), run from source on the store in `dataDir`; their output. */
export function runAppCommand(command: 'keys' | 'blocklist' | 'audit', dataDir: string, ...args: string[]): Promise<string> {
  const script = new URL(`../../app/src/cli/${command}.ts`, import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, ...args], { env: { ...process.env, DATA_DIR: dataDir } }, (error, stdout, stderr) =>
      error === null ? resolve(stdout.trim()) : reject(new Error(`${command} ${args.join(' ')}: ${stderr}`)),
    );
  });
}

/** A call to `/api/bookmarks<path>` with a bearer key. */
export function bookmarksApi(base: string, method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return fetch(`${base}/api/bookmarks${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
