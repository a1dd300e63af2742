import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Where every process's output goes, one line at a time, with the name of the process. */
export type LineSink = (source: string, line: string) => void;

/** Feeds a child's stdout or stderr to the sink line by line. */
export function pipeLines(stream: Readable, source: string, sink: LineSink): void {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => sink(source, line));
}

/**
 * Keeps the last lines of every process, printed or not, so a failing test (or a failed start)
 * can show what the processes said.
 */
export class LogTail {
  readonly #lines: string[] = [];
  readonly #limit: number;

  constructor(limit = 500) {
    this.#limit = limit;
  }

  add(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#limit) this.#lines.shift();
  }

  lines(): string[] {
    return [...this.#lines];
  }
}

/** `app1  | {"level":30,…}`: names padded so the bars line up. */
export function tagLine(source: string, line: string, width: number): string {
  return `${source.padEnd(width)} | ${line}`;
}
