/**
 * Two hand-rolled SVG charts (a line chart and a grouped bar chart): enough for a report, and no
 * charting dependency to keep up to date. Text is escaped; sizes are fixed so diffs stay readable.
 */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color: string;
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
}

export interface BarGroup {
  label: string;
  bars: ReadonlyArray<{ name: string; value: number }>;
}

export interface BarChart {
  title: string;
  yLabel: string;
  groups: readonly BarGroup[];
  colors: Readonly<Record<string, string>>;
}

const WIDTH = 720;
const HEIGHT = 360;
const MARGIN = { top: 40, right: 180, bottom: 50, left: 64 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'] as const;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function fmt(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1000) return `${Number((value / 1000).toPrecision(3))}k`;
  return String(Number(value.toPrecision(3)));
}

/** Tick values at 1, 2 or 5 × 10^n, about `count` of them, covering [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const rough = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let tick = 0; tick < max + step / 2 && ticks.length < 50; tick += step) ticks.push(Number(tick.toPrecision(12)));
  if ((ticks.at(-1) ?? 0) < max) ticks.push(Number(((ticks.at(-1) ?? 0) + step).toPrecision(12)));
  return ticks;
}

function frame(title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">
<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>
<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>
${body}
</svg>
`;
}

function yAxis(ticks: readonly number[], yLabel: string, y: (value: number) => number): string {
  const lines = ticks.map((tick) => {
    const py = y(tick).toFixed(1);
    return (
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>` +
      `<text x="${MARGIN.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${fmt(tick)}</text>`
    );
  });
  const midY = MARGIN.top + PLOT_H / 2;
  return `${lines.join('\n')}
<text x="16" y="${midY}" text-anchor="middle" transform="rotate(-90 16 ${midY})">${escapeXml(yLabel)}</text>
<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>
<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>`;
}

function legend(entries: ReadonlyArray<{ name: string; color: string; dashed?: boolean | undefined }>): string {
  return entries
    .map((entry, i) => {
      const y = MARGIN.top + 8 + i * 20;
      const x = MARGIN.left + PLOT_W + 14;
      const dash = entry.dashed === true ? ' stroke-dasharray="6 4"' : '';
      return (
        `<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${entry.color}" stroke-width="3"${dash}/>` +
        `<text x="${x + 28}" y="${y}" dominant-baseline="middle">${escapeXml(entry.name)}</text>`
      );
    })
    .join('\n');
}

export function lineChart(chart: LineChart): string {
  const all = chart.series.flatMap((series) => series.points);
  const xMax = Math.max(1e-9, ...all.map(([x]) => x));
  const yTicks = niceTicks(Math.max(0, ...all.map(([, y]) => y).filter(Number.isFinite)));
  const yMax = yTicks.at(-1) ?? 1;
  const xTicks = niceTicks(xMax, 8);
  const xTop = xTicks.at(-1) ?? 1;
  const x = (value: number) => MARGIN.left + (value / xTop) * PLOT_W;
  const y = (value: number) => MARGIN.top + PLOT_H - (value / yMax) * PLOT_H;
  const xAxis = xTicks
    .map((tick) => `<text x="${x(tick).toFixed(1)}" y="${MARGIN.top + PLOT_H + 16}" text-anchor="middle">${fmt(tick)}</text>`)
    .join('\n');
  const paths = chart.series
    .filter((series) => series.points.length > 0)
    .map((series) => {
      const d = series.points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      const dash = series.dashed === true ? ' stroke-dasharray="6 4"' : '';
      return `<path d="${d}" fill="none" stroke="${series.color}" stroke-width="1.6"${dash}/>`;
    });
  return frame(
    chart.title,
    `${yAxis(yTicks, chart.yLabel, y)}
${xAxis}
<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>
${paths.join('\n')}
${legend(chart.series)}`,
  );
}

export function barChart(chart: BarChart): string {
  const values = chart.groups.flatMap((group) => group.bars.map((bar) => bar.value)).filter(Number.isFinite);
  const yTicks = niceTicks(Math.max(0, ...values));
  const yMax = yTicks.at(-1) ?? 1;
  const y = (value: number) => MARGIN.top + PLOT_H - (value / yMax) * PLOT_H;
  const groupWidth = PLOT_W / Math.max(1, chart.groups.length);
  const names = [...new Set(chart.groups.flatMap((group) => group.bars.map((bar) => bar.name)))];
  const barWidth = (groupWidth * 0.8) / Math.max(1, names.length);
  const bars = chart.groups.flatMap((group, g) => {
    const left = MARGIN.left + g * groupWidth + groupWidth * 0.1;
    const label = `<text x="${(left + groupWidth * 0.4).toFixed(1)}" y="${MARGIN.top + PLOT_H + 16}" text-anchor="middle">${escapeXml(group.label)}</text>`;
    return [
      label,
      ...group.bars
        .filter((bar) => Number.isFinite(bar.value))
        .map((bar) => {
          const bx = left + names.indexOf(bar.name) * barWidth;
          const by = y(bar.value);
          return `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(MARGIN.top + PLOT_H - by).toFixed(1)}" fill="${chart.colors[bar.name] ?? '#999'}"><title>${escapeXml(`${group.label} ${bar.name}: ${fmt(bar.value)}`)}</title></rect>`;
        }),
    ];
  });
  return frame(
    chart.title,
    `${yAxis(yTicks, chart.yLabel, y)}
${bars.join('\n')}
${legend(names.map((name) => ({ name, color: chart.colors[name] ?? '#999' })))}`,
  );
}
