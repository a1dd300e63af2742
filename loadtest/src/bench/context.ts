import type { Progress } from '../progress.ts';
import type { WrkRequest } from './load/wrk.ts';
import type { Measurer } from './measure.ts';
import type { BenchOptions } from './options.ts';

/** What every leg is given. */
export interface BenchContext {
  options: BenchOptions;
  progress: Progress;
  measurer: Measurer;
  /** GET /<name> over the bench's names: the redirect every leg measures. */
  redirects: WrkRequest[];
  /** Seconds of a leg on the check-mode stacks (checkLegSeconds). */
  checkLegSeconds: number;
}
