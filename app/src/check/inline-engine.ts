import type { CheckEngine } from './check-queue.ts';
import { checkUri, closeAgent } from './check-uri.ts';
import type { CheckOptions } from './types.ts';

/**
 * The same check on the request thread, behind the same admission bound as the pool. It exists so
 * the benchmark can measure what the worker threads cost and buy; the pool is the default.
 */
export function inlineEngine(options: CheckOptions): CheckEngine {
  return {
    run: (uri, signal) => checkUri(uri, options, signal),
    healthy: true,
    threads: 0,
    close: () => closeAgent(options),
  };
}
