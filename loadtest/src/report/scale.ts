import type { ScaleStore } from '../scale/options.ts';
import { SCALE_TARGETS } from '../scale/options.ts';
import type { RedirectMix, ScaleEntry, ScaleResult } from '../scale/run.ts';
import { mark, markdownTable, percent, type Row, textTable } from './markdown.ts';
import { describeRun } from './run-info.ts';
import { lineChart, PALETTE, type Series } from './svg.ts';
import type { Report } from './write.ts';

const MIB = 2 ** 20;
const STORE_NAMES: Record<ScaleStore, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : 'n/a';
}

function ratioText(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a';
}

function redirectCell(mix: RedirectMix): string {
  const failed = mix.notRedirected > 0 ? ` (${mix.notRedirected} not 303)` : '';
  return `${Math.round(mix.load.rps)}, ${ms(mix.load.latency.p99)}${failed}`;
}

/** The rows of one size's table: one column per store. */
function sizeTable(entries: readonly ScaleEntry[]): { header: Row; rows: Row[] } {
  const header: Row = ['', ...entries.map((entry) => STORE_NAMES[entry.store])];
  const each = (pick: (entry: ScaleEntry) => string | number): Row => entries.map(pick);
  const operationNames = entries[0]?.operations.map((operation) => operation.name) ?? [];
  const rows: Row[] = [
    ['links / visits', ...each((entry) => `${entry.links.toLocaleString('en-US')} / ${entry.visits.toLocaleString('en-US')}`)],
    ['dataset made in this run', ...each((entry) => (entry.generatedSeconds > 0 ? `${entry.generatedSeconds.toFixed(1)} s` : 'reused'))],
    ['bytes on disk per link', ...each((entry) => Math.round(entry.bytesPerLink))],
    ['stats rollups on disk, MiB per million visits', ...each((entry) => (entry.rollupBytesPerMillionVisits / MIB).toFixed(1))],
    [
      `links each search term hits (${entries[0]?.searchTerms.map((term) => term.group).join(' / ') ?? ''})`,
      ...each((entry) => entry.searchTerms.map((term) => term.hits.toLocaleString('en-US')).join(' / ')),
    ],
    ['start-up (migration check included), ms', ...each((entry) => Math.round(entry.startupMs))],
    ...operationNames.map(
      (name): Row => [
        `${name}: p50 / p99 ms${name.includes('deep') ? ` (${entries[0]?.deepPageDepth.toLocaleString('en-US')} links deep)` : ''}`,
        ...each((entry) => {
          const operation = entry.operations.find((candidate) => candidate.name === name);
          if (operation === undefined) return 'n/a';
          const failed = operation.failures > 0 ? ` (${operation.failures} failed)` : '';
          return `${ms(operation.p50Ms)} / ${ms(operation.p99Ms)}${failed}`;
        }),
      ],
    ),
    ['redirects, hot set: req/s, p99 ms', ...each((entry) => redirectCell(entry.redirects.hot))],
    ['redirects, Zipf over all links: req/s, p99 ms', ...each((entry) => redirectCell(entry.redirects.zipf))],
    [
      'redirect-cache hit rate, hot / Zipf',
      ...each((entry) => `${percent(entry.redirects.hot.cacheHitRate)} / ${percent(entry.redirects.zipf.cacheHitRate)}`),
    ],
    ['peak RSS per app process, MiB', ...each((entry) => entry.peakRssBytes.map((bytes) => (bytes / MIB).toFixed(1)).join(', '))],
    [
      'export of every link (NDJSON, its own process): links/s, peak RSS MiB',
      ...each(
        (entry) =>
          `${Math.round(entry.export.linksPerSecond).toLocaleString('en-US')}, ${(entry.export.peakRssBytes / MIB).toFixed(1)} (median of ${entry.export.runs}: ${entry.export.seconds.toFixed(1)} s)`,
      ),
    ],
  ];
  return { header, rows };
}

interface TargetRow {
  target: string;
  goal: string;
  store: ScaleStore;
  value: number;
  held: boolean;
  text: string;
}

/** Each target of the issue, per store, from the smallest and the largest size of this run. */
export function scaleTargets(result: ScaleResult): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const store of result.options.stores) {
    const entries = result.entries.filter((entry) => entry.store === store).sort((a, b) => a.links - b.links);
    const smallest = entries[0];
    const largest = entries.at(-1);
    if (smallest === undefined || largest === undefined) continue;
    const span = `${largest.links.toLocaleString('en-US')} vs ${smallest.links.toLocaleString('en-US')} links`;
    if (largest !== smallest) {
      for (const operation of largest.operations) {
        const base = smallest.operations.find((candidate) => candidate.name === operation.name);
        if (base === undefined) continue;
        for (const [label, value] of [
          ['p50', operation.p50Ms / base.p50Ms],
          ['p99', operation.p99Ms / base.p99Ms],
        ] as const) {
          rows.push({
            target: `${operation.name}, ${label}, ${span}`,
            goal: `≤ ${SCALE_TARGETS.flatCost}×`,
            store,
            value,
            held: value <= SCALE_TARGETS.flatCost,
            text: ratioText(value),
          });
        }
      }
      const exportGrowth = largest.export.peakRssBytes - smallest.export.peakRssBytes;
      rows.push({
        target: `peak RSS of the export, ${span}`,
        goal: `within ${SCALE_TARGETS.rssGrowthBytes / MIB} MiB`,
        store,
        value: exportGrowth,
        held: exportGrowth <= SCALE_TARGETS.rssGrowthBytes,
        text: `${exportGrowth >= 0 ? '+' : ''}${(exportGrowth / MIB).toFixed(1)} MiB`,
      });
      const exportRate = largest.export.linksPerSecond / smallest.export.linksPerSecond;
      rows.push({
        target: `export links a second, ${span} (linear by nature: reported)`,
        goal: `≥ ${(1 / SCALE_TARGETS.flatCost).toFixed(2)}×`,
        store,
        value: exportRate,
        held: exportRate >= 1 / SCALE_TARGETS.flatCost,
        text: ratioText(exportRate),
      });
      const growth = Math.max(...largest.peakRssBytes) - Math.max(...smallest.peakRssBytes);
      rows.push({
        target: `peak RSS of an app, ${span}`,
        goal: `within ${SCALE_TARGETS.rssGrowthBytes / MIB} MiB`,
        store,
        value: growth,
        held: growth <= SCALE_TARGETS.rssGrowthBytes,
        text: `${growth >= 0 ? '+' : ''}${(growth / MIB).toFixed(1)} MiB`,
      });
    }
    for (const entry of entries) {
      const throughput = entry.redirects.zipf.load.rps / entry.redirects.hot.load.rps;
      const goal = SCALE_TARGETS.zipfThroughput[store];
      rows.push({
        target: `Zipf / hot set redirects a second, ${entry.links.toLocaleString('en-US')} links`,
        goal: `≥ ${goal}×`,
        store,
        value: throughput,
        held: throughput >= goal,
        text: ratioText(throughput),
      });
      const tail = entry.redirects.zipf.load.latency.p99 / entry.redirects.hot.load.latency.p99;
      rows.push({
        target: `Zipf / hot set redirect p99, ${entry.links.toLocaleString('en-US')} links`,
        goal: `≤ ${SCALE_TARGETS.zipfP99}×`,
        store,
        value: tail,
        held: tail <= SCALE_TARGETS.zipfP99,
        text: ratioText(tail),
      });
    }
    const levels = result.connections.filter((level) => level.store === store).sort((a, b) => a.connections - b.connections);
    const fewest = levels[0];
    const most = levels.at(-1);
    if (fewest !== undefined && most !== undefined && most !== fewest) {
      const value = most.load.rps / fewest.load.rps;
      rows.push({
        target: `redirects a second at ${most.connections.toLocaleString('en-US')} vs ${fewest.connections} connections`,
        goal: `≥ ${SCALE_TARGETS.connectionsThroughput}×`,
        store,
        value,
        held: value >= SCALE_TARGETS.connectionsThroughput,
        text: ratioText(value),
      });
      const failures = levels.reduce((sum, level) => sum + level.failures, 0);
      rows.push({
        target: 'failed requests at every connection level',
        goal: 'none',
        store,
        value: failures,
        held: failures === 0,
        text: String(failures),
      });
    }
  }
  return rows;
}

const log10 = (links: number) => Math.log10(links);

function charts(result: ScaleResult): Record<string, string> {
  const stores = result.options.stores;
  const byStore = (store: ScaleStore) => result.entries.filter((entry) => entry.store === store).sort((a, b) => a.links - b.links);
  const operationNames = result.entries[0]?.operations.map((operation) => operation.name) ?? [];
  const xLabel = 'links, log10 (4 = 10 k, 6 = 1 M, 7 = 10 M)';
  const series = (make: (store: ScaleStore, index: number) => Series[]): Series[] => stores.flatMap(make);
  return {
    'scale-operations.svg': lineChart({
      title: 'Single requests: p99 against links',
      xLabel,
      yLabel: 'p99, ms',
      series: series((store) =>
        operationNames.map((name, i) => ({
          name: `${STORE_NAMES[store]}: ${name}`,
          color: PALETTE[i % PALETTE.length] ?? '#333',
          dashed: store === 'postgres',
          points: byStore(store).map(
            (entry) => [log10(entry.links), entry.operations.find((operation) => operation.name === name)?.p99Ms ?? Number.NaN] as const,
          ),
        })),
      ),
    }),
    'scale-redirects.svg': lineChart({
      title: 'Redirects a second: hot set and Zipf over all links',
      xLabel,
      yLabel: 'redirects a second',
      series: series((store) => [
        {
          name: `${STORE_NAMES[store]}: hot set`,
          color: PALETTE[0],
          dashed: store === 'postgres',
          points: byStore(store).map((entry) => [log10(entry.links), entry.redirects.hot.load.rps] as const),
        },
        {
          name: `${STORE_NAMES[store]}: Zipf`,
          color: PALETTE[1],
          dashed: store === 'postgres',
          points: byStore(store).map((entry) => [log10(entry.links), entry.redirects.zipf.load.rps] as const),
        },
      ]),
    }),
    'scale-memory.svg': lineChart({
      title: 'Peak RSS of an app process, and the store on disk per link',
      xLabel,
      yLabel: 'MiB (RSS) · bytes per link / 10',
      series: series((store) => [
        {
          name: `${STORE_NAMES[store]}: peak RSS, MiB`,
          color: PALETTE[2],
          dashed: store === 'postgres',
          points: byStore(store).map((entry) => [log10(entry.links), Math.max(...entry.peakRssBytes) / MIB] as const),
        },
        {
          name: `${STORE_NAMES[store]}: bytes/link ÷ 10`,
          color: PALETTE[4],
          dashed: store === 'postgres',
          points: byStore(store).map((entry) => [log10(entry.links), entry.bytesPerLink / 10] as const),
        },
      ]),
    }),
  };
}

export function scaleReport(result: ScaleResult): Report {
  const sizes = [...new Set(result.entries.map((entry) => entry.links))].sort((a, b) => a - b);
  const targets = scaleTargets(result);
  const targetHeader: Row = ['store', 'target', 'goal', 'measured', ''];
  const targetRows: Row[] = targets.map((row) => [STORE_NAMES[row.store], row.target, row.goal, row.text, mark(row.held)]);
  const connectionHeader: Row = [
    'store',
    'connections',
    'req/s',
    'p99 ms',
    'failed',
    'nginx RSS MiB',
    'apps RSS MiB',
    'upstream connections',
  ];
  const connectionRows: Row[] = result.connections.map((level) => [
    STORE_NAMES[level.store],
    level.connections,
    Math.round(level.load.rps),
    ms(level.load.latency.p99),
    level.failures,
    (level.nginxPeakRssBytes / MIB).toFixed(1),
    (level.appsPeakRssBytes / MIB).toFixed(1),
    level.upstreamConnections,
  ]);
  const postgres = result.options.stores.includes('postgres')
    ? `PostgreSQL is the host's own server (${result.postgresServer ?? 'version unknown'}) on 127.0.0.1:5432 over TCP, a database per dataset, not compose's PostgreSQL 17 in its container: measuring that one is a later step.`
    : '';
  const sections = sizes.map((links) => {
    const { header, rows } = sizeTable(result.entries.filter((entry) => entry.links === links));
    return `## ${links.toLocaleString('en-US')} links\n\n${markdownTable(header, rows)}\n`;
  });
  const { options } = result;
  const markdown = `# Scale: the cost as the work grows

${describeRun(result.run)}. Compare the ratios,
which are of one run; absolute figures move with the machine. ${postgres}

Each size's dataset is made by \`npm run dataset\` (seed ${options.seed}, ${options.visitsPerLink} visits a link by a Zipf law) or
reused; the stack (${options.instances} app processes behind nginx, the build, nginx's access log off,
REDIRECT_CACHE_MS ${options.redirectCacheMs ?? "at the app's default"}, REDIRECT_CACHE_NAMES ${options.redirectCacheNames ?? "at the app's default"}) starts on it. Single requests: ${options.samples} of each operation, one at a time through nginx, the
operations in turns. Redirects: wrk with ${options.connections} connections, ${options.turns} turns of ${options.turnSeconds} s
of the hot set (the ${100} most visited names) then Zipf (s = 1) over every link, p99 the median slice's.
How each is measured: [docs/performance.md](../../docs/performance.md#scale).

## Targets

Ratios within this run, marked, never asserted.

${markdownTable(targetHeader, targetRows)}

${sections.join('\n')}
## Connections

Keep-alive clients through nginx on the smallest dataset, hot set, wrk -t 2, ${options.connectionSeconds} s a level.
Failed: answers other than 2xx/3xx, and socket errors. RSS: the highest sampled (every 250 ms), nginx's
master and workers together, the apps together. Upstream: established connections to the apps' ports.

${connectionRows.length > 0 ? markdownTable(connectionHeader, connectionRows) : 'Not run (`--connection-levels` empty).'}

## Charts

![p99 of single requests against links](scale-operations.svg)

![redirects a second against links](scale-redirects.svg)

![peak RSS and bytes per link against links](scale-memory.svg)
`;
  const table = [
    textTable(targetHeader, targetRows),
    ...sizes.map((links) => {
      const { header, rows } = sizeTable(result.entries.filter((entry) => entry.links === links));
      return textTable(header, rows);
    }),
    connectionRows.length > 0 ? textTable(connectionHeader, connectionRows) : '',
  ].join('\n\n');
  return { table, markdown, charts: charts(result) };
}
