import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where reports go unless --out says otherwise: loadtest/results/, committed. */
export const RESULTS_DIR = new URL('../../results/', import.meta.url).pathname;

/** What a scenario's report is made of: the table for the terminal, the Markdown, its charts. */
export interface Report {
  table: string;
  markdown: string;
  /** File name (next to the .md) → SVG text. */
  charts: Record<string, string>;
}

/** Writes `<name>.json`, `<name>.md` and the charts into `dir`; returns the paths written. */
export function writeResults(dir: string, name: string, result: unknown, report: Report): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (file: string, text: string) => {
    writeFileSync(join(dir, file), text);
    written.push(join(dir, file));
  };
  write(`${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
  write(`${name}.md`, report.markdown);
  for (const [file, svg] of Object.entries(report.charts)) write(file, svg);
  return written;
}
