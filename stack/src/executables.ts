import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/**
 * The executable `name` from PATH, else from `otherDirs`; undefined when there is none. Debian
 * installs system tools such as nginx in sbin folders, which are not on an ordinary user's PATH.
 */
export function findExecutable(name: string, env: NodeJS.ProcessEnv, otherDirs: readonly string[] = SBIN_DIRS): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...otherDirs];
  return dirs.map((dir) => join(dir, name)).find(isExecutable);
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
