/**
 * The module `relative` (no extension) next to `from`, with from's own extension: `.ts` when the
 * sources run (tests, `npm run app`), `.js` when the build in app/dist does (`npm start`, the
 * image). For the paths handed to a worker thread or a child process, which no compiler rewrites.
 */
export function siblingModule(relative: string, from: string): URL {
  return new URL(`${relative}${from.endsWith('.ts') ? '.ts' : '.js'}`, from);
}
