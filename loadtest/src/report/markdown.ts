/** A GitHub-flavoured Markdown table, and the same rows padded for a terminal. */
export type Row = ReadonlyArray<string | number>;

function cell(value: string | number): string {
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return Number(value.toPrecision(4)).toLocaleString('en-US', { maximumFractionDigits: 4 });
}

export function markdownTable(header: Row, rows: readonly Row[]): string {
  const line = (row: Row) => `| ${row.map((value) => cell(value).replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), `|${header.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n');
}

export function textTable(header: Row, rows: readonly Row[]): string {
  const cells = [header, ...rows].map((row) => row.map(cell));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: readonly string[]) =>
    row
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const [first = [], ...rest] = cells;
  return [line(first), line(widths.map((width) => '─'.repeat(width))), ...rest.map(line)].join('\n');
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export function mark(held: boolean): string {
  return held ? '✅' : '❌';
}
