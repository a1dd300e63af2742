/**
 * Shared by the harness (Node) and the k6 scripts: pure TypeScript, no Node or k6 import.
 *
 * Just enough of the Prometheus text exposition format (version 0.0.4) to read a /metrics page:
 * samples with labels. Comments (# HELP, # TYPE) carry nothing the harness needs.
 */
export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name = '', labelText, valueText = ''] = match;
    samples.push({ name, labels: labelText === undefined ? {} : parseLabels(labelText), value: parseValue(valueText) });
  }
  return samples;
}

/** Like Prometheus's own parser (Go's ParseFloat), case-insensitive: prom-client writes `Nan`. */
function parseValue(text: string): number {
  if (/^\+?inf$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  const value = Number(text);
  if (Number.isNaN(value) || text === '') throw new Error(`not a Prometheus value: ${text}`);
  return value;
}

/** Label values are double-quoted with \\, \" and \n escaped; a value may contain `,` and `}`. */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (i >= text.length) break;
    const equals = text.indexOf('=', i);
    if (equals < 0 || text[equals + 1] !== '"') throw new Error(`bad label set: {${text}}`);
    const name = text.slice(i, equals).trim();
    let value = '';
    i = equals + 2;
    for (; i < text.length && text[i] !== '"'; i++) {
      const char = text[i];
      if (char !== '\\') {
        value += char;
        continue;
      }
      i++;
      const escaped = text[i];
      value += escaped === 'n' ? '\n' : (escaped ?? '');
    }
    if (text[i] !== '"') throw new Error(`unterminated label value: {${text}}`);
    i++;
    labels[name] = value;
  }
  return labels;
}

export type LabelFilter = (labels: Readonly<Record<string, string>>) => boolean;

/** The sum of every sample named `name` whose labels pass `where` (all of them by default). */
export function sumOf(samples: readonly Sample[], name: string, where: LabelFilter = () => true): number {
  let total = 0;
  for (const sample of samples) {
    if (sample.name === name && where(sample.labels)) total += sample.value;
  }
  return total;
}

/**
 * Requests that are not load: the harness's own /metrics scrapes and the launcher's health checks
 * go straight to each app. Every count taken from an app leaves them out.
 */
const OPERATIONAL_ROUTES = new Set(['/metrics', '/healthz', '/readyz']);
export const isLoad: LabelFilter = (labels) => !OPERATIONAL_ROUTES.has(labels.route ?? '');

/** What one scrape of an app says about the traffic it has answered so far. */
export interface AppCounters {
  /** http_requests_total over every route but the operational ones. */
  requests: number;
  /** http_request_duration_seconds_sum and _count over the same routes: W at the app. */
  durationSum: number;
  durationCount: number;
  inFlight: number;
  residentBytes: number;
}

export function appCounters(samples: readonly Sample[]): AppCounters {
  return {
    requests: sumOf(samples, 'http_requests_total', isLoad),
    durationSum: sumOf(samples, 'http_request_duration_seconds_sum', isLoad),
    durationCount: sumOf(samples, 'http_request_duration_seconds_count', isLoad),
    inFlight: sumOf(samples, 'http_requests_in_flight'),
    residentBytes: sumOf(samples, 'process_resident_memory_bytes'),
  };
}
