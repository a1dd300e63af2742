import { findExecutable } from '../../stack/src/executables.ts';

/**
 * The skip of a test that drives wrk, when there is none. wrk is the bench's own tool, not the
 * stack's: the tests say it is missing (as for k6) rather than install it, and under CI=true a
 * missing wrk fails. PATH only, as loadtest/src/bench/wrk.ts runs it.
 */
export function wrkSkip(what: string): string | false {
  return findExecutable('wrk', process.env, []) === undefined && process.env.CI !== 'true'
    ? `NOTICE: no wrk on the PATH: ${what} was not run (apt-get install wrk; .ci/run installs it)`
    : false;
}
