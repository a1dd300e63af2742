import type { StatsReport } from '../stats/report.ts';
import type { Dimension } from '../store/stats-types.ts';
import type { Bookmark } from '../store/types.ts';
import { checkBadge } from './check-badge.ts';
import { escapeHtml as e, htmlDocument } from './html.ts';

// Served under the page's strict CSP, which forbids style= attributes: the chart's look is in
// static/style.css (classes), its geometry in SVG attributes.

/** The ranges the page offers: label, query value, days, granularity. */
export const PAGE_RANGES = [
  { value: '48h', label: '48 hours', days: 2, granularity: 'hour' },
  { value: '7d', label: '7 days', days: 7, granularity: 'hour' },
  { value: '30d', label: '30 days', days: 30, granularity: 'day' },
  { value: '90d', label: '90 days', days: 90, granularity: 'day' },
  { value: '365d', label: 'a year', days: 365, granularity: 'day' },
] as const;
export type PageRange = (typeof PAGE_RANGES)[number];

export interface StatsPageModel {
  bookmark: Bookmark;
  shortUrl: string;
  /** Undefined with STATS=false: only the total is counted, so only it is shown. */
  report: StatsReport | undefined;
  range: PageRange;
  stylesheetUrl: string;
  statsStylesheetUrl: string;
  logoUrl: string;
}

const CHART_WIDTH = 720;
const CHART_HEIGHT = 180;
const AXIS = 22;

function label(start: Date, hourly: boolean): string {
  const iso = start.toISOString();
  return hourly ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10);
}

/** Bars of people per bucket; bots are left out (they are in the table). */
export function chartSvg(report: StatsReport, title: string): string {
  const { series } = report;
  const hourly = report.range.granularity === 'hour';
  const peak = Math.max(1, ...series.map((point) => point.visits));
  const slot = CHART_WIDTH / Math.max(1, series.length);
  const barWidth = Math.max(1, slot * 0.8);
  const plotHeight = CHART_HEIGHT - AXIS;
  const bars = series
    .map((point, index) => {
      if (point.visits === 0) return '';
      const height = Math.max(1, (point.visits / peak) * (plotHeight - 4));
      const x = (index * slot + (slot - barWidth) / 2).toFixed(1);
      return `<rect class="bar" x="${x}" y="${(plotHeight - height).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${height.toFixed(1)}"><title>${e(label(point.start, hourly))}: ${point.visits}</title></rect>`;
    })
    .join('');
  const first = series[0];
  const last = series[series.length - 1];
  const axisLabels =
    first === undefined || last === undefined
      ? ''
      : `<text class="axis" x="0" y="${CHART_HEIGHT - 6}">${e(label(first.start, hourly))}</text><text class="axis end" x="${CHART_WIDTH}" y="${CHART_HEIGHT - 6}">${e(label(last.start, hourly))}</text>`;
  return `<svg class="chart" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" role="img" aria-labelledby="chart-title" preserveAspectRatio="none">
<title id="chart-title">${e(title)}</title>
<line class="baseline" x1="0" y1="${plotHeight}" x2="${CHART_WIDTH}" y2="${plotHeight}"/>
<text class="axis" x="0" y="12">${peak}</text>
${bars}
${axisLabels}
</svg>`;
}

/** A 7-day spark for the list: people per day, oldest first; decorative (the number beside it is the text). */
export function sparkSvg(days: readonly number[]): string {
  const peak = Math.max(1, ...days);
  const bars = days
    .map((visits, index) => {
      const height = visits === 0 ? 0 : Math.max(1, (visits / peak) * 14);
      return height === 0 ? '' : `<rect x="${index * 4}" y="${(16 - height).toFixed(1)}" width="3" height="${height.toFixed(1)}"/>`;
    })
    .join('');
  return `<svg class="spark" viewBox="0 0 28 16" width="28" height="16" aria-hidden="true" focusable="false">${bars}</svg>`;
}

const DIMENSION_TITLES: Readonly<Record<Dimension, string>> = {
  referrer: 'Referrers',
  browser: 'Browsers',
  os: 'Operating systems',
  device: 'Devices',
  country: 'Countries',
  bot: 'Bots',
};

function topTable(dimension: Dimension, rows: readonly { value: string; visits: number }[]): string {
  const body =
    rows.length === 0
      ? '<tr><td colspan="2" class="empty">None in this range</td></tr>'
      : rows.map((row) => `<tr><th scope="row">${e(row.value)}</th><td class="count">${row.visits}</td></tr>`).join('\n');
  return `<table class="top">
<caption>${DIMENSION_TITLES[dimension]}</caption>
<thead><tr><th scope="col">${dimension === 'bot' ? 'Bot' : 'Value'}</th><th scope="col" class="count">${dimension === 'bot' ? 'Requests' : 'Visits'}</th></tr></thead>
<tbody>
${body}
</tbody>
</table>`;
}

function numbersTable(report: StatsReport): string {
  const hourly = report.range.granularity === 'hour';
  const rows = report.series.filter((point) => point.visits > 0 || point.bots > 0);
  const body =
    rows.length === 0
      ? '<tr><td colspan="3" class="empty">No visits in this range</td></tr>'
      : rows
          .map(
            (point) =>
              `<tr><th scope="row">${e(label(point.start, hourly))}</th><td class="count">${point.visits}</td><td class="count">${point.bots}</td></tr>`,
          )
          .join('\n');
  return `<table class="numbers">
<caption>Visits by ${hourly ? 'hour' : 'day'} (UTC); ${hourly ? 'hours' : 'days'} without any left out</caption>
<thead><tr><th scope="col">${hourly ? 'Hour' : 'Day'}</th><th scope="col" class="count">People</th><th scope="col" class="count">Bots</th></tr></thead>
<tbody>
${body}
</tbody>
</table>`;
}

export function renderStatsPage(model: StatsPageModel): string {
  const { bookmark, report, shortUrl, range } = model;
  const name = e(bookmark.name);
  const title = bookmark.title === null || bookmark.title.trim() === '' ? '' : `<p class="title">${e(bookmark.title)}</p>`;
  const ranges = PAGE_RANGES.map((option) =>
    option.value === range.value
      ? `<a href="?range=${option.value}" aria-current="page">${option.label}</a>`
      : `<a href="?range=${option.value}">${option.label}</a>`,
  ).join('');
  const qrUrl = `/${name}+qr.svg`;

  return htmlDocument({
    title: `Stats of ${bookmark.name}: Bookmark Server`,
    stylesheetUrls: [model.stylesheetUrl, model.statsStylesheetUrl],
    logoUrl: model.logoUrl,
    homeLink: true,
    body: `<main>
<section class="card stats-head" aria-labelledby="stats-heading">
<div class="stats-facts">
<h2 id="stats-heading">Stats of <a href="/${name}">${e(shortUrl)}</a></h2>
${title}<p class="target"><a class="uri" href="${e(bookmark.uri)}" rel="noopener noreferrer nofollow">${e(bookmark.uri)}</a></p>
<dl class="facts">
<div><dt>Visits</dt><dd>${bookmark.visits}</dd></div>
<div><dt>Created</dt><dd><time datetime="${bookmark.createdAt.toISOString()}">${bookmark.createdAt.toISOString().slice(0, 10)}</time></dd></div>
<div class="check"><dt>Check</dt><dd>${checkBadge(bookmark)}</dd></div>
</dl>
</div>
<figure class="qr">
<img src="${qrUrl}" width="148" height="148" alt="QR code of ${e(shortUrl)}">
<figcaption><a href="${qrUrl}" download="${name}-qr.svg">Download the QR code (SVG)</a></figcaption>
</figure>
</section>
${report === undefined ? '<section class="card"><p class="empty">Stats beyond the total are turned off on this server.</p></section>' : rangeSections(model, report, ranges)}
</main>
`,
  });
}

function rangeSections(model: StatsPageModel, report: StatsReport, ranges: string): string {
  const { range, shortUrl } = model;
  // Countries only where a GeoIP database counts them.
  const dimensions: Dimension[] = [
    'referrer',
    'browser',
    'os',
    'device',
    ...(report.top.country.length > 0 ? (['country'] as const) : []),
    'bot',
  ];
  const chartTitle = `People who followed ${shortUrl} by ${report.range.granularity} over the last ${range.label}: ${report.totals.visits} (bots left out)`;
  return `<section class="card" aria-labelledby="chart-heading">
<h2 id="chart-heading">Visits over the last ${range.label}</h2>
<nav class="ranges" aria-label="Range">${ranges}</nav>
<p class="range-total">${report.totals.visits} ${report.totals.visits === 1 ? 'visit' : 'visits'} by people, ${report.totals.bots} by bots, in this range.</p>
${chartSvg(report, chartTitle)}
<div class="numbers" tabindex="0" role="region" aria-label="The numbers of the chart">
${numbersTable(report)}
</div>
</section>
<section class="card" aria-labelledby="top-heading">
<h2 id="top-heading">Where visits came from</h2>
<div class="tops">
${dimensions.map((dimension) => topTable(dimension, report.top[dimension])).join('\n')}
</div>
</section>`;
}
