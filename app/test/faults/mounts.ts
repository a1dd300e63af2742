/**
 * Small file systems of the test's own, to break under a running store: a tmpfs to fill up, and
 * an ext4 image to turn read-only the way the kernel does when ext4 meets an error
 * (`errors=remount-ro`). Mounting needs root, and a machine that lets root mount (a container
 * may not): probed, not guessed. Each mount is undone by `release()`, and by an 'exit' handler if
 * the test process ends first.
 */
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Under CI=true only what no installation can fix (not Linux, a mount refused) skips; a missing tool fails. */
const inCi = process.env.CI === 'true';

/**
 * What `command` printed when it failed, on one line, or undefined when it succeeded. The probes
 * below try the real thing: root may still be refused a mount (a container without CAP_SYS_ADMIN,
 * no loop devices), and only the kernel knows.
 */
function failureOf(command: string, args: readonly string[]): string | undefined {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (error) {
    const { stderr, message } = error as { stderr?: Buffer; message: string };
    return (stderr?.toString().trim() || message).replace(/\s+/g, ' ');
  }
}

/** Why a tiny tmpfs cannot be mounted (and unmounted) in a temp folder here, or false when it can. */
function probeTmpfsMount(): string | false {
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-mount-probe-'));
  try {
    const refused = failureOf('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    if (refused !== undefined)
      return `mounting a test file system was refused (${refused}): it needs root, on a machine or in a container allowed to mount (docker run --privileged)`;
    unmountSync(dir);
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why a small ext4 image cannot be loop-mounted here, or false when it can. */
function probeLoopMount(): string | false {
  const home = mkdtempSync(join(tmpdir(), 'linkyard-mount-probe-'));
  const image = join(home, 'disk.img');
  const dir = join(home, 'mnt');
  try {
    writeFileSync(image, '');
    truncateSync(image, 2 * 1024 * 1024);
    mkdirSync(dir);
    const unformatted = failureOf('mkfs.ext4', ['-q', '-F', image]);
    if (unformatted !== undefined) return `mkfs.ext4 failed (${unformatted})`;
    const refused = failureOf('mount', ['-o', 'loop', image, dir]);
    if (refused !== undefined)
      return `loop-mounting an ext4 image was refused (${refused}): it needs loop devices (docker run --privileged)`;
    unmountSync(dir);
    return false;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Why this machine cannot mount a test file system, or false when it can. */
export const mountSkip: string | false = (() => {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (!hasCommand('mount') || !hasCommand('umount')) return inCi ? false : 'mount/umount not found';
  return probeTmpfsMount();
})();

/** Why an ext4 image cannot be made and broken here, or false when it can. */
export const ext4Skip: string | false =
  mountSkip ||
  (() => {
    if (!hasCommand('mkfs.ext4') || !hasCommand('e2fsck') || !hasCommand('findmnt')) {
      return inCi ? false : 'mkfs.ext4, e2fsck or findmnt not found (apt-get install e2fsprogs util-linux)';
    }
    if (!readFileSync('/proc/filesystems', 'utf8').includes('ext4')) return 'the kernel has no ext4';
    return probeLoopMount();
  })();

export interface TestMount {
  /** The mounted folder. */
  readonly dir: string;
  /** Unmounts (lazily if something still holds it) and deletes what the mount left. Idempotent. */
  release(): Promise<void>;
}

function tracked(cleanup: () => void): { release: () => Promise<void> } {
  // Synchronous: 'exit' handlers cannot wait.
  const onExit = () => cleanup();
  process.once('exit', onExit);
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      cleanup();
    },
  };
}

function unmountSync(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    // Still held (a process that did not exit): detach it now, the kernel frees it when released.
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
}

export async function mountTmpfs(sizeMiB: number): Promise<TestMount> {
  const dir = mkdtempSync(join(tmpdir(), 'linkyard-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir]);
  const { release } = tracked(() => {
    unmountSync(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, release };
}

/** Writes zeros into `file` until the file system refuses: it is then full. Returns the bytes written. */
export function fillUp(file: string): number {
  const chunk = Buffer.alloc(64 * 1024);
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return written;
}

export interface Ext4Mount extends TestMount {
  /** What ext4 does on an error with errors=remount-ro: the file system turns read-only at once, for every open file too. */
  breakIt(): void;
  /**
   * Unmounts, repairs (e2fsck) and mounts the image again, as an operator would after such an
   * error. Resolves to what e2fsck printed.
   */
  repair(): Promise<string>;
}

export async function mountExt4Image(sizeMiB: number): Promise<Ext4Mount> {
  const home = mkdtempSync(join(tmpdir(), 'linkyard-ext4-'));
  const image = join(home, 'disk.img');
  const dir = join(home, 'mnt');
  writeFileSync(image, '');
  truncateSync(image, sizeMiB * 1024 * 1024);
  await run('mkfs.ext4', ['-q', '-F', image]);
  mkdirSync(dir);
  const mount = () => run('mount', ['-o', 'loop,errors=remount-ro', image, dir]);
  await mount();
  const { release } = tracked(() => {
    unmountSync(dir);
    rmSync(home, { recursive: true, force: true });
  });
  const device = async () => basename((await run('findmnt', ['-n', '-o', 'SOURCE', dir])).stdout.trim());
  const sysfs = join('/sys/fs/ext4', await device(), 'trigger_fs_error');
  return {
    dir,
    release,
    breakIt: () => writeFileSync(sysfs, '1'),
    repair: async () => {
      await run('umount', [dir]);
      // Exit status 1 means "errors corrected", which is what is expected after breakIt().
      const checked = await run('e2fsck', ['-f', '-y', image]).catch((error: { code?: number; stdout?: string }) => {
        if (error.code !== 1) throw error;
        return { stdout: error.stdout ?? '' };
      });
      await mount();
      return checked.stdout;
    },
  };
}
