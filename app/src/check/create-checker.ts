import type { Config } from '../config.ts';
import { InlineChecker } from './inline-checker.ts';
import { PoolChecker } from './pool-checker.ts';
import type { CheckOptions, UriChecker } from './types.ts';

export function checkOptionsFrom(config: Config): CheckOptions {
  const { timeoutMs, connectTimeoutMs, maxRedirects, maxBodyBytes, allowPrivate } = config.check;
  return {
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
  const { mode, workers, concurrentPerWorker, maxQueue } = config.check;
  if (mode === 'inline') return new InlineChecker(options, { slots: workers * concurrentPerWorker, maxQueue });
  return new PoolChecker(options, { workers, concurrentPerWorker, maxQueue });
}
