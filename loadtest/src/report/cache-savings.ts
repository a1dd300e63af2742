import type { CacheSavingsResult } from '../scenarios/cache-savings.ts';
import { mark, markdownTable, percent, type Row, textTable } from './markdown.ts';
import { describeRun } from './run-info.ts';
import { barChart, PALETTE } from './svg.ts';
import type { Report } from './write.ts';

const HEADER: Row = [
  'browsers',
  'visits',
  'resources needed',
  'sent by clients',
  'from cache',
  '304',
  'CSS downloads',
  'reached nginx',
  'reached apps',
  'KiB received',
  'failed',
  'protocol',
  'connections opened / accepted by nginx',
  'k6 thresholds',
];

function rows(result: CacheSavingsResult): Row[] {
  return result.phases.map((phase) => [
    phase.policy,
    phase.visits,
    phase.resourcesNeeded,
    phase.clientRequests,
    phase.fromCache,
    phase.notModified,
    phase.stylesheetDownloads,
    phase.nginxRequests ?? 'n/a',
    phase.appRequests,
    Math.round(phase.bytesReceived / 1024),
    phase.failed,
    phase.protocol,
    `${phase.connectionsOpened} / ${phase.nginxConnections ?? 'n/a'}`,
    mark(phase.thresholdsMet),
  ]);
}

export function cacheSavingsReport(result: CacheSavingsResult): Report {
  const { seed, seedScaled, saving, options } = result;
  const seedLine = `Seed: ${seed.before} req/s, ${percent(seed.cssShare)} CSS; after caching ${percent(seed.fetchShare)} of visitors fetch it → 4000 + 2000 × 0.01 = ${seed.after.toFixed(0)} req/s (${percent(seed.saving)} saved).`;
  const scaledLine = `Same arithmetic on this run: ${seedScaled.before} requests without a cache, ${percent(seedScaled.cssShare)} CSS, ${percent(seedScaled.fetchShare)} of visits are first visits → ${seedScaled.after.toFixed(0)} expected (${percent(seedScaled.saving)} saved).`;
  const savingRows: Row[] = [
    ['requests sent by clients', percent(saving.clientRequests)],
    ['requests reaching nginx', saving.nginxRequests === undefined ? 'n/a' : percent(saving.nginxRequests)],
    ['requests reaching the apps', percent(saving.appRequests)],
    ['bytes received', percent(saving.bytes)],
  ];
  const chart = barChart({
    title: 'Requests per browser kind',
    yLabel: 'requests',
    groups: result.phases.map((phase) => ({
      label: phase.policy,
      bars: [
        { name: 'sent by clients', value: phase.clientRequests },
        { name: 'reached nginx', value: phase.nginxRequests ?? Number.NaN },
        { name: 'reached apps', value: phase.appRequests },
        { name: '304 answers', value: phase.notModified },
      ],
    })),
    colors: { 'sent by clients': PALETTE[0], 'reached nginx': PALETTE[2], 'reached apps': PALETTE[1], '304 answers': PALETTE[3] },
  });
  const markdown = `# Cache savings: what browser caching of the stylesheet saves

${describeRun(result.run)}; ${result.target.url}.

${seedLine}

${scaledLine}

k6 (\`k6/cache-savings.ts\`, one run for each \`CACHE\`): ${options.visitors} visitors × ${options.visitsPerVisitor} visits, three times over with fresh browsers of each kind; a visit needs the page, its stylesheet and one short link (the seed's three requests, a third of them CSS). ${result.target.apps} app process(es) behind nginx, which serves /static itself with \`Cache-Control: public, max-age=31536000, immutable\` and an ETag.

${markdownTable(HEADER, rows(result))}

Saved by honouring Cache-Control (browser vs none):

${markdownTable(['counted at', 'saving'], savingRows)}

![Requests per browser kind](cache-savings.svg)

## How to read it

- **none** is the seed's "before": every visit fetches the stylesheet. **browser** is the "after": it is fetched on each visitor's first visit only (the hashed name is fresh for a year), which is ${percent(seedScaled.fetchShare)} of visits here, as the seed's 1%. **validate** shows what an ETag alone would buy: the same number of requests, answered 304 without a body, so it saves bytes, not requests.
- Counted at three places: requests the simulated browsers sent (k6 has no HTTP cache: each VU is one browser with a cache of its own in the script); requests nginx counted (stub_status \`requests\`, read in k6's setup() and teardown(), with nothing else talking to it in between; the status request itself is taken off); requests the apps answered (Σ of every process's \`http_requests_total\` deltas, /metrics and health checks left out).
- **Connections**: those the browsers opened (a request that had to connect; k6 keeps each VU's connections across its visits) and those nginx accepted meanwhile (stub_status \`accepts\`). Over HTTPS k6 speaks HTTP/2 (ALPN) unless run with \`--http1\`; a visit's requests go one after another, so either protocol needs one connection per browser (docs/https.md).
- The apps' count does not move between kinds: nginx serves /static itself, so the stylesheet never reached the apps in the first place. The caching saves nginx's work and the network, which is the seed's point about serving "from cache rather than the app server" taken one step further.
- The page itself is \`Cache-Control: no-cache\` without a validator, and a redirect is \`no-store\`, so neither is ever served from a cache: a third is all there is to save. The page also links a script, a logo and a favicon, which a browser caches the same way; they are left out so a visit is the seed's three requests.
`;
  return {
    table: `${seedLine}\n${scaledLine}\n\n${textTable(HEADER, rows(result))}\n\n${textTable(['counted at', 'saving (browser vs none)'], savingRows)}`,
    markdown,
    charts: { 'cache-savings.svg': chart },
  };
}
