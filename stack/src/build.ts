import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where `npm run build` (tsconfig.build.json) writes the compiled app. */
export const DIST_DIR = join(REPO_ROOT, 'app', 'dist');
/** The compiled server, which `npm start` builds and then runs. */
export const DIST_SERVER_ENTRY = join(DIST_DIR, 'server.js');

/**
 * Compiles app/src as `npm run build` does, into `outDir` (default app/dist), and returns the
 * compiled server entry. For the bench, which measures what production runs, and the test that
 * the build runs. `outDir` must sit next to app/src, as app/dist does, for ../static/ to resolve.
 */
export async function compileApp(outDir: string = DIST_DIR): Promise<string> {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', outDir], {
      cwd: REPO_ROOT,
    });
  } catch (error) {
    const output = error !== null && typeof error === 'object' && 'stdout' in error ? String(error.stdout) : '';
    throw new Error(`the build failed: ${output || (error instanceof Error ? error.message : String(error))}`);
  }
  return join(outDir, 'server.js');
}
