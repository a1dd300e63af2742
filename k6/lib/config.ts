// What every scenario reads from the environment (`k6 run -e NAME=value` or the shell's env).
// Keeping it in one module means the scenarios differ in their load and their questions, not in
// how they find the service.
import http from 'k6/http';
import { LOAD_STARTS } from './load-starts.ts';

function env(name: string): string | undefined {
  const value = __ENV[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** nginx's address: the public entry point. */
export const BASE_URL = (env('BASE_URL') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');

export function numberFromEnv(name: string, fallback: number): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'`);
  return value;
}

export function stringFromEnv(name: string, fallback: string): string {
  return env(name) ?? fallback;
}

/**
 * Each app process keeps its own http_requests_in_flight gauge and counters, so each one's
 * /metrics is read: METRICS_URLS=http://127.0.0.1:8001/metrics,http://127.0.0.1:8002/metrics
 */
export const METRICS_URLS: readonly string[] = (env('METRICS_URLS') ?? '')
  .split(',')
  .map((url) => url.trim())
  .filter((url) => url !== '');

/** nginx stub_status; answered to loopback and private networks only. `none` turns it off. */
const nginxStatusUrl = env('NGINX_STATUS_URL') ?? `${BASE_URL}/nginx_status`;
export const NGINX_STATUS_URL: string | undefined = nginxStatusUrl === 'none' ? undefined : nginxStatusUrl;

/**
 * VUs for an arrival-rate scenario. k6 drops an arrival that finds no idle VU (and only then
 * starts allocating another), so the pre-allocated ones must cover the most iterations ever in
 * flight at once: by Little's law, arrivals/s × seconds an iteration takes. Sized for iterations
 * as slow as `slowestSeconds` (the scenario's latency goal, at least 100 ms: a GC pause or a
 * busy CPU stalls every iteration at once); maxVUs leaves room beyond that.
 */
export function arrivalRateVUs(ratePerSecond: number, slowestSeconds: number): { preAllocatedVUs: number; maxVUs: number } {
  const preAllocatedVUs = Math.max(10, Math.ceil(ratePerSecond * Math.max(0.1, slowestSeconds)));
  return { preAllocatedVUs, maxVUs: preAllocatedVUs * 2 };
}

/**
 * The `dropped_iterations` threshold, as a share of the arrivals rather than a count of zero.
 * Even with idle VUs, k6's scheduler drops a few arrivals per thousand when the CPUs are busy
 * (measured here: 4 of 6 001 empty iterations with 50 idle VUs, load average 6 on 2 cores), and
 * a scenario's exit code must mean that the service missed its goal, not that k6 was late.
 */
export function droppedArrivalsThreshold(ratePerSecond: number, durationSeconds: number, share = 0.01): string {
  // Rounded up: in a run of a few seconds, one late arrival is not a service missing its goal.
  return `count<=${Math.ceil(ratePerSecond * durationSeconds * share)}`;
}

/** Where handleSummary writes `<scenario>.json` and `<scenario>.txt`. */
export const RESULTS_DIR = (env('RESULTS_DIR') ?? 'k6/results').replace(/\/+$/, '');

/**
 * The app processes themselves (comma-separated), for scripts that bypass nginx so that its
 * per-client burst limit is no factor; requests go round-robin. Default: BASE_URL alone.
 */
export const APP_URLS: readonly string[] = (() => {
  const urls = (env('APP_URLS') ?? '')
    .split(',')
    .map((url) => url.trim().replace(/\/+$/, ''))
    .filter((url) => url !== '');
  return urls.length > 0 ? urls : [BASE_URL];
})();

/** setup(): stop at once, with a reason, when the service is not there (no point loading it). */
export function requireReady(baseUrl: string = BASE_URL): void {
  const response = http.get(`${baseUrl}/readyz`, { tags: { name: 'setup' } });
  if (response.status !== 200) {
    throw new Error(
      `linkyard is not ready at ${baseUrl}/readyz (got ${response.status} ${String(response.error)}). Start it first: npm start, or docker compose up.`,
    );
  }
}

interface BookmarkList {
  items: Array<{ name: string }>;
}

/**
 * Short names to follow: NAMES (comma-separated), else the newest bookmarks; when there are none,
 * creates some pointing at SEED_URI (the service checks that URI, so it must answer).
 */
export function shortNames(wanted: number): string[] {
  const given = env('NAMES');
  if (given !== undefined)
    return given
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
  const listed = http.get(`${BASE_URL}/api/bookmarks?limit=${Math.min(500, wanted)}`, { tags: { name: 'setup' } });
  const names = listed.status === 200 ? (listed.json() as unknown as BookmarkList).items.map((item) => item.name) : [];
  if (names.length > 0) return names;
  const seedUri = stringFromEnv('SEED_URI', 'https://example.com/');
  for (let i = 0; i < Math.min(wanted, 20); i++) {
    const created = http.post(`${BASE_URL}/api/bookmarks`, JSON.stringify({ uri: `${seedUri}#k6-${i}`, name: `k6-${i}` }), {
      headers: { 'content-type': 'application/json' },
      tags: { name: 'setup' },
    });
    if (created.status !== 201 && created.status !== 200) {
      throw new Error(
        `no bookmarks to follow, and creating one for ${seedUri} failed with ${created.status}: ${String(created.body)}. Set NAMES or SEED_URI.`,
      );
    }
    names.push(`k6-${i}`);
  }
  return names;
}

/** The page's stylesheet, hashed name and all, as a browser finds it. */
export function stylesheetPath(): string {
  const page = http.get(`${BASE_URL}/`, { tags: { name: 'setup' } });
  const match = /<link\s+rel="stylesheet"\s+href="([^"]+)"/.exec(String(page.body));
  if (page.status !== 200 || match?.[1] === undefined) {
    throw new Error(`GET ${BASE_URL}/ gave ${page.status} and no stylesheet link`);
  }
  return match[1];
}

// k6 has a console (its lines go to k6's log); @types/k6 does not declare one.
declare const console: { log(...values: unknown[]): void };

/** setup()'s last step in a script run beside other load: the harness waits for this line. */
export function announceLoadStarts(): void {
  console.log(LOAD_STARTS);
}
