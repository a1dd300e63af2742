import { SuiteCleanups } from '../../../test/support/index.ts';
import { makeTestCa } from '../../../test/support/tls.ts';
import { peakRssBytes, rssBytes, trackRssSplit } from '../observers/peak-rss.ts';
import type { RssEntry } from '../report/bench.ts';
import { type CheckTarget, startHeavyTarget } from '../target/check-targets.ts';
import { openTarget, shortNames, type Target } from '../target/target.ts';
import type { BenchOptions } from './options.ts';

/** A stack the bench started, with the CPU-heavy HTTPS site its checks trust for the run. */
export type HeavyTarget = Target & { heavySite: CheckTarget };

/** The short names every redirect leg follows. */
export const BENCH_NAMES = Array.from({ length: 100 }, (_, i) => `bench-${i}`);

/**
 * The stack as shipped (nginx's access log on, the apps logging failures), with names to follow,
 * and the CPU-heavy HTTPS site its checks trust for this run only (a CA made now, gone on stop).
 */
export async function startBenchStack(
  options: BenchOptions,
  serverEntry: string,
  instances: number,
  env: Record<string, string>,
  https = false,
): Promise<HeavyTarget> {
  const fixtures = new SuiteCleanups();
  let heavySite: CheckTarget | undefined;
  let target: Target | undefined;
  const removeSite = async (): Promise<void> => {
    await heavySite?.close();
    await fixtures.run();
  };
  try {
    const ca = makeTestCa(fixtures);
    heavySite = await startHeavyTarget(ca.issue('heavy-site'));
    target = await openTarget({
      instances,
      logging: true,
      serverEntry,
      https,
      env: {
        CHECK_TIMEOUT_MS: String(options.slowTargetDelayMs + 10_000),
        CHECK_WORKER_IDLE_MS: String(options.workerIdleMs),
        CHECK_EXTRA_CA_FILE: ca.caCertFile,
        ...env,
      },
    });
    await shortNames(target, BENCH_NAMES.length, 'bench-');
  } catch (error) {
    await target?.stop();
    await removeSite();
    throw error;
  }
  const started = target;
  return {
    ...started,
    heavySite,
    stop: async () => {
      await started.stop();
      await removeSite();
    },
  };
}

/** Uses a server, and stops it however the use ends. */
export async function using<S extends { stop(): Promise<void> }, T>(server: S, use: (server: S) => Promise<T>): Promise<T> {
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}

/**
 * Runs `legs` on a stack while sampling its apps' memory, then records each app's peaks in a list
 * of its own added to `rss` now: the stacks' rows stay in the order the stacks started.
 */
export async function trackingRss<T>(label: string, target: Target, rss: RssEntry[][], legs: () => Promise<T>): Promise<T> {
  const rows: RssEntry[] = [];
  rss.push(rows);
  const split = trackRssSplit(() => target.pids());
  let result: T;
  try {
    result = await legs();
  } catch (error) {
    split.stop(); // its timer would keep the process alive
    throw error;
  }
  const peaks = split.stop();
  target.pids().forEach((pid, i) => {
    const peak = pid === undefined ? undefined : peakRssBytes(pid);
    const now = pid === undefined ? undefined : rssBytes(pid);
    const parts = pid === undefined ? undefined : peaks.get(pid);
    if (peak !== undefined && now !== undefined && parts !== undefined) {
      rows.push({
        stack: label,
        app: i + 1,
        peakBytes: peak,
        rssBytes: now,
        peakAnonymousBytes: parts.anonymousBytes,
        peakFileBytes: parts.fileBytes,
      });
    }
  });
  return result;
}
