import { findExecutable } from '../../stack/src/executables.ts';
import { findK6 } from '../src/k6.ts';

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

/** The same for k6, which is packaged neither for npm nor for Debian (k6/README.md). */
export function k6Skip(what: string): string | false {
  return findK6() === undefined && process.env.CI !== 'true'
    ? `NOTICE: no k6 on the PATH nor in K6_BIN: ${what} was not run (.ci/run puts ../shared/tools/k6 on the PATH)`
    : false;
}
