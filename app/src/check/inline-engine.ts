import type { CheckEngine } from './check-queue.ts';
import type { CheckOptions } from './types.ts';

type CheckModule = typeof import('./check-uri.ts');

/**
 * The same check on the request thread, behind the same admission bound as the pool. It exists so
 * the benchmark can measure what the worker threads cost and buy; the pool is the default.
 *
 * The checking code (undici, htmlparser2) is loaded with the first check, so that in pool mode,
 * where only the worker runs it, the main thread never carries it.
 * The figures: docs/decisions/0007-uri-checks-in-a-worker-pool.md
 */
export function inlineEngine(options: CheckOptions): CheckEngine {
  let loaded: Promise<CheckModule> | undefined;
  const checks = (): Promise<CheckModule> => (loaded ??= import('./check-uri.ts'));
  return {
    run: async (uri, signal) => (await checks()).checkUri(uri, options, signal),
    healthy: true,
    threads: 0,
    close: async () => {
      if (loaded !== undefined) await (await loaded).closeAgent(options);
    },
  };
}
