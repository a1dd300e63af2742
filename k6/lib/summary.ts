// handleSummary's output without a remote import (k6's textSummary lives on jslib.k6.io): the
// full summary as JSON, and a short text with the scenario's own answer first, then each metric.

/** The parts of k6's summary data these scripts read (the shape k6 passes to handleSummary). */
export interface MetricSummary {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  contains: 'default' | 'time' | 'data';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface SummaryData {
  metrics: Record<string, MetricSummary | undefined>;
  state: { testRunDurationMs: number };
}

/** Percentiles every Trend reports; p(99) because the targets are stated on it. */
export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

export function metricValue(data: SummaryData, metric: string, stat: string): number {
  return data.metrics[metric]?.values[stat] ?? Number.NaN;
}

/**
 * A Counter's total. k6 leaves a metric out of the summary until something is added to it, and a
 * count of nothing is 0, not NaN (cache-savings with CACHE=none serves nothing from cache).
 */
export function counterValue(data: SummaryData, metric: string): number {
  return data.metrics[metric]?.values.count ?? 0;
}

export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(digits)));
}

function metricLine(name: string, metric: MetricSummary): string {
  const unit = metric.contains === 'time' ? ' ms' : metric.contains === 'data' ? ' B' : '';
  const stats = Object.entries(metric.values)
    .map(
      ([stat, value]) =>
        `${stat}=${metric.type === 'rate' && stat === 'rate' ? `${fmt(value * 100)}%` : `${fmt(value)}${stat === 'rate' || stat === 'count' ? '' : unit}`}`,
    )
    .join(' ');
  const thresholds = Object.entries(metric.thresholds ?? {})
    .map(([threshold, result]) => `\n      ${result.ok ? '✓' : '✗'} ${threshold}`)
    .join('');
  return `  ${name.padEnd(48, '.')} ${stats}${thresholds}`;
}

export interface ScenarioAnswer {
  scenario: string;
  /** What the run answers, as lines of text: the part worth reading first. */
  lines: string[];
  /** The same, as data for the JSON file. */
  result: Record<string, unknown>;
}

export function writeSummary(data: SummaryData, answer: ScenarioAnswer, resultsDir: string): Record<string, string> {
  const failed = Object.values(data.metrics).some((metric) => Object.values(metric?.thresholds ?? {}).some((threshold) => !threshold.ok));
  const metrics = Object.keys(data.metrics)
    .sort()
    .flatMap((name) => {
      const metric = data.metrics[name];
      return metric === undefined ? [] : [metricLine(name, metric)];
    });
  const text = [
    `linkyard k6 ${answer.scenario}: ${failed ? 'THRESHOLDS FAILED' : 'all thresholds met'} in ${fmt(data.state.testRunDurationMs / 1000)} s`,
    '',
    ...answer.lines.map((line) => `  ${line}`),
    '',
    'metrics',
    ...metrics,
    '',
  ].join('\n');
  return {
    stdout: text,
    [`${resultsDir}/${answer.scenario}.txt`]: text,
    [`${resultsDir}/${answer.scenario}.json`]: JSON.stringify({ scenario: answer.scenario, result: answer.result, summary: data }, null, 2),
  };
}
