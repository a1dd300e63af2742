import type { Config } from '../config.ts';
import { CheckQueue } from './check-queue.ts';
import { inlineEngine } from './inline-engine.ts';
import { PoolEngine } from './pool-engine.ts';
import type { CheckOptions, UriChecker } from './types.ts';

export function checkOptionsFrom(config: Config): CheckOptions {
  const { timeoutMs, connectTimeoutMs, maxRedirects, maxBodyBytes, allowPrivate, extraCa } = config.check;
  return {
    ...(extraCa !== undefined && { extraCa }),
    timeoutMs,
    connectTimeoutMs,
    maxRedirects,
    maxBodyBytes,
    allowPrivate,
    selfOrigin: config.publicUrl.origin,
    selfVia: config.selfUrl.origin,
    // Says who is knocking and where to read about it, as a well-behaved robot should.
    userAgent: `linkyard-link-check/0.1 (+${config.publicUrl.href})`,
  };
}

export function createChecker(config: Config): UriChecker {
  const options = checkOptionsFrom(config);
  const { mode, workers, concurrentPerWorker, maxQueue, workerIdleMs } = config.check;
  const engine =
    mode === 'inline' ? inlineEngine(options) : new PoolEngine(options, { workers, concurrentPerWorker, idleMs: workerIdleMs });
  return new CheckQueue(engine, { slots: workers * concurrentPerWorker, maxQueue, timeoutMs: options.timeoutMs });
}
