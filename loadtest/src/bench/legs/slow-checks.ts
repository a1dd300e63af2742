import { majorGcs } from '../../observers/scrape.ts';
import type { Leg, SlowChecksResult } from '../../report/bench.ts';
import { startSlowTarget } from '../../target/check-targets.ts';
import type { Target } from '../../target/target.ts';
import type { BenchContext } from '../context.ts';
import { startSlowChecks } from '../load/slow-checks.ts';
import type { CheckMode } from '../options.ts';

/** Redirects on a check-mode stack with no check running: the baseline of both check legs. */
export function withoutChecks({ measurer, redirects, checkLegSeconds }: BenchContext, target: Target, mode: CheckMode): Promise<Leg> {
  return measurer.measure(`${mode}: redirects, no checks`, target.url, checkLegSeconds, redirects);
}

/** Redirect latency without, then with, slow checks in flight on the same stack. */
export async function slowChecksLeg(context: BenchContext, target: Target, mode: CheckMode): Promise<SlowChecksResult> {
  const { options, measurer, redirects, checkLegSeconds, progress } = context;
  const gcsAtStart = await majorGcs(target.metricsUrls);
  const without = await withoutChecks(context, target, mode);
  const majorGcsWithout = (await majorGcs(target.metricsUrls)) - gcsAtStart;
  const slowTarget = await startSlowTarget(options.slowTargetDelayMs);
  try {
    const checks = await startSlowChecks(
      {
        appUrls: target.appUrls,
        metricsUrls: target.metricsUrls,
        slowTarget,
        count: options.slowChecks,
        timeoutSeconds: Math.ceil(options.slowTargetDelayMs / 1000) + 30,
        tag: mode,
      },
      progress,
    );
    progress.log(`${mode}: ${checks.reported} checks running or queued; the apps' in-flight gauges say ${checks.gauge}`);
    const gcsBefore = await majorGcs(target.metricsUrls);
    // Warmed up as every leg is: the check thread has just started for these checks (its start
    // is measured on its own, by the idle-start leg), and the question is the tail while they wait.
    const withChecks = await measurer.measure(
      `${mode}: redirects, ${options.slowChecks} slow checks`,
      target.url,
      checkLegSeconds,
      redirects,
    );
    const majorGcsWith = (await majorGcs(target.metricsUrls)) - gcsBefore;
    // Closing the slow site fails every waiting check at once, so the creations are answered.
    await slowTarget.close();
    const creationStatuses = await checks.settle();
    return {
      without,
      with: withChecks,
      checksReported: checks.reported,
      inFlightGauge: checks.gauge,
      creationStatuses,
      majorGcs: { without: majorGcsWithout, with: majorGcsWith },
    };
  } finally {
    await slowTarget.close();
  }
}
