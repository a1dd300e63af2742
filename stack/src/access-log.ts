import { statSync } from 'node:fs';
import { type FileHandle, open, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LineSink } from './output.ts';

/**
 * How big nginx's access log may grow. A redirect writes about 300 bytes, so an unbounded log
 * grows by a gigabyte every 3.5 M requests; rotated, it holds the newest `keep + 1` files.
 */
export interface LogRotation {
  /** The live file is rotated once it is this big. */
  maxBytes: number;
  /** Rotated files kept: access.log.1 (newest) … access.log.<keep>; older ones are deleted. */
  keep: number;
  /** How often the live file's size is looked at. */
  intervalMs: number;
}

/**
 * 64 MiB a file, two old ones kept: at most 192 MiB, plus what nginx writes in the second between
 * two looks (about 11 MiB at the stack's top speed of 37 000 requests a second), and about the
 * last 650 000 requests on hand.
 */
export const ACCESS_LOG_ROTATION: LogRotation = { maxBytes: 64 * 1024 * 1024, keep: 2, intervalMs: 1000 };

/**
 * Rotates the log at `path` by size, the way logrotate does it for nginx but without cron or
 * root: rename access.log.1 → .2 (the oldest is overwritten), access.log → access.log.1, then
 * `reopen()` (SIGUSR1 to nginx's master, which opens a new access.log and has its workers switch).
 * Nothing is lost in between: until a worker switches, it keeps appending to the file it has open,
 * now named access.log.1. Copying and truncating instead would lose the lines written meanwhile.
 */
export function rotateBySize(path: string, rotation: LogRotation, reopen: () => void, log: LineSink): { stop(): Promise<void> } {
  if (!Number.isInteger(rotation.keep) || rotation.keep < 1) throw new Error(`keep must be a whole number ≥ 1, got ${rotation.keep}`);
  let running: Promise<void> = Promise.resolve();
  const rotateIfFull = async () => {
    let size: number;
    try {
      ({ size } = await stat(path));
    } catch {
      return; // not created yet
    }
    if (size < rotation.maxBytes) return;
    for (let index = rotation.keep - 1; index >= 1; index--) {
      await rename(`${path}.${index}`, `${path}.${index + 1}`).catch(ignoreMissing);
    }
    await rename(path, `${path}.1`);
    reopen();
    log('stack', `${path} reached ${size} bytes: now ${path}.1 (${rotation.keep} kept); nginx reopens its log`);
  };
  const timer = setInterval(() => {
    running = running
      .then(rotateIfFull)
      .catch((error: unknown) => log('stack', `cannot rotate ${path}: ${error instanceof Error ? error.message : String(error)}`));
  }, rotation.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Run as root, nginx's workers are `nobody`, and after a rotation each worker opens the new log
 * itself: every folder above it must let others in (o+x). The first folder that does not, else
 * undefined (also when not root: the workers are then this user).
 */
export function folderWorkersCannotEnter(path: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return dir;
    } catch {
      return undefined; // not created yet: nginx would say so itself
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

/**
 * The last complete lines of `path`, reading at most its last `maxBytes`: for a test or a person
 * looking for a request id, without following the file all the time.
 */
export async function lastLines(path: string, maxBytes = 256 * 1024): Promise<string[]> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch {
    return []; // not created yet
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString('utf8', 0, bytesRead).split('\n');
    lines.pop(); // the part after the last newline: empty, or a line still being written
    if (start > 0) lines.shift(); // began mid-line
    return lines;
  } finally {
    await handle.close();
  }
}
