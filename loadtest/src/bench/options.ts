export interface BenchOptions {
  connections: number;
  /** Seconds of each throughput leg, after a warm-up of a fifth of it (whole seconds: wrk counts no finer). */
  durationSeconds: number;
  instances: number;
  slowChecks: number;
  /** How long the slow target takes to answer: longer than a measurement with checks in flight. */
  slowTargetDelayMs: number;
  /** Creations a second, over all apps, each checking the CPU-heavy HTTPS site. */
  heavyRate: number;
  /**
   * CHECK_WORKER_IDLE_MS of the bench's stacks: short, so a retired worker can be waited for, but
   * longer than the other stack's turn in the heavy-check leg (a slice, ~2 s), or the pool's worker
   * retires between its own slices and starts each one cold (at 2 s: p99 30.5 against 8.7 ms).
   */
  workerIdleMs: number;
}

export const BENCH_DEFAULTS: BenchOptions = {
  connections: 64,
  durationSeconds: 10,
  instances: 2,
  slowChecks: 200,
  slowTargetDelayMs: 25_000,
  heavyRate: 100,
  workerIdleMs: 5000,
};

export type CheckMode = 'pool' | 'inline';
export const CHECK_MODES: readonly CheckMode[] = ['pool', 'inline'];

/** The legs, in the order they run; `--legs` picks some (see LEG_HELP). */
export const LEG_NAMES = [
  'return-ceiling',
  'one-app',
  'stack',
  'idle-start',
  'slow-checks',
  'heavy-checks',
  'creations',
  'stats',
  'tls',
] as const;
export type LegName = (typeof LEG_NAMES)[number];

export const LEG_HELP: Record<LegName, string> = {
  'return-ceiling': '(1) nginx alone answering return 303',
  'one-app': '(3) one app process, no nginx',
  stack: '(2) nginx → node:http Map and (4) the stack as shipped, in turns',
  'idle-start': "the first check after the pool's worker retired",
  'slow-checks': 'redirects with and without slow URI checks in flight, pool then main thread',
  'heavy-checks': 'redirects while CPU-heavy HTTPS checks arrive (k6/creations.ts), both modes in turns',
  creations: 'POST /api/bookmarks throughput, pool and main thread',
  stats: "the apps' CPU a redirect with stats on vs off (STATS=false), a mix of user agents and referrers, in turns",
  tls: 'redirects through HTTPS vs plain HTTP into the same stack, in turns; new TLS connections a second, full and resumed',
};

export function isLegName(name: string): name is LegName {
  return (LEG_NAMES as readonly string[]).includes(name);
}
